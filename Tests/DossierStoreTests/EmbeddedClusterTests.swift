import DossierStore
import DossierTestSupport
import Foundation
import PostgresClient
import Testing

#if canImport(Glibc)
    import Glibc
#endif

@Suite("The embedded default database")
struct EmbeddedClusterTests {
    @Test("created on first use under DOSSIER_HOME, Unix socket only, reused, stopped")
    func lifecycle() async throws {
        let home = FileManager.default.temporaryDirectory.appending(path: "dossier-home-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: home) }
        let cluster = EmbeddedCluster(environment: ["DOSSIER_HOME": home.path, "PATH": ProcessInfo.processInfo.environment["PATH"] ?? ""])
        #expect(cluster.status() == .notCreated)
        let configuration = try cluster.start()
        defer { try? cluster.stop() }
        guard case .running = cluster.status() else {
            Issue.record("the cluster should be running")
            return
        }
        let connection = try PostgresConnection(connectionString: configuration.connectionString)
        #expect(try connection.query("SELECT current_database()").scalar(String.self) == "dossier")
        #expect(try connection.query("SHOW listen_addresses").scalar(String.self) == "")
        // Starting again reuses it.
        _ = try cluster.start()
        try cluster.stop()
        #expect(cluster.status() == .stopped)
        _ = try cluster.start()
        #expect(try PostgresConnection(connectionString: configuration.connectionString).query("SELECT 1").scalar(Int32.self) == 1)
    }

    @Test("missing server programs are named with the package to install")
    func missingBinaries() throws {
        let home = FileManager.default.temporaryDirectory.appending(path: "dossier-nobin-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: home) }
        let cluster = EmbeddedCluster(environment: ["DOSSIER_HOME": home.path, "DOSSIER_PG_BIN": "/nonexistent"])
        let error = #expect(throws: EmbeddedCluster.Failure.self) { try cluster.start() }
        #expect(error?.description.contains("apt install postgresql") == true)
    }

    @Test("db status asks the server: a hung or killed postmaster is reported (exit 3), and db start recovers after kill -9")
    func killedPostmaster() async throws {
        let home = FileManager.default.temporaryDirectory.appending(path: "dossier-kill-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: home) }
        var runner = CommandRunner(database: nil)
        runner.environment["DOSSIER_HOME"] = home.path
        let cluster = EmbeddedCluster(environment: runner.environment)
        try cluster.start()
        defer { try? cluster.stop() }
        guard case .running(let pid) = cluster.status() else {
            Issue.record("the cluster should be running")
            return
        }
        #expect(try runner.run(["db", "status"]).stdout.hasPrefix("running (pid \(pid)"))

        // A postmaster that exists but does not answer.
        kill(pid_t(pid), SIGSTOP)
        let hung = try runner.run(["db", "status"])
        kill(pid_t(pid), SIGCONT)
        #expect(hung.status == 3)
        #expect(hung.stderr.contains("not answering (pid \(pid)"), "\(hung.stderr)")
        #expect(hung.stderr.contains("`dossier db stop` then `dossier db start`"))

        // kill -9: its pid file stays behind (and the process may linger as a zombie).
        kill(pid_t(pid), SIGKILL)
        let connection = cluster.connectionString(user: "dossier").replacingOccurrences(of: "dbname=dossier", with: "dbname=postgres")
        for _ in 0..<100 where (try? PostgresConnection(connectionString: connection)) != nil {
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(FileManager.default.fileExists(atPath: cluster.dataDirectory.appending(path: "postmaster.pid").path))
        let killed = try runner.run(["db", "status"])
        #expect(killed.status == 3, "\(killed.stdout)")
        #expect(killed.stderr.contains("dossier db start"), "\(killed.stderr)")
        #expect(!killed.stdout.contains("running"))

        // db start recovers, and the database answers again. (Run with posix_spawn, not Foundation's
        // Process, whose exit monitoring waits for the server it leaves behind.)
        let output = home.appending(path: "db-start.out").path
        let start = try Subprocess.run(
            [CommandRunner.binDirectory().appending(path: "dossier").path, "db", "start"], outputPath: output,
            environment: runner.environment)
        #expect(start.status == 0, "\((try? String(contentsOfFile: output, encoding: .utf8)) ?? "")")
        let after = try runner.run(["db", "status"])
        #expect(after.status == 0)
        #expect(after.stdout.hasPrefix("running"))
        #expect(try PostgresConnection(connectionString: connection).query("SELECT 1").scalar(Int32.self) == 1)
    }
}
