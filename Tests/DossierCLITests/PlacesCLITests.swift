import DossierDomain
import DossierStore
import DossierTestSupport
import Foundation
import PostgresClient
import Testing

/// The gazetteer through the `dossier` command: places listing, refusals with did-you-mean,
/// bare district names in filters, import --create-places, hr scope.
@Suite("places: the gazetteer through the command line", .serialized)
struct PlacesCLITests {
    static func place(_ kind: String, _ name: String, within: String? = nil, effective: String = "2000-01-01", action: String = "establish", extra: String = "") -> String {
        #"{"decision":"place","action":"\#(action)","kind":"\#(kind)","name":"\#(name)""#
            + (within.map { #","within":"\#($0)""# } ?? "")
            + extra
            + #","effective":"\#(effective)","authority":"上海市人民政府","reference":"地名-\#(kind)-\#(name)-\#(action)"}"#
    }

    static let gazetteer: [String] = [
        place("city", "上海"),
        place("district", "黄浦区", within: "上海"),
        place("district", "静安区", within: "上海"),
        place("street", "五里桥街道", within: "上海/黄浦区"),
        place("street", "江宁路街道", within: "上海/静安区"),
        place("community", "桥二居民区", within: "上海/黄浦区/五里桥街道"),
        place("community", "桥二居民区", within: "上海/静安区/江宁路街道"),
        place("community", "桥三居民区", within: "上海/黄浦区/五里桥街道", effective: "2010-01-01"),
    ]

    static func hire(_ worker: String, district: String = "黄浦区", street: String = "五里桥街道", community: String = "桥二居民区", city: String = "上海", effective: String = "2015-01-01") -> String {
        #"{"decision":"hire","worker":"\#(worker)","name":"张伟","community":"\#(community)","street":"\#(street)","district":"\#(district)","city":"\#(city)","post":"staff","role":"staff","level":8,"education":"bachelor","effective":"\#(effective)","authority":"五里桥街道办事处","reference":"H-\#(worker)"}"#
    }

    @Test("places lists the tree on a date (table and --json); a misspelt district is refused with did-you-mean, exit 1, nothing written")
    func listingAndRefusal() throws {
        let database = try TestDatabase.create()
        let dossier = CommandRunner(database: database)
        let recorded = try dossier.run(["record", "-"], input: Self.gazetteer.joined(separator: "\n"))
        #expect(recorded.status == 0, "\(recorded.stderr)")
        let table = try dossier.run(["places", "--as-of", "2005-01-01"])
        #expect(table.status == 0, "\(table.stderr)")
        #expect(table.stdout.contains("上海  city, since 2000-01-01"), "\(table.stdout)")
        #expect(table.stdout.contains("\n  黄浦区  district"), "\(table.stdout)")
        #expect(table.stdout.contains("\n      桥二居民区  community"), "\(table.stdout)")
        #expect(!table.stdout.contains("桥三居民区"), "桥三居民区 is established only in 2010")
        let json = try dossier.run(["places", "--json"])
        let cities = try JSONParser.parse(json.stdout)
        guard case .array(let list) = cities, let city = list.first?.objectValue else { Issue.record("places --json: \(json.stdout)"); return }
        #expect(city["name"] == .string("上海") && city["kind"] == .string("city"))
        guard case .array(let districts)? = city["children"] else { Issue.record("no children"); return }
        #expect(districts.compactMap { $0.objectValue?["path"]?.stringValue } == ["上海/静安区", "上海/黄浦区"])

        let before = try events(database)
        let misspelt = try dossier.run(["record", "-"], input: Self.hire("W-1", district: "黄埔区", effective: "2026-11-03"))
        #expect(misspelt.status == 1)
        #expect(misspelt.stderr.contains("unknown-place: 黄埔区: no such district in 上海 on 2026-11-03; did you mean 黄浦区?"), "\(misspelt.stderr)")
        // The community of the same name in 静安区 does not make it valid under 黄浦区's street in 静安区.
        let wrongStreet = try dossier.run(["record", "-"], input: Self.hire("W-1", district: "静安区"))
        #expect(wrongStreet.status == 1 && wrongStreet.stderr.contains("五里桥街道: no such street in 上海/静安区"), "\(wrongStreet.stderr)")
        #expect(try events(database) == before)
        #expect(try dossier.run(["record", "-"], input: Self.hire("W-1")).status == 0)
    }

    @Test("a city with no gazetteer: the hire is recorded with a warning on stderr")
    func noGazetteerWarning() throws {
        let database = try TestDatabase.create()
        let dossier = CommandRunner(database: database)
        let result = try dossier.run(["record", "-"], input: Self.hire("W-1"))
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("warning: no-gazetteer: 上海 has no gazetteer: places not checked; record its places (dossier places) or import with --create-places"), "\(result.stderr)")
    }

    @Test("--jurisdiction and roster --district take a unique bare district name; an ambiguous or unknown one exits 1 naming it")
    func bareDistrictNames() throws {
        let database = try TestDatabase.create()
        let dossier = CommandRunner(database: database)
        let extra = [
            Self.place("city", "苏州"), Self.place("district", "黄浦区", within: "苏州"),
            Self.place("street", "五里桥街道", within: "苏州/黄浦区"), Self.place("community", "桥二居民区", within: "苏州/黄浦区/五里桥街道"),
        ]
        #expect(try dossier.run(["record", "-"], input: (Self.gazetteer + extra).joined(separator: "\n")).status == 0)
        #expect(try dossier.run(["record", "-"], input: [Self.hire("W-1"), Self.hire("W-2", district: "静安区", street: "江宁路街道")].joined(separator: "\n")).status == 0)
        let quota = try dossier.run(["quota", "--jurisdiction", "静安区", "--as-of", "2016-01-01", "--json"])
        #expect(quota.status == 0, "\(quota.stderr)")
        #expect(quota.stdout.contains("上海/静安区"), "\(quota.stdout)")
        let ambiguous = try dossier.run(["quota", "--jurisdiction", "黄浦区", "--as-of", "2016-01-01"])
        #expect(ambiguous.status == 1)
        #expect(ambiguous.stderr.contains("--jurisdiction: 黄浦区 is a district of more than one city (上海/黄浦区, 苏州/黄浦区)"), "\(ambiguous.stderr)")
        let unknown = try dossier.run(["quota", "--jurisdiction", "黄埔区", "--as-of", "2016-01-01"])
        #expect(unknown.status == 1)
        #expect(unknown.stderr.contains("黄埔区") && unknown.stderr.contains("did you mean 黄浦区?"), "\(unknown.stderr)")
        let nothing = try dossier.run(["quota", "--jurisdiction", "朝阳区", "--as-of", "2016-01-01"])
        #expect(nothing.status == 1 && nothing.stderr.contains("朝阳区"), "\(nothing.stderr)")
        let roster = try dossier.run(["roster", "--district", "静安区", "--as-of", "2016-01-01", "--json"])
        #expect(roster.status == 0, "\(roster.stderr)")
        #expect(roster.stdout.contains("W-2") && !roster.stdout.contains("W-1"), "\(roster.stdout)")
        let rosterAmbiguous = try dossier.run(["roster", "--district", "黄浦区", "--as-of", "2016-01-01"])
        #expect(rosterAmbiguous.status == 1 && rosterAmbiguous.stderr.contains("--district: 黄浦区 is a district of more than one city"), "\(rosterAmbiguous.stderr)")
    }

    @Test("import --create-places: a city with no gazetteer gets its places from the file's placements, listed, in the same import")
    func importCreatesPlaces() throws {
        let database = try TestDatabase.create()
        let dossier = CommandRunner(database: database)
        let file = FileManager.default.temporaryDirectory.appending(path: "places-\(UUID().uuidString).jsonl").path
        let lines = [
            Self.hire("W-1", effective: "2012-05-01"), Self.hire("W-2", community: "桥三居民区", effective: "2011-01-01"),
            Self.hire("W-3", district: "静安区", street: "江宁路街道", effective: "2013-01-01"),
        ]
        try lines.joined(separator: "\n").write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        let imported = try dossier.run(["import", file, "--create-places"])
        #expect(imported.status == 0, "\(imported.stderr)")
        #expect(imported.stdout.contains("created 8 places"), "\(imported.stdout)")
        for path in ["上海", "上海/黄浦区", "上海/黄浦区/五里桥街道", "上海/黄浦区/五里桥街道/桥三居民区", "上海/静安区/江宁路街道/桥二居民区"] {
            #expect(imported.stdout.contains("  \(path)\n"), "\(path): \(imported.stdout)")
        }
        #expect(imported.stdout.contains("imported 11 decisions"), "\(imported.stdout)")
        // Each place from its earliest use: 黄浦区 from 2011-01-01 (W-2), 桥二居民区 of 黄浦区 from 2012-05-01.
        let places = try dossier.run(["places", "--json", "--as-of", "2011-06-01"])
        #expect(places.stdout.contains("上海/黄浦区/五里桥街道/桥三居民区") && !places.stdout.contains("上海/黄浦区/五里桥街道/桥二居民区"), "\(places.stdout)")
        // From now on the city is checked.
        let misspelt = try dossier.run(["record", "-"], input: Self.hire("W-4", district: "黄埔区"))
        #expect(misspelt.status == 1 && misspelt.stderr.contains("did you mean 黄浦区?"), "\(misspelt.stderr)")
        // Without the flag, an import into a city without gazetteer warns once.
        let other = FileManager.default.temporaryDirectory.appending(path: "places-\(UUID().uuidString).jsonl").path
        try [Self.hire("B-1", city: "北京"), Self.hire("B-2", city: "北京")].joined(separator: "\n").write(toFile: other, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: other) }
        let warned = try dossier.run(["import", other])
        #expect(warned.status == 0, "\(warned.stderr)")
        #expect(warned.stderr.components(separatedBy: "北京 has no gazetteer").count == 2, "\(warned.stderr)")
    }

    @Test("hr scope: a district clerk records its own district's streets, not another district's nor a district (exit 1, nothing written)")
    func hrScope() throws {
        let database = try TestDatabase.create()
        let dossier = CommandRunner(database: database)
        #expect(try dossier.run(["record", "-"], input: Self.gazetteer.joined(separator: "\n")).status == 0)
        let clerk = TestDatabase.uniqueName("placeclerk")
        #expect(try dossier.run(["user", "add", clerk, "--role", "hr", "--jurisdiction", "上海/黄浦区", "--password-stdin"], input: TestDatabase.password + "\n").status == 0)
        let asClerk = CommandRunner(
            database: DatabaseConfiguration(
                connectionString: try TestDatabase.connectionString(database: TestDatabase.name(of: database), user: clerk)
                    + " password='\(TestDatabase.password)'"))
        let own = try asClerk.run(["record", "-"], input: Self.place("street", "外滩街道", within: "上海/黄浦区"))
        #expect(own.status == 0, "\(own.stderr)")
        let before = try events(database)
        for decision in [Self.place("street", "石门二路街道", within: "上海/静安区"), Self.place("district", "徐汇区", within: "上海")] {
            let refused = try asClerk.run(["record", "-"], input: decision)
            #expect(refused.status == 1 && refused.stderr.contains("outside the scopes of \(clerk)"), "\(refused.stderr)")
        }
        #expect(try events(database) == before)
    }
}
