import Foundation

/// A PostgreSQL type, by its OID, as far as this client binds or checks it.
public struct PostgresType: Hashable, Sendable {
    public let oid: UInt32
    public let name: String

    public init(oid: UInt32, name: String) {
        self.oid = oid
        self.name = name
    }

    public static let bool = PostgresType(oid: 16, name: "boolean")
    public static let bytea = PostgresType(oid: 17, name: "bytea")
    public static let int8 = PostgresType(oid: 20, name: "bigint")
    public static let int2 = PostgresType(oid: 21, name: "smallint")
    public static let int4 = PostgresType(oid: 23, name: "integer")
    public static let text = PostgresType(oid: 25, name: "text")
    public static let float8 = PostgresType(oid: 701, name: "double precision")
    public static let date = PostgresType(oid: 1082, name: "date")
    public static let timestamptz = PostgresType(oid: 1184, name: "timestamptz")
    public static let uuid = PostgresType(oid: 2950, name: "uuid")
    public static let jsonb = PostgresType(oid: 3802, name: "jsonb")
    public static let boolArray = PostgresType(oid: 1000, name: "boolean[]")
    public static let byteaArray = PostgresType(oid: 1001, name: "bytea[]")
    public static let int4Array = PostgresType(oid: 1007, name: "integer[]")
    public static let textArray = PostgresType(oid: 1009, name: "text[]")
    public static let int8Array = PostgresType(oid: 1016, name: "bigint[]")
    public static let dateArray = PostgresType(oid: 1182, name: "date[]")
    public static let timestamptzArray = PostgresType(oid: 1185, name: "timestamptz[]")
    public static let uuidArray = PostgresType(oid: 2951, name: "uuid[]")
    public static let jsonbArray = PostgresType(oid: 3807, name: "jsonb[]")
}

/// A Swift value that can be sent as a query parameter, in PostgreSQL's text format.
public protocol PostgresEncodable: Sendable {
    /// The type the server should read the parameter as.
    static var postgresType: PostgresType { get }
    /// The text-format representation, or nil for SQL NULL.
    var postgresText: String? { get }
}

/// A Swift value that can be read from a result column in PostgreSQL's text format.
public protocol PostgresDecodable {
    /// The name of the PostgreSQL type this decodes, for error messages.
    static var postgresTypeName: String { get }
    /// Decodes a non-NULL value from its text-format bytes. Returns nil when they do not parse.
    static func decode(postgresText bytes: UnsafeBufferPointer<UInt8>) -> Self?
}

/// A value that can be an element of an array parameter.
public protocol PostgresArrayElement: PostgresEncodable {
    static var postgresArrayType: PostgresType { get }
}

// MARK: - Standard types

extension String: PostgresEncodable, PostgresDecodable, PostgresArrayElement {
    public static var postgresType: PostgresType { .text }
    public static var postgresArrayType: PostgresType { .textArray }
    public static var postgresTypeName: String { "text" }
    public var postgresText: String? { self }
    public static func decode(postgresText bytes: UnsafeBufferPointer<UInt8>) -> String? {
        String(validating: bytes, as: UTF8.self)
    }
}

/// Parses an optionally signed decimal integer with overflow checks, without allocating.
@inline(__always)
func parseInteger(_ bytes: UnsafeBufferPointer<UInt8>) -> Int64? {
    guard !bytes.isEmpty else { return nil }
    var index = 0
    var negative = false
    if bytes[0] == UInt8(ascii: "-") {
        negative = true
        index = 1
    }
    guard index < bytes.count else { return nil }
    var value: Int64 = 0
    while index < bytes.count {
        let digit = bytes[index] &- UInt8(ascii: "0")
        guard digit < 10 else { return nil }
        let (times10, overflow1) = value.multipliedReportingOverflow(by: 10)
        let (next, overflow2) =
            negative
            ? times10.subtractingReportingOverflow(Int64(digit))
            : times10.addingReportingOverflow(Int64(digit))
        guard !overflow1, !overflow2 else { return nil }
        value = next
        index += 1
    }
    return value
}

extension Int64: PostgresEncodable, PostgresDecodable, PostgresArrayElement {
    public static var postgresType: PostgresType { .int8 }
    public static var postgresArrayType: PostgresType { .int8Array }
    public static var postgresTypeName: String { "bigint" }
    public var postgresText: String? { String(self) }
    public static func decode(postgresText bytes: UnsafeBufferPointer<UInt8>) -> Int64? {
        parseInteger(bytes)
    }
}

extension Int: PostgresEncodable, PostgresDecodable, PostgresArrayElement {
    public static var postgresType: PostgresType { .int8 }
    public static var postgresArrayType: PostgresType { .int8Array }
    public static var postgresTypeName: String { "bigint" }
    public var postgresText: String? { String(self) }
    public static func decode(postgresText bytes: UnsafeBufferPointer<UInt8>) -> Int? {
        parseInteger(bytes).flatMap { Int(exactly: $0) }
    }
}

extension Int32: PostgresEncodable, PostgresDecodable, PostgresArrayElement {
    public static var postgresType: PostgresType { .int4 }
    public static var postgresArrayType: PostgresType { .int4Array }
    public static var postgresTypeName: String { "integer" }
    public var postgresText: String? { String(self) }
    public static func decode(postgresText bytes: UnsafeBufferPointer<UInt8>) -> Int32? {
        parseInteger(bytes).flatMap { Int32(exactly: $0) }
    }
}

extension Bool: PostgresEncodable, PostgresDecodable, PostgresArrayElement {
    public static var postgresType: PostgresType { .bool }
    public static var postgresArrayType: PostgresType { .boolArray }
    public static var postgresTypeName: String { "boolean" }
    public var postgresText: String? { self ? "t" : "f" }
    public static func decode(postgresText bytes: UnsafeBufferPointer<UInt8>) -> Bool? {
        guard bytes.count == 1 else { return nil }
        switch bytes[0] {
        case UInt8(ascii: "t"): return true
        case UInt8(ascii: "f"): return false
        default: return nil
        }
    }
}

extension Double: PostgresEncodable, PostgresDecodable {
    public static var postgresType: PostgresType { .float8 }
    public static var postgresTypeName: String { "double precision" }
    public var postgresText: String? { "\(self)" }
    public static func decode(postgresText bytes: UnsafeBufferPointer<UInt8>) -> Double? {
        Double(String(decoding: bytes, as: UTF8.self))
    }
}

extension UUID: PostgresEncodable, PostgresDecodable, PostgresArrayElement {
    public static var postgresType: PostgresType { .uuid }
    public static var postgresArrayType: PostgresType { .uuidArray }
    public static var postgresTypeName: String { "uuid" }
    public var postgresText: String? { uuidString.lowercased() }
    /// Parses PostgreSQL's output form (`8-4-4-4-12` hex digits) without going through a String.
    public static func decode(postgresText bytes: UnsafeBufferPointer<UInt8>) -> UUID? {
        guard bytes.count == 36 else { return UUID(uuidString: String(decoding: bytes, as: UTF8.self)) }
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): return c &- UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): return c &- UInt8(ascii: "a") &+ 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): return c &- UInt8(ascii: "A") &+ 10
            default: return nil
            }
        }
        var raw: uuid_t = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        let ok = withUnsafeMutableBytes(of: &raw) { output -> Bool in
            var at = 0
            for index in 0..<16 {
                if at == 8 || at == 13 || at == 18 || at == 23 {
                    guard bytes[at] == UInt8(ascii: "-") else { return false }
                    at += 1
                }
                guard let high = nibble(bytes[at]), let low = nibble(bytes[at + 1]) else { return false }
                output[index] = high << 4 | low
                at += 2
            }
            return true
        }
        return ok ? UUID(uuid: raw) : nil
    }
}

extension Optional: PostgresEncodable where Wrapped: PostgresEncodable {
    public static var postgresType: PostgresType { Wrapped.postgresType }
    public var postgresText: String? { self.flatMap { $0.postgresText } }
}

extension Optional: PostgresArrayElement where Wrapped: PostgresArrayElement {
    public static var postgresArrayType: PostgresType { Wrapped.postgresArrayType }
}

// MARK: - Dates and times

/// A calendar date as PostgreSQL's `date` holds it (ISO format, years 1 to 9999 only).
public struct PostgresDate: Hashable, Sendable, PostgresEncodable, PostgresDecodable, PostgresArrayElement,
    CustomStringConvertible
{
    public var year: Int
    public var month: Int
    public var day: Int

    public init(year: Int, month: Int, day: Int) {
        self.year = year
        self.month = month
        self.day = day
    }

    public static var postgresType: PostgresType { .date }
    public static var postgresArrayType: PostgresType { .dateArray }
    public static var postgresTypeName: String { "date" }

    public var description: String {
        func pad(_ value: Int, _ width: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))"
    }

    public var postgresText: String? { description }

    public static func decode(postgresText bytes: UnsafeBufferPointer<UInt8>) -> PostgresDate? {
        // YYYY-MM-DD exactly; infinity, BC dates and five-digit years are refused.
        guard bytes.count == 10, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"),
            let year = parseInteger(UnsafeBufferPointer(rebasing: bytes[0..<4])),
            let month = parseInteger(UnsafeBufferPointer(rebasing: bytes[5..<7])),
            let day = parseInteger(UnsafeBufferPointer(rebasing: bytes[8..<10]))
        else { return nil }
        return PostgresDate(year: Int(year), month: Int(month), day: Int(day))
    }

    /// Days since 1970-01-01 in the proleptic Gregorian calendar.
    public var daysSinceEpoch: Int64 {
        // The civil-from-days inverse, after H. Hinnant's public-domain date algorithms.
        let y = Int64(month <= 2 ? year - 1 : year)
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let m = Int64(month)
        let doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + Int64(day) - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// The date a number of days after 1970-01-01.
    public init(daysSinceEpoch days: Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        self.init(year: Int(yoe + era * 400 + (m <= 2 ? 1 : 0)), month: Int(m), day: Int(d))
    }
}

/// A `timestamptz`, exactly as PostgreSQL keeps it: microseconds since 1970-01-01 00:00:00 UTC.
public struct PostgresTimestamp: Hashable, Comparable, Sendable, PostgresEncodable, PostgresDecodable,
    PostgresArrayElement, CustomStringConvertible
{
    public var microsecondsSinceEpoch: Int64

    public init(microsecondsSinceEpoch: Int64) {
        self.microsecondsSinceEpoch = microsecondsSinceEpoch
    }

    public init(_ date: Date) {
        self.microsecondsSinceEpoch = Int64((date.timeIntervalSince1970 * 1_000_000).rounded())
    }

    public var date: Date { Date(timeIntervalSince1970: Double(microsecondsSinceEpoch) / 1_000_000) }

    public static func < (lhs: Self, rhs: Self) -> Bool {
        lhs.microsecondsSinceEpoch < rhs.microsecondsSinceEpoch
    }

    public static var postgresType: PostgresType { .timestamptz }
    public static var postgresArrayType: PostgresType { .timestamptzArray }
    public static var postgresTypeName: String { "timestamptz" }

    /// ISO 8601 in UTC with microseconds, e.g. `2026-11-29T18:07:36.123456Z`.
    public var description: String {
        let micros = microsecondsSinceEpoch
        var days = micros / 86_400_000_000
        var rest = micros % 86_400_000_000
        if rest < 0 {
            rest += 86_400_000_000
            days -= 1
        }
        let date = PostgresDate(daysSinceEpoch: days)
        let seconds = rest / 1_000_000
        let fraction = rest % 1_000_000
        func pad(_ value: Int64, _ width: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        return "\(date)T\(pad(seconds / 3600, 2)):\(pad(seconds / 60 % 60, 2)):\(pad(seconds % 60, 2))"
            + ".\(pad(fraction, 6))Z"
    }

    public var postgresText: String? { description }

    /// Parses `YYYY-MM-DD HH:MM:SS[.ffffff]+00[:00]` (ISO DateStyle) or the `T`/`Z` form.
    public static func decode(postgresText bytes: UnsafeBufferPointer<UInt8>) -> PostgresTimestamp? {
        guard bytes.count >= 20,
            let date = PostgresDate.decode(postgresText: UnsafeBufferPointer(rebasing: bytes[0..<10])),
            bytes[10] == UInt8(ascii: " ") || bytes[10] == UInt8(ascii: "T"),
            bytes[13] == UInt8(ascii: ":"), bytes[16] == UInt8(ascii: ":"),
            let hour = parseInteger(UnsafeBufferPointer(rebasing: bytes[11..<13])),
            let minute = parseInteger(UnsafeBufferPointer(rebasing: bytes[14..<16])),
            let second = parseInteger(UnsafeBufferPointer(rebasing: bytes[17..<19]))
        else { return nil }
        var index = 19
        var fraction: Int64 = 0
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            var digits = 0
            while index < bytes.count, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9") {
                if digits < 6 { fraction = fraction * 10 + Int64(bytes[index] - UInt8(ascii: "0")) }
                digits += 1
                index += 1
            }
            guard digits > 0 else { return nil }
            if digits < 6 {
                for _ in digits..<6 { fraction *= 10 }
            }
        }
        // Offset: Z, +HH, +HH:MM, -HH, -HH:MM.
        var offsetSeconds: Int64 = 0
        guard index < bytes.count else { return nil }
        if bytes[index] == UInt8(ascii: "Z") {
            index += 1
        } else {
            let sign: Int64
            switch bytes[index] {
            case UInt8(ascii: "+"): sign = 1
            case UInt8(ascii: "-"): sign = -1
            default: return nil
            }
            guard index + 3 <= bytes.count,
                let hours = parseInteger(UnsafeBufferPointer(rebasing: bytes[(index + 1)..<(index + 3)]))
            else { return nil }
            index += 3
            var minutes: Int64 = 0
            if index < bytes.count, bytes[index] == UInt8(ascii: ":") {
                guard index + 3 <= bytes.count,
                    let parsed = parseInteger(UnsafeBufferPointer(rebasing: bytes[(index + 1)..<(index + 3)]))
                else { return nil }
                minutes = parsed
                index += 3
            }
            offsetSeconds = sign * (hours * 3600 + minutes * 60)
        }
        guard index == bytes.count else { return nil }
        let secondsOfDay = hour * 3600 + minute * 60 + second
        let micros = (date.daysSinceEpoch * 86_400 + secondsOfDay - offsetSeconds) * 1_000_000 + fraction
        return PostgresTimestamp(microsecondsSinceEpoch: micros)
    }
}

// MARK: - jsonb and bytea

/// A `jsonb` value as its JSON text. Decoding and checking the JSON is the caller's business.
public struct PostgresJSONB: Hashable, Sendable, PostgresEncodable, PostgresDecodable, PostgresArrayElement {
    public var text: String

    public init(_ text: String) { self.text = text }

    public static var postgresType: PostgresType { .jsonb }
    public static var postgresArrayType: PostgresType { .jsonbArray }
    public static var postgresTypeName: String { "jsonb" }
    public var postgresText: String? { text }
    public static func decode(postgresText bytes: UnsafeBufferPointer<UInt8>) -> PostgresJSONB? {
        String(validating: bytes, as: UTF8.self).map(PostgresJSONB.init)
    }
}

/// A `bytea` value.
public struct PostgresBytea: Hashable, Sendable, PostgresEncodable, PostgresDecodable, PostgresArrayElement {
    public var bytes: [UInt8]

    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    public static var postgresType: PostgresType { .bytea }
    public static var postgresArrayType: PostgresType { .byteaArray }
    public static var postgresTypeName: String { "bytea" }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    /// The hex format, `\x` followed by two lowercase hex digits a byte.
    public var postgresText: String? {
        var text = [UInt8](repeating: 0, count: 2 + bytes.count * 2)
        text[0] = UInt8(ascii: "\\")
        text[1] = UInt8(ascii: "x")
        for (index, byte) in bytes.enumerated() {
            text[2 + 2 * index] = Self.hexDigits[Int(byte >> 4)]
            text[3 + 2 * index] = Self.hexDigits[Int(byte & 0x0f)]
        }
        return String(decoding: text, as: UTF8.self)
    }

    public static func decode(postgresText bytes: UnsafeBufferPointer<UInt8>) -> PostgresBytea? {
        guard bytes.count >= 2, bytes.count % 2 == 0, bytes[0] == UInt8(ascii: "\\"),
            bytes[1] == UInt8(ascii: "x")
        else { return nil }
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
            default: return nil
            }
        }
        var out = [UInt8]()
        out.reserveCapacity((bytes.count - 2) / 2)
        var index = 2
        while index < bytes.count {
            guard let high = nibble(bytes[index]), let low = nibble(bytes[index + 1]) else { return nil }
            out.append(high << 4 | low)
            index += 2
        }
        return PostgresBytea(out)
    }
}

// MARK: - Arrays

/// A one-dimensional array parameter, e.g. for `INSERT ... SELECT * FROM unnest($1::text[], ...)`.
public struct PostgresArray<Element: PostgresArrayElement>: PostgresEncodable {
    public var elements: [Element]

    public init(_ elements: [Element]) { self.elements = elements }

    public static var postgresType: PostgresType { Element.postgresArrayType }

    public var postgresText: String? {
        var text = "{"
        for (index, element) in elements.enumerated() {
            if index > 0 { text += "," }
            guard let value = element.postgresText else {
                text += "NULL"
                continue
            }
            text += "\""
            for scalar in value.unicodeScalars {
                if scalar == "\"" || scalar == "\\" { text += "\\" }
                text.unicodeScalars.append(scalar)
            }
            text += "\""
        }
        return text + "}"
    }
}
