import DossierDomain
import PostgresClient

/// Where the ledger lives and how to reach it.
public struct DatabaseConfiguration: Sendable {
    /// A libpq connection string or URI.
    public var connectionString: String
    /// Where it points, in words fit for a message (no password).
    public var label: String

    public init(connectionString: String, label: String? = nil) {
        self.connectionString = connectionString
        self.label = label ?? Self.redacted(connectionString)
    }

    /// A connection string with any password hidden.
    static func redacted(_ text: String) -> String {
        // URI form: scheme://user:password@host/...
        if let schemeEnd = text.range(of: "://"), let at = text[schemeEnd.upperBound...].firstIndex(of: "@") {
            let credentials = text[schemeEnd.upperBound..<at]
            if let colon = credentials.firstIndex(of: ":") {
                return String(text[..<colon]) + ":***" + String(text[at...])
            }
            return text
        }
        // keyword=value form
        return text.split(separator: " ").map { part in
            part.lowercased().hasPrefix("password=") ? "password=***" : String(part)
        }.joined(separator: " ")
    }
}

/// The Dossier role a connection acts as, whatever user it logged in as.
public enum AccessRole: String, Sendable {
    /// Appends events and maintains projections.
    case writer = "dossier_writer"
    /// Reads only (auditors).
    case reader = "dossier_reader"
    /// The login user's own rights, for `dossier init` and administration.
    case admin

    /// Sets the role on a new connection; explains what to do when that is not allowed.
    func apply(to connection: PostgresConnection) throws {
        guard self != .admin else { return }
        do {
            switch self {
            case .writer: try connection.execute("SET ROLE dossier_writer")
            case .reader: try connection.execute("SET ROLE dossier_reader")
            case .admin: break
            }
        } catch let error as PostgresError {
            if error.sqlState == .insufficientPrivilege {
                throw StoreError.permissionDenied(
                    "this database user may not act as \(rawValue); an administrator can run "
                        + "GRANT \(rawValue) TO <user>")
            }
            if error.sqlState?.code == "22023" {
                throw StoreError.notInitialized
            }
            throw StoreError.from(error)
        }
    }
}

extension PostgresSession {
    /// A session that acts as `role` on every connection it opens.
    public static func open(_ configuration: DatabaseConfiguration, role: AccessRole, label: String = "dossier")
        -> PostgresSession
    {
        PostgresSession(connectionString: configuration.connectionString, label: label) { connection in
            try role.apply(to: connection)
        }
    }

    /// Runs `body` on the session's connection, turning connection failures into `StoreError`.
    public func run<T: Sendable>(_ body: (PostgresConnection) throws -> T) async throws -> T {
        do {
            return try withConnection(body)
        } catch let error as PostgresError {
            throw StoreError.from(error)
        }
    }
}
