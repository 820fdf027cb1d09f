import DossierDomain
import DossierStore
import DossierTestSupport
import Foundation
import Testing

/// Issue 14, evidence, as a user runs it: export, verify-bundle, prove; and the independent
/// mini-verifier written from docs/INTEGRITY.md (Tests/MiniVerifier) agreeing with Dossier.
@Suite("Evidence through the command")
struct EvidenceCLITests {
    static let miniVerifier: String = {
        var root = URL(filePath: #filePath)
        root.deleteLastPathComponent()
        root.deleteLastPathComponent()
        return root.appending(path: "MiniVerifier/verify_bundle.py").path
    }()

    /// Runs the mini-verifier (python3, standard library only) on a bundle file.
    static func miniVerify(_ path: String, publicKey: String? = nil) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(filePath: "/usr/bin/python3")
        process.arguments = [miniVerifier, path] + (publicKey.map { ["--public-key", $0] } ?? [])
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: output, as: UTF8.self))
    }

    func temporary(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appending(path: "evidence-\(UUID().uuidString)-\(name)").path
    }

    /// Rewrites a bundle file's JSON.
    func rewrite(_ path: String, to target: String, _ change: (inout JSONObject) -> Void) throws {
        guard var object = try JSONParser.parse(Array(try Data(contentsOf: URL(filePath: path)))).objectValue else {
            Issue.record("not a bundle")
            return
        }
        change(&object)
        try Data(JSONValue.object(object).prettyText().utf8).write(to: URL(filePath: target))
    }

    @Test("export, verify-bundle and the independent mini-verifier agree; a removed last event fails both")
    func exportAndVerify() throws {
        let database = try TestDatabase.create()
        var dossier = CommandRunner(database: database)
        let key = temporary("checkpoint.key")
        dossier.environment["DOSSIER_CHECKPOINT_KEY"] = key
        #expect(try dossier.run(["record", CommandRunner.file(hire + "\n" + assessment)]).status == 0)
        let first = try dossier.run(["checkpoint"])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.contains("\nheads "), "\(first.stdout)")
        let kept = temporary("kept-checkpoint.txt")
        try Data(first.stdout.utf8).write(to: URL(filePath: kept))

        // A new decision: the record is ahead of the checkpoint, so export says so (exit 1, not 4) and writes nothing.
        let training = #"{"decision":"training","worker":"W-001","kind":"special","hours":8,"effective":"2013-05-01","authority":"五里桥街道","reference":"T-1"}"#
        #expect(try dossier.run(["record", "-"], input: training).status == 0)
        let bundle = temporary("bundle.json")
        let stale = try dossier.run(["export", "W-001", "--to", bundle])
        #expect(stale.status == 1, "\(stale.stderr)")
        #expect(stale.stderr.contains("does not cover the last 1 of the 3 events of W-001"), "\(stale.stderr)")
        #expect(!FileManager.default.fileExists(atPath: bundle))

        // --checkpoint makes one; --since-checkpoint links the bundle to the one kept.
        let exported = try dossier.run(["export", "W-001", "--to", bundle, "--checkpoint", "--since-checkpoint", kept])
        #expect(exported.status == 0, "\(exported.stderr)")
        let verified = try dossier.run(["verify-bundle", bundle, "--public-key", key + ".pub"])
        #expect(verified.status == 0, "\(verified.stderr)")
        #expect(verified.stdout.contains("3 events of worker/W-001"), "\(verified.stdout)")
        #expect(verified.stdout.contains("whole record"), "\(verified.stdout)")
        #expect(verified.stdout.contains("extends the checkpoint of 2 events"), "\(verified.stdout)")
        let mini = try Self.miniVerify(bundle, publicKey: key + ".pub")
        #expect(mini.status == 0 && mini.output.contains("OK 3 events, complete"), "\(mini.output)")

        // The last event (and nothing else) removed: both refuse.
        let cut = temporary("cut.json")
        try rewrite(bundle, to: cut) { object in
            if case .array(let events)? = object["events"] { object["events"] = .array(Array(events.dropLast())) }
        }
        let refused = try dossier.run(["verify-bundle", cut])
        #expect(refused.status == 4, "\(refused.stdout)")
        #expect(refused.stderr.contains("incomplete"), "\(refused.stderr)")
        let miniRefused = try Self.miniVerify(cut)
        #expect(miniRefused.status == 1 && miniRefused.output.contains("incomplete"), "\(miniRefused.output)")

        // A payload byte changed: both refuse.
        let altered = temporary("altered.json")
        try rewrite(bundle, to: altered) { object in
            if case .array(var events)? = object["events"], case .object(var event) = events[2] {
                event["payload"] = .object(JSONObject([("hours", .integer(80)), ("kind", .string("special"))]))
                events[2] = .object(event)
                object["events"] = .array(events)
            }
        }
        #expect(try dossier.run(["verify-bundle", altered]).status == 4)
        #expect(try Self.miniVerify(altered).status == 1)

        // Format 1 (what earlier versions wrote): refused unless asked for, then not called complete.
        let old = temporary("format1.json")
        try rewrite(bundle, to: old) { object in
            object["format"] = .string("dossier-bundle/1")
            object["head"] = nil
            object["consistency"] = nil
        }
        let oldRefused = try dossier.run(["verify-bundle", old])
        #expect(oldRefused.status == 4 && oldRefused.stderr.contains("--accept-format-1"), "\(oldRefused.stderr)")
        let oldAccepted = try dossier.run(["verify-bundle", old, "--accept-format-1"])
        #expect(oldAccepted.status == 0 && oldAccepted.stdout.contains("NOT proven complete"), "\(oldAccepted.stdout)")
        for path in [key, key + ".pub", kept, bundle, cut, altered, old] { try? FileManager.default.removeItem(atPath: path) }
    }

    @Test("prove prints the event it proves; verify-bundle refuses a file over its limit without reading it whole")
    func proveAndLimits() throws {
        let database = try TestDatabase.create()
        var dossier = CommandRunner(database: database)
        let key = temporary("checkpoint.key")
        dossier.environment["DOSSIER_CHECKPOINT_KEY"] = key
        #expect(try dossier.run(["record", CommandRunner.file(hire)]).status == 0)
        #expect(try dossier.run(["checkpoint"]).status == 0)
        let trace = try JSONParser.parse(try dossier.run(["trace", "W-001", "--json"]).stdout)
        guard case .array(let rows) = trace, let id = rows.first?.objectValue?["eventId"]?.stringValue else {
            Issue.record("no event id in the trace: \(trace)")
            return
        }
        let proved = try dossier.run(["prove", id])
        #expect(proved.status == 0, "\(proved.stderr)")
        let proof = try JSONParser.parse(proved.stdout).objectValue
        #expect(proof?["event"]?.objectValue?["eventId"] == .string(id))
        #expect(proof?["event"]?.objectValue?["payload"]?.objectValue?["level"] == .integer(10))

        // Another key than the ledger's: a question of which key to trust (exit 1), not tampering.
        var stranger = dossier
        let otherKey = temporary("other.key")
        FileManager.default.createFile(
            atPath: otherKey, contents: Data(SigningKey(name: "someone-else").fileText.utf8), attributes: [.posixPermissions: 0o600])
        stranger.environment["DOSSIER_CHECKPOINT_KEY"] = otherKey
        let bundle = temporary("bundle.json")
        let wrongKey = try stranger.run(["export", "W-001", "--to", bundle])
        #expect(wrongKey.status == 1, "\(wrongKey.stderr)")
        #expect(wrongKey.stderr.contains("is not signed by the key \"someone-else\""), "\(wrongKey.stderr)")
        // export --checkpoint never makes a key of its own.
        var keyless = dossier
        let missingKey = temporary("missing.key")
        keyless.environment["DOSSIER_CHECKPOINT_KEY"] = missingKey
        let noKey = try keyless.run(["export", "W-001", "--to", bundle, "--checkpoint"])
        #expect(noKey.status == 1, "\(noKey.stderr)")
        #expect(noKey.stderr.contains("no checkpoint key at"), "\(noKey.stderr)")
        #expect(!FileManager.default.fileExists(atPath: missingKey) && !FileManager.default.fileExists(atPath: bundle))
        try? FileManager.default.removeItem(atPath: otherKey)

        var environment = dossier
        environment.environment["DOSSIER_REPORT_PEAK_MEMORY"] = "1"
        let huge = try environment.run(["verify-bundle", "/dev/zero"])
        #expect(huge.status == 1, "\(huge.stderr)")
        #expect(huge.stderr.contains("larger than 64 MiB"), "\(huge.stderr)")
        let peak = InputLimitsCLITests.peakKiB(huge)
        #expect(peak != nil && peak! < 200 * 1024, "peak \(String(describing: peak)) KiB")
        // A regular file over the limit is refused by its size, before it is read (a sparse 65 MiB file).
        let large = temporary("large.json")
        FileManager.default.createFile(atPath: large, contents: nil)
        let handle = try #require(FileHandle(forWritingAtPath: large))
        try handle.truncate(atOffset: 65 << 20)
        try handle.close()
        let refusedLarge = try environment.run(["verify-bundle", large])
        #expect(refusedLarge.status == 1 && refusedLarge.stderr.contains("larger than 64 MiB"), "\(refusedLarge.stderr)")
        let largePeak = InputLimitsCLITests.peakKiB(refusedLarge)
        #expect(largePeak != nil && largePeak! < 64 * 1024, "peak \(String(describing: largePeak)) KiB")
        try? FileManager.default.removeItem(atPath: large)
        for path in [key, key + ".pub"] { try? FileManager.default.removeItem(atPath: path) }
    }
}
