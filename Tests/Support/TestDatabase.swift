import DossierStore
import Foundation
import PostgresClient

/// Fresh databases on the throwaway PostgreSQL that `tools/test` starts.
///
/// Tests never skip when it is missing: `adminConnectionString()` throws, and the test fails
/// with a message saying how to run the tests.
public enum TestDatabase {
    public struct Missing: Error, CustomStringConvertible {
        public var description: String {
            "DOSSIER_TEST_DATABASE_URL is not set: run the tests with tools/test, which starts PostgreSQL"
        }
    }

    /// The superuser connection string `tools/test` exports.
    public static func adminConnectionString() throws -> String {
        guard let url = ProcessInfo.processInfo.environment["DOSSIER_TEST_DATABASE_URL"], !url.isEmpty else {
            throw Missing()
        }
        return url
    }

    public struct MissingStandby: Error, CustomStringConvertible {
        public var description: String {
            "DOSSIER_TEST_STANDBY_URL is not set: run the tests with tools/test, which starts a primary and a hot standby"
        }
    }

    /// A connection string for `database` on the hot standby `tools/test` starts (streaming from
    /// the test cluster, so every database created there appears on it).
    public static func standbyConnectionString(database: String) throws -> String {
        guard let url = ProcessInfo.processInfo.environment["DOSSIER_TEST_STANDBY_URL"], !url.isEmpty else {
            throw MissingStandby()
        }
        return url + " dbname=\(database)"
    }

    /// The password of every login role the tests create (the test cluster asks every role but
    /// its superuser for a password).
    public static let password = "correct horse battery"

    /// A connection string for another database or user (with the tests' password) on the same server.
    public static func connectionString(database: String, user: String? = nil) throws -> String {
        var text = try adminConnectionString() + " dbname=\(database)"
        if let user { text += " user=\(user) password='\(password)'" }
        return text
    }

    /// Creates an empty database with a unique name; with `migrated`, runs `dossier init` on it.
    public static func create(migrated: Bool = true, prefix: String = "t") throws -> DatabaseConfiguration {
        // Roles are shared by the whole cluster; concurrent role changes would collide.
        lock.lock()
        defer { lock.unlock() }
        let admin = try PostgresConnection(connectionString: adminConnectionString())
        let name = "dossier_\(prefix)_" + UUID().uuidString.prefix(12).lowercased().replacingOccurrences(of: "-", with: "")
        try admin.executeScript("CREATE DATABASE \(name)")
        let configuration = DatabaseConfiguration(connectionString: try connectionString(database: name))
        if migrated {
            let connection = try PostgresConnection(connectionString: configuration.connectionString)
            try Migrator().migrate(connection)
            try ensureLoginRoles(connection)
        }
        return configuration
    }

    private static let lock = NSLock()

    /// The name of the database a configuration points at.
    public static func name(of configuration: DatabaseConfiguration) -> String {
        configuration.connectionString.components(separatedBy: "dbname=").last!
            .split(separator: " ").first.map(String.init)!
    }

    /// Login roles for permission tests: one writer, one reader, one with no Dossier role.
    public static let writerUser = "dossier_test_writer"
    public static let readerUser = "dossier_test_reader"
    public static let outsiderUser = "dossier_test_outsider"

    /// Registers an existing login role of the cluster as a Dossier person of this database (the
    /// superuser's way: `dossier.add_person` with no password adopts a role).
    public static func register(
        _ configuration: DatabaseConfiguration, user: String, role: String, jurisdictions: [String] = []
    ) throws {
        let connection = try PostgresConnection(connectionString: configuration.connectionString)
        try connection.query(
            "SELECT dossier.add_person(\(user), \(role), \(PostgresArray(jurisdictions)), NULL, 'tests', \("register:" + user))")
    }

    /// Creates a login role with a password for a test (unique per call: roles are cluster-wide).
    public static func uniqueName(_ prefix: String) -> String {
        prefix + "_" + UUID().uuidString.prefix(8).lowercased()
    }

    static func ensureLoginRoles(_ connection: PostgresConnection) throws {
        defer {
            // The test writer and reader may connect (only registered people may, once 0006 ran);
            // the outsider may not.
            _ = try? connection.executeScript(
                """
                DO $$ BEGIN
                    EXECUTE format('GRANT CONNECT ON DATABASE %I TO dossier_test_writer, dossier_test_reader', current_database());
                END $$
                """)
        }
        try connection.executeScript(
            """
            DO $$
            DECLARE r text[];
            BEGIN
                FOREACH r SLICE 1 IN ARRAY ARRAY[
                    ARRAY['dossier_test_writer', 'dossier_writer'],
                    ARRAY['dossier_test_reader', 'dossier_reader'],
                    ARRAY['dossier_test_outsider', '']] LOOP
                    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = r[1]) THEN
                        BEGIN
                            EXECUTE format('CREATE ROLE %I LOGIN PASSWORD %L', r[1], 'correct horse battery');
                            IF r[2] <> '' THEN
                                EXECUTE format('GRANT %I TO %I', r[2], r[1]);
                            END IF;
                        EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
                        END;
                    END IF;
                END LOOP;
            END
            $$
            """)
    }
}
