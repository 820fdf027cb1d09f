import DossierStore
import Foundation
import PostgresClient
import Testing

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
}
