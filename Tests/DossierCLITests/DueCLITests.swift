import DossierDomain
import DossierStore
import DossierTestSupport
import Foundation
import PostgresClient
import Testing

/// `dossier due` (issue 13, what needs attention) on a hand-made city in which every kind of
/// item falls due on 1 January 2026: nothing is due on 31 December 2025, each item is there on
/// 1 January with its kind, subject, place and date; a recorded end or ruling resolves it; the
/// policy's `faultRulingDays` moves a ruling's due date; an auditor and an hr clerk read the same.
@Suite("due: what needs attention, and since when", .serialized)
struct DueCLITests {
    static let columns = ["due", "kind", "subject", "subjectKind", "jurisdiction", "rule", "detail", "eventId"]

    static func hire(_ worker: String, _ name: String, role: String = "staff", effective: String = "2015-01-01") -> String {
        let post = role == "party-secretary" ? "principal" : "staff"
        return #"{"decision":"hire","worker":"\#(worker)","name":"\#(name)","community":"桥二居民区","street":"五里桥街道","district":"黄浦区","city":"上海","post":"\#(post)","role":"\#(role)","level":8,"education":"bachelor","effective":"\#(effective)","authority":"五里桥街道办事处","reference":"H-\#(worker)"}"#
    }

    static func assessment(_ worker: String, _ year: Int, _ grade: String, _ effective: String) -> String {
        #"{"decision":"assessment","worker":"\#(worker)","year":\#(year),"grade":"\#(grade)","effective":"\#(effective)","authority":"五里桥街道","reference":"A-\#(worker)-\#(year)"}"#
    }

    /// The city. 上海/黄浦区 has a population of 3,400 (a quota of 6) and six workers until W-06
    /// resigns on 2026-01-01; 上海/徐汇区 has no population figure and its first worker from
    /// 2026-01-01.
    static let city: [String] = [
        #"{"decision":"population","jurisdiction":"上海/黄浦区","year":2012,"urbanPopulation":3400,"effective":"2012-01-01","authority":"黄浦区统计局","reference":"POP-2012"}"#,
        hire("W-01", "张伟"), hire("W-02", "李娜"), hire("W-03", "王芳"), hire("W-04", "陈静", role: "party-secretary", effective: "2016-01-01"),
        hire("W-05", "刘洋"), hire("W-06", "赵磊"),
        #"{"decision":"hire","worker":"W-07","name":"孙丽","community":"天平居民区","street":"天平路街道","district":"徐汇区","city":"上海","post":"staff","role":"staff","level":3,"education":"bachelor","effective":"2026-01-01","authority":"天平路街道办事处","reference":"H-W-07"}"#,
        // W-01: seconded until 2025-12-31, never ended: overdue from 2026-01-01.
        assessment("W-01", 2024, "competent", "2025-01-15"), assessment("W-01", 2025, "competent", "2025-12-31"),
        #"{"decision":"secondment","worker":"W-01","to":"五里桥街道办事处","toLevel":"street","until":"2025-12-31","approval":"区委社工部批〔2025〕3号","effective":"2025-06-01","authority":"五里桥街道","reference":"S-2025-1"}"#,
        // W-02: excellent for 2024 and 2025, the second effective 2026-01-01: a level review.
        assessment("W-02", 2023, "competent", "2024-01-15"), assessment("W-02", 2024, "excellent", "2025-01-15"),
        assessment("W-02", 2025, "excellent", "2026-01-01"),
        // W-03: no assessment for 2025.
        assessment("W-03", 2024, "competent", "2025-01-15"),
        // W-04: party secretary since 2016-01-01, ten full years on 2026-01-01.
        assessment("W-04", 2024, "competent", "2025-01-15"), assessment("W-04", 2025, "competent", "2025-12-31"),
        // W-05: a misconduct on 2025-11-02, unruled; 60 days (the default) later is 2026-01-01.
        assessment("W-05", 2024, "competent", "2025-01-15"), assessment("W-05", 2025, "competent", "2025-12-31"),
        #"{"decision":"misconduct","worker":"W-05","description":"台账填报不实","sanction":"warning","effective":"2025-11-02","authority":"五里桥街道","reference":"M-2025-1"}"#,
        // W-06: resigns on 2026-01-01 (黄浦区 falls to 5 of 6).
        assessment("W-06", 2024, "competent", "2025-01-15"),
        #"{"decision":"resignation","worker":"W-06","effective":"2026-01-01","authority":"五里桥街道","reference":"R-2026-1"}"#,
        // C-017: a cadre's temporary post in 桥二居民区 until 2025-12-31.
        #"{"decision":"temporary-post","worker":"C-017","name":"汪仕敏","homeAgency":"黄浦区民政局","community":"桥二居民区","role":"first-secretary","until":"2025-12-31","kind":"cadre","effective":"2024-07-01","authority":"黄浦区委组织部","reference":"ZP-2024-5"}"#,
    ]

    /// (kind, subject, jurisdiction, due) of every item due on 2026-01-01, in order.
    static let expected: [[String]] = [
        ["temporary-post-overdue", "C-017", "上海/黄浦区", "2026-01-01"],
        ["secondment-overdue", "W-01", "上海/黄浦区", "2026-01-01"],
        ["level-review", "W-02", "上海/黄浦区", "2026-01-01"],
        ["assessment-missing", "W-03", "上海/黄浦区", "2026-01-01"],
        ["public-institution", "W-04", "上海/黄浦区", "2026-01-01"],
        ["fault-ruling-overdue", "W-05", "上海/黄浦区", "2026-01-01"],
        ["no-population", "上海/徐汇区", "上海/徐汇区", "2026-01-01"],
        ["below-quota", "上海/黄浦区", "上海/黄浦区", "2026-01-01"],
    ]

    static func items(_ dossier: CommandRunner, _ arguments: [String]) throws -> [JSONObject] {
        let result = try dossier.run(["due"] + arguments + ["--json"])
        #expect(result.status == 0, "\(arguments): \(result.stderr)")
        guard case .array(let list) = try JSONParser.parse(result.stdout) else {
            Issue.record("not a JSON array: \(result.stdout)")
            return []
        }
        return list.compactMap(\.objectValue)
    }

    static func summary(_ items: [JSONObject]) -> [[String]] {
        items.map { item in ["kind", "subject", "jurisdiction", "due"].map { item[$0]?.stringValue ?? "" } }
    }

    @Test("a hand-made city: each kind on its day, nothing the day before, resolved items gone, filters, formats, refusals")
    func handMadeCity() throws {
        let database = try TestDatabase.create()
        let dossier = CommandRunner(database: database)
        let recorded = try dossier.run(["record", "-"], input: Self.city.joined(separator: "\n"))
        try #require(recorded.status == 0, "\(recorded.stderr)")

        // Nothing due the day before; everything on the day.
        #expect(try Self.items(dossier, ["--as-of", "2025-12-31"]).isEmpty)
        #expect(try dossier.run(["due", "--as-of", "2025-12-31"]).stdout == "(nothing due on 2025-12-31)\n")
        let due = try Self.items(dossier, ["--as-of", "2026-01-01"])
        #expect(Self.summary(due) == Self.expected, "\(Self.summary(due))")
        #expect(due.allSatisfy { $0.keys == Self.columns }, "the JSON's keys are the CSV's columns, in order")
        let byKind = Dictionary(uniqueKeysWithValues: due.map { ($0["kind"]!.stringValue!, $0) })
        #expect(byKind["fault-ruling-overdue"]?["rule"]?.stringValue?.contains("within 60 days (policy faultRulingDays)") == true)
        #expect(byKind["fault-ruling-overdue"]?["detail"]?.stringValue?.contains("台账填报不实") == true)
        #expect(byKind["secondment-overdue"]?["detail"]?.stringValue?.contains("五里桥街道办事处 (street) since 2025-06-01, until 2025-12-31") == true)
        #expect(byKind["temporary-post-overdue"]?["subjectKind"]?.stringValue == "cadre")
        #expect(byKind["below-quota"]?["detail"]?.stringValue?.contains("headcount 5, approved total 6") == true)
        #expect(byKind["below-quota"]?["subjectKind"]?.stringValue == "jurisdiction")
        #expect(byKind["level-review"]?["detail"]?.stringValue?.contains("excellent in 2024 and 2025") == true)
        #expect(byKind["assessment-missing"]?["detail"]?.stringValue?.contains("no assessment for 2025") == true)
        #expect(byKind["level-review"]?["eventId"] == .null && byKind["secondment-overdue"]?["eventId"]?.stringValue != nil)
        // Still due later, with the date it fell due; the quota's shortfall ends when a worker is hired.
        let later = try Self.items(dossier, ["--as-of", "2026-03-01"])
        #expect(later.allSatisfy { $0["due"]?.stringValue == "2026-01-01" }, "\(Self.summary(later))")
        #expect(Set(later.map { $0["kind"]!.stringValue! }) == Set(Self.expected.map { $0[0] }))
        // A year before, other items: W-07 is not hired yet, and every assessment for 2024 was given.
        #expect(try Self.items(dossier, ["--as-of", "2025-06-01"]).isEmpty)

        // --jurisdiction: a district, a city, and the refusals.
        #expect(Self.summary(try Self.items(dossier, ["--as-of", "2026-01-01", "--jurisdiction", "上海/徐汇区"])) == [Self.expected[6]])
        #expect(Self.summary(try Self.items(dossier, ["--as-of", "2026-01-01", "--jurisdiction", "上海/黄浦区"]))
            == Self.expected.filter { $0[2] == "上海/黄浦区" })
        #expect(Self.summary(try Self.items(dossier, ["--as-of", "2026-01-01", "--jurisdiction", "上海"])) == Self.expected)
        for (arguments, option, status) in [
            (["--as-of", "2026-02-30"], "--as-of", Int32(1)), (["--as-of", "tomorrow"], "--as-of", 1),
            (["--jurisdiction", "上海/火星区"], "--jurisdiction", 1), (["--jurisdiction", "火星"], "--jurisdiction", 1),
            (["--jurisdiction", "上海/"], "--jurisdiction", 1), (["--jurisdiction", ""], "--jurisdiction", 1),
            (["--format", "xml"], "--format", 2), (["--excel"], "--excel", 2),
        ] {
            for format in arguments.contains("--format") || arguments.contains("--excel") ? [[]] : [[], ["--json"], ["--format", "csv"]] {
                let refused = try dossier.run(["due", "--as-of", "2026-01-01"] + arguments + format)
                #expect(refused.status == status, "\(arguments): \(refused.status) \(refused.stderr)")
                #expect(refused.stdout.isEmpty, "\(arguments): \(refused.stdout)")
                #expect(refused.stderr.contains(option), "\(arguments): \(refused.stderr)")
            }
        }

        // CSV: the documented columns, parsed back, field for field the JSON; --excel; the table.
        let csv = try dossier.run(["due", "--as-of", "2026-01-01", "--format", "csv"])
        let records = try FormatsCLITests.parse(csv.stdout)
        #expect(records.first == Self.columns)
        #expect(records.count == due.count + 1)
        for (record, object) in zip(records.dropFirst(), due) {
            for (column, value) in zip(Self.columns, record) {
                #expect(value == FormatsCLITests.cell(object[column]), "\(column): \(value)")
            }
        }
        let excel = try FormatsCLITests.runRaw(dossier, ["due", "--as-of", "2026-01-01", "--format", "csv", "--excel"])
        #expect(excel.stdout == Data([0xEF, 0xBB, 0xBF] + Array(csv.stdout.utf8)))
        #expect(try dossier.run(["due", "--as-of", "2026-01-01", "--format", "json"]).stdout
            == (try dossier.run(["due", "--as-of", "2026-01-01", "--json"])).stdout)
        let table = try dossier.run(["due", "--as-of", "2026-01-01"]).stdout
        #expect(table.contains("2026-01-01  below-quota  上海/黄浦区  in 上海/黄浦区\n    rule: staffing standard"), "\(table)")
        #expect(table.contains("2026-01-01  fault-ruling-overdue  W-05 (worker)  in 上海/黄浦区\n    rule: "), "\(table)")
        #expect(try dossier.run(["due", "--as-of", "2026-01-01", "--format", "table"]).stdout == table)

        // An auditor and an hr clerk of 黄浦区 run it as themselves and read what the database lets them: the same.
        let clerk = TestDatabase.uniqueName("clerk"), auditor = TestDatabase.uniqueName("auditor")
        #expect(try dossier.run(["user", "add", clerk, "--role", "hr", "--jurisdiction", "上海/黄浦区", "--password-stdin"],
                                input: TestDatabase.password + "\n").status == 0)
        #expect(try dossier.run(["user", "add", auditor, "--role", "auditor", "--password-stdin"], input: TestDatabase.password + "\n").status == 0)
        for person in [clerk, auditor] {
            let runner = CommandRunner(
                database: DatabaseConfiguration(
                    connectionString: try TestDatabase.connectionString(database: TestDatabase.name(of: database), user: person)))
            let theirs = try runner.run(["due", "--as-of", "2026-01-01", "--json"])
            #expect(theirs.status == 0, "\(person): \(theirs.stderr)")
            #expect(theirs.stdout == (try dossier.run(["due", "--as-of", "2026-01-01", "--json"])).stdout, "\(person)")
        }

        // faultRulingDays: the policy in force on the misconduct's date in its district sets the days.
        let refusedPolicy = try dossier.run(
            ["record", "-"],
            input: #"{"decision":"policy","jurisdiction":"上海/黄浦区","parameters":{"faultRulingDays":0},"effective":"2025-01-01","authority":"黄浦区社会工作部","reference":"HP-P-0"}"#)
        #expect(refusedPolicy.status == 1 && refusedPolicy.stderr.contains("faultRulingDays"), "\(refusedPolicy.stderr)")
        let connection = try PostgresConnection(connectionString: database.connectionString)
        for (value, accepted) in [("90", true), ("1", true), ("3650", true), ("0", false), ("3651", false), ("\"60\"", false), ("1.5", false)] {
            let payload = #"{"jurisdiction":"*","parameters":{"faultRulingDays":\#(value)}}"#
            let problem = try connection.query(
                """
                SELECT dossier.event_problem(ARRAY['policy'], ARRAY['policy'], ARRAY[\(payload)::jsonb], ARRAY['2025-01-01'::date],
                                             ARRAY['a'], ARRAY['r'], ARRAY[1::smallint])
                """
            ).rows.first.flatMap { try? $0.decodeIfPresent(String.self, at: 0) }
            #expect((problem == nil) == accepted, "faultRulingDays \(value): \(problem ?? "accepted")")
        }
        let policy = try dossier.run(
            ["record", "-"],
            input: #"{"decision":"policy","jurisdiction":"上海/黄浦区","parameters":{"faultRulingDays":90},"effective":"2025-01-01","authority":"黄浦区社会工作部","reference":"HP-P-1"}"#)
        try #require(policy.status == 0, "\(policy.stderr)")
        #expect(!Self.summary(try Self.items(dossier, ["--as-of", "2026-01-01"])).contains(Self.expected[5]))
        #expect(!(try Self.items(dossier, ["--as-of", "2026-01-30"])).contains { $0["kind"]?.stringValue == "fault-ruling-overdue" })
        let ninety = try Self.items(dossier, ["--as-of", "2026-01-31"]).first { $0["kind"]?.stringValue == "fault-ruling-overdue" }
        #expect(ninety?["due"]?.stringValue == "2026-01-31" && ninety?["rule"]?.stringValue?.contains("within 90 days") == true)

        // Resolved: the secondment's end recorded on its until date; the misconduct ruled (from its ruling's date).
        var misconduct = ""
        if case .array(let entries) = try JSONParser.parse(try dossier.run(["trace", "W-05", "--json"]).stdout) {
            misconduct = entries.compactMap(\.objectValue).first { $0["reference"]?.stringValue == "M-2025-1" }?["eventId"]?.stringValue ?? ""
        }
        try #require(!misconduct.isEmpty)
        let resolved = try dossier.run(
            ["record", "-"],
            input: [
                #"{"decision":"secondment-end","worker":"W-01","effective":"2025-12-31","authority":"五里桥街道","reference":"SE-2025-1"}"#,
                #"{"decision":"fault-tolerance","worker":"W-05","misconduct":"\#(misconduct)","ruling":"excused","effective":"2026-02-05","authority":"黄浦区纪委","reference":"FT-2026-1"}"#,
            ].joined(separator: "\n"))
        try #require(resolved.status == 0, "\(resolved.stderr)")
        let after = Self.summary(try Self.items(dossier, ["--as-of", "2026-02-04"]))
        #expect(!after.contains { $0[0] == "secondment-overdue" }, "\(after)")
        #expect(after.contains { $0[0] == "fault-ruling-overdue" && $0[3] == "2026-01-31" }, "ruled only from 2026-02-05: \(after)")
        #expect(!Self.summary(try Self.items(dossier, ["--as-of", "2026-02-05"])).contains { $0[0] == "fault-ruling-overdue" })
    }
}
