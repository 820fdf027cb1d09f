import DossierDomain
import DossierStore
import DossierTestSupport
import Foundation
import Testing

/// `dossier exceptions --since/--until/--jurisdiction` and the later fate of each exception
/// (issue 13, reports over time): filtered on the effective date (both ends inclusive) and on the
/// district the worker served in on that date; marked rescinded, corrected or overturned as the
/// trace marks them, in the table, the JSON and the CSV.
@Suite("exceptions: filters by date and jurisdiction, and what became of each", .serialized)
struct ExceptionsCLITests {
    static let hireXuhui = #"{"decision":"hire","worker":"W-101","name":"李明","community":"天平居民区","street":"天平路街道","district":"徐汇区","city":"上海","post":"principal","role":"party-secretary","level":10,"education":"bachelor","effective":"2012-03-01","authority":"天平路街道办事处","reference":"TP-2012-01"}"#
    /// A level-up on assessment grounds with no assessments: a policy exception, with its override.
    static func levelUp(_ worker: String, _ level: Int, _ effective: String, _ reference: String) -> String {
        #"{"decision":"level-change","worker":"\#(worker)","level":\#(level),"grounds":"assessment","effective":"\#(effective)","authority":"区社会工作部","reference":"\#(reference)","override":"区委特批","overrideApproval":"区委〔\#(reference)〕号"}"#
    }
    /// W-001 moves from 黄浦区 to 徐汇区 on 2019-01-01: its later exception is 徐汇区's.
    static let transfer = #"{"decision":"transfer","worker":"W-001","community":"天平居民区","street":"天平路街道","district":"徐汇区","city":"上海","effective":"2019-01-01","authority":"区社会工作部","reference":"TR-2019-1"}"#

    static let columns = [
        "position", "eventId", "stream", "decision", "effective", "recordedAt", "recordedBy", "authority", "reference", "override",
        "rules", "jurisdiction", "rescindedBy", "rescindedEffective", "correctedBy", "overturnedBy", "overrideApproval",
    ]

    func references(_ dossier: CommandRunner, _ arguments: [String]) throws -> [String] {
        let result = try dossier.run(["exceptions"] + arguments + ["--json"])
        #expect(result.status == 0, "\(arguments): \(result.stderr)")
        guard case .array(let list) = try JSONParser.parse(result.stdout) else { return [] }
        return list.compactMap { $0.objectValue?["reference"]?.stringValue }
    }

    @Test("filters, fates in table/json/csv, refused input")
    func exceptions() throws {
        let database = try TestDatabase.create()
        let dossier = CommandRunner(database: database)
        let recorded = try dossier.run(
            ["record", "-"],
            input: [
                hire, Self.hireXuhui,
                Self.levelUp("W-001", 11, "2015-02-01", "HP-1"),  // 黄浦区
                Self.levelUp("W-001", 12, "2016-02-01", "HP-2"),  // 黄浦区, rescinded below
                Self.levelUp("W-101", 12, "2016-02-01", "XH-1"),  // 徐汇区, corrected below
                Self.levelUp("W-101", 13, "2018-06-30", "XH-2"),  // 徐汇区, overturned below
                Self.transfer,
                Self.levelUp("W-001", 13, "2020-02-01", "HP-3"),  // W-001 in 徐汇区 by then
            ].joined(separator: "\n"))
        try #require(recorded.status == 0, "\(recorded.stderr)")

        let all = try dossier.run(["exceptions", "--json"])
        guard case .array(let list) = try JSONParser.parse(all.stdout) else {
            Issue.record("not a JSON array: \(all.stdout)")
            return
        }
        var ids: [String: String] = [:]
        for item in list { ids[item.objectValue!["reference"]!.stringValue!] = item.objectValue!["eventId"]!.stringValue! }
        try #require(ids.keys.sorted() == ["HP-1", "HP-2", "HP-3", "XH-1", "XH-2"])
        let fates = try dossier.run(
            ["record", "-"],
            input: [
                #"{"decision":"rescission","worker":"W-001","rescinds":"\#(ids["HP-2"]!)","grounds":"记录有误","effective":"2024-03-01","authority":"黄浦区社会工作部","reference":"RS-1"}"#,
                #"{"decision":"correction","worker":"W-101","corrects":"\#(ids["XH-1"]!)","level":11,"effective":"2024-04-01","authority":"徐汇区社会工作部","reference":"C-1"}"#,
                #"{"decision":"appeal-ruling","worker":"W-101","appealed":"\#(ids["XH-2"]!)","outcome":"overturned","effective":"2024-05-01","authority":"徐汇区人民法院","reference":"AP-1"}"#,
            ].joined(separator: "\n"))
        try #require(fates.status == 0, "\(fates.stderr)")
        let trace = { (worker: String, reference: String) throws -> String in
            let rows = try JSONParser.parse(try dossier.run(["trace", worker, "--json"]).stdout)
            guard case .array(let items) = rows else { return "" }
            return items.compactMap(\.objectValue).first { $0["reference"]?.stringValue == reference }?["eventId"]?.stringValue ?? ""
        }
        let rescission = try trace("W-001", "RS-1")
        let correction = try trace("W-101", "C-1")
        let ruling = try trace("W-101", "AP-1")
        #expect(!rescission.isEmpty && !correction.isEmpty && !ruling.isEmpty)

        // Filters: effective dates, both ends inclusive; where the worker served on that date.
        #expect(try references(dossier, []) == ["HP-1", "HP-2", "XH-1", "XH-2", "HP-3"])
        #expect(try references(dossier, ["--since", "2016-02-01"]) == ["HP-2", "XH-1", "XH-2", "HP-3"])
        #expect(try references(dossier, ["--since", "2016-02-02"]) == ["XH-2", "HP-3"])
        #expect(try references(dossier, ["--until", "2016-02-01"]) == ["HP-1", "HP-2", "XH-1"])
        #expect(try references(dossier, ["--until", "2016-01-31"]) == ["HP-1"])
        #expect(try references(dossier, ["--since", "2016-02-01", "--until", "2016-02-01"]) == ["HP-2", "XH-1"])
        #expect(try references(dossier, ["--since", "2018-06-30", "--until", "2020-02-01"]) == ["XH-2", "HP-3"])
        #expect(try references(dossier, ["--since", "2025-01-01"]) == [])
        #expect(try references(dossier, ["--jurisdiction", "上海/黄浦区"]) == ["HP-1", "HP-2"])
        #expect(try references(dossier, ["--jurisdiction", "上海/徐汇区"]) == ["XH-1", "XH-2", "HP-3"])
        #expect(try references(dossier, ["--jurisdiction", "上海"]) == ["HP-1", "HP-2", "XH-1", "XH-2", "HP-3"])
        #expect(try references(dossier, ["--jurisdiction", "上海/徐汇区", "--until", "2019-12-31"]) == ["XH-1", "XH-2"])
        #expect(try dossier.run(["exceptions", "--since", "2025-01-01"]).stdout == "(no policy exceptions)\n")

        // JSON: the fate of each.
        guard case .array(let marked) = try JSONParser.parse(try dossier.run(["exceptions", "--json"]).stdout) else { return }
        let byReference = Dictionary(uniqueKeysWithValues: marked.map { ($0.objectValue!["reference"]!.stringValue!, $0.objectValue!) })
        #expect(byReference["HP-2"]?["rescindedBy"]?.stringValue == rescission)
        #expect(byReference["HP-2"]?["rescindedEffective"]?.stringValue == "2024-03-01")
        #expect(byReference["XH-1"]?["correctedBy"] == .array([.string(correction)]))
        #expect(byReference["XH-2"]?["overturnedBy"]?.stringValue == ruling)
        #expect(byReference["HP-1"]?["rescindedBy"] == .null && byReference["HP-1"]?["correctedBy"] == .array([]))
        #expect(byReference["HP-1"]?["overturnedBy"] == .null && byReference["HP-1"]?["rescindedEffective"] == .null)
        #expect(byReference["HP-1"]?["jurisdiction"]?.stringValue == "上海/黄浦区")
        #expect(byReference["HP-3"]?["jurisdiction"]?.stringValue == "上海/徐汇区")
        #expect(byReference["HP-1"]?.keys == Self.columns, "the JSON's keys are the CSV's columns, in order")

        // Table: a mark on the exception's first line.
        let table = try dossier.run(["exceptions"]).stdout
        let firstLines = table.split(separator: "\n").filter { $0.hasPrefix("#") }.map(String.init)
        #expect(firstLines.count == 5)
        let line = { (reference: String) in firstLines.first { $0.contains("ref \(reference) ") } ?? "" }
        #expect(line("HP-2").hasSuffix("[rescinded 2024-03-01 by \(rescission)]"), "\(line("HP-2"))")
        #expect(line("XH-1").hasSuffix("[corrected by \(correction)]"), "\(line("XH-1"))")
        #expect(line("XH-2").hasSuffix("[overturned by \(ruling)]"), "\(line("XH-2"))")
        #expect(line("HP-1").contains("in 上海/黄浦区") && !line("HP-1").contains("["), "\(line("HP-1"))")
        #expect(table.contains("    rules: level-up-on-assessment\n    override: 区委特批"))

        // CSV: the new columns at the end, agreeing with the JSON.
        let csv = try FormatsCLITests.parse(try dossier.run(["exceptions", "--format", "csv", "--jurisdiction", "上海/徐汇区"]).stdout)
        #expect(csv.first == Self.columns)
        #expect(csv.count == 4)
        for record in csv.dropFirst() {
            let object = byReference[record[Self.columns.firstIndex(of: "reference")!]]
            for (column, value) in zip(Self.columns, record) {
                #expect(value == FormatsCLITests.cell(object?[column]), "\(column): \(value)")
            }
        }
        #expect(csv.contains { $0[Self.columns.firstIndex(of: "overturnedBy")!] == ruling && $0[8] == "XH-2" })
        #expect(csv.contains { $0[Self.columns.firstIndex(of: "correctedBy")!] == correction })

        // Refused input: exit non-zero, a message naming the option, nothing on stdout.
        for (arguments, names) in [
            (["--since", "2024-02-30"], ["--since"]), (["--until", "yesterday"], ["--until"]),
            (["--since", "2020-01-02", "--until", "2020-01-01"], ["--since", "--until"]),
            (["--jurisdiction", "火星"], ["--jurisdiction"]), (["--jurisdiction", "上海/火星区"], ["--jurisdiction"]),
            (["--jurisdiction", "上海/"], ["--jurisdiction"]), (["--jurisdiction", ""], ["--jurisdiction"]),
        ] {
            for format in [[], ["--json"], ["--format", "csv"]] {
                let refused = try dossier.run(["exceptions"] + arguments + format)
                #expect(refused.status != 0, "\(arguments)")
                #expect(refused.stdout.isEmpty, "\(arguments): \(refused.stdout)")
                #expect(names.allSatisfy { refused.stderr.contains($0) }, "\(arguments): \(refused.stderr)")
            }
        }
    }
}
