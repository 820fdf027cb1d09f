import DossierStore
import DossierTestSupport
import PostgresClient
import Testing

@Suite("Migrations")
struct MigrationTests {
    @Test("init applies every migration once, records checksums, and is idempotent")
    func idempotent() throws {
        let configuration = try TestDatabase.create(migrated: false)
        let connection = try adminConnection(configuration)
        let first = try Migrator().migrate(connection)
        #expect(first == EmbeddedMigration.all.map(\.name))
        #expect(try Migrator().migrate(connection).isEmpty)
        let recorded = try connection.query("SELECT name, checksum FROM public.dossier_migrations ORDER BY name")
        #expect(recorded.rowCount == EmbeddedMigration.all.count)
        #expect(try recorded[0].decode(String.self, at: 1) == EmbeddedMigration.all[0].checksum)
    }

    @Test("a migration file changed after it was applied is refused, and nothing runs")
    func changedMigrationRefused() throws {
        let configuration = try TestDatabase.create(migrated: true)
        let connection = try adminConnection(configuration)
        var changed = EmbeddedMigration.all
        changed[0] = EmbeddedMigration(name: changed[0].name, bytes: Array((changed[0].sql + "\n-- edited").utf8))
        let extra = EmbeddedMigration(name: "9999_later", bytes: Array("CREATE TABLE public.should_not_exist (n int);".utf8))
        let error = #expect(throws: MigrationError.self) { try Migrator(migrations: changed + [extra]).migrate(connection) }
        guard case .changedSinceApplied(let name, _, _) = error else {
            Issue.record("expected changedSinceApplied, got \(String(describing: error))")
            return
        }
        #expect(name == EmbeddedMigration.all[0].name)
        #expect(try connection.query("SELECT to_regclass('public.should_not_exist') IS NULL").scalar(Bool.self) == true)
    }

    @Test("a database with a migration this program does not know is refused")
    func unknownMigrationRefused() throws {
        let configuration = try TestDatabase.create(migrated: true)
        let connection = try adminConnection(configuration)
        try connection.query("INSERT INTO public.dossier_migrations (name, checksum) VALUES ('9999_future', 'x')")
        #expect(throws: MigrationError.unknownApplied(name: "9999_future")) { try Migrator().migrate(connection) }
    }

    @Test("a failing migration is rolled back whole and not recorded")
    func failingMigrationRolledBack() throws {
        let configuration = try TestDatabase.create(migrated: true)
        let connection = try adminConnection(configuration)
        let broken = EmbeddedMigration(
            name: "9998_broken", bytes: Array("CREATE TABLE public.half_done (n int); SELECT 1/0;".utf8))
        #expect(throws: MigrationError.self) { try Migrator(migrations: EmbeddedMigration.all + [broken]).migrate(connection) }
        #expect(try connection.query("SELECT to_regclass('public.half_done') IS NULL").scalar(Bool.self) == true)
        #expect(try connection.query("SELECT count(*) FROM public.dossier_migrations WHERE name = '9998_broken'").scalar(Int64.self) == 0)
    }
}
