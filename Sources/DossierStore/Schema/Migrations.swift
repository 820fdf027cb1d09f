import Crypto
import PostgresClient

/// One numbered SQL migration from `schema/`, as embedded in the program at build time.
public struct EmbeddedMigration: Sendable {
    /// The file name without `.sql`, e.g. `0001_event_log`.
    public let name: String
    public let sql: String
    /// SHA-256 of the file's bytes, hex.
    public let checksum: String

    public init(name: String, bytes: [UInt8]) {
        self.name = name
        self.sql = String(decoding: bytes, as: UTF8.self)
        self.checksum = SHA256.hash(data: bytes).map { byte in
            let hex = String(byte, radix: 16)
            return hex.count == 1 ? "0" + hex : hex
        }.joined()
    }

    /// The migrations of `schema/`, in order.
    public static let all: [EmbeddedMigration] = embeddedMigrations.sorted { $0.name < $1.name }
}

/// Why `dossier init` refused to touch the schema.
public enum MigrationError: Error, Sendable, Equatable, CustomStringConvertible {
    /// An applied migration's file is not what was applied.
    case changedSinceApplied(name: String, applied: String, now: String)
    /// The database has a migration this program does not know: it is newer than the program.
    case unknownApplied(name: String)
    /// A migration failed; nothing of it was kept.
    case failed(name: String, reason: String)

    public var description: String {
        switch self {
        case .changedSinceApplied(let name, let applied, let now):
            "migration \(name) was changed after it was applied (applied checksum \(applied.prefix(12))…, "
                + "file now \(now.prefix(12))…); restore the file and put the change in a new migration"
        case .unknownApplied(let name):
            "the database has migration \(name), which this dossier does not know: use a newer dossier"
        case .failed(let name, let reason):
            "migration \(name) failed and was rolled back: \(reason)"
        }
    }
}

/// Applies the missing migrations in order, each in its own transaction, and records them with
/// their checksum. Idempotent; refuses to run when an applied migration has changed since.
public struct Migrator {
    public let migrations: [EmbeddedMigration]

    public init(migrations: [EmbeddedMigration] = EmbeddedMigration.all) {
        self.migrations = migrations
    }

    /// - Returns: the names of the migrations applied now (empty when all were applied before).
    @discardableResult
    public func migrate(_ connection: PostgresConnection) throws -> [String] {
        // One init at a time per database; the lock ends with the session or below.
        try connection.query("SELECT pg_advisory_lock(1151, 0)")
        defer { _ = try? connection.query("SELECT pg_advisory_unlock(1151, 0)") }
        try connection.execute(
            """
            CREATE TABLE IF NOT EXISTS public.dossier_migrations (
                name text PRIMARY KEY,
                checksum text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now(),
                applied_by text NOT NULL DEFAULT session_user
            )
            """)
        var applied: [String: String] = [:]
        for row in try connection.query("SELECT name, checksum FROM public.dossier_migrations").rows {
            applied[try row.decode(String.self, at: 0)] = try row.decode(String.self, at: 1)
        }
        let known = Dictionary(uniqueKeysWithValues: migrations.map { ($0.name, $0) })
        for (name, checksum) in applied.sorted(by: { $0.key < $1.key }) {
            guard let migration = known[name] else { throw MigrationError.unknownApplied(name: name) }
            guard migration.checksum == checksum else {
                throw MigrationError.changedSinceApplied(name: name, applied: checksum, now: migration.checksum)
            }
        }
        var appliedNow: [String] = []
        for migration in migrations where applied[migration.name] == nil {
            do {
                try connection.transaction { connection in
                    try connection.executeScript(migration.sql)
                    try connection.query(
                        "INSERT INTO public.dossier_migrations (name, checksum) VALUES (\(migration.name), \(migration.checksum))"
                    )
                }
            } catch let error as PostgresError {
                throw MigrationError.failed(name: migration.name, reason: error.debugDescription)
            }
            appliedNow.append(migration.name)
        }
        return appliedNow
    }
}
