import DossierDomain
import DossierStore
import DossierTestSupport
import Foundation
import Testing

/// `--format table|json|csv` on every listing command (issue 13, formats): the CSV has the
/// README's columns, parses back as RFC 4180 and says what the JSON says; `--excel` adds the
/// UTF-8 byte order mark; `--json` is `--format json`; `--format table` is the old output.
@Suite("Output formats of the listing commands", .serialized)
struct FormatsCLITests {
    /// A worker whose name holds a comma and double quotes, hired on an authority a spreadsheet
    /// would run as a formula.
    static let awkwardHire = #"{"decision":"hire","worker":"W-002","name":"王\"小\",明","community":"桥二居民区","street":"五里桥街道","district":"黄浦区","city":"上海","post":"principal","role":"committee-director","level":12,"education":"bachelor","effective":"2013-03-01","authority":"=HYPERLINK(\"http://x\",\"y\")","reference":"WLQ-2013-02"}"#
    static let population = #"{"decision":"population","jurisdiction":"上海/黄浦区","year":2012,"urbanPopulation":10000,"effective":"2012-01-01","authority":"黄浦区统计局","reference":"POP-2012"}"#
    /// A level-up without the assessments it needs, recorded as a policy exception.
    static let overridden = #"{"decision":"level-change","worker":"W-001","level":11,"grounds":"assessment","effective":"2015-02-01","authority":"黄浦区社会工作部","reference":"HP-L-2015-1","override":"特批,\"紧急\"\n-区委","overrideApproval":"区委〔2015〕1号"}"#

    /// The README's columns, per command.
    static let roster = ["worker", "name", "status", "post", "role", "level", "community", "street", "district", "city", "reason"]
    static let quota = [
        "jurisdiction", "headcount", "urbanPopulation", "year", "perTenThousand", "quota", "gap", "compliant", "ratioPerTenThousand", "standing",
    ]
    static let headcount = ["year", "jurisdiction", "headcount", "urbanPopulation", "ratioPerTenThousand", "quota", "gap", "standing"]
    static let exceptions = [
        "position", "eventId", "stream", "decision", "effective", "recordedAt", "recordedBy", "authority", "reference", "override", "rules",
        "jurisdiction", "rescindedBy", "rescindedEffective", "correctedBy", "overturnedBy", "overrideApproval",
    ]
    static let history = ["worker", "field", "view", "recordedAt", "from", "until", "value"]
    static let trace = [
        "position", "eventId", "stream", "decision", "effective", "recordedAt", "recordedBy", "onBehalfOf", "authority",
        "reference", "corrected", "rescinded", "excused", "mitigated", "overturned", "upheld", "correctedBy", "rescindedBy",
        "overturnedBy", "ruledBy", "override", "exceptions", "details", "appealed", "appealedBy", "selection", "against",
        "againstDecision", "appealStatus", "knownSince", "knownSinceClaimedBy",
    ]
    static let users = ["name", "role", "scopes", "addedAt", "addedBy", "disabled", "disabledAt"]
    static let who = ["person", "role", "scope", "grantedAt", "grantedBy"]
    static let accessLog = ["at", "reader", "login", "worker", "what"]
    static let find = ["worker", "name"]

    @Test("every listing command: CSV with the documented columns that parses back and agrees with the JSON; --excel, --json, table")
    func everyListing() throws {
        let database = try TestDatabase.create()
        let dossier = CommandRunner(database: database)
        let recorded = try dossier.run(["record", "-"], input: [hire, Self.awkwardHire, Self.population, Self.overridden].joined(separator: "\n"))
        #expect(recorded.status == 0, "\(recorded.stderr)")
        let clerk = TestDatabase.uniqueName("clerk")
        let added = try dossier.run(
            ["user", "add", clerk, "--role", "hr", "--jurisdiction", "上海/黄浦区", "--jurisdiction", "上海/徐汇区", "--password-stdin"],
            input: TestDatabase.password + "\n")
        #expect(added.status == 0, "\(added.stderr)")

        // (arguments, columns, how many records)
        let listings: [([String], [String], ClosedRange<Int>)] = [
            (["roster", "--district", "黄浦区"], Self.roster, 2...2),
            (["eligible", "--for", "exit-review"], Self.roster, 0...2),
            (["quota"], Self.quota, 2...2),
            (["quota", "--as-of", "2013-12-31", "--known-at", "2030-01-01"], Self.quota, 2...2),
            (["report", "headcount", "--from", "2012", "--to", "2014"], Self.headcount, 6...6),
            (["report", "headcount", "--from", "2013", "--to", "2014", "--by", "street"], Self.headcount, 2...2),
            (["exceptions"], Self.exceptions, 1...1),
            (["trace", "W-002"], Self.trace, 1...1),
            (["trace", "W-001"], Self.trace, 2...2),
            (["user", "list"], Self.users, 2...100),  // the test login and the clerk, at least
            (["user", "who", "--jurisdiction", "上海/黄浦区"], Self.who, 2...100),
            (["find", "王"], Self.find, 1...1),
            (["access-log", "--worker", "W-002"], Self.accessLog, 1...1000),  // the rosters and finds above read the name
        ]
        for (arguments, columns, count) in listings {
            let csv = try dossier.run(arguments + ["--format", "csv"])
            #expect(csv.status == 0, "\(arguments): \(csv.stderr)")
            let records = try Self.parse(csv.stdout)
            #expect(records.first == columns, "\(arguments): header \(records.first ?? [])")
            let json = try dossier.run(arguments + ["--json"])
            let formatJSON = try dossier.run(arguments + ["--format", "json"])
            #expect(json.status == 0 && json.stdout == formatJSON.stdout, "\(arguments): --json and --format json differ")
            let objects = array(try JSONParser.parse(json.stdout))
            #expect(count.contains(objects.count), "\(arguments): \(objects.count) JSON objects")
            #expect(records.count == objects.count + 1, "\(arguments): \(records.count - 1) CSV records, \(objects.count) JSON objects")
            // Field for field what the JSON says (`stream` of trace is not in its JSON).
            for (record, object) in zip(records.dropFirst(), objects) {
                #expect(record.count == columns.count, "\(arguments): \(record)")
                for (column, value) in zip(columns, record) where !(arguments[0] == "trace" && column == "stream") {
                    #expect(value == Self.cell(object[column]), "\(arguments): \(column) is \(value), JSON \(String(describing: object[column]))")
                }
            }
            let excel = try Self.runRaw(dossier, arguments + ["--format", "csv", "--excel"])
            #expect(excel.status == 0)
            #expect(Array(excel.stdout.prefix(3)) == [0xEF, 0xBB, 0xBF], "\(arguments)")
            #expect(excel.stdout.dropFirst(3) == Data(csv.stdout.utf8), "\(arguments): --excel is the BOM and the same CSV")
            #expect(!Data(csv.stdout.utf8).starts(with: [0xEF, 0xBB, 0xBF]))
            let table = try dossier.run(arguments + ["--format", "table"])
            let plain = try dossier.run(arguments)
            #expect(table.status == 0 && table.stdout == plain.stdout, "\(arguments): --format table is not the default output")
        }

        // The awkward texts, as a spreadsheet will get them.
        let roster = try Self.parse(try dossier.run(["roster", "--district", "黄浦区", "--format", "csv"]).stdout)
        #expect(roster[2][0] == "W-002" && roster[2][1] == #"王"小",明"#)
        #expect(try dossier.run(["roster", "--district", "黄浦区", "--format", "csv"]).stdout.contains(#""王""小"",明""#))
        let trace = try Self.parse(try dossier.run(["trace", "W-002", "--format", "csv"]).stdout)
        #expect(trace[1][Self.trace.firstIndex(of: "authority")!] == #"'=HYPERLINK("http://x","y")"#)
        let exception = try Self.parse(try dossier.run(["exceptions", "--format", "csv"]).stdout)
        #expect(exception[1][Self.exceptions.firstIndex(of: "override")!] == "特批,\"紧急\"\n-区委")
        #expect(exception[1][Self.exceptions.firstIndex(of: "rules")!] == "level-up-on-assessment")
        let quota = try Self.parse(try dossier.run(["quota", "--format", "csv"]).stdout)
        #expect(quota.contains(["上海/黄浦区", "2", "10000", "2012", "18", "18", "16", "true", "2.0", "below"]), "\(quota)")
        let users = try Self.parse(try dossier.run(["user", "list", "--format", "csv"]).stdout)
        let scopes = users.first { $0[0] == clerk }.map { Set($0[2].split(separator: " ").map(String.init)) }
        #expect(scopes == ["上海/黄浦区", "上海/徐汇区"], "\(users)")

        // history: one record per period per view, as its JSON nests them.
        let historyJSON = try JSONParser.parse(try dossier.run(["history", "W-001", "--field", "level", "--json"]).stdout).objectValue!
        #expect(try dossier.run(["history", "W-001", "--field", "level", "--format", "json"]).stdout
            == (try dossier.run(["history", "W-001", "--field", "level", "--json"]).stdout))
        var expected = [Self.history]
        for period in array(historyJSON["effective"]!) {
            expected.append(["W-001", "level", "effective", "", Self.cell(period["from"]), Self.cell(period["until"]), Self.cell(period["value"])])
        }
        for version in array(historyJSON["learned"]!) {
            for period in array(version["periods"]!) {
                expected.append([
                    "W-001", "level", "learned", Self.cell(version["recordedAt"]), Self.cell(period["from"]), Self.cell(period["until"]),
                    Self.cell(period["value"]),
                ])
            }
        }
        let historyCSV = try dossier.run(["history", "W-001", "--field", "level", "--format", "csv"])
        #expect(try Self.parse(historyCSV.stdout) == expected)
        #expect(expected.count == 6, "2 periods as known now, then 1 and 2 as learned: \(expected)")
        #expect(expected.dropFirst(3).allSatisfy { $0[3].hasSuffix("Z") })
        let historyExcel = try Self.runRaw(dossier, ["history", "W-001", "--field", "level", "--format", "csv", "--excel"])
        #expect(historyExcel.stdout == Data([0xEF, 0xBB, 0xBF] + Array(historyCSV.stdout.utf8)))
        let historyTable = try dossier.run(["history", "W-001", "--field", "level", "--format", "table"]).stdout
        #expect(historyTable == (try dossier.run(["history", "W-001", "--field", "level"])).stdout)
        #expect(historyTable.hasPrefix("level of W-001, as known now:\n") && historyTable.contains("\nas the ledger learned it:\n"))

        // The tables are the old ones.
        #expect(try dossier.run(["roster", "--district", "黄浦区"]).stdout.hasSuffix("2 workers\n"))
        let quotaTable = try dossier.run(["quota", "--as-of", "2014-01-01"]).stdout
        let cells = quotaTable.split(separator: "\n").map { line in
            line.components(separatedBy: "  ").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
        #expect(cells.first == ["quota on 2014-01-01"], "\(quotaTable)")
        #expect(cells.dropFirst().first == ["jurisdiction", "headcount", "per 10,000", "quota", "gap", "basis"], "\(quotaTable)")
        #expect(cells.contains(["上海/黄浦区", "2", "2.00", "18", "16 short", "18 per 10,000 of 10000 (2012)"]), "\(quotaTable)")
        #expect(cells.contains(["上海", "2", "—", "—", "unknown: no population figure", "—"]), "\(quotaTable)")
        // Columns line up on a terminal, where a Chinese character takes two columns.
        let lines = quotaTable.split(separator: "\n").dropFirst()
        #expect(Set(lines.map { line in
            line.prefix { $0 != "2" && $0 != "h" }.unicodeScalars.reduce(0) { $0 + ($1.value >= 0x4E00 ? 2 : 1) }
        }).count == 1, "\(quotaTable)")
        #expect(try dossier.run(["find", "王"]).stdout == "W-002\t王\"小\",明\n")
        #expect(try dossier.run(["exceptions"]).stdout.contains("    rules: level-up-on-assessment\n"))

        // An empty listing is a header alone; its table says so as before.
        let none = try dossier.run(["roster", "--district", "徐汇区", "--format", "csv"])
        #expect(none.stdout == Self.roster.joined(separator: ",") + "\r\n")
        #expect(try dossier.run(["roster", "--district", "徐汇区"]).stdout == "(none)\n")
        let nobody = try dossier.run(["find", "赵", "--format", "csv"])
        #expect(nobody.status == 0 && nobody.stdout == "worker,name\r\n" && nobody.stderr.isEmpty, "\(nobody.stderr)")
    }

    @Test("quota and report headcount: bad years, groupings, dates and places refused naming the option, nothing written")
    func reportOptions() throws {
        let database = try TestDatabase.create()
        let dossier = CommandRunner(database: database)
        #expect(try dossier.run(["record", "-"], input: [hire, Self.population].joined(separator: "\n")).status == 0)
        let before = try events(database)
        for (arguments, status, says) in [
            (["report", "headcount", "--from", "2020", "--to", "2019"], 2, "--from 2020 is after --to 2019"),
            (["report", "headcount", "--from", "1800", "--to", "2019"], 2, "--from and --to take years from 1900 to 2200"),
            (["report", "headcount", "--from", "1900", "--to", "2100"], 2, "at most 100 years"),
            (["report", "headcount", "--to", "2019"], 2, "--from"),
            (["report", "headcount", "--from", "2019", "--to", "2020", "--by", "community"], 2, "--by takes district or street"),
            (["report", "headcount", "--from", "2019", "--to", "2020", "--jurisdiction", "上海/黄埔区"], 1, "--jurisdiction: no city or district \"上海/黄埔区\""),
            (["report", "headcount", "--from", "2019", "--to", "2020", "--known-at", "yesterday"], 1, "--known-at"),
            (["quota", "--jurisdiction", "上海/黄浦区'; DROP TABLE dossier.events; --"], 1, "--jurisdiction: no city or district"),
            (["quota", "--as-of", "2019-02-30"], 1, "--as-of"),
            (["quota", "--known-at", "2019-13-01"], 1, "--known-at"),
        ] as [([String], Int32, String)] {
            let result = try dossier.run(arguments)
            #expect(result.status == status && result.stderr.contains(says) && result.stdout.isEmpty, "\(arguments): \(result.status) \(result.stderr)")
        }
        #expect(try events(database) == before)
        // A known place: the district alone, and the city with its districts.
        let district = try dossier.run(["report", "headcount", "--from", "2012", "--to", "2013", "--jurisdiction", "上海/黄浦区", "--json"])
        #expect(array(try JSONParser.parse(district.stdout)).map { Self.cell($0["jurisdiction"]) } == ["上海/黄浦区", "上海/黄浦区"], "\(district.stdout)")
        let city = try dossier.run(["report", "headcount", "--from", "2013", "--to", "2013", "--jurisdiction", "上海", "--format", "csv"])
        #expect(try Self.parse(city.stdout).map { $0[1] } == ["jurisdiction", "上海", "上海/黄浦区"], "\(city.stdout)")
        let streets = try dossier.run(["report", "headcount", "--from", "2013", "--to", "2013", "--by", "street"])
        #expect(streets.stdout == "31 Dec  street" + String(repeating: " ", count: 18) + "headcount\n2013    上海/黄浦区/五里桥街道  1\n", "\(streets.stdout)")
    }

    @Test("a format that is not table, json or csv, --json with another format, and --excel without csv: exit 2, said plainly")
    func badFormats() throws {
        let dossier = CommandRunner(database: nil)
        let commands: [[String]] = [
            ["roster"], ["eligible", "--for", "level-up"], ["quota"], ["report", "headcount", "--from", "2015", "--to", "2016"], ["exceptions"], ["history", "W-1", "--field", "level"],
            ["trace", "W-1"], ["user", "list"], ["user", "who", "--jurisdiction", "上海"], ["access-log"], ["find", "王"],
        ]
        for command in commands {
            let xml = try dossier.run(command + ["--format", "xml"])
            #expect(xml.status == 2, "\(command): \(xml.status) \(xml.stderr)")
            #expect(xml.stderr.contains("--format") && xml.stderr.contains("'table', 'json' or 'csv'"), "\(command): \(xml.stderr)")
            let both = try dossier.run(command + ["--json", "--format", "csv"])
            #expect(both.status == 2, "\(command): \(both.stderr)")
            #expect(both.stderr.contains("--json and --format csv contradict each other"), "\(command): \(both.stderr)")
            for excel in [["--excel"], ["--json", "--excel"], ["--format", "table", "--excel"]] {
                let result = try dossier.run(command + excel)
                #expect(result.status == 2, "\(command + excel): \(result.stderr)")
                #expect(result.stderr.contains("--excel only applies to CSV output: add --format csv"), "\(command + excel): \(result.stderr)")
            }
        }
    }

    /// What a JSON value becomes in the CSV: text with the formula guard, numbers as digits,
    /// booleans as true/false, null or absent as nothing, lists of texts joined by spaces,
    /// objects as their canonical JSON.
    static func cell(_ value: JSONValue?) -> String {
        switch value {
        case nil, .null?: return ""
        case .integer(let number)?: return String(number)
        case .bool(let flag)?: return flag ? "true" : "false"
        case .fraction(let number)?: return "\(number)"
        case .string(let text)?:
            guard let first = text.unicodeScalars.first, "=+-@\t\r".unicodeScalars.contains(first) else { return text }
            return "'" + text
        case .array(let items)?: return items.compactMap(\.stringValue).joined(separator: " ")
        case .object(let object)?: return JSONValue.object(object).canonicalText
        default: return "\(value!)"
        }
    }

    /// A strict RFC 4180 reader, written apart from the writer it checks: every record ends in
    /// CRLF; a quoted field may hold commas, CR, LF and doubled quotes; anything else malformed
    /// throws.
    static func parse(_ text: String) throws -> [[String]] {
        struct Malformed: Error, CustomStringConvertible { var description: String }
        var records: [[String]] = []
        var record: [String] = []
        var field = String.UnicodeScalarView()
        var rest = Array(text.unicodeScalars)[...]
        var inQuotes = false, wasQuoted = false
        while let scalar = rest.popFirst() {
            if inQuotes {
                if scalar != "\"" {
                    field.append(scalar)
                } else if rest.first == "\"" {
                    rest.removeFirst()
                    field.append("\"")
                } else {
                    inQuotes = false
                }
                continue
            }
            switch scalar {
            case "\"":
                guard field.isEmpty, !wasQuoted else { throw Malformed(description: "a quote inside an unquoted field: \(text)") }
                inQuotes = true
                wasQuoted = true
            case ",":
                record.append(String(field))
                field = String.UnicodeScalarView()
                wasQuoted = false
            case "\r":
                guard rest.popFirst() == "\n" else { throw Malformed(description: "CR without LF: \(text)") }
                record.append(String(field))
                records.append(record)
                field = String.UnicodeScalarView()
                record = []
                wasQuoted = false
            case "\n":
                throw Malformed(description: "LF without CR: \(text)")
            default:
                guard !wasQuoted else { throw Malformed(description: "text after a closing quote: \(text)") }
                field.append(scalar)
            }
        }
        guard !inQuotes, field.isEmpty, record.isEmpty else { throw Malformed(description: "the last record does not end in CRLF: \(text)") }
        return records
    }

    /// Runs `dossier` and keeps its standard output as bytes (to see the byte order mark).
    static func runRaw(_ runner: CommandRunner, _ arguments: [String]) throws -> (status: Int32, stdout: Data) {
        let process = Process()
        process.executableURL = CommandRunner.binDirectory().appending(path: "dossier")
        process.arguments = arguments
        process.environment = runner.environment
        let out = FileManager.default.temporaryDirectory.appending(path: "dossier-raw-\(UUID().uuidString)")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: out) }
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        return (process.terminationStatus, try Data(contentsOf: out))
    }
}
