import DossierStore
import DossierTestSupport
import Foundation
import Testing

@Suite("Backups of the embedded database")
struct BackupTests {
    /// Runs `dossier` with posix_spawn (commands that start the server: Foundation's Process waits
    /// for the server they leave behind), its output and errors in one text.
    static func spawn(_ arguments: [String], environment: [String: String], scratch: URL) throws -> (status: Int32, output: String) {
        let output = scratch.appending(path: "spawn-\(UUID().uuidString.prefix(8)).out").path
        let exit = try Subprocess.run(
            [CommandRunner.binDirectory().appending(path: "dossier").path] + arguments, outputPath: output, environment: environment)
        return (exit.status, (try? String(contentsOfFile: output, encoding: .utf8)) ?? "")
    }

    static func hire(_ worker: String) -> String {
        """
        {"decision":"hire","worker":"\(worker)","name":"备份\(worker)","community":"长岛路一居民区","street":"五里桥街道","district":"黄浦区",\
        "city":"上海","post":"principal","role":"party-secretary","level":10,"education":"bachelor","effective":"2012-03-01",\
        "authority":"五里桥街道办事处","reference":"BK-\(worker)","override":"backup test","overrideApproval":"BK-批-1"}
        """
    }

    @Test("backup, record more, restore: the earlier checkpoint verifies, the later one reports the lost events and what is proven")
    func roundTrip() throws {
        let scratch = FileManager.default.temporaryDirectory.appending(path: "dossier-backup-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        let home = scratch.appending(path: "home")
        let backup = scratch.appending(path: "backup").path
        var runner = CommandRunner(database: nil)
        runner.environment["DOSSIER_HOME"] = home.path
        let cluster = EmbeddedCluster(environment: runner.environment)
        defer {
            try? cluster.stop()
            try? FileManager.default.removeItem(at: scratch)
        }
        func file(_ name: String, _ text: String) -> String {
            let path = scratch.appending(path: name).path
            FileManager.default.createFile(atPath: path, contents: Data(text.utf8))
            return path
        }

        let initialised = try Self.spawn(["init"], environment: runner.environment, scratch: scratch)
        try #require(initialised.status == 0, "\(initialised.output)")
        let sample = try CommandRunner.sample(seed: 15, workers: 6, from: 2016, to: 2018)
        defer { try? FileManager.default.removeItem(atPath: sample) }
        let imported = try runner.run(["import", sample])
        try #require(imported.status == 0, "\(imported.stderr)")
        let first = try runner.run(["checkpoint"])
        try #require(first.status == 0, "\(first.stderr)")
        let firstFile = file("first.checkpoint", first.stdout)
        let m = Int(first.stdout.split(separator: "\n")[1])!

        // Bad input changes nothing.
        let backedUp = try runner.run(["db", "backup", backup])
        try #require(backedUp.status == 0, "\(backedUp.stderr)")
        #expect(backedUp.stdout.contains("pg_verifybackup"))
        let again = try runner.run(["db", "backup", backup])
        #expect(again.status == 1)
        #expect(again.stderr.contains("is not empty"), "\(again.stderr)")
        let notBackup = try runner.run(["db", "restore", scratch.path])
        #expect(notBackup.status == 1)
        #expect(notBackup.stderr.contains("is not a backup"), "\(notBackup.stderr)")
        let missing = try runner.run(["db", "restore", scratch.appending(path: "nowhere").path])
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("does not exist"), "\(missing.stderr)")
        let unforced = try runner.run(["db", "restore", backup])
        #expect(unforced.status == 1)
        #expect(unforced.stderr.contains("--force"), "\(unforced.stderr)")
        var managed = runner
        managed.environment["DOSSIER_DATABASE_URL"] = "host=/nonexistent dbname=dossier"
        let refused = try managed.run(["db", "backup", scratch.appending(path: "other").path])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("README"), "\(refused.stderr)")

        // Recorded after the backup, checkpointed, with a consistency proof kept outside.
        let recorded = try runner.run(["record", "-"], input: ["BK-1", "BK-2", "BK-3"].map(Self.hire).joined(separator: "\n") + "\n")
        try #require(recorded.status == 0, "\(recorded.stderr)")
        let second = try runner.run(["checkpoint"])
        try #require(second.status == 0, "\(second.stderr)")
        let secondFile = file("second.checkpoint", second.stdout)
        let n = Int(second.stdout.split(separator: "\n")[1])!
        #expect(n == m + 3)
        let proof = try runner.run(["prove", "--from", String(m), "--to", String(n)])
        try #require(proof.status == 0, "\(proof.stderr)")
        let proofFile = file("proof.json", proof.stdout)

        let restored = try Self.spawn(["db", "restore", backup, "--force"], environment: runner.environment, scratch: scratch)
        try #require(restored.status == 0, "\(restored.output)")
        #expect(restored.output.contains("stopped the embedded database"))
        #expect(restored.output.contains("pgdata.replaced-"))

        // The checkpoint from before the backup passes.
        let before = try runner.run(["verify", "--checkpoint", firstFile])
        #expect(before.status == 0, "\(before.stderr)")
        #expect(before.stdout.contains("verified \(m) events"))

        // The one from after reports the loss, and what is and is not proven.
        let after = try runner.run(["verify", "--checkpoint", secondFile])
        #expect(after.status == 5, "\(after.stdout) \(after.stderr)")
        #expect(after.stderr.contains("covers \(n) events and this ledger holds \(m): the last 3 recorded events are not here"), "\(after.stderr)")
        #expect(after.stderr.contains("Proven: the \(m) events here are intact"))
        #expect(after.stderr.contains("Not proven: that these \(m) events are the first \(m) of the \(n)"))
        #expect(after.stderr.contains("dossier prove --from \(m) --to \(n)"))

        // With the consistency proof kept from before, the restored log is proven a prefix.
        let proven = try runner.run(["verify", "--checkpoint", secondFile, "--consistency", proofFile])
        #expect(proven.status == 5, "\(proven.stdout) \(proven.stderr)")
        #expect(proven.stderr.contains("the first \(m) events here are the first \(m) of the \(n)"), "\(proven.stderr)")
        #expect(proven.stderr.contains("so this ledger is a prefix of that log"))
        #expect(!proven.stderr.contains("Not proven"))

        // A proof tampered with is refused as an integrity failure.
        let forged = file("forged.json", proof.stdout.replacingOccurrences(of: "\"from\" : \(m)", with: "\"from\" : \(m - 1)")
            .replacingOccurrences(of: "\"from\": \(m)", with: "\"from\": \(m - 1)"))
        let refusedProof = try runner.run(["verify", "--checkpoint", secondFile, "--consistency", forged])
        #expect(refusedProof.status == 4, "\(refusedProof.stderr)")

        // The ledger restored works: the workers recorded after the backup are gone, the earlier ones are there.
        #expect(try runner.run(["show", "BK-1"]).status == 1)
    }
}
