import DossierDomain
import DossierStore
import DossierTestSupport
import Foundation
import PostgresClient
import Testing

let hire = #"{"decision":"hire","worker":"W-001","name":"朱虹","community":"桥二居民区","street":"五里桥街道","district":"黄浦区","city":"上海","post":"principal","role":"party-secretary","level":10,"education":"bachelor","effective":"2012-03-01","authority":"五里桥街道办事处","reference":"WLQ-2012-01"}"#
let assessment = #"{"decision":"assessment","worker":"W-001","year":2012,"grade":"excellent","effective":"2013-01-15","authority":"五里桥街道","reference":"A-2012"}"#

func events(_ configuration: DatabaseConfiguration) throws -> Int64 {
    try PostgresConnection(connectionString: configuration.connectionString).query("SELECT count(*) FROM dossier.events").scalar(Int64.self) ?? -1
}

@Suite("The dossier command", .serialized)
struct CLITests {
    @Test("init is idempotent; record and show work end to end with Chinese names and hostile text")
    func endToEnd() throws {
        let database = try TestDatabase.create(migrated: false)
        let dossier = CommandRunner(database: database)
        #expect(try dossier.run(["init"]).status == 0)
        let again = try dossier.run(["init"])
        #expect(again.status == 0)
        #expect(again.stdout.contains("up to date"))
        let hostile = #"{"decision":"training","worker":"W-001","kind":"special","hours":8,"effective":"2013-05-01","authority":"'); DROP TABLE dossier.events; --","reference":"R'; --"}"#
        let recorded = try dossier.run(["record", "-"], input: [hire, assessment, hostile].joined(separator: "\n"))
        #expect(recorded.status == 0, "\(recorded.stderr)")
        #expect(recorded.stdout.components(separatedBy: "recorded").count == 4)
        let shown = try dossier.run(["show", "W-001", "--json"])
        #expect(shown.status == 0)
        let object = try JSONParser.parse(shown.stdout).objectValue!
        for key in ["worker", "name", "status", "exit", "post", "role", "level", "community", "street", "district", "establishment", "serviceStart", "assessments", "qualifications", "monthlySubsidy", "eligibility"] {
            #expect(object[key] != nil, "show --json lacks \(key)")
        }
        #expect(object["name"] == .string("朱虹"))
        let trace = try dossier.run(["trace", "W-001", "--json"])
        let entries = try JSONParser.parse(trace.stdout)
        guard case .array(let list) = entries, let first = list.first?.objectValue else {
            Issue.record("trace --json is not an array")
            return
        }
        #expect(list.count == 3)
        for key in ["position", "eventId", "decision", "effective", "recordedAt", "recordedBy", "authority", "reference", "corrected", "rescinded", "excused", "overturned"] {
            #expect(first[key] != nil, "trace --json lacks \(key)")
        }
        // Who recorded comes from the database session (the test's login), not from the client.
        #expect(first["recordedBy"] == .string("dossier_super"))
        #expect(list[2].objectValue?["authority"] == .string("'); DROP TABLE dossier.events; --"))
        // --actor is gone: a client cannot name the recorder; --on-behalf-of is only a note.
        let other = #"{"decision":"training","worker":"W-001","kind":"special","hours":2,"effective":"2013-06-01","authority":"a","reference":"R2"}"#
        #expect(try dossier.run(["record", "-", "--actor", "王审核员"], input: other).status != 0)
        #expect(try dossier.run(["record", "-", "--on-behalf-of", "王审核员"], input: other).status == 0)
        let last = try JSONParser.parse(try dossier.run(["trace", "W-001", "--json"]).stdout)
        if case .array(let all) = last { #expect(all.last?.objectValue?["recordedBy"] == .string("dossier_super")) }
    }

    @Test("a bad command line exits 2, as the README says (not ArgumentParser's 64)")
    func badCommandLineExitsTwo() throws {
        let dossier = CommandRunner(database: nil)
        for arguments in [["--bogus"], ["show"], ["record"], ["import", "a", "b"], ["no-such-command"]] {
            let result = try dossier.run(arguments)
            #expect(result.status == 2, "\(arguments): \(result.status) \(result.stderr)")
            #expect(result.stderr.contains("Usage:") || result.stderr.contains("Error:"), "\(arguments): \(result.stderr)")
        }
        #expect(try dossier.run(["--help"]).status == 0)
    }

    @Test("malformed input anywhere in the file: nothing recorded, the line named, exit 1")
    func malformedNothingWritten() throws {
        let database = try TestDatabase.create()
        let dossier = CommandRunner(database: database)
        let result = try dossier.run(["record", CommandRunner.file(hire + "\n" + #"{"decision":"assessment","worker":"W-001","year":2012,"grade":"excellent","effective":"2013-02-30","authority":"a","reference":"x"}"# + "\n{oops\n")])
        #expect(result.status == 1)
        #expect(result.stderr.contains("line 2"))
        #expect(result.stderr.contains("line 3"))
        #expect(result.stderr.contains("effective"))
        #expect(try events(database) == 0)
    }

    @Test("a refusal names the rule, writes nothing and exits 1")
    func refusal() throws {
        let database = try TestDatabase.create()
        let dossier = CommandRunner(database: database)
        #expect(try dossier.run(["record", "-"], input: hire).status == 0)
        let refused = try dossier.run(["record", "-"], input: #"{"decision":"secondment","worker":"W-001","to":"区政府","toLevel":"county","until":"2014-01-01","effective":"2013-01-01","authority":"a","reference":"S1"}"#)
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("secondment-county-or-above"))
        #expect(refused.stderr.split(separator: "\n").count == 1, "one clear message")
        #expect(try events(database) == 1)
        let conflict = try dossier.run(["record", "-"], input: hire.replacingOccurrences(of: "\"level\":10", with: "\"level\":11"))
        #expect(conflict.status == 1)
        #expect(conflict.stderr.contains("already recorded"))
        #expect(try events(database) == 1)
    }

    @Test(
        "import is all or nothing and reports every bad line; --skip-invalid writes the rest and the rejects",
        arguments: [1, 2, 20_000])
    func importAllOrNothing(chunkLines: Int) throws {
        let database = try TestDatabase.create()
        let dossier = CommandRunner(database: database)
        let chunk = ["--chunk-lines", String(chunkLines)]
        let lines = [
            hire, assessment, #"{"decision":"nonsense"}"#,
            #"{"decision":"level-change","worker":"W-001","level":12,"grounds":"assessment","effective":"2013-02-01","authority":"a","reference":"L1"}"#,
            #"{"decision":"training","worker":"W-001","kind":"special","hours":4,"effective":"2013-03-01","authority":"a","reference":"T1"}"#,
        ]
        let file = CommandRunner.file(lines.joined(separator: "\n"))
        let all = try dossier.run(["import", file] + chunk)
        #expect(all.status == 1)
        #expect(all.stderr.contains("line 3"))
        #expect(all.stderr.contains("line 4"))
        #expect(all.stderr.contains("level-up-on-assessment"))
        #expect(try events(database) == 0)

        let rejects = FileManager.default.temporaryDirectory.appending(path: "rejects-\(UUID().uuidString).jsonl").path
        let partial = try dossier.run(["import", file, "--skip-invalid", "--rejects", rejects] + chunk)
        #expect(partial.status == 0, "\(partial.stderr)")
        #expect(try events(database) == 3)
        let rejected = try String(contentsOfFile: rejects, encoding: .utf8).split(separator: "\n")
        #expect(rejected.count == 2)
        let firstReject = try JSONParser.parse(String(rejected[0])).objectValue
        #expect(firstReject?["line"] == .integer(3))
        #expect(firstReject?["input"] == .string(#"{"decision":"nonsense"}"#))
        // Importing again recognises what is recorded.
        let again = try dossier.run(["import", file, "--skip-invalid", "--rejects", rejects, "--force"] + chunk)
        #expect(again.stdout.contains("3 already recorded"))
        #expect(try events(database) == 3)
    }

    @Test("a sample district imported in chunks of 37 lines is recorded exactly as when imported whole")
    func importInChunks() throws {
        let sample = try CommandRunner.sample(seed: 11, workers: 40, from: 2012, to: 2021)
        // What was recorded, leaving out what differs by nature: ids, times, personal-data seals.
        let content: PostgresQuery = """
            SELECT md5(string_agg(stream || version || event_type || reference || (payload - 'personal')::text || effective, ','
                       ORDER BY stream, version)), count(*), count(DISTINCT recorded_at) FROM dossier.events
            """
        var results: [[String]] = []
        for chunk in [1_000_000, 37] {
            let database = try TestDatabase.create()
            let dossier = CommandRunner(database: database)
            let imported = try dossier.run(["import", sample, "--chunk-lines", String(chunk)])
            #expect(imported.status == 0, "\(imported.stderr)")
            let row = try PostgresConnection(connectionString: database.connectionString).query(content)[0]
            let spans = try PostgresConnection(connectionString: database.connectionString)
                .query("SELECT md5(string_agg(worker || span || community || from_date || coalesce(until_date::text, ''), ',' ORDER BY worker, span)) FROM dossier.placements")
                .scalar(String.self)
            results.append([try row.decode(String.self, at: 0), String(try row.decode(Int64.self, at: 1)), spans ?? ""])
            #expect(try row.decode(Int64.self, at: 2) == 1, "one import, one recorded time")
        }
        #expect(Int(results[0][1])! > 500, "the sample should be a real district")
        #expect(results[0] == results[1])
    }

    @Test("an unreachable database exits 3 with one clear line; bad options are refused")
    func unreachable() throws {
        var dossier = CommandRunner(database: nil)
        dossier.environment["DOSSIER_DATABASE_URL"] = "host=/nonexistent-dossier port=1 connect_timeout=2"
        let result = try dossier.run(["show", "W-001"])
        #expect(result.status == 3)
        #expect(result.stderr.contains("cannot be reached"))
        let database = try TestDatabase.create()
        let ok = CommandRunner(database: database)
        let badDate = try ok.run(["show", "W-001", "--as-of", "2024-02-30"])
        #expect(badDate.status != 0)
        #expect(badDate.stderr.contains("--as-of"))
        let unknown = try ok.run(["show", "nobody"])
        #expect(unknown.status == 1)
        #expect(unknown.stderr.contains("no record of worker nobody"))
        let uninitialised = CommandRunner(database: try TestDatabase.create(migrated: false))
        let notInit = try uninitialised.run(["show", "W-001"])
        #expect(notInit.status == 3)
        #expect(notInit.stderr.contains("dossier init"))
    }
}
