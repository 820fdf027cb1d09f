import CLibPQ

/// The rows of a completed statement. Owns its `PGresult` and frees it when released.
public final class QueryResult {
    @usableFromInline let handle: OpaquePointer
    /// The number of rows returned.
    public let rowCount: Int
    /// The number of columns of each row.
    public let columnCount: Int

    init(owning handle: OpaquePointer) {
        self.handle = handle
        self.rowCount = Int(PQntuples(handle))
        self.columnCount = Int(PQnfields(handle))
    }

    deinit {
        PQclear(handle)
    }

    /// The rows changed by an INSERT, UPDATE, DELETE, COPY and so on; 0 when not reported.
    public var affectedRows: Int {
        guard let text = PQcmdTuples(handle) else { return 0 }
        return Int(String(cString: text)) ?? 0
    }

    /// The name of a column.
    public func columnName(_ column: Int) -> String {
        PQfname(handle, Int32(column)).map { String(cString: $0) } ?? "column \(column)"
    }

    public subscript(row: Int) -> Row {
        precondition(row >= 0 && row < rowCount, "row \(row) out of range 0..<\(rowCount)")
        return Row(result: self, index: row)
    }

    /// All rows, in order.
    public var rows: [Row] { (0..<rowCount).map { Row(result: self, index: $0) } }

    /// Decodes column 0 of row 0, or nil when there is no row. Throws when the value is NULL.
    public func scalar<T: PostgresDecodable>(_ type: T.Type = T.self) throws -> T? {
        guard rowCount > 0 else { return nil }
        return try self[0].decode(T.self, at: 0)
    }
}

/// One row of a `QueryResult`.
public struct Row {
    public let result: QueryResult
    public let index: Int

    @usableFromInline init(result: QueryResult, index: Int) {
        self.result = result
        self.index = index
    }

    /// True when the column holds SQL NULL.
    @inlinable
    public func isNull(_ column: Int) -> Bool {
        PQgetisnull(result.handle, Int32(index), Int32(column)) == 1
    }

    /// The raw text-format bytes of a column, valid while the result lives; nil for NULL.
    @inlinable
    public func withBytes<R>(_ column: Int, _ body: (UnsafeBufferPointer<UInt8>?) throws -> R) rethrows -> R {
        guard !isNull(column), let value = PQgetvalue(result.handle, Int32(index), Int32(column)) else {
            return try body(nil)
        }
        let length = Int(PQgetlength(result.handle, Int32(index), Int32(column)))
        return try value.withMemoryRebound(to: UInt8.self, capacity: length) {
            try body(UnsafeBufferPointer(start: $0, count: length))
        }
    }

    /// Decodes a column that must not be NULL.
    @inlinable
    public func decode<T: PostgresDecodable>(_ type: T.Type = T.self, at column: Int) throws -> T {
        guard let value = try decodeIfPresent(T.self, at: column) else {
            var error = PostgresError(.decoding, context: "expected \(T.postgresTypeName), found NULL")
            error.columnName = result.columnName(column)
            throw error
        }
        return value
    }

    /// Decodes a column, giving nil for SQL NULL.
    @inlinable
    public func decodeIfPresent<T: PostgresDecodable>(_ type: T.Type = T.self, at column: Int) throws -> T? {
        precondition(column >= 0 && column < result.columnCount, "column \(column) out of range")
        return try withBytes(column) { bytes in
            guard let bytes else { return nil }
            guard let value = T.decode(postgresText: bytes) else {
                var error = PostgresError(.decoding, context: "value is not a valid \(T.postgresTypeName)")
                error.columnName = result.columnName(column)
                throw error
            }
            return value
        }
    }
}
