/// An error from PostgreSQL or from talking to it.
///
/// `description` names what failed, the SQLSTATE and its condition name, and the constraint,
/// table or column involved. It never includes the server's message text, its DETAIL or the
/// values of a query, because those can carry personal data; they are kept in the fields of
/// this value and shown by `debugDescription` for whoever debugs with access to the data.
public struct PostgresError: Error, Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    /// What went wrong, in broad terms.
    public enum Kind: String, Sendable {
        /// The connection could not be opened.
        case connectionFailed = "connection failed"
        /// The connection broke, or is no longer usable after a failure.
        case connectionLost = "connection lost"
        /// The server refused a statement; see `sqlState`.
        case server = "server error"
        /// A value could not be decoded into the Swift type asked for.
        case decoding = "decoding error"
        /// A value could not be sent (for example a string holding a NUL byte).
        case encoding = "encoding error"
        /// The server answered with something the client did not expect.
        case protocolViolation = "unexpected response"
    }

    public var kind: Kind
    /// The five-character SQLSTATE, when the server sent one.
    public var sqlState: SQLState?
    /// The server's primary message. May contain data: not part of `description`.
    public var serverMessage: String?
    /// The server's DETAIL. May contain data: not part of `description`.
    public var detail: String?
    /// The server's HINT.
    public var hint: String?
    public var schemaName: String?
    public var tableName: String?
    public var columnName: String?
    public var constraintName: String?
    /// What the client was doing, in words chosen by the client (never data).
    public var context: String?

    public init(
        _ kind: Kind, sqlState: SQLState? = nil, serverMessage: String? = nil,
        detail: String? = nil, hint: String? = nil, context: String? = nil
    ) {
        self.kind = kind
        self.sqlState = sqlState
        self.serverMessage = serverMessage
        self.detail = detail
        self.hint = hint
        self.context = context
    }

    public var description: String {
        var parts = [kind.rawValue]
        if let sqlState {
            parts.append("SQLSTATE \(sqlState.code)" + (sqlState.name.map { " (\($0))" } ?? ""))
        }
        if let constraintName { parts.append("constraint \(constraintName)") }
        if let tableName { parts.append("table \(tableName)") }
        if let columnName { parts.append("column \(columnName)") }
        if let context { parts.append(context) }
        return parts.joined(separator: ", ")
    }

    public var debugDescription: String {
        var text = description
        if let serverMessage { text += "\nmessage: \(serverMessage)" }
        if let detail { text += "\ndetail: \(detail)" }
        if let hint { text += "\nhint: \(hint)" }
        return text
    }
}

/// A PostgreSQL SQLSTATE code, with names for the ones Dossier reacts to.
public struct SQLState: Hashable, Sendable, CustomStringConvertible {
    public let code: String

    public init(_ code: String) { self.code = code }

    /// The two-character class, e.g. "23" for integrity constraint violations.
    public var errorClass: String { String(code.prefix(2)) }

    public static let uniqueViolation = SQLState("23505")
    public static let foreignKeyViolation = SQLState("23503")
    public static let checkViolation = SQLState("23514")
    public static let notNullViolation = SQLState("23502")
    public static let insufficientPrivilege = SQLState("42501")
    public static let undefinedTable = SQLState("42P01")
    public static let undefinedObject = SQLState("42704")
    public static let invalidAuthorization = SQLState("28000")
    public static let invalidPassword = SQLState("28P01")
    public static let serializationFailure = SQLState("40001")
    public static let deadlockDetected = SQLState("40P01")
    public static let queryCanceled = SQLState("57014")
    public static let adminShutdown = SQLState("57P01")
    public static let invalidTextRepresentation = SQLState("22P02")
    public static let raiseException = SQLState("P0001")
    public static let invalidDatabaseName = SQLState("3D000")
    public static let duplicateDatabase = SQLState("42P04")
    /// Raised by Dossier's own triggers when something tries to change the event log.
    public static let immutableLog = SQLState("DS001")

    private static let names: [String: String] = [
        "23505": "unique_violation", "23503": "foreign_key_violation", "23514": "check_violation",
        "23502": "not_null_violation", "42501": "insufficient_privilege", "42P01": "undefined_table",
        "42704": "undefined_object", "28000": "invalid_authorization_specification",
        "28P01": "invalid_password", "40001": "serialization_failure", "40P01": "deadlock_detected",
        "57014": "query_canceled", "57P01": "admin_shutdown", "22P02": "invalid_text_representation",
        "P0001": "raise_exception", "3D000": "invalid_catalog_name", "42P04": "duplicate_database",
        "25P02": "in_failed_sql_transaction", "0A000": "feature_not_supported",
        "22007": "invalid_datetime_format", "22008": "datetime_field_overflow",
        "22003": "numeric_value_out_of_range", "42601": "syntax_error", "42703": "undefined_column",
        "DS001": "dossier_immutable_log",
    ]

    /// The condition name of PostgreSQL's documentation, when known here.
    public var name: String? { Self.names[code] }

    public var description: String { code }
}
