import DossierStore
import DossierTestSupport
import Foundation
import PostgresClient
import Testing

/// Reads on the hot standby `tools/test` starts (`DOSSIER_READ_URL`).
@Suite("Reads on a standby")
struct StandbyTests {
    static func hire(_ worker: String, name: String) -> String {
        """
        {"decision":"hire","worker":"\(worker)","name":"\(name)","community":"桥二居民区","street":"五里桥街道","district":"黄浦区",\
        "city":"上海","post":"principal","role":"party-secretary","level":10,"education":"bachelor","effective":"2012-03-01",\
        "authority":"五里桥街道办事处","reference":"SB-\(worker)"}
        """
    }

    @Test("a decision recorded on the primary is read at once through DOSSIER_READ_URL (verify on the standby, show and trace)")
    func readYourWrites() throws {
        let database = try TestDatabase.create()
        let standby = try TestDatabase.standbyConnectionString(database: TestDatabase.name(of: database))
        let primary = CommandRunner(database: database)
        var reader = primary
        reader.environment["DOSSIER_READ_URL"] = standby

        // Each read runs right after a write: it must see it (the command waits for the standby
        // to replay the primary's position, or reads the primary).
        for (index, worker) in ["SB-1", "SB-2", "SB-3"].enumerated() {
            let recorded = try primary.run(["record", "-"], input: Self.hire(worker, name: "备用\(index)"))
            try #require(recorded.status == 0, "\(recorded.stderr)")
            let verified = try reader.run(["verify"])
            #expect(verified.status == 0, "\(verified.stderr)")
            #expect(verified.stdout.contains("verified \(index + 1) events"), "\(verified.stdout)")
            #expect(verified.stdout.contains("[read on the standby]"), "\(verified.stdout) \(verified.stderr)")
            // Personal data is not checked there: its read is logged, and a standby writes nothing.
            #expect(verified.stdout.contains("personal data not checked (on the standby"))
            #expect(!verified.stderr.contains("reading the primary"), "\(verified.stderr)")
        }
        let shown = try reader.run(["show", "SB-3"])
        #expect(shown.status == 0, "\(shown.stderr)")
        #expect(shown.stdout.contains("SB-3"))
        // Served by the standby, name included: the read was logged on the primary first and the
        // standby waited until it had replayed that entry.
        #expect(shown.stdout.contains("备用2"), "\(shown.stdout)")
        #expect(!shown.stderr.contains("reading the primary"), "\(shown.stderr)")
        let logged = try PostgresConnection(connectionString: database.connectionString).query(
            "SELECT count(*) FROM dossier.access_log WHERE what = 'show' AND worker = 'SB-3'"
        ).scalar(Int64.self)
        #expect(logged == 1)
        let traced = try reader.run(["trace", "SB-2", "--json"])
        #expect(traced.status == 0, "\(traced.stderr)")
        #expect(traced.stdout.contains("SB-SB-2"))
        #expect(!traced.stderr.contains("reading the primary"), "\(traced.stderr)")
        // The read model's answers come from the standby as the primary's projections stand (it is
        // never written there): bring them up to date on the primary first.
        #expect(try primary.run(["project"]).status == 0)
        for command in [["quota"], ["eligible", "--for", "level-up"], ["exceptions"], ["history", "SB-1", "--field", "level"]] {
            let answered = try reader.run(command)
            #expect(answered.status == 0, "\(command): \(answered.stderr)")
            #expect(!answered.stderr.contains("25006") && !answered.stderr.contains("read-only"), "\(command): \(answered.stderr)")
        }
    }

    @Test("the standby is in recovery and replays the primary; a read never leaves it written")
    func standbyIsReadOnly() throws {
        let database = try TestDatabase.create()
        let standby = try PostgresConnection(
            connectionString: try TestDatabase.standbyConnectionString(database: TestDatabase.name(of: database)))
        #expect(try ReadReplica.isStandby(standby))
        let primary = try PostgresConnection(connectionString: database.connectionString)
        #expect(try !ReadReplica.isStandby(primary))
        let runner = CommandRunner(database: database)
        #expect(try runner.run(["record", "-"], input: Self.hire("SB-9", name: "只读")).status == 0)
        let position = try ReadReplica.primaryPosition(primary)
        #expect(try ReadReplica.waitForReplay(standby, to: position, timeout: 10))
        #expect(try standby.query("SELECT count(*) FROM dossier.events").scalar(Int64.self) == 1)
        // A write there is refused by PostgreSQL itself, whoever asks.
        #expect(throws: PostgresError.self) { try standby.query("SELECT dossier.request_personal_access(ARRAY['worker/SB-9'], 'test')") }
    }

    @Test("an unreachable standby: reads go to the primary and say so")
    func unreachableStandby() throws {
        let database = try TestDatabase.create()
        _ = try TestDatabase.standbyConnectionString(database: "postgres")  // the tests need the standby
        var reader = CommandRunner(database: database)
        reader.environment["DOSSIER_READ_URL"] = "host=/nonexistent dbname=dossier connect_timeout=2"
        #expect(try reader.run(["record", "-"], input: Self.hire("SB-5", name: "回退")).status == 0)
        let verified = try reader.run(["verify"])
        #expect(verified.status == 0, "\(verified.stderr)")
        #expect(verified.stdout.contains("verified 1 events"))
        #expect(!verified.stdout.contains("[read on the standby]"))
        #expect(verified.stderr.contains("cannot be used") && verified.stderr.contains("reading the primary"), "\(verified.stderr)")
    }
}
