/// A SQL statement and its parameters.
///
/// Values never become part of the SQL text: each interpolated value is sent as a `$n`
/// parameter, so a name like `'; DROP TABLE events; --` is only ever data.
///
/// ```swift
/// let query: PostgresQuery = "SELECT payload FROM dossier.events WHERE stream = \(stream) AND version > \(from)"
/// ```
///
/// A `PostgresQuery` can only be made from a string literal, an interpolation, or explicitly
/// from trusted text with `init(unsafeSQL:)` (for migrations read from the package itself).
public struct PostgresQuery: Sendable, ExpressibleByStringInterpolation, CustomStringConvertible {
    public var sql: String
    public var binds: PostgresBinds

    /// A statement from trusted SQL text, such as a migration shipped with the program.
    public init(unsafeSQL sql: String, binds: PostgresBinds = PostgresBinds()) {
        self.sql = sql
        self.binds = binds
    }

    public init(stringLiteral value: String) {
        self.init(unsafeSQL: value)
    }

    public init(stringInterpolation: StringInterpolation) {
        self.init(unsafeSQL: stringInterpolation.sql, binds: stringInterpolation.binds)
    }

    /// The SQL text with its placeholders; never the values.
    public var description: String { sql }

    public struct StringInterpolation: StringInterpolationProtocol {
        var sql = ""
        var binds = PostgresBinds()

        public init(literalCapacity: Int, interpolationCount: Int) {
            sql.reserveCapacity(literalCapacity + interpolationCount * 3)
        }

        public mutating func appendLiteral(_ literal: String) {
            sql += literal
        }

        /// Appends a value as the next `$n` parameter.
        public mutating func appendInterpolation<Value: PostgresEncodable>(_ value: Value) {
            binds.append(value)
            sql += "$\(binds.count)"
        }

        /// Appends an optional value as the next `$n` parameter; nil is sent as NULL.
        public mutating func appendInterpolation<Value: PostgresEncodable>(_ value: Value?) {
            binds.append(value)
            sql += "$\(binds.count)"
        }

        /// Appends another query, renumbering its parameters after the ones already here.
        public mutating func appendInterpolation(fragment: PostgresQuery) {
            let offset = binds.count
            sql += fragment.renumbered(by: offset)
            binds.append(contentsOf: fragment.binds)
        }
    }

    /// The SQL with every `$n` placeholder moved up by `offset`.
    func renumbered(by offset: Int) -> String {
        guard offset > 0 else { return sql }
        var result = ""
        var scalars = sql.unicodeScalars.makeIterator()
        var pending: Unicode.Scalar? = scalars.next()
        while let scalar = pending {
            pending = scalars.next()
            guard scalar == "$", let first = pending, first.properties.numericType == .decimal,
                first.isASCII
            else {
                result.unicodeScalars.append(scalar)
                continue
            }
            var digits = ""
            while let digit = pending, digit.isASCII, digit.properties.numericType == .decimal {
                digits.unicodeScalars.append(digit)
                pending = scalars.next()
            }
            result += "$\(Int(digits)! + offset)"
        }
        return result
    }
}

/// The parameters of a query, in text format with their types.
public struct PostgresBinds: Sendable {
    public private(set) var values: [String?] = []
    public private(set) var types: [PostgresType] = []

    public init() {}

    public var count: Int { values.count }

    public mutating func append<Value: PostgresEncodable>(_ value: Value) {
        values.append(value.postgresText)
        types.append(Value.postgresType)
    }

    public mutating func append(contentsOf other: PostgresBinds) {
        values.append(contentsOf: other.values)
        types.append(contentsOf: other.types)
    }
}
