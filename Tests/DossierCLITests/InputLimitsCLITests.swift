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
        result.stderr.split(separator: "\n").first { $0.hasPrefix("dossier-peak-memory-kb: ") }
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
        for result in [record, imported] {
            let peak = Self.peakKiB(result)
            #expect(peak != nil && peak! < 150 * 1024, "peak memory \(peak.map { "\($0) KiB" } ?? "not reported")")
        }
        #expect(try events(database) == 0)
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
}
