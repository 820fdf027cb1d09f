import DossierDomain
import DossierStore
import DossierTestSupport
import Foundation
import PostgresClient
import Testing

/// Input that cannot hurt the ledger: limits in bytes enforced while reading, one reader for
/// `record` and `import`, clear messages for what is not a file (issue 14, input).
@Suite("Input limits through the command")
struct InputLimitsCLITests {
    /// The peak memory the command reported (DOSSIER_REPORT_PEAK_MEMORY), in KiB.
    static func peakKiB(_ result: CommandRunner.Result) -> Int? {
        peakKiB(stderr: result.stderr)
    }

    static func peakKiB(stderr: String) -> Int? {
        stderr.split(separator: "\n").first { $0.hasPrefix("dossier-peak-memory-kb: ") }
            .flatMap { Int($0.split(separator: " ")[1]) }
    }

    @Test("record and import of /dev/zero stop at their byte limits, with bounded memory, and write nothing")
    func endlessInput() throws {
        let database = try TestDatabase.create()
        var dossier = CommandRunner(database: database)
        dossier.environment["DOSSIER_REPORT_PEAK_MEMORY"] = "1"
        let record = try dossier.run(["record", "/dev/zero"])
        #expect(record.status == 1)
        #expect(record.stderr.contains("larger than 16 MiB"), "\(record.stderr)")
        let imported = try dossier.run(["import", "/dev/zero"])
        #expect(imported.status == 1)
        #expect(imported.stderr.contains("line 1: the line is longer than 262144 bytes"), "\(imported.stderr)")
        #expect(imported.stderr.contains("nothing was imported"), "\(imported.stderr)")
        // `record -` reading an endless standard input stops at the same limit.
        let piped = try Self.runWithStandardInput(from: "/dev/zero", ["record", "-"], environment: dossier.environment)
        #expect(piped.status == 1)
        #expect(piped.stderr.contains("larger than 16 MiB"), "\(piped.stderr)")
        for stderr in [record.stderr, imported.stderr, piped.stderr] {
            let peak = Self.peakKiB(stderr: stderr)
            #expect(peak != nil && peak! < 150 * 1024, "peak memory \(peak.map { "\($0) KiB" } ?? "not reported")")
        }
        #expect(try events(database) == 0)
    }

    /// Runs the dossier command with standard input read from `path` (a device such as /dev/zero).
    static func runWithStandardInput(from path: String, _ arguments: [String], environment: [String: String]) throws -> (status: Int32, stderr: String) {
        let process = Process()
        process.executableURL = CommandRunner.binDirectory().appending(path: "dossier")
        process.arguments = arguments
        process.environment = environment
        let err = FileManager.default.temporaryDirectory.appending(path: "dossier-err-\(UUID().uuidString)")
        FileManager.default.createFile(atPath: err.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: err) }
        process.standardInput = try FileHandle(forReadingFrom: URL(filePath: path))
        process.standardOutput = FileHandle.nullDevice
        process.standardError = try FileHandle(forWritingTo: err)
        try process.run()
        process.waitUntilExit()
        return (process.terminationStatus, (try? String(contentsOf: err, encoding: .utf8)) ?? "")
    }

    /// Rows a refused input must not have written: events and personal data.
    static func rows(_ database: DatabaseConfiguration) throws -> Int64 {
        try PostgresConnection(connectionString: database.connectionString).query(
            "SELECT (SELECT count(*) FROM dossier.events) + (SELECT count(*) FROM dossier.personal_data)"
        ).scalar(Int64.self) ?? -1
    }

    /// `hire` with some of its fields replaced.
    static func hireWith(_ replacements: [String: String]) -> String {
        var object = try! JSONParser.parse(hire).objectValue!
        for (key, value) in replacements { object[key] = .string(value) }
        return JSONValue.object(object).canonicalText
    }

    @Test("a reference written composed or decomposed is one decision, through record and import alike, stored in NFC")
    func composedAndDecomposed() throws {
        let database = try TestDatabase.create()
        let dossier = CommandRunner(database: database)
        let composed = Self.hireWith(["reference": "Q-\u{E9}", "name": "Zo\u{EB}"])
        let decomposed = Self.hireWith(["reference": "Q-e\u{301}", "name": "Zoe\u{308}"])
        #expect(Array(composed.utf8) != Array(decomposed.utf8))
        let first = try dossier.run(["record", CommandRunner.file(composed)])
        #expect(first.status == 0, "\(first.stderr)")
        let second = try dossier.run(["record", CommandRunner.file(decomposed)])
        #expect(second.status == 0, "\(second.stderr)")
        #expect(second.stdout.contains("already recorded"), "\(second.stdout)")
        #expect(try events(database) == 1)
        // import: the decomposed hire is the recorded one; two spellings of a new decision are one.
        let training = #"{"decision":"training","worker":"W-001","kind":"special","hours":8,"effective":"2013-05-01","authority":"五里桥街道","reference":"TR-REF"}"#
        let file = CommandRunner.file([
            decomposed, training.replacingOccurrences(of: "REF", with: "\u{E9}"),
            training.replacingOccurrences(of: "REF", with: "e\u{301}"),
        ].joined(separator: "\n"))
        let imported = try dossier.run(["import", file])
        #expect(imported.status == 0, "\(imported.stderr)")
        #expect(try events(database) == 2)
        // And record of the other spelling afterwards is a retry too.
        let retry = try dossier.run(["record", CommandRunner.file(training.replacingOccurrences(of: "REF", with: "\u{E9}"))])
        #expect(retry.status == 0 && retry.stdout.contains("already recorded"), "\(retry.stdout) \(retry.stderr)")
        #expect(try events(database) == 2)
        let connection = try PostgresConnection(connectionString: database.connectionString)
        let notNFC = try connection.query(
            """
            SELECT (SELECT count(*) FROM dossier.events WHERE reference IS NOT NFC NORMALIZED OR payload::text IS NOT NFC NORMALIZED)
                 + (SELECT count(*) FROM dossier.personal_data WHERE fields::text IS NOT NFC NORMALIZED)
            """
        ).scalar(Int64.self)
        #expect(notNFC == 0)
        let references = try connection.query("SELECT reference FROM dossier.events ORDER BY position").rows.map { try $0.decode(String.self, at: 0) }
        #expect(references.map { Array($0.utf8) } == [Array("Q-\u{E9}".utf8), Array("TR-\u{E9}".utf8)])
    }

    @Test("an id with a zero-width space, or a name with a direction override, is refused with exit 1 and nothing written")
    func invisibleCharacters() throws {
        let database = try TestDatabase.create()
        let dossier = CommandRunner(database: database)
        let before = try Self.rows(database)
        let cases: [(String, String)] = [
            (Self.hireWith(["worker": "W-001\u{200B}"]), #"field "worker": must not contain invisible or direction-changing characters (found U+200B)"#),
            (hire.replacingOccurrences(of: "W-001", with: #"W-001\u200b"#), #"field "worker": must not contain invisible or direction-changing characters (found U+200B)"#),
            (Self.hireWith(["name": "\u{202E}红朱"]), #"field "name": must not contain invisible or direction-changing characters (found U+202E)"#),
            (Self.hireWith(["reference": "WLQ\u{2066}-1"]), #"field "reference": must not contain invisible or direction-changing characters (found U+2066)"#),
            (Self.hireWith(["authority": "\u{FEFF}五里桥街道办事处"]), #"field "authority": must not contain invisible or direction-changing characters (found U+FEFF)"#),
        ]
        for (line, expected) in cases {
            let path = CommandRunner.file(line)
            for command in ["record", "import"] {
                let result = try dossier.run([command, path])
                #expect(result.status == 1, "\(command): \(result.stderr)")
                #expect(result.stderr.contains("line 1: " + expected), "\(command): \(result.stderr)")
                #expect(!result.stderr.unicodeScalars.contains { $0.properties.generalCategory == .format })
            }
        }
        #expect(try Self.rows(database) == before)
    }

    @Test("limits in bytes: a 3,008-byte worker id, a huge reference and a 10 KB name of combining accents are refused, nothing written")
    func byteLimits() throws {
        let database = try TestDatabase.create()
        let dossier = CommandRunner(database: database)
        let before = try Self.rows(database)
        let accents = "a" + String(repeating: "\u{301}", count: 5_000)  // one character on screen, 10,001 bytes
        let cases: [(String, String)] = [
            (Self.hireWith(["worker": "W-001" + String(repeating: "9", count: 3_003)]), #"line 1: field "worker": must be at most 64 bytes of UTF-8, found 3008"#),
            (Self.hireWith(["reference": String(repeating: "号", count: 40_000)]), #"line 1: field "reference": must be at most 300 bytes of UTF-8, found 120000"#),
            (Self.hireWith(["name": accents]), #"line 1: field "name": must be at most 300 bytes of UTF-8, found 10001"#),
            // Over the line limit: a name of 150,000 accents (the probe sent 25 million).
            (Self.hireWith(["name": "a" + String(repeating: "\u{301}", count: 150_000)]), "line 1: the line is longer than 262144 bytes"),
        ]
        for (line, expected) in cases {
            let path = CommandRunner.file(line)
            for command in ["record", "import"] {
                let result = try dossier.run([command, path])
                #expect(result.status == 1, "\(command): \(result.stderr)")
                #expect(result.stderr.contains(expected), "\(command): \(result.stderr.prefix(600))")
                #expect(result.stderr.utf8.count < 4_000, "\(command): a message of \(result.stderr.utf8.count) bytes")
            }
        }
        #expect(try Self.rows(database) == before)
        // At the limits, Chinese text is recorded: a 100-character name, reference and street.
        let atLimits = Self.hireWith([
            "name": String(repeating: "朱", count: 100), "reference": String(repeating: "号", count: 100),
            "street": String(repeating: "街", count: 100),
        ])
        let recorded = try dossier.run(["record", CommandRunner.file(atLimits)])
        #expect(recorded.status == 0, "\(recorded.stderr)")
        #expect(try events(database) == 1)
    }

    @Test("one reader: invalid UTF-8 and an over-long line are refused alike by record and import, nothing written")
    func sameReader() throws {
        let database = try TestDatabase.create()
        let dossier = CommandRunner(database: database)
        var invalid = Data(hire.utf8)
        invalid.append(contentsOf: [0x0a, 0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d, 0x0a])  // {"\xff\xfe"}
        let invalidPath = FileManager.default.temporaryDirectory.appending(path: "invalid-\(UUID().uuidString).jsonl").path
        FileManager.default.createFile(atPath: invalidPath, contents: invalid)
        let long = CommandRunner.file(hire + "\n" + #"{"decision":"training","worker":"W-001","reference":""# + String(repeating: "长", count: 100_000) + "\"}")
        for path in [invalidPath, long] {
            let recorded = try dossier.run(["record", path])
            let imported = try dossier.run(["import", path])
            #expect(recorded.status == 1 && imported.status == 1, "\(recorded.stderr) \(imported.stderr)")
            let expected = path == invalidPath ? "line 2: the line is not valid UTF-8" : "line 2: the line is longer than 262144 bytes"
            #expect(recorded.stderr.contains(expected), "\(recorded.stderr)")
            #expect(imported.stderr.contains(expected), "\(imported.stderr)")
        }
        #expect(try events(database) == 0)
    }

    @Test("a directory is named as such; a named pipe reads like a file")
    func notAFile() throws {
        let database = try TestDatabase.create()
        let dossier = CommandRunner(database: database)
        let directory = FileManager.default.temporaryDirectory.path
        for command in ["record", "import"] {
            let result = try dossier.run([command, directory])
            #expect(result.status == 1)
            #expect(result.stderr.contains("it is a directory"), "\(result.stderr)")
            #expect(!result.stderr.contains("NSCocoaErrorDomain"))
        }
        let missing = try dossier.run(["record", "/nonexistent/decisions.jsonl"])
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("no such file"))

        let fifo = FileManager.default.temporaryDirectory.appending(path: "fifo-\(UUID().uuidString)").path
        #expect(mkfifo(fifo, 0o600) == 0)
        defer { unlink(fifo) }
        Thread.detachNewThread {
            if let handle = FileHandle(forWritingAtPath: fifo) {
                handle.write(Data(hire.utf8))
                try? handle.close()
            }
        }
        let piped = try dossier.run(["record", fifo])
        #expect(piped.status == 0, "\(piped.stderr)")
        #expect(try events(database) == 1)
    }

    @Test("texts given as options that enter events (erase, user grant) obey the decision rules: no format characters, NFC, bytes")
    func optionTexts() throws {
        let database = try TestDatabase.create()
        let dossier = CommandRunner(database: database)
        #expect(try dossier.run(["record", "-"], input: hire).status == 0)
        let before = try events(database)
        let hidden = try dossier.run(["erase", "W-001", "--authority", "黄浦区人民法院", "--reference", "ER-2026-1\u{200B}"])
        #expect(hidden.status == 2, "\(hidden.stderr)")
        #expect(hidden.stderr.contains("--reference: must not contain invisible or direction-changing characters (found U+200B)"), "\(hidden.stderr)")
        let long = try dossier.run(["erase", "W-001", "--authority", String(repeating: "院", count: 201), "--reference", "ER-2026-2"])
        #expect(long.status == 2, "\(long.stderr)")
        #expect(long.stderr.contains("--authority: must be at most 600 bytes of UTF-8, found 603"), "\(long.stderr)")
        let grant = try dossier.run(["user", "grant", "nobody", "--jurisdiction", "上海/黄浦区", "--authority", "A\u{202E}B"])
        #expect(grant.status != 0)
        #expect(grant.stderr.contains("found U+202E"), "\(grant.stderr)")
        #expect(try events(database) == before)
        // Decomposed and composed references are one erasure.
        #expect(try dossier.run(["erase", "W-001", "--authority", "法院", "--reference", "ER-\u{E9}"]).status == 0)
        let again = try dossier.run(["erase", "W-001", "--authority", "法院", "--reference", "ER-e\u{301}"])
        #expect(again.status == 0 && again.stdout.contains("nothing changed"), "\(again.stdout) \(again.stderr)")
    }
}
