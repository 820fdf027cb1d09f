import DossierDomain
import DossierStore
import DossierTestSupport
import Foundation
import Testing

/// `dossier export W --to FILE --report FILE.html` (issue 13, "a record a person can read"): the
/// HTML is read back with a real HTML parser (Tests/ReportReader/read_report.py, Python's
/// html.parser) and checked for the facts the ledger holds, as each role may read them.
@Suite("export --report: a record a person reads and prints", .serialized)
struct ReportCLITests {
    static let reportReader: String = {
        var root = URL(filePath: #filePath)
        root.deleteLastPathComponent()
        root.deleteLastPathComponent()
        return root.appending(path: "ReportReader/read_report.py").path
    }()

    /// What the reader script found in a report.
    struct Parsed {
        var object: JSONObject
        var text: String { object["text"]?.stringValue ?? "" }
        var lang: String? { object["lang"]?.stringValue }
        func id(_ name: String) -> String? { object["ids"]?.objectValue?[name]?.stringValue }
        func list(_ key: String) -> [JSONValue] { if case .array(let items)? = object[key] { items } else { [] } }

        /// The rows of the tables of `tableClass` (its first class word).
        func rows(_ tableClass: String) -> [(classes: String, id: String, cells: [String])] {
            list("tables").compactMap(\.objectValue)
                .filter { ($0["class"]?.stringValue ?? "").split(separator: " ").contains(Substring(tableClass)) }
                .flatMap { table -> [(String, String, [String])] in
                    guard case .array(let rows)? = table["rows"] else { return [] }
                    return rows.compactMap(\.objectValue).map { row in
                        let cells: [String] = if case .array(let list)? = row["cells"] { list.compactMap(\.stringValue) } else { [] }
                        return (row["class"]?.stringValue ?? "", row["id"]?.stringValue ?? "", cells)
                    }
                }
        }

        /// The timeline row of the decision with `reference`.
        func timelineRow(_ reference: String) -> (classes: String, id: String, cells: [String])? {
            rows("timeline").first { $0.cells.count > 3 && $0.cells[3].hasSuffix("文号 " + reference) }
        }

        /// The record row whose label starts with `label`.
        func fact(_ label: String, table: String = "facts") -> (classes: String, id: String, cells: [String])? {
            rows(table).first { $0.cells.first?.hasPrefix(label) == true }
        }
    }

    static func read(_ report: String, bundle: String? = nil) throws -> Parsed {
        let process = Process()
        process.executableURL = URL(filePath: "/usr/bin/env")
        process.arguments = ["python3", reportReader, report] + (bundle.map { [$0] } ?? [])
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0, let object = try JSONParser.parse(Array(output)).objectValue else {
            throw CocoaError(.fileReadCorruptFile, userInfo: [NSFilePathErrorKey: report])
        }
        return Parsed(object: object)
    }

    func temporary(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appending(path: "report-\(UUID().uuidString)-\(name)").path
    }

    func runner(_ database: DatabaseConfiguration, as user: String, password: String = TestDatabase.password, key: String) throws -> CommandRunner {
        var runner = CommandRunner(
            database: DatabaseConfiguration(
                connectionString: try TestDatabase.connectionString(database: TestDatabase.name(of: database), user: user)
                    + " password='\(password)'"))
        runner.environment["DOSSIER_CHECKPOINT_KEY"] = key
        return runner
    }

    static let hostileReference = "<script>alert(1)</script>"
    static let hostileAuthority = #""><img src=x onerror=alert(1)>"#

    /// A career with every kind of later change: W-001 (朱虹) hired, assessed, moved up a level
    /// (later corrected), trained (the record later rescinded; its reference and authority are
    /// hostile markup), a demerit excused by a fault-tolerance ruling, a warning overturned on appeal.
    /// Returns the event ids by reference, the time the level change was recorded, and the time
    /// the last decision before the corrections and rulings was.
    func career(_ dossier: CommandRunner) throws -> (ids: [String: String], levelRecordedAt: String, beforeRulings: String) {
        let training = JSONValue.object(
            JSONObject([
                ("decision", .string("training")), ("worker", .string("W-001")), ("kind", .string("special")), ("hours", .integer(8)),
                ("effective", .string("2014-05-01")), ("authority", .string(Self.hostileAuthority)),
                ("reference", .string(Self.hostileReference)),
            ])
        ).canonicalText
        let first = try dossier.run(
            ["record", "-"],
            input: [
                hire, assessment,
                #"{"decision":"level-change","worker":"W-001","level":11,"grounds":"seniority","effective":"2015-03-01","authority":"黄浦区社会工作部","reference":"LC-2015"}"#,
                training,
                #"{"decision":"misconduct","worker":"W-001","description":"台账填报不实","sanction":"demerit","effective":"2017-05-04","authority":"五里桥街道","reference":"M-2017-1"}"#,
                #"{"decision":"misconduct","worker":"W-001","description":"会议缺席","sanction":"warning","effective":"2018-03-01","authority":"五里桥街道","reference":"M-2018-1"}"#,
            ].joined(separator: "\n"))
        try #require(first.status == 0, "\(first.stderr)")
        var ids: [String: String] = [:]
        var levelRecordedAt = ""
        var beforeRulings = ""
        func readTrace() throws {
            guard case .array(let rows) = try JSONParser.parse(try dossier.run(["trace", "W-001", "--json"]).stdout) else { return }
            for row in rows.compactMap(\.objectValue) {
                ids[row["reference"]!.stringValue!] = row["eventId"]!.stringValue!
                if row["reference"]?.stringValue == "LC-2015" { levelRecordedAt = row["recordedAt"]!.stringValue! }
                if row["reference"]?.stringValue == "M-2018-1" { beforeRulings = row["recordedAt"]!.stringValue! }
            }
        }
        try readTrace()
        try #require(ids.count == 6, "\(ids)")
        // The level is corrected to 12 on other grounds: seniority moves one level a step (issue 12).
        let second = try dossier.run(
            ["record", "-"],
            input: [
                #"{"decision":"correction","worker":"W-001","corrects":"\#(ids["LC-2015"]!)","level":12,"grounds":"other","effective":"2016-01-10","authority":"黄浦区社会工作部","reference":"C-2016"}"#,
                #"{"decision":"rescission","worker":"W-001","rescinds":"\#(ids[Self.hostileReference]!)","grounds":"记录有误","effective":"2016-02-01","authority":"五里桥街道","reference":"RS-2016"}"#,
                #"{"decision":"fault-tolerance","worker":"W-001","misconduct":"\#(ids["M-2017-1"]!)","ruling":"excused","effective":"2017-08-01","authority":"黄浦区纪委","reference":"FT-2017"}"#,
                #"{"decision":"appeal-ruling","worker":"W-001","appealed":"\#(ids["M-2018-1"]!)","outcome":"overturned","effective":"2018-06-01","authority":"黄浦区人事争议仲裁委员会","reference":"AR-2018"}"#,
            ].joined(separator: "\n"))
        try #require(second.status == 0, "\(second.stderr)")
        try readTrace()
        try #require(ids.count == 10, "\(ids)")
        return (ids, levelRecordedAt, beforeRulings)
    }

    @Test("the report states the record, every decision in place, eligibility and the bundle it describes")
    func facts() throws {
        let database = try TestDatabase.create()
        var dossier = CommandRunner(database: database)
        let key = temporary("checkpoint.key")
        dossier.environment["DOSSIER_CHECKPOINT_KEY"] = key
        let (ids, levelRecordedAt, _) = try career(dossier)
        #expect(try dossier.run(["checkpoint"]).status == 0)
        let bundle = temporary("W-001.json"), report = temporary("W-001.html")
        let exported = try dossier.run(["export", "W-001", "--to", bundle, "--report", report, "--as-of", "2019-12-31"])
        try #require(exported.status == 0, "\(exported.stderr)")
        #expect(exported.stdout.contains("wrote \(report): the record of W-001 on 2019-12-31 as known now, 10 decisions"), "\(exported.stdout)")
        var status = stat()
        #expect(stat(report, &status) == 0 && status.st_mode & 0o777 == 0o600)
        let parsed = try Self.read(report, bundle: bundle)

        // A document for people, with nothing that runs or loads.
        #expect(parsed.lang == "zh-CN")
        #expect(parsed.list("active").isEmpty && parsed.list("handlers").isEmpty, "\(parsed.object)")
        #expect(parsed.list("external").isEmpty, "\(parsed.list("external"))")
        let source = try String(contentsOfFile: report, encoding: .utf8)
        #expect(source.contains("@page") && source.contains("size: A4") && source.contains("counter(page)"))
        #expect(!source.contains("http://") && !source.contains("https://"))

        // The header: worker, name (an admin reads names), the date, who made it.
        let meta = parsed.rows("meta").flatMap(\.cells)
        #expect(meta.contains("W-001") && meta.contains("朱虹") && meta.contains("2019-12-31"), "\(meta)")
        #expect(meta.contains { $0.contains("管理员 admin") }, "\(meta)")

        // The record on 2019-12-31 as known now: level 12 (the correction), not 11.
        #expect(parsed.fact("等级")?.cells.last == "12 级", "\(String(describing: parsed.fact("等级")))")
        #expect(parsed.fact("职务")?.cells.last == "正职 principal")
        #expect(parsed.fact("状态")?.cells.last?.hasPrefix("在岗") == true)
        #expect(parsed.fact("违纪及容错认定")?.cells.last?.contains("认定 免责 excused") == true)

        // Every decision, each reference shown, the changed ones marked and pointing at what changed them.
        let timeline = parsed.rows("timeline").filter { !$0.id.isEmpty }
        #expect(timeline.count == 10)
        for reference in ids.keys { #expect(parsed.timelineRow(reference) != nil, "no row for \(reference)") }
        let ordinal = { (reference: String) in timeline.firstIndex { $0.id == "e-" + ids[reference]! }.map { "第 \($0 + 1) 项" } ?? "?" }
        let level = parsed.timelineRow("LC-2015")
        #expect(level?.cells[2].contains("已更正 CORRECTED · 见\(ordinal("C-2016"))") == true, "\(String(describing: level))")
        let correction = parsed.timelineRow("C-2016")
        #expect(correction?.cells[5].contains("针对\(ordinal("LC-2015"))") == true, "\(String(describing: correction))")
        let rescinded = parsed.timelineRow(Self.hostileReference)
        #expect(rescinded?.classes.contains("void") == true)
        #expect(rescinded?.cells[2].contains("已撤销 RESCINDED · 见\(ordinal("RS-2016"))") == true, "\(String(describing: rescinded))")
        let excused = parsed.timelineRow("M-2017-1")
        #expect(excused?.cells[2].contains("容错认定：免责 EXCUSED · 见\(ordinal("FT-2017"))") == true, "\(String(describing: excused))")
        let overturned = parsed.timelineRow("M-2018-1")
        #expect(overturned?.classes.contains("void") == true)
        #expect(overturned?.cells[2].contains("经复核推翻 OVERTURNED · 见\(ordinal("AR-2018"))") == true, "\(String(describing: overturned))")
        #expect(parsed.timelineRow("AR-2018")?.cells[5].contains("针对\(ordinal("M-2018-1"))") == true)
        #expect(parsed.timelineRow("FT-2017")?.cells[5].contains("针对\(ordinal("M-2017-1"))") == true)
        #expect(parsed.timelineRow("LC-2015")?.cells[4].contains(levelRecordedAt.prefix(10)) == true)

        // Hostile text is text: shown as written, never markup.
        #expect(rescinded?.cells[3] == Self.hostileAuthority + "\n文号 " + Self.hostileReference, "\(String(describing: rescinded))")
        #expect(!source.contains(Self.hostileReference) && !source.contains("<img"))

        // Eligibility: the reasons show gives for the same date.
        let shown = try JSONParser.parse(try dossier.run(["show", "W-001", "--as-of", "2019-12-31", "--json"]).stdout).objectValue
        let eligibility = parsed.rows("eligibility")
        for (key, label) in [("levelUp", "晋升一级"), ("publicInstitution", "纳入事业编制"), ("exitReview", "退出审查")] {
            let reason = shown?["eligibility"]?.objectValue?[key]?.objectValue?["reason"]?.stringValue ?? "?"
            let row = eligibility.first { $0.cells.first?.hasPrefix(label) == true }
            #expect(row?.cells.last?.hasSuffix("：" + reason) == true, "\(key): \(String(describing: row)) vs \(reason)")
        }

        // The bundle it describes: its file's SHA-256, the checkpoint it is proven against, the commands.
        #expect(parsed.id("bundle-sha256") == parsed.object["bundleSha256"]?.stringValue)
        let note = try JSONParser.parse(Array(try Data(contentsOf: URL(filePath: bundle)))).objectValue?["checkpoint"]?.stringValue ?? ""
        let lines = note.split(separator: "\n")
        #expect(parsed.id("checkpoint-size") == String(lines[1]) && parsed.id("checkpoint-root") == String(lines[2]), "\(note)")
        let name = URL(filePath: bundle).lastPathComponent
        #expect(parsed.text.contains("dossier verify-bundle \(name) --public-key dossier.pub"))
        #expect(parsed.text.contains("python3 verify_bundle.py \(name) --public-key dossier.pub"))
        #expect(parsed.text.contains("OK 10 events, complete"))
        // And the bundle written beside it still verifies, with both verifiers.
        #expect(try dossier.run(["verify-bundle", bundle, "--public-key", key + ".pub"]).status == 0)
        #expect(try EvidenceCLITests.miniVerify(bundle, publicKey: key + ".pub").status == 0)

        // The reads are logged as show's are.
        let log = try dossier.run(["access-log", "--worker", "W-001", "--json"])
        guard case .array(let entries) = try JSONParser.parse(log.stdout) else {
            Issue.record("no access log: \(log.stdout) \(log.stderr)")
            return
        }
        let what = Set(entries.compactMap { $0.objectValue?["what"]?.stringValue })
        #expect(what.isSuperset(of: ["show", "trace", "export"]), "\(what)")
        for path in [key, key + ".pub", bundle, report] { try? FileManager.default.removeItem(atPath: path) }
    }

    @Test("--known-at states the record as it was known then, beside now, with the differences marked")
    func knownAt() throws {
        let database = try TestDatabase.create()
        var dossier = CommandRunner(database: database)
        let key = temporary("checkpoint.key")
        dossier.environment["DOSSIER_CHECKPOINT_KEY"] = key
        #expect(try dossier.run(["record", "-"], input: hire).status == 0)
        #expect(try dossier.run(["checkpoint"]).status == 0)
        let (_, _, knownAt) = try career(dossier)
        let bundle = temporary("b.json"), report = temporary("b.html")
        // The record is ahead of the checkpoint: --checkpoint signs a new one first.
        let exported = try dossier.run([
            "export", "W-001", "--to", bundle, "--report", report, "--as-of", "2019-12-31", "--known-at", knownAt, "--checkpoint",
        ])
        try #require(exported.status == 0, "\(exported.stderr)")
        let parsed = try Self.read(report)
        let level = parsed.fact("等级", table: "compare")
        #expect(level?.cells == ["等级 level", "12 级", "11 级", "≠ 不同"], "\(String(describing: level))")
        #expect(parsed.rows("meta").flatMap(\.cells).contains { $0.contains("as known at " + knownAt) })
        #expect(level?.classes == "diff")
        #expect(parsed.fact("职务", table: "compare")?.cells.last == "相同")
        // What was not known then: the correction, the rescission and the rulings came later.
        for reference in ["C-2016", "RS-2016", "FT-2017", "AR-2018"] {
            #expect(parsed.timelineRow(reference)?.cells[2].contains("对照时点后录入") == true, "\(reference)")
        }
        for reference in ["LC-2015", "M-2017-1", "M-2018-1"] {
            #expect(parsed.timelineRow(reference)?.cells[2].contains("后录入") == false, "\(reference)")
        }
        // Then, the warning still counted and the demerit had no ruling.
        let misconduct = parsed.fact("违纪及容错认定", table: "compare")
        #expect(misconduct?.cells[2].contains("尚无容错认定") == true && misconduct?.cells[1].contains("免责") == true, "\(String(describing: misconduct))")
        #expect(parsed.text.contains(knownAt), "the exact time stated")
        // Then, the training was not yet rescinded: 8 hours of special training counted.
        #expect(parsed.fact("培训", table: "compare")?.cells[2] == "专题培训 special 8 学时")
        #expect(parsed.fact("培训", table: "compare")?.cells[1] == "—")
        for path in [key, key + ".pub", bundle, report] { try? FileManager.default.removeItem(atPath: path) }
    }

    @Test("names only for roles that read them: a reviewer's report has the name, an auditor's does not")
    func names() throws {
        let database = try TestDatabase.create()
        var admin = CommandRunner(database: database)
        let key = temporary("checkpoint.key")
        admin.environment["DOSSIER_CHECKPOINT_KEY"] = key
        #expect(try admin.run(["record", "-"], input: hire + "\n" + assessment).status == 0)
        #expect(try admin.run(["checkpoint"]).status == 0)
        let auditor = TestDatabase.uniqueName("auditor"), reviewer = TestDatabase.uniqueName("reviewer")
        for (person, role) in [(auditor, "auditor"), (reviewer, "reviewer")] {
            let added = try admin.run(["user", "add", person, "--role", role, "--password-stdin"], input: TestDatabase.password)
            #expect(added.status == 0, "\(added.stderr)")
        }
        let asReviewer = try runner(database, as: reviewer, key: key)
        let reviewed = temporary("reviewer.html"), reviewedBundle = temporary("reviewer.json")
        let byReviewer = try asReviewer.run(["export", "W-001", "--to", reviewedBundle, "--report", reviewed])
        try #require(byReviewer.status == 0, "\(byReviewer.stderr)")
        let reviewerReport = try Self.read(reviewed)
        #expect(reviewerReport.rows("meta").flatMap(\.cells).contains("朱虹"))
        #expect(reviewerReport.text.contains(reviewer + "（申诉复核人员 reviewer）"))

        let asAuditor = try runner(database, as: auditor, key: key)
        let audited = temporary("auditor.html"), auditedBundle = temporary("auditor.json")
        let byAuditor = try asAuditor.run(["export", "W-001", "--to", auditedBundle, "--report", audited])
        try #require(byAuditor.status == 0, "\(byAuditor.stderr)")
        let auditorReport = try Self.read(audited)
        let source = try String(contentsOfFile: audited, encoding: .utf8)
        #expect(!source.contains("朱虹"))
        #expect(auditorReport.rows("meta").first?.cells[3].contains("本角色无权查阅个人信息") == true, "\(auditorReport.rows("meta"))")
        #expect(auditorReport.text.contains(auditor + "（审计人员 auditor）"))
        // Today by default (the day the command ran: this test may run across midnight UTC).
        let days = [Ledger.today(), Ledger.today().adding(days: -1)].compactMap { $0?.description }
        #expect(auditorReport.rows("meta").flatMap(\.cells).contains { days.contains($0) }, "\(auditorReport.rows("meta"))")
        for path in [key, key + ".pub", reviewed, reviewedBundle, audited, auditedBundle] { try? FileManager.default.removeItem(atPath: path) }
    }

    @Test("the report's path is protected as the bundle's: no overwrite without --force, never the bundle itself; options checked")
    func refusedPaths() throws {
        let database = try TestDatabase.create()
        var dossier = CommandRunner(database: database)
        let key = temporary("checkpoint.key")
        dossier.environment["DOSSIER_CHECKPOINT_KEY"] = key
        #expect(try dossier.run(["record", "-"], input: hire).status == 0)
        #expect(try dossier.run(["checkpoint"]).status == 0)
        let bundle = temporary("x.json"), report = temporary("x.html")

        // The same file as --to, however spelt: refused before anything is written.
        let directory = URL(filePath: bundle).deletingLastPathComponent().path
        for same in [bundle, directory + "/./" + URL(filePath: bundle).lastPathComponent] {
            let refused = try dossier.run(["export", "W-001", "--to", bundle, "--report", same])
            #expect(refused.status == 1 && refused.stderr.contains("is the same file as --to"), "\(refused.stderr)")
            #expect(!FileManager.default.fileExists(atPath: bundle))
        }
        // An existing report: refused without --force (the bundle not written either), replaced with it.
        FileManager.default.createFile(atPath: report, contents: Data("keep".utf8))
        let exists = try dossier.run(["export", "W-001", "--to", bundle, "--report", report])
        #expect(exists.status == 1 && exists.stderr.contains("\(report) exists: pass --force to replace it"), "\(exists.stderr)")
        #expect(!FileManager.default.fileExists(atPath: bundle))
        #expect(try String(contentsOfFile: report, encoding: .utf8) == "keep")
        let forced = try dossier.run(["export", "W-001", "--to", bundle, "--report", report, "--force"])
        #expect(forced.status == 0, "\(forced.stderr)")
        #expect(try String(contentsOfFile: report, encoding: .utf8).hasPrefix("<!DOCTYPE html>"))
        // A symbolic link to the bundle, both existing: still the same file.
        let link = temporary("link.html")
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: bundle)
        let linked = try dossier.run(["export", "W-001", "--to", bundle, "--report", link, "--force"])
        #expect(linked.status == 1 && linked.stderr.contains("is the same file as --to"), "\(linked.stderr)")

        // --as-of and --known-at belong to --report; bad values name the option.
        let alone = try dossier.run(["export", "W-001", "--to", temporary("y.json"), "--as-of", "2019-12-31"])
        #expect(alone.status == 1 && alone.stderr.contains("--as-of goes with --report"), "\(alone.stderr)")
        let badDate = try dossier.run(["export", "W-001", "--to", temporary("y.json"), "--report", temporary("y.html"), "--as-of", "2019-02-30"])
        #expect(badDate.status == 1 && badDate.stderr.contains("--as-of must be a real date"), "\(badDate.stderr)")
        let badTime = try dossier.run(["export", "W-001", "--to", temporary("y.json"), "--report", temporary("y.html"), "--known-at", "soon"])
        #expect(badTime.status == 1 && badTime.stderr.contains("--known-at must be a date"), "\(badTime.stderr)")
        for path in [key, key + ".pub", bundle, report, link] { try? FileManager.default.removeItem(atPath: path) }
    }
}
