import CLibPQ

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// One connection to PostgreSQL. Owns its `PGconn` and closes it when released.
///
/// Every call blocks the calling thread until the server answers. A connection is not
/// thread-safe: use it from one thread at a time. `PostgresSession` gives async code a
/// connection on a thread of its own, off the Swift concurrency pool.
public final class PostgresConnection {
    let handle: OpaquePointer
    /// False once a failure left the connection in a state where it must not be reused.
    public internal(set) var isUsable = true

    /// Opens a connection.
    ///
    /// - Parameter connectionString: a libpq connection string (`host=/tmp dbname=dossier`) or
    ///   URI (`postgresql://user@host/db`); empty uses libpq's defaults and PG* variables.
    ///   `user` and `password`, when given, override the string's (a server checking a person's
    ///   password opens a connection as that person on the server's own database).
    /// - Throws: `PostgresError` of kind `.connectionFailed`, with libpq's reason in `context`
    ///   (any password of the string scrubbed from it); a string `ConnectionString.validate`
    ///   refuses is refused before any connection is tried ("malformed connection string: …").
    public init(connectionString: String, user: String? = nil, password: String? = nil) throws {
        do {
            try ConnectionString.validate(connectionString)
        } catch {
            throw PostgresError(.connectionFailed, context: "malformed connection string: \(error.reason)")
        }
        var keywords = ["dbname", "client_encoding", "fallback_application_name"]
        var values = [connectionString, "UTF8", "dossier"]
        // Later parameters override those of the expanded connection string.
        if let user { keywords.append("user"); values.append(user) }
        if let password { keywords.append("password"); values.append(password) }
        var cKeywords = keywords.map { strdup($0) }
        var cValues = values.map { strdup($0) }
        defer {
            cKeywords.forEach { free($0) }
            cValues.forEach { free($0) }
        }
        cKeywords.append(nil)
        cValues.append(nil)
        let connection: OpaquePointer? = cKeywords.withUnsafeBufferPointer { keywordPointers in
            cValues.withUnsafeBufferPointer { valuePointers in
                keywordPointers.baseAddress!.withMemoryRebound(
                    to: UnsafePointer<CChar>?.self, capacity: keywordPointers.count
                ) { keys in
                    valuePointers.baseAddress!.withMemoryRebound(
                        to: UnsafePointer<CChar>?.self, capacity: valuePointers.count
                    ) { vals in
                        PQconnectdbParams(keys, vals, 1)
                    }
                }
            }
        }
        guard let connection else {
            throw PostgresError(.connectionFailed, context: "libpq could not allocate a connection")
        }
        guard PQstatus(connection) == CONNECTION_OK else {
            // libpq names hosts, users and databases here, not passwords; any secret of the
            // string is scrubbed all the same. (`password`, given apart, is never quoted by libpq,
            // and scrubbing it could hide the words callers look for, such as "authentication failed".)
            let reason = ConnectionString.scrub(Self.firstLine(of: PQerrorMessage(connection)), of: connectionString)
            PQfinish(connection)
            throw PostgresError(.connectionFailed, context: reason)
        }
        self.handle = connection
        // Server notices ("table does not exist, skipping" and the like) are not for the user.
        PQsetNoticeProcessor(connection, { _, _ in }, nil)
        // Fixed session settings the decoders rely on.
        try execute("SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'iso_8601'")
    }

    deinit {
        PQfinish(handle)
    }

    /// Whether the server asked for a password when this connection was opened (false under
    /// `trust` or `peer` authentication, where a password proves nothing).
    public var passwordWasUsed: Bool { PQconnectionUsedPassword(handle) == 1 }

    /// The process id of the server process serving this connection.
    public var backendPID: Int32 { PQbackendPID(handle) }

    /// Host (or socket directory), port and database of this connection: which database it is.
    public var databaseIdentity: String {
        func text(_ pointer: UnsafeMutablePointer<CChar>?) -> String { pointer.map { String(cString: $0) } ?? "" }
        return "\(text(PQhost(handle))):\(text(PQport(handle)))/\(text(PQdb(handle)))"
    }

    /// The server's version number, e.g. 150018 for 15.18.
    public var serverVersion: Int { Int(PQserverVersion(handle)) }

    /// Whether the connection is inside a transaction block, and in what state.
    public var transactionState: TransactionState {
        switch PQtransactionStatus(handle) {
        case PQTRANS_IDLE: return .idle
        case PQTRANS_INTRANS: return .inTransaction
        case PQTRANS_INERROR: return .failedTransaction
        case PQTRANS_ACTIVE: return .busy
        default: return .unknown
        }
    }

    public enum TransactionState: Sendable {
        case idle, inTransaction, failedTransaction, busy, unknown
    }

    // MARK: Statements

    /// Runs one statement with its parameters and returns its rows.
    @discardableResult
    public func query(_ query: PostgresQuery) throws -> QueryResult {
        try ensureUsable()
        let result = try withParameters(query) { count, types, values in
            PQexecParams(handle, query.sql, count, types, values, nil, nil, 0)
        }
        return try check(result, expecting: [PGRES_TUPLES_OK, PGRES_COMMAND_OK])
    }

    /// Runs trusted SQL text that may hold several statements and no parameters (migrations).
    public func execute(_ sql: StaticString) throws {
        try executeScript(sql.description)
    }

    /// Runs trusted SQL text that may hold several statements and no parameters (migrations).
    /// Never pass text that holds values: use `query(_:)` with interpolation for those.
    public func executeScript(_ sql: String) throws {
        try ensureUsable()
        _ = try check(PQexec(handle, sql), expecting: [PGRES_TUPLES_OK, PGRES_COMMAND_OK, PGRES_EMPTY_QUERY])
    }

    // MARK: Transactions

    public enum IsolationLevel: String, Sendable {
        case readCommitted = "READ COMMITTED"
        case repeatableRead = "REPEATABLE READ"
        case serializable = "SERIALIZABLE"
    }

    /// Runs `body` in a transaction: commits when it returns, rolls back when it throws.
    ///
    /// The error `body` threw is the one rethrown, even when the rollback fails too; a
    /// connection whose rollback failed is marked unusable rather than reused in an unknown state.
    public func transaction<T>(
        _ isolation: IsolationLevel? = nil, readOnly: Bool = false,
        _ body: (PostgresConnection) throws -> T
    ) throws -> T {
        var begin = "BEGIN"
        if let isolation { begin += " ISOLATION LEVEL \(isolation.rawValue)" }
        if readOnly { begin += " READ ONLY" }
        try executeScript(begin)
        let value: T
        do {
            value = try body(self)
        } catch {
            rollbackAfterFailure()
            throw error
        }
        do {
            try executeScript("COMMIT")
        } catch {
            rollbackAfterFailure()
            throw error
        }
        return value
    }

    /// Rolls back after a failure, keeping quiet: the failure being handled is what matters.
    func rollbackAfterFailure() {
        switch transactionState {
        case .idle:
            return
        case .inTransaction, .failedTransaction:
            if let result = PQexec(handle, "ROLLBACK") {
                let ok = PQresultStatus(result) == PGRES_COMMAND_OK
                PQclear(result)
                if ok { return }
            }
            isUsable = false
        case .busy, .unknown:
            isUsable = false
        }
    }

    // MARK: Plumbing

    func ensureUsable() throws {
        guard isUsable, PQstatus(handle) == CONNECTION_OK else {
            isUsable = false
            throw PostgresError(.connectionLost, context: "the connection is closed or was left unusable")
        }
    }

    /// Calls `body` with the C arrays of a query's parameters.
    func withParameters(
        _ query: PostgresQuery,
        _ body: (Int32, UnsafePointer<Oid>?, UnsafePointer<UnsafePointer<CChar>?>?) -> OpaquePointer?
    ) throws -> OpaquePointer? {
        let binds = query.binds
        if binds.count == 0 {
            return body(0, nil, nil)
        }
        guard binds.count <= 65535 else {
            throw PostgresError(.encoding, context: "a statement can take at most 65535 parameters")
        }
        // All values in one buffer, NUL-terminated, with their offsets.
        var buffer = [CChar]()
        var offsets = [Int?]()
        offsets.reserveCapacity(binds.count)
        for (index, value) in binds.values.enumerated() {
            guard let value else {
                offsets.append(nil)
                continue
            }
            if value.utf8.contains(0) {
                throw PostgresError(
                    .encoding,
                    context: "parameter \(index + 1) holds a NUL character, which PostgreSQL cannot store")
            }
            offsets.append(buffer.count)
            buffer.append(contentsOf: value.utf8.map { CChar(bitPattern: $0) })
            buffer.append(0)
        }
        let types = binds.types.map { Oid($0.oid) }
        return buffer.withUnsafeBufferPointer { storage in
            let pointers: [UnsafePointer<CChar>?] = offsets.map { offset in
                offset.map { storage.baseAddress! + $0 }
            }
            return types.withUnsafeBufferPointer { typePointer in
                pointers.withUnsafeBufferPointer { valuePointer in
                    body(Int32(binds.count), typePointer.baseAddress, valuePointer.baseAddress)
                }
            }
        }
    }

    /// Takes ownership of a result and turns a failed one into a `PostgresError`.
    func check(_ result: OpaquePointer?, expecting: [ExecStatusType]) throws -> QueryResult {
        guard let result else {
            throw connectionError(context: "no result from the server")
        }
        let status = PQresultStatus(result)
        if expecting.contains(status) {
            return QueryResult(owning: result)
        }
        defer { PQclear(result) }
        if status == PGRES_FATAL_ERROR || status == PGRES_NONFATAL_ERROR {
            throw serverError(from: result)
        }
        if status == PGRES_PIPELINE_ABORTED {
            throw PostgresError(.server, context: "statement skipped after an earlier failure in the pipeline")
        }
        throw PostgresError(
            .protocolViolation,
            context: "unexpected result status \(String(cString: PQresStatus(status)))")
    }

    func serverError(from result: OpaquePointer) -> PostgresError {
        func field(_ code: Character) -> String? {
            PQresultErrorField(result, Int32(code.asciiValue!)).map { String(cString: $0) }
        }
        if PQstatus(handle) != CONNECTION_OK {
            isUsable = false
        }
        var error = PostgresError(
            PQstatus(handle) == CONNECTION_OK ? .server : .connectionLost,
            sqlState: field("C").map(SQLState.init),
            serverMessage: field("M") ?? Self.firstLine(of: PQresultErrorMessage(result)),
            detail: field("D"),
            hint: field("H"))
        error.schemaName = field("s")
        error.tableName = field("t")
        error.columnName = field("c")
        error.constraintName = field("n")
        return error
    }

    func connectionError(context: String) -> PostgresError {
        isUsable = PQstatus(handle) == CONNECTION_OK
        var error = PostgresError(isUsable ? .protocolViolation : .connectionLost, context: context)
        error.serverMessage = Self.firstLine(of: PQerrorMessage(handle))
        return error
    }

    static func firstLine(of message: UnsafePointer<CChar>?) -> String {
        guard let message else { return "unknown libpq error" }
        let text = String(cString: message)
        return text.split(whereSeparator: \.isNewline).first.map(String.init) ?? "unknown libpq error"
    }
}

extension PostgresConnection {
    /// The SCRAM-SHA-256 verifier of `password` for the role `user`, computed here by libpq
    /// (`PQencryptPasswordConn`), so the password itself never travels to the server or its logs.
    public func scramVerifier(password: String, user: String) throws -> String {
        guard let encrypted = PQencryptPasswordConn(handle, password, user, "scram-sha-256") else {
            throw connectionError(context: "computing a password verifier")
        }
        defer { PQfreemem(encrypted) }
        return String(cString: encrypted)
    }
}
