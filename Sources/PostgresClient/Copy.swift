import CLibPQ

extension PostgresConnection {
    /// Streams rows into a `COPY ... FROM STDIN` statement, in text format.
    ///
    /// `body` writes the rows with `CopyWriter`; data goes to the server in chunks, so memory
    /// stays flat however many rows there are. When `body` throws, the COPY is aborted (nothing
    /// of it is written) and the error is rethrown.
    ///
    /// - Returns: the number of rows the server took.
    @discardableResult
    public func copyFrom(_ query: PostgresQuery, _ body: (inout CopyWriter) throws -> Void) throws -> Int {
        try ensureUsable()
        let start = try withParameters(query) { count, types, values in
            PQexecParams(handle, query.sql, count, types, values, nil, nil, 0)
        }
        _ = try check(start, expecting: [PGRES_COPY_IN])
        var writer = CopyWriter(connection: self)
        do {
            try body(&writer)
            try writer.flush()
        } catch {
            _ = PQputCopyEnd(handle, "aborted by the client")
            drainResults()
            throw error
        }
        guard PQputCopyEnd(handle, nil) == 1 else {
            let error = connectionError(context: "COPY could not be finished")
            drainResults()
            throw error
        }
        let result = try check(PQgetResult(handle), expecting: [PGRES_COMMAND_OK])
        drainResults()
        return result.affectedRows
    }

    /// Reads and frees results until libpq says there are none left.
    func drainResults() {
        while let result = PQgetResult(handle) {
            PQclear(result)
        }
    }

    /// Sends `bytes` of COPY data, in pieces of at most `CopyWriter.flushThreshold`: libpq builds
    /// each piece as one message in its output buffer, which never shrinks (a rebuild's 8 MB
    /// pieces kept 8 MB there).
    @usableFromInline
    func putCopyData(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return }
            try base.withMemoryRebound(to: CChar.self, capacity: buffer.count) { base in
                var offset = 0
                while offset < buffer.count {
                    let length = min(CopyWriter.flushThreshold, buffer.count - offset)
                    guard PQputCopyData(handle, base + offset, Int32(length)) == 1 else {
                        throw connectionError(context: "COPY data could not be sent")
                    }
                    offset += length
                }
            }
        }
    }
}

/// Writes rows of a text-format COPY, escaping each field.
public struct CopyWriter {
    /// Nil for a detached writer, which only gathers rows (see `init()`).
    @usableFromInline let connection: PostgresConnection?
    @usableFromInline var buffer: [UInt8] = []
    @usableFromInline var fieldsInRow = 0
    /// Rows written so far.
    public var rowCount: Int { rows }
    @usableFromInline var rows = 0
    @usableFromInline static let flushThreshold = 256 * 1024

    init(connection: PostgresConnection) {
        self.connection = connection
        buffer.reserveCapacity(Self.flushThreshold + 4096)
    }

    /// A detached writer: it encodes rows into memory and sends nothing, so rows can be encoded
    /// on other threads and handed to a COPY with `append(_:)`.
    public init() {
        connection = nil
    }

    /// Appends the rows a detached writer encoded (its current row must be ended). Many rows are
    /// sent from the detached writer's own buffer, not copied into this one first.
    public mutating func append(_ rows: CopyWriter) throws {
        precondition(rows.fieldsInRow == 0 && fieldsInRow == 0, "append between rows only")
        self.rows += rows.rows
        guard let connection, buffer.count + rows.buffer.count >= Self.flushThreshold else {
            buffer.append(contentsOf: rows.buffer)
            return
        }
        try flush()
        try connection.putCopyData(rows.buffer)
    }

    /// Appends the next field of the current row; nil writes SQL NULL.
    @inlinable
    public mutating func field(_ value: (some PostgresEncodable)?) {
        if fieldsInRow > 0 { buffer.append(UInt8(ascii: "\t")) }
        fieldsInRow += 1
        guard let text = value?.postgresText else {
            buffer.append(UInt8(ascii: "\\"))
            buffer.append(UInt8(ascii: "N"))
            return
        }
        appendEscaped(text)
    }

    @inlinable
    mutating func appendEscaped(_ text: String) {
        var text = text
        text.withUTF8 { bytes in
            // Most values need no escaping: copy them whole.
            if !bytes.contains(where: { $0 == UInt8(ascii: "\\") || $0 == UInt8(ascii: "\t") || $0 == UInt8(ascii: "\n") || $0 == UInt8(ascii: "\r") }) {
                buffer.append(contentsOf: bytes)
                return
            }
            for byte in bytes {
                switch byte {
                case UInt8(ascii: "\\"):
                    buffer.append(UInt8(ascii: "\\")); buffer.append(UInt8(ascii: "\\"))
                case UInt8(ascii: "\t"):
                    buffer.append(UInt8(ascii: "\\")); buffer.append(UInt8(ascii: "t"))
                case UInt8(ascii: "\n"):
                    buffer.append(UInt8(ascii: "\\")); buffer.append(UInt8(ascii: "n"))
                case UInt8(ascii: "\r"):
                    buffer.append(UInt8(ascii: "\\")); buffer.append(UInt8(ascii: "r"))
                default:
                    buffer.append(byte)
                }
            }
        }
    }

    /// Ends the current row, sending buffered data when enough has gathered.
    @inlinable
    public mutating func endRow() throws {
        buffer.append(UInt8(ascii: "\n"))
        fieldsInRow = 0
        rows += 1
        if buffer.count >= Self.flushThreshold {
            try flush()
        }
    }

    @usableFromInline
    mutating func flush() throws {
        guard !buffer.isEmpty, let connection else { return }
        try connection.putCopyData(buffer)
        buffer.removeAll(keepingCapacity: true)
    }
}
