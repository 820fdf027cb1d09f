import Foundation
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
        self.label = label ?? ConnectionString.redacted(connectionString)
    }
}

extension DatabaseConfiguration {
    /// How long a command waits for a lock before it fails with a clear message
    /// (`DOSSIER_LOCK_TIMEOUT`, PostgreSQL units; default 30s).
    public static var lockTimeout: String { setting("DOSSIER_LOCK_TIMEOUT", default: "30s") }
    /// How long one statement may run (`DOSSIER_STATEMENT_TIMEOUT`; default 10min, enough for
    /// the largest import chunk or rebuild step).
    public static var statementTimeout: String { setting("DOSSIER_STATEMENT_TIMEOUT", default: "10min") }

    static func setting(_ name: String, default value: String) -> String {
        guard let text = ProcessInfo.processInfo.environment[name],
            text.range(of: #"^[0-9]{1,9}\s*(ms|s|min|h)?$"#, options: .regularExpression) != nil
        else { return value }
        return text
    }
}

/// How a connection is set up: it acts as its login (the database reads the person from the
/// session), with every lock wait and statement bounded.
public enum AccessRole: Sendable {
    /// The login's own rights (what its Dossier group roles grant).
    case person
    /// A person a trusted login acts for (`SET ROLE`): the server's way in.
    case actingFor(String)

    func apply(to connection: PostgresConnection) throws {
        do {
            try connection.query("SELECT set_config('lock_timeout', \(DatabaseConfiguration.lockTimeout), false)")
            try connection.query(
                "SELECT set_config('statement_timeout', \(DatabaseConfiguration.statementTimeout), false)")
            if case .actingFor(let person) = self {
                try connection.query("SELECT set_config('role', \(person), false)")
            }
        } catch let error as PostgresError {
            if error.sqlState == .insufficientPrivilege || error.sqlState?.code == "22023" {
                throw StoreError.notAllowed("this login may not act as that person")
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
