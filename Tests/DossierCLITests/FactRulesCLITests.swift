import DossierDomain
import DossierStore
import DossierTestSupport
import Foundation
import PostgresClient
import Testing

/// Issue 12 through the `dossier` binary: facts no override bends (exit 1, the rule named,
/// nothing written), overrides that name their approval, the year-end roster of assessments,
/// seniority, quota warnings in record and import, and the exceptions list's new column.
@Suite("facts and policy through the CLI (issue 12)", .serialized)
struct FactRulesCLITests {
    static let approval = #","override":"test","overrideApproval":"黄委〔2026〕1号"}"#

    /// A decision of W-001 (hired by `hire`, 2012-03-01, level 10, 黄浦区), with override and approval.
    static func overridden(_ json: String) -> String {
        String(json.dropLast()) + approval
    }

    @Test("no-open-secondment and worker-active: refused with override and approval, exit 1, the rule named, nothing written")
    func factsRefused() throws {
        let database = try TestDatabase.create()
        let dossier = CommandRunner(database: database)
        try #require(try dossier.run(["record", "-"], input: hire).status == 0)
        let before = try events(database)
        let end = Self.overridden(#"{"decision":"secondment-end","worker":"W-001","effective":"2013-01-01","authority":"五里桥街道","reference":"SE-1"}"#)
        let refused = try dossier.run(["record", "-"], input: end)
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("no-open-secondment") && refused.stderr.contains("no override bends"), "\(refused.stderr)")
        let dismissal = #"{"decision":"dismissal","worker":"W-001","grounds":"考核不称职","effective":"2014-01-01","authority":"五里桥街道","reference":"D-1"}"#
        try #require(try dossier.run(["record", "-"], input: dismissal).status == 0)
        let twice = try dossier.run(
            ["record", "-"],
            input: Self.overridden(#"{"decision":"dismissal","worker":"W-001","grounds":"再次","effective":"2015-01-01","authority":"五里桥街道","reference":"D-2"}"#))
        #expect(twice.status == 1 && twice.stderr.contains("worker-active"), "\(twice.stderr)")
        #expect(try events(database) == before + 1)
    }

    @Test("override without overrideApproval, or approval without override: exit 1 naming the field, nothing written")
    func approvalRequired() throws {
        let database = try TestDatabase.create()
        let dossier = CommandRunner(database: database)
        try #require(try dossier.run(["record", "-"], input: hire).status == 0)
        let before = try events(database)
        let bare = #"{"decision":"level-change","worker":"W-001","level":12,"grounds":"assessment","effective":"2013-02-01","authority":"a","reference":"L-1","override":"区委特批"}"#
        let missing = try dossier.run(["record", "-"], input: bare)
        #expect(missing.status == 1 && missing.stderr.contains("field \"overrideApproval\": is required with \"override\""), "\(missing.stderr)")
        let lone = #"{"decision":"level-change","worker":"W-001","level":12,"grounds":"assessment","effective":"2013-02-01","authority":"a","reference":"L-1","overrideApproval":"批-1"}"#
        let alone = try dossier.run(["record", "-"], input: lone)
        #expect(alone.status == 1 && alone.stderr.contains("field \"override\""), "\(alone.stderr)")
        // A legacy import line is held to the same: the line and the field are named.
        let imported = try dossier.run(["import", CommandRunner.file(bare)])
        #expect(imported.status == 1 && imported.stderr.contains("line 1") && imported.stderr.contains("overrideApproval"), "\(imported.stderr)")
        #expect(try events(database) == before)
    }

    @Test("assessment-year-end-roster and level-up-on-seniority by the CLI; approved, the assessment is an exception listed with its approval")
    func assessmentAndSeniority() throws {
        let database = try TestDatabase.create()
        let dossier = CommandRunner(database: database)
        let dismissal = #"{"decision":"dismissal","worker":"W-001","grounds":"考核不称职","effective":"2026-01-20","authority":"五里桥街道","reference":"D-2026"}"#
        try #require(try dossier.run(["record", "-"], input: hire + "\n" + dismissal).status == 0)
        let assessment = #"{"decision":"assessment","worker":"W-001","year":2026,"grade":"competent","effective":"2027-01-15","authority":"五里桥街道","reference":"A-2026"}"#
        let before = try events(database)
        let refused = try dossier.run(["record", "-"], input: assessment)
        #expect(refused.status == 1 && refused.stderr.contains("assessment-year-end-roster"), "\(refused.stderr)")
        #expect(try events(database) == before)
        let recorded = try dossier.run(["record", "-", "--json"], input: Self.overridden(assessment))
        #expect(recorded.status == 0, "\(recorded.stderr)")

        // Seniority: 10 (2012-03-01) to 12 is refused; to 11 after three years is not.
        let other = hire.replacingOccurrences(of: "W-001", with: "W-002").replacingOccurrences(of: "WLQ-2012-01", with: "WLQ-2012-02")
        try #require(try dossier.run(["record", "-"], input: other).status == 0)
        let twoLevels = #"{"decision":"level-change","worker":"W-002","level":12,"grounds":"seniority","effective":"2016-03-01","authority":"a","reference":"S-1"}"#
        let skipped = try dossier.run(["record", "-"], input: twoLevels)
        #expect(skipped.status == 1 && skipped.stderr.contains("level-up-on-seniority") && skipped.stderr.contains("from 10 to 11, not 12"), "\(skipped.stderr)")
        let oneLevel = twoLevels.replacingOccurrences(of: #""level":12"#, with: #""level":11"#)
        #expect(try dossier.run(["record", "-"], input: oneLevel).status == 0)

        // The exceptions list: approval, recorder, authority, in the table, JSON and CSV.
        let json = try dossier.run(["exceptions", "--json"])
        guard case .array(let list) = try JSONParser.parse(json.stdout), let first = list.first?.objectValue else {
            Issue.record("no exceptions: \(json.stdout)")
            return
        }
        #expect(first["overrideApproval"]?.stringValue == "黄委〔2026〕1号")
        #expect(first["rules"] == .array([.string("assessment-year-end-roster")]))
        #expect(first["recordedBy"]?.stringValue?.isEmpty == false && first["authority"]?.stringValue == "五里桥街道")
        let table = try dossier.run(["exceptions"]).stdout
        #expect(table.contains("approved by: 黄委〔2026〕1号  recorded by "), "\(table)")
        let csv = try dossier.run(["exceptions", "--format", "csv"]).stdout
        #expect(csv.hasPrefix(ReadModel.Exception.csvHeader.joined(separator: ",") + "\r\n") || csv.hasPrefix(ReadModel.Exception.csvHeader.joined(separator: ",") + "\n"), "\(csv)")
        #expect(csv.contains("黄委〔2026〕1号"))
    }

    @Test("an old exception, recorded before approvals were asked for, shows its approval as missing")
    func oldExceptionWithoutApproval() async throws {
        // A ledger migrated up to 0013, with an override written then (no approval), then 0014.
        let database = try TestDatabase.create(migrated: false)
        let connection = try PostgresConnection(connectionString: database.connectionString)
        _ = try Migrator(migrations: EmbeddedMigration.all.filter { $0.name < "0014" }).migrate(connection)
        let hireEvent = NewEvent(
            type: "hire",
            payload: JSONObject([
                ("community", .string("桥二居民区")), ("street", .string("五里桥街道")), ("district", .string("黄浦区")),
                ("city", .string("上海")), ("post", .string("staff")), ("role", .string("staff")), ("level", .integer(3)),
                ("education", .string("bachelor")),
            ]), effective: CalendarDate("2012-03-01")!, authority: "a", reference: "H-old")
        let levelUp = NewEvent(
            type: "level-change", schemaVersion: 2,
            payload: JSONObject([
                ("level", .integer(4)), ("grounds", .string("assessment")), ("override", .string("旧系统特批")),
                ("exceptions", .array([.string("level-up-on-assessment")])),
            ]), effective: CalendarDate("2013-02-01")!, authority: "a", reference: "L-old")
        _ = try await EventStore(database).append(to: .worker("W-OLD"), expected: .noStream, events: [hireEvent, levelUp])
        _ = try Migrator().migrate(connection)
        let dossier = CommandRunner(database: database)
        let json = try dossier.run(["exceptions", "--json"])
        #expect(json.status == 0, "\(json.stderr)")
        guard case .array(let list) = try JSONParser.parse(json.stdout), let first = list.first?.objectValue else {
            Issue.record("no exceptions: \(json.stdout)")
            return
        }
        #expect(first["reference"]?.stringValue == "L-old" && first["overrideApproval"] == .null)
        #expect(try dossier.run(["exceptions"]).stdout.contains("approved by: (missing: recorded before approvals were asked for)"))
        // The database's view of overrides says the same.
        let view = try connection.query("SELECT override, override_approval FROM dossier_read.policy_exceptions").rows
        #expect(view.count == 1)
        #expect(try view.first?.decodeIfPresent(String.self, at: 1) == nil)
    }

    @Test("quota: record warns for a district with no population figure; import counts its warnings")
    func quotaWarnings() throws {
        let database = try TestDatabase.create()
        let dossier = CommandRunner(database: database)
        let recorded = try dossier.run(["record", "-", "--json"], input: hire)
        #expect(recorded.status == 0)
        #expect(recorded.stderr.contains("warning: quota: 上海/黄浦区 has no population figure in force on 2012-03-01"), "\(recorded.stderr)")
        let lines = (2...8).map { index in
            hire.replacingOccurrences(of: "W-001", with: "W-00\(index)").replacingOccurrences(of: "WLQ-2012-01", with: "WLQ-2012-0\(index)")
        }
        let imported = try dossier.run(["import", CommandRunner.file(lines.joined(separator: "\n"))])
        #expect(imported.status == 0, "\(imported.stderr)")
        #expect(imported.stderr.contains("warning: line 1: quota: 上海/黄浦区 has no population figure"), "\(imported.stderr)")
        // Seven quota warnings and seven no-gazetteer ones (上海 has no places here), each said once.
        #expect(imported.stderr.contains("14 warnings in all"), "\(imported.stderr)")
        #expect(imported.stderr.components(separatedBy: "has no population figure").count == 2, "\(imported.stderr)")
    }
}
