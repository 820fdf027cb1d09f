import DossierDomain
import DossierStore
import DossierTestSupport
import Foundation
import PostgresClient
import Testing

/// Corrections and rescissions of population figures and policies through `dossier record` and
/// `dossier import`, as a clerk types them: `jurisdiction` instead of `worker`.
@Suite("record and import: corrections of jurisdiction decisions")
struct JurisdictionAmendmentCLITests {
    static let figure =
        #"{"decision":"population","jurisdiction":"上海/黄浦区","year":2012,"urbanPopulation":3400,"effective":"2012-01-01","authority":"黄浦区统计局","reference":"POP-2012","eventId":"0b5c6f1e-1111-4c4c-8a8a-000000002012"}"#
    static let policy =
        #"{"decision":"policy","jurisdiction":"上海","parameters":{"quotaPerTenThousand":20},"effective":"2013-01-01","authority":"上海市民政局","reference":"POL-2013","eventId":"0b5c6f1e-1111-4c4c-8a8a-000000002013"}"#

    static func quota(_ dossier: CommandRunner, _ arguments: [String] = []) throws -> JSONObject? {
        let result = try dossier.run(["quota", "--jurisdiction", "上海/黄浦区", "--as-of", "2014-06-30", "--json"] + arguments)
        #expect(result.status == 0, "\(result.stderr)")
        guard case .array(let lines) = try JSONParser.parse(result.stdout) else { return nil }
        return lines.first?.objectValue
    }

    @Test("a clerk corrects a population figure and a policy with record; quota reads the corrected figures; bad amendments exit 1 with nothing written")
    func recordCorrections() throws {
        let database = try TestDatabase.create()
        let dossier = CommandRunner(database: database)
        let setup = try dossier.run(["record", "-"], input: [Self.figure, Self.policy].joined(separator: "\n"))
        #expect(setup.status == 0, "\(setup.stderr)")
        #expect(try Self.quota(dossier)?["quota"] == .integer(6) && Self.quota(dossier)?["perTenThousand"] == .integer(20))

        let population = try dossier.run(["record", "-", "--json"], input:
            #"{"decision":"correction","jurisdiction":"上海/黄浦区","corrects":"0b5c6f1e-1111-4c4c-8a8a-000000002012","urbanPopulation":5600,"effective":"2026-11-02","authority":"黄浦区统计局","reference":"POP-2012-C1"}"#)
        #expect(population.status == 0, "\(population.stderr)")
        let recorded = try JSONParser.parse(population.stdout).objectValue
        #expect(recorded?["subject"] == .string("上海/黄浦区") && recorded?["decision"] == .string("correction"))
        let policy = try dossier.run(["record", "-"], input:
            #"{"decision":"correction","jurisdiction":"上海","corrects":"0b5c6f1e-1111-4c4c-8a8a-000000002013","parameters":{"quotaPerTenThousand":25},"effective":"2026-11-02","authority":"上海市民政局","reference":"POL-2013-C1"}"#)
        #expect(policy.status == 0 && policy.stdout.contains("correction POL-2013-C1 for 上海"), "\(policy.stdout)\(policy.stderr)")
        let corrected = try Self.quota(dossier)
        #expect(corrected?["urbanPopulation"] == .integer(5600) && corrected?["perTenThousand"] == .integer(25) && corrected?["quota"] == .integer(14))

        let admin = try PostgresConnection(connectionString: database.connectionString)
        let before = try admin.query("SELECT count(*) FROM dossier.events").scalar(Int64.self)
        for (input, text) in [
            (#"{"decision":"correction","jurisdiction":"上海/徐汇区","corrects":"0b5c6f1e-1111-4c4c-8a8a-000000002012","urbanPopulation":1,"effective":"2026-11-03","authority":"a","reference":"X1"}"#,
             "event-of-another-record"),
            (#"{"decision":"correction","jurisdiction":"上海/黄浦区","corrects":"0b5c6f1e-1111-4c4c-8a8a-000000002012","urbanPopulation":-5,"effective":"2026-11-03","authority":"a","reference":"X2"}"#,
             "urbanPopulation"),
            (#"{"decision":"correction","jurisdiction":"上海/黄浦区","worker":"W-1","corrects":"0b5c6f1e-1111-4c4c-8a8a-000000002012","urbanPopulation":5,"effective":"2026-11-03","authority":"a","reference":"X3"}"#,
             "not both"),
            (#"{"decision":"rescission","jurisdiction":"上海/黄埔区","rescinds":"0b5c6f1e-1111-4c4c-8a8a-000000002012","grounds":"'; DROP TABLE dossier.events; --","effective":"2026-11-03","authority":"a","reference":"X4"}"#,
             "event-of-another-record"),
        ] {
            let result = try dossier.run(["record", "-"], input: input)
            #expect(result.status == 1 && result.stderr.contains(text), "\(input): \(result.status) \(result.stderr)")
        }
        #expect(try admin.query("SELECT count(*) FROM dossier.events").scalar(Int64.self) == before)
    }

    @Test("an import corrects and rescinds a figure and a policy it recorded earlier in the same file, judging later hires by them")
    func importCorrections() throws {
        let database = try TestDatabase.create()
        let dossier = CommandRunner(database: database)
        func hire(_ worker: String) -> String {
            #"{"decision":"hire","worker":"\#(worker)","name":"张伟","community":"桥二居民区","street":"五里桥街道","district":"黄浦区","city":"上海","post":"staff","role":"staff","level":3,"education":"bachelor","effective":"2014-01-01","authority":"五里桥街道","reference":"H-\#(worker)"}"#
        }
        let lines = [
            Self.figure.replacingOccurrences(of: "3400", with: "1000"), Self.policy,
            // The figure was 3,400, not 1,000: quota 6 at 20 per 10,000, then 6 at 18 once the policy is rescinded.
            #"{"decision":"correction","jurisdiction":"上海/黄浦区","corrects":"0b5c6f1e-1111-4c4c-8a8a-000000002012","urbanPopulation":3400,"effective":"2014-01-01","authority":"黄浦区统计局","reference":"POP-2012-C1"}"#,
            #"{"decision":"rescission","jurisdiction":"上海","rescinds":"0b5c6f1e-1111-4c4c-8a8a-000000002013","grounds":"文件作废","effective":"2014-01-01","authority":"上海市民政局","reference":"POL-2013-R1"}"#,
        ] + (1...6).map { hire("W-\($0)") }
        let result = try dossier.run(["import", "-"], input: lines.joined(separator: "\n"))
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        let quota = try Self.quota(dossier)
        #expect(quota?["urbanPopulation"] == .integer(3400) && quota?["perTenThousand"] == .integer(18) && quota?["headcount"] == .integer(6))
        // A seventh is over the corrected quota (3,400 × 18 / 10,000 = 6).
        let seventh = try dossier.run(["import", "-"], input: hire("W-7"))
        #expect(seventh.status == 1 && seventh.stdout.contains("quota") || seventh.stderr.contains("quota"), "\(seventh.stdout)\(seventh.stderr)")
    }

    @Test("an imported rename is known from its knownSince in the SQL gazetteer mapping (dossier.place_in_force), as in every --known-at query")
    func importedRenameKnownSince() throws {
        let database = try TestDatabase.create()
        let dossier = CommandRunner(database: database)
        func place(_ kind: String, _ name: String, within: String?, _ reference: String, extra: String = "") -> String {
            let inside = within.map { #","within":"\#($0)""# } ?? ""
            return #"{"decision":"place","action":"establish","kind":"\#(kind)","name":"\#(name)"\#(inside),"effective":"2000-01-01","authority":"上海市人民政府","reference":"\#(reference)"\#(extra)}"#
        }
        let lines = [
            place("city", "上海", within: nil, "G-1"), place("district", "黄浦区", within: "上海", "G-2"),
            place("street", "五里桥街道", within: "上海/黄浦区", "G-3"), place("community", "桥二居民区", within: "上海/黄浦区/五里桥街道", "G-4"),
            #"{"decision":"place","action":"rename","kind":"community","name":"桥二居民区","newName":"桥二新村居民区","within":"上海/黄浦区/五里桥街道","effective":"2019-01-01","authority":"黄浦区人民政府","reference":"G-5","knownSince":"2019-01-10"}"#,
        ]
        let imported = try dossier.run(["import", CommandRunner.file(lines.joined(separator: "\n"))])
        #expect(imported.status == 0, "\(imported.stdout)\(imported.stderr)")
        let admin = try PostgresConnection(connectionString: database.connectionString)
        func community(knownAt: String) throws -> String? {
            try admin.query(
                """
                SELECT community FROM dossier.place_in_force('上海', '黄浦区', '五里桥街道', '桥二居民区', '2019-06-01',
                                                             \(knownAt)::timestamptz)
                """
            ).scalar(String.self)
        }
        #expect(try community(knownAt: "2020-01-01T00:00:00Z") == "桥二新村居民区", "known from 2019-01-10, long before the import")
        #expect(try community(knownAt: "2019-01-09T00:00:00Z") == "桥二居民区", "not yet known")
    }
}
