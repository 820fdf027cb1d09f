import DossierDomain
import DossierStore
import DossierTestSupport
import Foundation
import PostgresClient
import Testing

/// `dossier appeals` and selections and appeals through the command line (issue 13, appeals as
/// cases): the caseload with days open, its CSV parsed back and compared with its JSON, the
/// filters, the refusals (exit 1, the field named, nothing written), and a clerk refused a
/// selection for another district.
@Suite("appeals: selections and appeals through the dossier command", .serialized)
struct AppealsCLITests {
    static let columns = [
        "position", "appeal", "worker", "jurisdiction", "lodged", "against", "againstDecision", "againstStream", "status",
        "ruling", "ruledOn", "daysOpen", "reference", "authority",
    ]

    static func hire(_ worker: String, district: String = "黄浦区", role: String = "party-secretary") -> String {
        #"{"decision":"hire","worker":"\#(worker)","name":"王芳","community":"桥二居民区","street":"五里桥街道","district":"\#(district)","city":"上海","post":"principal","role":"\#(role)","level":10,"education":"bachelor","effective":"2005-03-01","authority":"五里桥街道办事处","reference":"H-\#(worker)"}"#
    }
    /// 黄浦区's public-institution round of 2020: W-1 selected, W-2 and W-3 passed over; the
    /// criteria hold Chinese text, a comma, quotes and an injection attempt.
    static let selection = #"{"decision":"selection","jurisdiction":"上海/黄浦区","for":"public-institution","selected":["W-1"],"passedOver":["W-2","W-3"],"criteria":"任职满十年, \"考核优秀\"'; DROP TABLE dossier.events; --","effective":"2020-06-01","authority":"黄浦区委组织部","reference":"黄浦选拔〔2020〕1号"}"#

    func rows(_ dossier: CommandRunner, _ arguments: [String]) throws -> [JSONObject] {
        let result = try dossier.run(["appeals"] + arguments + ["--json"])
        #expect(result.status == 0, "\(arguments): \(result.stderr)")
        return array(try JSONParser.parse(result.stdout))
    }

    func eventCount(_ database: DatabaseConfiguration) throws -> Int64 {
        try PostgresConnection(connectionString: database.connectionString).query("SELECT count(*) FROM dossier.events").scalar(Int64.self) ?? -1
    }

    @Test("lodged, ruled, listed with days open; CSV = JSON; --open, --jurisdiction, --as-of; trace and show")
    func caseload() throws {
        let database = try TestDatabase.create()
        let dossier = CommandRunner(database: database)
        let hires = [Self.hire("W-1"), Self.hire("W-2"), Self.hire("W-3"), Self.hire("X-1", district: "徐汇区")]
        try #require(try dossier.run(["record", "-"], input: (hires + [Self.selection]).joined(separator: "\n")).status == 0)
        let trace = array(try JSONParser.parse(try dossier.run(["trace", "W-2", "--json"]).stdout))
        let selectionID = try #require(trace.first { $0["decision"] == .string("selection") }?["eventId"]?.stringValue)
        #expect(trace.first { $0["decision"] == .string("selection") }?["selection"] == .string("passed-over"))
        let dismissal = #"{"decision":"dismissal","worker":"X-1","grounds":"不称职","effective":"2021-01-01","authority":"徐汇区","reference":"D-1"}"#
        try #require(try dossier.run(["record", "-"], input: dismissal).status == 0)
        let xTrace = array(try JSONParser.parse(try dossier.run(["trace", "X-1", "--json"]).stdout))
        let dismissalID = try #require(xTrace.first { $0["decision"] == .string("dismissal") }?["eventId"]?.stringValue)

        let appeals = [
            #"{"decision":"appeal","worker":"W-2","against":"\#(selectionID)","grounds":"评分有误","effective":"2020-07-01","authority":"本人","reference":"SS-1"}"#,
            #"{"decision":"appeal","worker":"W-3","against":"\#(selectionID)","grounds":"程序不公","effective":"2020-07-11","authority":"本人","reference":"SS-2"}"#,
            #"{"decision":"appeal","worker":"X-1","against":"\#(dismissalID)","grounds":"解聘不当","effective":"2021-01-05","authority":"本人","reference":"SS-3"}"#,
        ]
        let lodged = try dossier.run(["record", "-"], input: appeals.joined(separator: "\n"))
        try #require(lodged.status == 0, "\(lodged.stderr)")
        let ids = Dictionary(uniqueKeysWithValues: try rows(dossier, []).map { ($0["reference"]!.stringValue!, $0["appeal"]!.stringValue!) })
        let rulings = [
            #"{"decision":"appeal-ruling","worker":"W-2","appealed":"\#(ids["SS-1"]!)","outcome":"overturned","effective":"2020-10-01","authority":"黄浦区人事争议仲裁委员会","reference":"AR-1"}"#,
            #"{"decision":"appeal-ruling","worker":"X-1","appealed":"\#(ids["SS-3"]!)","outcome":"upheld","effective":"2021-03-01","authority":"徐汇区人事争议仲裁委员会","reference":"AR-3"}"#,
        ]
        try #require(try dossier.run(["record", "-"], input: rulings.joined(separator: "\n")).status == 0)

        let all = try rows(dossier, ["--as-of", "2021-06-30"])
        #expect(all.map { $0["reference"]!.stringValue! } == ["SS-1", "SS-2", "SS-3"])
        let byReference = Dictionary(uniqueKeysWithValues: all.map { ($0["reference"]!.stringValue!, $0) })
        #expect(byReference["SS-1"]?["status"] == .string("overturned") && byReference["SS-1"]?["daysOpen"] == .integer(92))
        #expect(byReference["SS-1"]?["againstDecision"] == .string("selection"))
        #expect(byReference["SS-1"]?["againstStream"] == .string("jurisdiction/上海/黄浦区"))
        #expect(byReference["SS-1"]?["jurisdiction"] == .string("上海/黄浦区") && byReference["SS-1"]?["ruledOn"] == .string("2020-10-01"))
        #expect(byReference["SS-2"]?["status"] == .string("open") && byReference["SS-2"]?["ruling"] == .null)
        #expect(byReference["SS-2"]?["daysOpen"] == .integer(354))  // 2020-07-11 to 2021-06-30
        #expect(byReference["SS-3"]?["status"] == .string("upheld") && byReference["SS-3"]?["againstDecision"] == .string("dismissal"))
        #expect(all.first?.keys == Self.columns, "the JSON's keys are the CSV's columns, in order")

        // As of a date before the rulings: all open, counted to that date; before lodging: absent.
        let early = try rows(dossier, ["--as-of", "2020-09-30"])
        #expect(early.map { $0["reference"]!.stringValue! } == ["SS-1", "SS-2"])
        #expect(early.allSatisfy { $0["status"] == .string("open") } && early.first?["daysOpen"] == .integer(91))
        #expect(try rows(dossier, ["--open", "--as-of", "2021-06-30"]).map { $0["reference"]!.stringValue! } == ["SS-2"])
        #expect(try rows(dossier, ["--jurisdiction", "上海/徐汇区", "--as-of", "2021-06-30"]).map { $0["reference"]!.stringValue! } == ["SS-3"])
        #expect(try rows(dossier, ["--jurisdiction", "上海", "--as-of", "2021-06-30"]).count == 3)

        // CSV parsed back says what the JSON says.
        let csv = try dossier.run(["appeals", "--as-of", "2021-06-30", "--format", "csv"])
        #expect(csv.status == 0, "\(csv.stderr)")
        let records = try FormatsCLITests.parse(csv.stdout)
        #expect(records.first == Self.columns)
        #expect(records.count == all.count + 1)
        for (record, object) in zip(records.dropFirst(), all) {
            for (column, value) in zip(Self.columns, record) {
                #expect(value == FormatsCLITests.cell(object[column]), "\(column): \(value) vs \(String(describing: object[column]))")
            }
        }
        let excel = try FormatsCLITests.runRaw(dossier, ["appeals", "--format", "csv", "--excel"])
        #expect(Array(excel.stdout.prefix(3)) == [0xEF, 0xBB, 0xBF])
        let table = try dossier.run(["appeals", "--as-of", "2021-06-30"]).stdout
        #expect(table.contains("OVERTURNED") && table.contains("OPEN") && table.contains("UPHELD"), "\(table)")

        // Trace (table and JSON): the appeal names its target and ruling; the target is flagged.
        let w2 = array(try JSONParser.parse(try dossier.run(["trace", "W-2", "--json"]).stdout))
        let target = w2.first { $0["eventId"] == .string(selectionID) }
        #expect(target?["appealed"] == .bool(true) && target?["overturned"] == .bool(true))
        let appeal = w2.first { $0["decision"] == .string("appeal") }
        #expect(appeal?["against"] == .string(selectionID) && appeal?["againstDecision"] == .string("selection"))
        #expect(appeal?["appealStatus"] == .string("overturned") && appeal?["ruledBy"] != .null)
        let text = try dossier.run(["trace", "W-2"]).stdout
        #expect(text.contains("PASSED OVER") && text.contains("APPEALED") && text.contains("APPEAL OVERTURNED"), "\(text)")
        #expect(text.contains("against selection \(selectionID)"), "\(text)")
        // The re-opened eligibility in show, and the criteria kept as sent.
        let shown = try JSONParser.parse(try dossier.run(["show", "W-2", "--as-of", "2020-10-02", "--json"]).stdout).objectValue
        let reason = shown?["eligibility"]?.objectValue?["publicInstitution"]?.objectValue?["reason"]?.stringValue ?? ""
        #expect(reason.hasPrefix("re-opened by the appeal ruling AR-1"), "\(reason)")
        let before = try JSONParser.parse(try dossier.run(["show", "W-2", "--as-of", "2020-09-30", "--json"]).stdout).objectValue
        #expect(before?["eligibility"]?.objectValue?["publicInstitution"]?.objectValue?["eligible"] == .bool(false))
        #expect(target?["details"]?.objectValue?["criteria"] == .string(#"任职满十年, "考核优秀"'; DROP TABLE dossier.events; --"#))

        // Bad options.
        #expect(try dossier.run(["appeals", "--as-of", "2021-02-30"]).status != 0)
        #expect(try dossier.run(["appeals", "--jurisdiction", "/"]).status == 1)
    }

    @Test("refused through the command: exit 1, the field named, nothing written; a clerk's selection for another district")
    func refusals() throws {
        let database = try TestDatabase.create()
        let dossier = CommandRunner(database: database)
        let hires = [Self.hire("W-1"), Self.hire("W-2"), Self.hire("W-3"), Self.hire("X-1", district: "徐汇区")]
        try #require(try dossier.run(["record", "-"], input: (hires + [Self.selection]).joined(separator: "\n")).status == 0)
        let trace = array(try JSONParser.parse(try dossier.run(["trace", "W-2", "--json"]).stdout))
        let selectionID = try #require(trace.first { $0["decision"] == .string("selection") }?["eventId"]?.stringValue)
        let hireW1 = try #require(array(try JSONParser.parse(try dossier.run(["trace", "W-1", "--json"]).stdout)).first?["eventId"]?.stringValue)
        let appeal = { (worker: String, against: String, reference: String) in
            #"{"decision":"appeal","worker":"\#(worker)","against":"\#(against)","grounds":"不服","effective":"2020-07-01","authority":"本人","reference":"\#(reference)"}"#
        }
        try #require(try dossier.run(["record", "-"], input: appeal("W-2", selectionID, "A-1")).status == 0)
        let count = try eventCount(database)
        let cases: [(String, String)] = [
            (appeal("W-2", "0b5f1c7e-1f0a-4c59-9a3e-5d6c2b8e4f10", "A-2"), "field \"against\": no event"),
            (appeal("W-2", hireW1, "A-3"), "another worker's record"),
            (appeal("X-1", selectionID, "A-4"), "does not name X-1"),
            (appeal("W-2", selectionID, "A-5"), "is still open"),
            (appeal("W-2", "not-an-id", "A-6"), "field \"against\""),
            (Self.selection.replacingOccurrences(of: "public-institution", with: "mayor").replacingOccurrences(of: "1号", with: "2号"), "field \"for\""),
            (Self.selection.replacingOccurrences(of: #"["W-2","W-3"]"#, with: #"["W-1"]"#).replacingOccurrences(of: "1号", with: "3号"), "field \"passedOver\""),
            (Self.selection.replacingOccurrences(of: #""W-3""#, with: #""X-1""#).replacingOccurrences(of: "1号", with: "4号"), "selection-roster"),
            (Self.selection.replacingOccurrences(of: #""criteria""#, with: #""colour":"红","criteria""#).replacingOccurrences(of: "1号", with: "5号"), "field \"colour\""),
        ]
        for (input, message) in cases {
            let result = try dossier.run(["record", "-"], input: input)
            #expect(result.status == 1, "\(message): \(result.stderr)")
            #expect(result.stderr.contains(message), "\(message): \(result.stderr)")
            #expect(!result.stderr.contains("SQLSTATE"), "\(result.stderr)")
        }
        #expect(try eventCount(database) == count, "nothing written")

        // A clerk of 黄浦区: a selection for 徐汇区 is refused by the database; 黄浦区's is recorded.
        let clerk = TestDatabase.uniqueName("clerk")
        #expect(try dossier.run(["user", "add", clerk, "--role", "hr", "--jurisdiction", "上海/黄浦区", "--password-stdin"], input: TestDatabase.password + "\n").status == 0)
        let asClerk = CommandRunner(
            database: DatabaseConfiguration(
                connectionString: try TestDatabase.connectionString(database: TestDatabase.name(of: database), user: clerk)
                    + " password='\(TestDatabase.password)'"))
        let before = try eventCount(database)
        let xuhui = #"{"decision":"selection","jurisdiction":"上海/徐汇区","for":"post","selected":["X-1"],"passedOver":[],"criteria":"c","effective":"2020-06-01","authority":"徐汇区","reference":"XH-1"}"#
        let refused = try asClerk.run(["record", "-"], input: xuhui)
        #expect(refused.status == 1 && refused.stderr.contains("outside the scopes of \(clerk)"), "\(refused.stderr)")
        #expect(try eventCount(database) == before)
        let own = Self.selection.replacingOccurrences(of: "1号", with: "9号")
        #expect(try asClerk.run(["record", "-"], input: own).status == 0)
    }
}
