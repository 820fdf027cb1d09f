import DossierStore
import DossierTestSupport
import Foundation
import PostgresClient
import Testing

/// Files with care and connection strings that never leak (issue 14): the checkpoint key is 0600
/// from its first byte, bundles and rejects are 0600 and never replace a file without --force,
/// and a connection string reaches no message, and no server log, with its password.
@Suite("Files and secrets through the command")
struct FilesAndSecretsCLITests {
    /// A scratch directory, removed by the caller.
    static func scratch() throws -> String {
        let path = FileManager.default.temporaryDirectory.appending(path: "dossier-files-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// Runs `dossier` with the umask given (a user's umask must not matter).
    static func run(_ arguments: [String], environment: [String: String], umask: String) throws -> CommandRunner.Result {
        var runner = CommandRunner(database: nil)
        runner.environment = environment
        return try runner.run(arguments, umask: umask)
    }

    /// The permission bits of `path` (nil when it does not exist).
    static func mode(_ path: String) -> mode_t? {
        var status = stat()
        guard stat(path, &status) == 0 else { return nil }
        return status.st_mode & 0o777
    }

    /// Watches `directory` on a thread of its own while `body` runs, and returns every name (a
    /// temporary one as "(temporary)") and mode seen there: a file ever readable by others would be
    /// among them.
    static func watchModes(_ directory: String, during body: () throws -> Void) throws -> Set<String> {
        let watch = Watch()
        let finished = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            while watch.lock.withLock({ watch.running }) {
                for name in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] {
                    if let mode = mode(directory + "/" + name) {
                        // ".NAME.tmp-RANDOM" is the temporary of NAME.
                        let shown = name.hasPrefix(".") ? "(temporary) " + name.dropFirst().prefix { $0 != "~" }.replacingOccurrences(
                            of: #"\.tmp-[0-9a-f]+$"#, with: "", options: .regularExpression) : name
                        let entry = "\(shown) \(String(mode, radix: 8))"
                        watch.lock.withLock { _ = watch.seen.insert(entry) }
                    }
                }
            }
            finished.signal()
        }
        func stop() {
            watch.lock.withLock { watch.running = false }
            finished.wait()
        }
        do {
            try body()
        } catch {
            stop()
            throw error
        }
        stop()
        return watch.lock.withLock { watch.seen }
    }

    final class Watch: @unchecked Sendable {
        let lock = NSLock()
        var running = true
        var seen: Set<String> = []
        var results: [CommandRunner.Result?] = []
    }

    /// A ledger with one worker, and a runner whose key lives in `directory`.
    static func ledger(keyIn directory: String) throws -> (DatabaseConfiguration, CommandRunner) {
        let database = try TestDatabase.create()
        var dossier = CommandRunner(database: database)
        dossier.environment["DOSSIER_CHECKPOINT_KEY"] = directory + "/checkpoint.key"
        let recorded = try dossier.run(["record", "-"], input: hire + "\n")
        try #require(recorded.status == 0, "\(recorded.stderr)")
        return (database, dossier)
    }

    @Test("the checkpoint key is 0600 from its first byte, whatever the umask; its .pub is 0644")
    func keyFileMode() throws {
        let directory = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (_, dossier) = try Self.ledger(keyIn: directory)
        var result: CommandRunner.Result?
        let seen = try Self.watchModes(directory) {
            result = try Self.run(["checkpoint"], environment: dossier.environment, umask: "000")
        }
        try #require(result?.status == 0, "\(result?.stderr ?? "")")
        #expect(result?.stderr.contains("created checkpoint key") == true)
        let key = directory + "/checkpoint.key"
        #expect(Self.mode(key) == 0o600)
        #expect(Self.mode(key + ".pub") == 0o644)
        // Every file the watcher saw: the key and its temporary only ever 0600.
        #expect(seen.allSatisfy { !$0.hasPrefix("checkpoint.key ") || $0 == "checkpoint.key 600" }, "\(seen)")
        #expect(seen.allSatisfy { !$0.hasPrefix("(temporary) checkpoint.key ") || $0 == "(temporary) checkpoint.key 600" }, "\(seen)")
        #expect(seen.contains("checkpoint.key 600"), "\(seen)")
        // No temporary file is left beside it.
        let left = try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
        #expect(left == ["checkpoint.key", "checkpoint.key.pub"])
    }

    @Test("a key file others may read is refused for signing (chmod 600 named) and only warned about by verify")
    func openKeyRefused() throws {
        let directory = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (_, dossier) = try Self.ledger(keyIn: directory)
        let first = try dossier.run(["checkpoint"])
        try #require(first.status == 0, "\(first.stderr)")
        let key = directory + "/checkpoint.key"
        let before = try Data(contentsOf: URL(filePath: key))
        #expect(chmod(key, 0o644) == 0)
        let refused = try dossier.run(["checkpoint"])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("the signing key \(key) is readable by others (mode 0644): run chmod 600 \(key)"), "\(refused.stderr)")
        let verified = try dossier.run(["verify"])
        #expect(verified.status == 0, "\(verified.stderr)")
        #expect(verified.stderr.contains("warning: the signing key \(key) is readable by others"), "\(verified.stderr)")
        #expect(chmod(key, 0o620) == 0)
        let writable = try dossier.run(["checkpoint"])
        #expect(writable.status == 1)
        #expect(writable.stderr.contains("is writable by others (mode 0620)"), "\(writable.stderr)")
        #expect(chmod(key, 0o600) == 0)
        let again = try dossier.run(["checkpoint"])
        #expect(again.status == 0, "\(again.stderr)")
        // The key was never replaced.
        #expect(try Data(contentsOf: URL(filePath: key)) == before)
    }

    @Test("first checkpoints run at once leave one valid key, which signed every checkpoint")
    func keyCreationRace() throws {
        let directory = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (_, dossier) = try Self.ledger(keyIn: directory)
        // Four processes at once, each on a thread of its own (not the test's pool).
        let watch = Watch()
        let done = DispatchSemaphore(value: 0)
        let environment = dossier.environment
        for _ in 0..<4 {
            Thread.detachNewThread {
                let result = try? Self.run(["checkpoint"], environment: environment, umask: "022")
                watch.lock.withLock { watch.results.append(result) }
                done.signal()
            }
        }
        for _ in 0..<4 { done.wait() }
        let statuses = watch.results.map { $0?.status ?? -1 }
        let errors = watch.results.map { $0?.stderr ?? "" }
        #expect(statuses == [0, 0, 0, 0], "\(errors)")
        #expect(errors.filter { $0.contains("created checkpoint key") }.count == 1, "\(errors)")
        #expect(Self.mode(directory + "/checkpoint.key") == 0o600)
        // Every stored checkpoint verifies against the one key left.
        let verified = try dossier.run(["verify"])
        #expect(verified.status == 0, "\(verified.stderr)")
        let left = try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
        #expect(left == ["checkpoint.key", "checkpoint.key.pub"])
    }

    @Test("export writes the bundle 0600 whatever the umask, refuses an existing file without --force, replaces it with it")
    func exportFile() throws {
        let directory = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (_, dossier) = try Self.ledger(keyIn: directory)
        let checkpoint = try dossier.run(["checkpoint"])
        try #require(checkpoint.status == 0, "\(checkpoint.stderr)")
        let bundles = directory + "/bundles"
        try FileManager.default.createDirectory(atPath: bundles, withIntermediateDirectories: true)

        let bundle = bundles + "/W-001.json"
        let written = try Self.run(["export", "W-001", "--to", bundle], environment: dossier.environment, umask: "000")
        #expect(written.status == 0, "\(written.stderr)")
        #expect(Self.mode(bundle) == 0o600)
        let verified = try dossier.run(["verify-bundle", bundle])
        #expect(verified.status == 0, "\(verified.stderr)")

        // An existing file is left as it was.
        let existing = bundles + "/kept.json"
        FileManager.default.createFile(atPath: existing, contents: Data("keep me\n".utf8), attributes: [.posixPermissions: 0o644])
        let refused = try dossier.run(["export", "W-001", "--to", existing])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("\(existing) exists: pass --force to replace it"), "\(refused.stderr)")
        #expect(try String(contentsOfFile: existing, encoding: .utf8) == "keep me\n")
        #expect(Self.mode(existing) == 0o644)
        let again = try dossier.run(["export", "W-001", "--to", bundle])
        #expect(again.status == 1)

        // --force replaces it, 0600.
        let forced = try dossier.run(["export", "W-001", "--to", existing, "--force"])
        #expect(forced.status == 0, "\(forced.stderr)")
        #expect(try String(contentsOfFile: existing, encoding: .utf8).hasPrefix("{"))
        #expect(Self.mode(existing) == 0o600)

        // A directory, a missing directory; a failed export leaves nothing behind.
        let isDirectory = try dossier.run(["export", "W-001", "--to", bundles])
        #expect(isDirectory.status == 1)
        #expect(isDirectory.stderr.contains("\(bundles) is a directory"), "\(isDirectory.stderr)")
        let nowhere = try dossier.run(["export", "W-001", "--to", directory + "/missing/W-001.json"])
        #expect(nowhere.status == 1)
        #expect(nowhere.stderr.contains("no such directory \(directory)/missing"), "\(nowhere.stderr)")
        let unknown = try dossier.run(["export", "W-404", "--to", bundles + "/W-404.json"])
        #expect(unknown.status != 0)
        let left = try FileManager.default.contentsOfDirectory(atPath: bundles).sorted()
        #expect(left == ["W-001.json", "kept.json"])
    }

    @Test("import --rejects: an existing file is refused before anything is imported; --force replaces it, 0600")
    func rejectsFile() throws {
        let directory = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let database = try TestDatabase.create()
        let dossier = CommandRunner(database: database)
        let file = CommandRunner.file(hire + "\n" + #"{"decision":"nonsense"}"# + "\n")
        let rejects = directory + "/rejects.jsonl"
        FileManager.default.createFile(atPath: rejects, contents: Data("earlier\n".utf8))
        let refused = try dossier.run(["import", file, "--skip-invalid", "--rejects", rejects])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("\(rejects) exists: pass --force to replace it"), "\(refused.stderr)")
        #expect(try events(database) == 0)
        #expect(try String(contentsOfFile: rejects, encoding: .utf8) == "earlier\n")
        let forced = try Self.run(["import", file, "--skip-invalid", "--rejects", rejects, "--force"], environment: dossier.environment, umask: "000")
        #expect(forced.status == 0, "\(forced.stderr)")
        #expect(try events(database) == 1)
        #expect(try String(contentsOfFile: rejects, encoding: .utf8).contains(#""line":2"#))
        #expect(Self.mode(rejects) == 0o600)
        let fresh = directory + "/fresh.jsonl"
        let created = try dossier.run(["import", file, "--skip-invalid", "--rejects", fresh])
        #expect(created.status == 0, "\(created.stderr)")
        #expect(Self.mode(fresh) == 0o600)
    }

    /// Where tools/pg keeps the test server's log: beside the socket directory of
    /// DOSSIER_TEST_DATABASE_URL (`host=DIR/run`, log `DIR/server.log`).
    static func serverLog() throws -> (socket: String, port: String, log: String) {
        let url = try TestDatabase.adminConnectionString()
        func value(_ key: String) -> String? {
            url.split(separator: " ").first { $0.hasPrefix(key + "=") }.map { String($0.dropFirst(key.count + 1)) }
        }
        let socket = try #require(value("host"), "DOSSIER_TEST_DATABASE_URL has no host= (\(url))")
        let log = URL(filePath: socket).deletingLastPathComponent().appending(path: "server.log").path
        try #require(FileManager.default.fileExists(atPath: log), "no server log at \(log) (tools/pg keeps it there)")
        return (socket, value("port") ?? "5432", log)
    }

    @Test("a malformed DOSSIER_DATABASE_URL is refused before any connection, its password in no message and no server log")
    func malformedURL() throws {
        let (socket, port, log) = try Self.serverLog()
        var dossier = CommandRunner(database: nil)
        // libpq's defaults point at the test server: what libpq would send, it would send there.
        dossier.environment["PGHOST"] = socket
        dossier.environment["PGPORT"] = port
        dossier.environment["PGUSER"] = "dossier_super"
        dossier.environment["PGCONNECT_TIMEOUT"] = "5"

        // The control: a connection to a database that does not exist is logged by name.
        let marker = "dossier_marker_" + UUID().uuidString.prefix(8).lowercased()
        #expect(throws: PostgresError.self) {
            try PostgresConnection(connectionString: "host=\(socket) port=\(port) user=dossier_super dbname=\(marker)")
        }

        // Secrets unique to this run: the server's log outlives it.
        let run = UUID().uuidString.prefix(8).lowercased()
        let cases: [(url: String, secret: String, says: String)] = [
            ("postgresql://u:Leak-Me-1-\(run)@[/x", "Leak-Me-1-\(run)", "IPv6 host address"),
            ("postgress://u:Leak-Me-2-\(run)@localhost/db", "Leak-Me-2-\(run)", "unknown scheme \"postgress:\""),
            ("http://u:Leak-Me-2a-\(run)@localhost/db", "Leak-Me-2a-\(run)", "unknown scheme \"http:\""),
            ("dbname=dossier password='Leak-Me-2b-\(run)", "Leak-Me-2b-\(run)", "unterminated quoted string"),
            ("postgresql://u:p%zzLeak-Me-2c-\(run)@h/db", "Leak-Me-2c-\(run)", "invalid percent-encoded token"),
        ]
        for (url, secret, says) in cases {
            var runner = dossier
            runner.environment["DOSSIER_DATABASE_URL"] = url
            let roster = try runner.run(["roster", "--district", "黄浦区"])
            #expect(roster.status == 1, "\(url): \(roster.stderr)")
            #expect(roster.stderr.contains("malformed DOSSIER_DATABASE_URL"), "\(roster.stderr)")
            #expect(roster.stderr.contains(says), "\(roster.stderr)")
            #expect(!roster.stderr.contains(secret) && !roster.stdout.contains(secret), "\(roster.stderr)")
            let initialised = try runner.run(["init"])
            #expect(initialised.status == 1)
            #expect(!initialised.stderr.contains(secret), "\(initialised.stderr)")
        }
        var standby = dossier
        standby.environment["DOSSIER_DATABASE_URL"] = "host=/nonexistent dbname=dossier"
        standby.environment["DOSSIER_READ_URL"] = "postgress://u:Leak-Me-2d-\(run)@localhost/db"
        let read = try standby.run(["quota"])
        #expect(read.status == 1)
        #expect(read.stderr.contains("malformed DOSSIER_READ_URL"), "\(read.stderr)")
        #expect(!read.stderr.contains("Leak-Me-2d-\(run)"))

        // The server logged the control, and none of the secrets (nor anything of this run).
        var text = ""
        for _ in 0..<50 {
            text = try String(contentsOfFile: log, encoding: .utf8)
            if text.contains(marker) { break }
            Thread.sleep(forTimeInterval: 0.1)
        }
        #expect(text.contains(marker), "the server log at \(log) did not record the control connection")
        #expect(!text.contains(String(run)), "a secret reached the server log")
    }

    @Test("a connection that fails says why, without the password of its string")
    func failedConnection() throws {
        var dossier = CommandRunner(database: nil)
        for url in [
            "host=/nonexistent password=Leak-Me-3 user=x",
            "host=/nonexistent password='Leak Me-3b' user=x",
            "postgresql://x:Leak-Me-3c@/db?host=/nonexistent",
            "postgresql:///db?host=/nonexistent&password=Leak-Me-3d",
        ] {
            dossier.environment["DOSSIER_DATABASE_URL"] = url
            let result = try dossier.run(["roster", "--district", "黄浦区"])
            #expect(result.status == 3, "\(url): \(result.stderr)")
            #expect(result.stderr.contains("the database cannot be reached"), "\(result.stderr)")
            #expect(result.stderr.contains("/nonexistent"), "\(result.stderr)")
            #expect(!result.stderr.contains("Leak"), "\(result.stderr)")
        }
    }
}
