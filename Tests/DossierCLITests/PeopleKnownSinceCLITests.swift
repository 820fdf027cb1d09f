import DossierDomain
import DossierStore
import DossierTestSupport
import Foundation
import PostgresClient
import Testing

/// The elements of a JSON array (none for anything else).
private func items(_ value: JSONValue) -> [JSONValue] {
    if case .array(let list) = value { return list }
    return []
}

/// Issue 12 through the `dossier` command: worker ids (rehire-identity, assigned ids),
/// knownSince, show of a cadre, exit status 2 for a bad command line.
@Suite("Worker ids, knownSince, show of cadres, exit codes (CLI)", .serialized)
struct PeopleKnownSinceCLITests {
    static func hire(_ worker: String?, name: String, reference: String, effective: String = "2010-03-01", extra: String = "") -> String {
        let id = worker.map { #""worker":"\#($0)","# } ?? ""
        return #"{"decision":"hire",\#(id)"name":"\#(name)","community":"桥二居民区","street":"五里桥街道","district":"黄浦区","city":"上海","post":"staff","role":"staff","level":6,"education":"bachelor","effective":"\#(effective)","authority":"五里桥街道","reference":"\#(reference)"\#(extra)}"#
    }

    @Test("rehire-identity: another person under an exited worker's id is refused (exit 1, nothing written); personalCorrection records it")
    func rehire() throws {
        let database = try TestDatabase.create()
        let dossier = CommandRunner(database: database)
        let first = try dossier.run(["record", "-"], input: Self.hire("W-0012", name: "张三", reference: "H-1"))
        #expect(first.status == 0, "\(first.stderr)")
        let exit = #"{"decision":"dismissal","worker":"W-0012","grounds":"旷工","effective":"2024-03-01","authority":"五里桥街道","reference":"D-1"}"#
        #expect(try dossier.run(["record", "-"], input: exit).status == 0)
        let before = try events(database)
        let other = try dossier.run(["record", "-"], input: Self.hire("W-0012", name: "李四", reference: "H-2", effective: "2026-11-01"))
        #expect(other.status == 1)
        #expect(other.stderr.contains("rehire-identity: W-0012 is an existing person (exited (dismissal on 2024-03-01))"), "\(other.stderr)")
        #expect(other.stderr.contains("personalCorrection") && !other.stderr.contains("张三"), "\(other.stderr)")
        #expect(try events(database) == before)
        let corrected = try dossier.run(
            ["record", "-"],
            input: Self.hire("W-0012", name: "张叁", reference: "H-2", effective: "2026-11-01", extra: #","personalCorrection":"身份证姓名更正""#))
        #expect(corrected.status == 0, "\(corrected.stderr)")
        let shown = try dossier.run(["show", "W-0012", "--json"])
        #expect(try JSONParser.parse(shown.stdout).objectValue?["name"] == .string("张叁"))
        // An import is judged the same way.
        let imported = try dossier.run(
            ["import", "-"],
            input: [exit.replacingOccurrences(of: "2024-03-01", with: "2026-11-20").replacingOccurrences(of: "D-1", with: "D-2"),
                    Self.hire("W-0012", name: "王五", reference: "H-3", effective: "2026-11-25")].joined(separator: "\n"))
        #expect(imported.status == 1 && imported.stderr.contains("line 2") && imported.stderr.contains("rehire-identity"), "\(imported.stderr)")
    }

    @Test("a hire without worker: the assigned id is printed (text, --json subject), and a second hire gets the next")
    func assignedID() throws {
        let database = try TestDatabase.create()
        let dossier = CommandRunner(database: database)
        #expect(try dossier.run(["record", "-"], input: Self.hire("HP-00041", name: "甲", reference: "H-1")).status == 0)
        let text = try dossier.run(["record", "-"], input: Self.hire(nil, name: "乙", reference: "H-2", effective: "2026-11-01"))
        #expect(text.status == 0, "\(text.stderr)")
        #expect(text.stdout.contains("recorded hire H-2 for HP-00042"), "\(text.stdout)")
        #expect(text.stdout.contains("worker id assigned: HP-00042"), "\(text.stdout)")
        let json = try dossier.run(["record", "-", "--json"], input: Self.hire(nil, name: "丙", reference: "H-3", effective: "2026-11-01"))
        #expect(try JSONParser.parse(json.stdout).objectValue?["subject"] == .string("HP-00043"), "\(json.stdout) \(json.stderr)")
        // Sent again: the same hire, not a new person.
        let again = try dossier.run(["record", "-", "--json"], input: Self.hire(nil, name: "丙", reference: "H-3", effective: "2026-11-01"))
        let object = try JSONParser.parse(again.stdout).objectValue
        #expect(object?["subject"] == .string("HP-00043") && object?["duplicate"] == .bool(true), "\(again.stdout)")
        // An import names every worker.
        let imported = try dossier.run(["import", "-"], input: Self.hire(nil, name: "丁", reference: "H-4"))
        #expect(imported.status == 1 && imported.stderr.contains("\"worker\""), "\(imported.stderr)")
    }

    @Test("knownSince: show, roster and quota --known-at use it, trace shows it as the import's claim; a bad or future one is refused naming line and field; record refuses it")
    func knownSince() throws {
        let database = try TestDatabase.create()
        let dossier = CommandRunner(database: database)
        let population = #"{"decision":"population","jurisdiction":"上海/黄浦区","year":2009,"urbanPopulation":600000,"effective":"2010-01-01","authority":"统计局","reference":"P-2009","knownSince":"2010-01-05"}"#
        let legacy = Self.hire("L-1", name: "赵六", reference: "L-2010-1", extra: #","knownSince":"2010-03-02T09:30:00+08:00""#)
        let unknown = Self.hire("L-2", name: "钱七", reference: "L-2010-2")
        let bad = Self.hire("L-3", name: "孙八", reference: "L-2010-3", extra: #","knownSince":"2010-13-01""#)
        let future = Self.hire("L-3", name: "孙八", reference: "L-2010-3", extra: #","knownSince":"2199-01-01T00:00:00Z""#)
        for line in [bad, future] {
            let refused = try dossier.run(["import", "-"], input: [population, legacy, line].joined(separator: "\n"))
            #expect(refused.status == 1 && refused.stderr.contains("line 3") && refused.stderr.contains("knownSince"), "\(refused.stderr)")
            #expect(try events(database) == 0)
        }
        let recorded = try dossier.run(["record", "-"], input: legacy)
        #expect(recorded.status == 1 && recorded.stderr.contains("knownSince") && recorded.stderr.contains("import"), "\(recorded.stderr)")
        let imported = try dossier.run(["import", "-"], input: [population, legacy, unknown].joined(separator: "\n"))
        #expect(imported.status == 0, "\(imported.stderr)")

        let show = try dossier.run(["show", "L-1", "--as-of", "2010-12-31", "--known-at", "2011-01-01", "--json"])
        #expect(try JSONParser.parse(show.stdout).objectValue?["status"] == .string("active"), "\(show.stdout) \(show.stderr)")
        let before = try dossier.run(["show", "L-2", "--known-at", "2020-01-01"])
        #expect(before.status == 1 && before.stderr.contains("the ledger first recorded worker L-2 on 20"), "\(before.stderr)")
        #expect(before.stderr.contains("nothing was known at 2020-01-01T23:59:59.999999Z"), "\(before.stderr)")
        let roster = try dossier.run(["roster", "--district", "黄浦区", "--as-of", "2010-12-31", "--known-at", "2011-01-01", "--json"])
        #expect(roster.status == 0 && roster.stdout.contains("\"L-1\"") && !roster.stdout.contains("\"L-2\""), "\(roster.stdout) \(roster.stderr)")
        let quota = try dossier.run(["quota", "--jurisdiction", "上海/黄浦区", "--as-of", "2010-12-31", "--known-at", "2011-01-01", "--json"])
        #expect(quota.status == 0, "\(quota.stderr)")
        let rows = items(try JSONParser.parse(quota.stdout)).compactMap(\.objectValue)
        let district = rows.first { $0["jurisdiction"] == .string("上海/黄浦区") }
        #expect(district?["headcount"] == .integer(1) && district?["urbanPopulation"] == .integer(600000), "\(quota.stdout)")
        let trace = try dossier.run(["trace", "L-1"])
        #expect(trace.stdout.contains("known since 2010-03-02T01:30:00.000000Z, as claimed by the import"), "\(trace.stdout)")
        let traceJSON = try dossier.run(["trace", "L-1", "--json"])
        let entry = items(try JSONParser.parse(traceJSON.stdout)).first?.objectValue
        #expect(entry?["knownSince"] == .string("2010-03-02T01:30:00.000000Z") && entry?["knownSinceClaimedBy"] != .null)
    }

    @Test("show of a temporary-post cadre gives the posts (table and --json) as trace does")
    func showCadre() throws {
        let database = try TestDatabase.create()
        let dossier = CommandRunner(database: database)
        let post = #"{"decision":"temporary-post","worker":"C-17","name":"汪仕敏","homeAgency":"黄浦区民政局","community":"桥二居民区","role":"first-secretary","until":"2026-06-30","kind":"cadre","effective":"2024-07-01","authority":"区委组织部","reference":"TP-1"}"#
        #expect(try dossier.run(["record", "-"], input: post).status == 0)
        let table = try dossier.run(["show", "C-17", "--as-of", "2025-01-01"])
        #expect(table.status == 0, "\(table.stderr)")
        #expect(table.stdout.contains("cadre") && table.stdout.contains("first-secretary (cadre) in 桥二居民区, from 黄浦区民政局"), "\(table.stdout)")
        let json = try JSONParser.parse(try dossier.run(["show", "C-17", "--json"]).stdout).objectValue
        #expect(json?["subjectKind"] == .string("cadre") && json.map { items($0["temporaryPosts"] ?? .null).count } == 1)
        #expect(try dossier.run(["show", "C-99"]).status == 1)
    }

    @Test("a bad command line exits 2 for every command, as the README says")
    func badOptionsExitTwo() throws {
        let database = try TestDatabase.create()
        let dossier = CommandRunner(database: database)
        let commands: [[String]] = [
            ["show", "W-1", "--bogus"], ["roster", "--district"], ["quota", "--as-of"], ["trace"],
            ["report", "headcount", "--from", "2030", "--to", "2020"], ["eligible", "--for", "nothing"],
            ["user", "grant", "nobody", "--jurisdiction", "上海/黄浦区", "--authority", "A\u{202E}B"], ["import", "-", "--rejects", "x.jsonl"], ["user", "add"],
            ["prove", "--from", "1"], ["history", "W-1", "--field", "salary"],
        ]
        for arguments in commands {
            let result = try dossier.run(arguments, input: "")
            #expect(result.status == 2, "\(arguments): \(result.status) \(result.stderr)")
        }
        let sample = Process()
        sample.executableURL = CommandRunner.binDirectory().appending(path: "dossier-sample")
        sample.arguments = ["--districts", "0"]
        sample.standardError = FileHandle.nullDevice
        sample.standardOutput = FileHandle.nullDevice
        try sample.run()
        sample.waitUntilExit()
        #expect(sample.terminationStatus == 2)
    }
}
