import DossierDomain
import DossierStore
import DossierTestSupport
import Foundation
import PostgresClient
import Testing

/// What the command says when the connection breaks, and concurrent writers on one worker
/// (issue 15: defects 2, 3 and 4).
@Suite("Reliability through the command")
struct ReliabilityCLITests {
    static func training(_ reference: String, worker: String = "W-001", day: Int = 1) -> String {
        #"{"decision":"training","worker":"\#(worker)","kind":"special","hours":4,"effective":"2013-05-\#(String(format: "%02d", day))","authority":"五里桥街道","reference":"\#(reference)"}"#
    }

    static func admin(_ database: DatabaseConfiguration) throws -> PostgresConnection {
        try PostgresConnection(connectionString: database.connectionString)
    }

    static func count(_ database: DatabaseConfiguration, reference: String) throws -> Int64 {
        try admin(database).query("SELECT count(*) FROM dossier.events WHERE reference = \(reference)").scalar(Int64.self) ?? -1
    }

    @Test("a connection lost after COMMIT was sent: the log is asked — recorded, not recorded, or outcome unknown (exit 6)")
    func unknownOutcomesAreNamed() throws {
        let database = try TestDatabase.create()
        var dossier = CommandRunner(database: database)
        #expect(try dossier.run(["record", "-"], input: hire).status == 0)

        // The server ends the session right after the commit: it happened, and the command says so.
        dossier.environment["DOSSIER_FAULT"] = "lose-connection-after-commit"
        let after = try dossier.run(["record", "-"], input: Self.training("T-after"))
        #expect(after.status == 0, "\(after.stderr)")
        #expect(after.stdout.contains("recorded training T-after"), "\(after.stdout)")
        #expect(try Self.count(database, reference: "T-after") == 1)

        // Ended just before the commit: nothing was recorded, and the command says so (exit 3).
        dossier.environment["DOSSIER_FAULT"] = "lose-connection-before-commit"
        let before = try dossier.run(["record", "-"], input: Self.training("T-before", day: 2))
        #expect(before.status == 3)
        #expect(before.stderr.contains("not recorded"), "\(before.stderr)")
        #expect(before.stderr.contains("does not hold it"), "\(before.stderr)")
        #expect(try Self.count(database, reference: "T-before") == 0)

        // After the commit, with the database out of reach: outcome unknown, exit 6, and sending
        // the same decision again is safe.
        dossier.environment["DOSSIER_FAULT"] = "lose-connection-after-commit no-reconnection"
        let unknown = try dossier.run(["record", "-"], input: Self.training("T-unknown", day: 3))
        #expect(unknown.status == 6, "\(unknown.stderr)")
        #expect(unknown.stderr.contains("outcome unknown"), "\(unknown.stderr)")
        #expect(unknown.stderr.contains("send the same file again (it is safe"), "\(unknown.stderr)")
        dossier.environment["DOSSIER_FAULT"] = nil
        let again = try dossier.run(["record", "-"], input: Self.training("T-unknown", day: 3))
        #expect(again.status == 0)
        #expect(again.stdout.contains("already recorded"), "\(again.stdout)")
        #expect(try Self.count(database, reference: "T-unknown") == 1)
    }

    @Test("eight processes recording interleaved decisions for one worker: every one recorded, versions gapless")
    func eightProcessesOneWorker() throws {
        let database = try TestDatabase.create()
        let dossier = CommandRunner(database: database)
        #expect(try dossier.run(["record", "-"], input: hire).status == 0)
        let files = (0..<8).map { process in
            CommandRunner.file((0..<6).map { Self.training("P\(process)-\($0)", day: 1 + (process + $0) % 28) }.joined(separator: "\n"))
        }
        let statuses = Statuses()
        let environment = dossier.environment
        DispatchQueue.concurrentPerform(iterations: files.count) { index in
            var runner = CommandRunner(database: nil)
            runner.environment = environment
            statuses.add(try? runner.run(["record", files[index]]))
        }
        for result in statuses.all {
            #expect(result?.status == 0, "\(result?.stderr ?? "did not run")")
        }
        let versions = try Self.admin(database).query(
            "SELECT version FROM dossier.events WHERE stream = 'worker/W-001' ORDER BY version"
        ).rows.map { Int(try $0.decode(Int32.self, at: 0)) }
        #expect(versions == Array(1...49))
    }

    final class Statuses: @unchecked Sendable {
        private let lock = NSLock()
        private var results: [CommandRunner.Result?] = []
        func add(_ result: CommandRunner.Result?) { lock.withLock { results.append(result) } }
        var all: [CommandRunner.Result?] { lock.withLock { results } }
    }

    /// Ends the session of the only other client of the test database once its current
    /// statement matches `pattern` (as a fast shutdown of the server would: SQLSTATE 57P01).
    static func terminate(_ database: DatabaseConfiguration, whenRunning pattern: String) throws -> Bool {
        let admin = try admin(database)
        for _ in 0..<1000 {
            let ended = try admin.query(
                """
                SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
                 WHERE datname = current_database() AND pid <> pg_backend_pid() AND query LIKE \(pattern)
                """
            ).scalar(Int64.self) ?? 0
            if ended > 0 { return true }
            usleep(10_000)
        }
        return false
    }

    @Test("an import cut by a server shutdown says that nothing of it was recorded; a rebuild cut says the projections are whole")
    func cutImportAndRebuild() throws {
        let database = try TestDatabase.create()
        let dossier = CommandRunner(database: database)
        let sample = try CommandRunner.sample(seed: 21, workers: 400, from: 2012, to: 2024)
        let killer = Killer(database: database, pattern: "%staged_events%")
        let cut = try dossier.run(["import", sample])
        #expect(killer.wait(), "the import's session was never seen appending")
        #expect(cut.status == 3, "\(cut.stdout) \(cut.stderr)")
        #expect(cut.stderr.contains("none of its decisions is recorded"), "\(cut.stderr)")
        #expect(cut.stderr.contains("the connection to the database broke during the import"), "\(cut.stderr)")
        #expect(try events(database) == 0)

        #expect(try dossier.run(["import", sample]).status == 0)
        let total = try events(database)
        let rebuildKiller = Killer(database: database, pattern: "%COPY dossier_read.%_next%")
        let rebuild = try dossier.run(["rebuild"])
        if rebuildKiller.wait() {
            #expect(rebuild.status == 3, "\(rebuild.stdout) \(rebuild.stderr)")
            #expect(rebuild.stderr.contains("never a mix"), "\(rebuild.stderr)")
            // The partial tables stay until the next project (or rebuild, or init) drops them.
            let left = try Self.admin(database).query(
                "SELECT count(*) FROM pg_tables WHERE schemaname = 'dossier_read' AND tablename LIKE '%\\_next'"
            ).scalar(Int64.self) ?? 0
            #expect(left > 0)
            let project = try dossier.run(["project"])
            #expect(project.status == 0, "\(project.stderr)")
            #expect(project.stdout.contains("dropped \(left) tables an interrupted rebuild left behind"), "\(project.stdout)")
        } else {
            Issue.record("the rebuild finished before it could be cut (\(rebuild.stdout))")
        }
        let remaining = try Self.admin(database).query(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'dossier_read' AND tablename LIKE '%\\_next'"
        ).scalar(Int64.self) ?? -1
        #expect(remaining == 0)
        #expect(try events(database) == total)
    }

    /// Terminates a matching session from another thread while the command runs.
    final class Killer: @unchecked Sendable {
        private let done = DispatchSemaphore(value: 0)
        private var found = false

        init(database: DatabaseConfiguration, pattern: String) {
            Thread.detachNewThread { [self] in
                found = (try? ReliabilityCLITests.terminate(database, whenRunning: pattern)) ?? false
                done.signal()
            }
        }

        func wait() -> Bool {
            done.wait()
            return found
        }
    }
}
