@testable import DossierStore
import DossierDomain
import DossierTestSupport
import Foundation
import PostgresClient
import Testing

/// Quotas and headcounts on any date as known at any time: `dossier_read.quota_as_of`,
/// `headcount_by_year` and the other `*_as_of` functions auditors call from psql, which the
/// `quota` and `report headcount` commands read.
@Suite("Reports as of a date, as known at a time")
struct ReportsAsOfTests {
    /// 黄浦区: 1,500 residents (2010) then 3,000 (2016, effective 2016-06-01, recorded late);
    /// 上海 sets 20 per 10,000 from 2017; 徐汇区 has no figure.
    struct City {
        var s: Scenario
        var beforeSecondFigure: Timestamp

        init() async throws {
            s = try Scenario()
            try await s.record("population", "上海/黄浦区", "2010-01-01", ["year": .integer(2010), "urbanPopulation": .integer(1500)])
            try await s.hire("W1", "2015-03-01")
            try await s.hire("W2", "2015-06-01")
            try await s.hire("W3", "2016-01-01", override: "over quota with the district's approval")
            let xuhui = try await s.hire("W4", "2016-02-01", district: "徐汇区")
            beforeSecondFigure = xuhui.recordedAt
            try await s.record("population", "上海/黄浦区", "2016-06-01", ["year": .integer(2016), "urbanPopulation": .integer(3000)])
            try await s.record("policy", "上海", "2017-01-01", ["parameters": .object(JSONObject([("quotaPerTenThousand", .integer(20))]))])
            try await s.record("dismissal", "W2", "2017-03-01", ["grounds": .string("考核不合格")])
        }
    }

    @Test("quota on a date as known at a time: headcount, ratio per 10,000, quota, gap and standing")
    func quotaAsOf() async throws {
        let city = try await City()
        let reads = ReadModel(city.s.configuration)
        func line(_ jurisdiction: String, _ date: String, knownAt: Timestamp? = nil) async throws -> ReadModel.QuotaLine? {
            try await reads.quota(jurisdiction: jurisdiction, asOf: CalendarDate(date)!, knownAt: knownAt).first
        }
        // 2015-12-31: two workers, 1,500 residents at 18 per 10,000: quota 2, at it.
        let end2015 = try #require(try await line("上海/黄浦区", "2015-12-31"))
        #expect(end2015.headcount == 2 && end2015.quota == 2 && end2015.gap == 0)
        #expect(end2015.ratio == "13.33" && end2015.standing == .at && end2015.year == 2010)
        // 2016-03-01: three (one over, by override) — over the ceiling.
        let march2016 = try #require(try await line("上海/黄浦区", "2016-03-01"))
        #expect(march2016.headcount == 3 && march2016.gap == -1 && march2016.standing == .over && march2016.ratio == "20.00")
        // 2016-12-31 as known now: the 2016 figure (3,000) gives 5; a shortfall of 2.
        let end2016 = try #require(try await line("上海/黄浦区", "2016-12-31"))
        #expect(end2016.quota == 5 && end2016.gap == 2 && end2016.standing == .below && end2016.urbanPopulation == 3000)
        #expect(end2016.ratio == "10.00")
        // …and as known before the figure was recorded: the 2010 figure, over quota.
        let end2016Then = try #require(try await line("上海/黄浦区", "2016-12-31", knownAt: city.beforeSecondFigure))
        #expect(end2016Then.quota == 2 && end2016Then.headcount == 3 && end2016Then.standing == .over && end2016Then.year == 2010)
        // 2017: the city's 20 per 10,000 applies to its district; W2 dismissed in March.
        let end2017 = try #require(try await line("上海/黄浦区", "2017-12-31"))
        #expect(end2017.perTenThousand == 20 && end2017.quota == 6 && end2017.headcount == 2 && end2017.gap == 4)
        // A district with no figure is unknown, not compliant; so is the city without its own figure.
        let xuhui = try #require(try await line("上海/徐汇区", "2017-12-31"))
        #expect(xuhui.standing == .noFigure && xuhui.quota == nil && xuhui.ratio == nil && xuhui.headcount == 1)
        #expect(xuhui.json["compliant"] == .null && xuhui.json["standing"] == .string("no-figure"))
        let shanghai = try #require(try await line("上海", "2017-12-31"))
        #expect(shanghai.headcount == 3 && shanghai.standing == .noFigure)
        // Before any worker and any figure: nothing.
        #expect(try await reads.quota(asOf: CalendarDate("2009-06-01")!).isEmpty)
        // An unknown jurisdiction is refused, not answered with nothing.
        await #expect(throws: ReadModel.UnknownJurisdiction.self) { _ = try await line("上海/黄埔区", "2017-12-31") }
        await #expect(throws: ReadModel.UnknownJurisdiction.self) { _ = try await line("上海/黄浦区/x", "2017-12-31") }
    }

    @Test("the SQL's figures in force agree with the rules engine's on every date and knowledge time")
    func agreesWithTheRules() async throws {
        let city = try await City()
        let admin = try adminConnection(city.s.configuration)
        let references = try ReferenceEvents.read(admin)
        let times: [Timestamp?] = [nil] + references.events.map(\.recordedAt)
        var date = CalendarDate("2009-12-01")!
        var checked = 0
        while date <= CalendarDate("2018-02-01")! {
            for time in times {
                let figures = try Self.figuresInForce(admin, references, on: date, knownAt: time)
                #expect(figures.sql == figures.rules, "on \(date) as known at \(time.map { "\($0)" } ?? "now")")
                checked += 1
            }
            date = date.adding(days: 45)!
        }
        #expect(checked > 100)
    }

    /// The population figures and ratios in force on `date` as known at `time`, by
    /// jurisdiction ([year, population, ratio]): from `dossier_read.population_in_force` and
    /// from the rules engine's books (PopulationBook, PolicyBook).
    static func figuresInForce(
        _ admin: PostgresConnection, _ references: ReferenceEvents, on date: CalendarDate, knownAt time: Timestamp?
    ) throws -> (sql: [String: [Int]], rules: [String: [Int]]) {
        let context = references.context(knownAt: time)
        var sql: [String: [Int]] = [:]
        for row in try admin.query(
            """
            SELECT jurisdiction, year, urban_population, per_ten_thousand
              FROM dossier_read.population_in_force(\(PostgresDate(date)), \(time.map(PostgresTimestamp.init))::timestamptz)
            """
        ).rows {
            sql[try row.decode(String.self, at: 0)] = [
                Int(try row.decode(Int32.self, at: 1)), Int(try row.decode(Int32.self, at: 2)), Int(try row.decode(Int32.self, at: 3)),
            ]
        }
        var rules: [String: [Int]] = [:]
        for jurisdiction in context.population.jurisdictions {
            guard let (year, population) = context.population.urbanPopulation(of: jurisdiction, on: date) else { continue }
            let parts = jurisdiction.split(separator: "/").map(String.init)
            let ratio = context.policy.parameters(city: parts[0], district: parts.count > 1 ? parts[1] : nil, on: date).quotaPerTenThousand
            rules[jurisdiction] = [year, population, ratio]
        }
        return (sql, rules)
    }

    @Test("year-end headcounts by district and by street, as known at a time, and the as-of views for auditors")
    func headcountByYear() async throws {
        let city = try await City()
        let reads = ReadModel(city.s.configuration)
        let lines = try await reads.headcount(from: 2014, to: 2017, by: .district)
        func find(_ year: Int, _ jurisdiction: String) -> ReadModel.HeadcountLine? {
            lines.first { $0.year == year && $0.jurisdiction == jurisdiction }
        }
        #expect(find(2014, "上海/黄浦区")?.headcount == 0 && find(2014, "上海/黄浦区")?.standing == "below")
        #expect(find(2015, "上海/黄浦区")?.headcount == 2 && find(2015, "上海/黄浦区")?.ratio == "13.33")
        #expect(find(2016, "上海/黄浦区")?.gap == 2 && find(2016, "上海/徐汇区")?.standing == "no-figure")
        #expect(find(2017, "上海")?.headcount == 3)
        let then = try await reads.headcount(from: 2016, to: 2016, by: .district, knownAt: city.beforeSecondFigure)
        #expect(then.first { $0.jurisdiction == "上海/黄浦区" }?.standing == "over")
        let streets = try await reads.headcount(from: 2017, to: 2017, by: .street, jurisdiction: "上海/黄浦区")
        #expect(streets.map(\.jurisdiction) == ["上海/黄浦区/五里桥街道"] && streets.first?.headcount == 2)
        #expect(streets.first?.quota == nil && streets.first?.standing == nil)

        // An auditor calls the functions from psql: every one answers, none may change anything.
        let reader = try connection(city.s.configuration, user: TestDatabase.readerUser)
        try reader.execute("SET ROLE dossier_reader")
        #expect(try reader.query("SELECT count(*) FROM dossier_read.roster_as_of('2015-12-31')").scalar(Int64.self) == 2)
        #expect(try reader.query("SELECT count(*) FROM dossier_read.roster_as_of('2016-12-31', \(PostgresTimestamp(city.beforeSecondFigure)))").scalar(Int64.self) == 4)
        #expect(try reader.query("SELECT status FROM dossier_read.workers_as_of('2017-06-01') WHERE worker = 'W2'").scalar(String.self) == "exited")
        for call in [
            "dossier_read.level_up_candidates_as_of('2017-01-01')", "dossier_read.public_institution_candidates_as_of('2017-01-01')",
            "dossier_read.exit_review_cases_as_of('2017-01-01')", "dossier_read.open_assignments_as_of('2017-01-01')",
            "dossier_read.quota_as_of('2017-01-01', now())", "dossier_read.headcount_by_year(2010, 2012, 'street')",
        ] {
            #expect(throws: Never.self) { try reader.query("SELECT * FROM \(fragment: PostgresQuery(unsafeSQL: call))") }
        }
        let wrong = #expect(throws: PostgresError.self) { try reader.query("SELECT * FROM dossier_read.headcount_by_year(2017, 2015)") }
        #expect(wrong?.sqlState?.code == "22023")
        let by = #expect(throws: PostgresError.self) { try reader.query("SELECT * FROM dossier_read.headcount_by_year(2015, 2017, 'street; DROP TABLE x')") }
        #expect(by?.sqlState?.code == "22023")
        // A rebuild swaps the tables under the functions: they still answer, the same.
        let session = PostgresSession.open(city.s.configuration, role: .person)
        _ = try await session.run { try Projector.rebuild($0) }
        #expect(try await reads.headcount(from: 2014, to: 2017, by: .district) == lines)
        // The functions are the ledger's: a reader cannot replace them.
        let replace = #expect(throws: PostgresError.self) {
            try reader.execute("CREATE OR REPLACE FUNCTION dossier_read.quota_as_of(date, timestamptz) RETURNS SETOF int LANGUAGE sql AS 'SELECT 1'")
        }
        #expect(replace != nil)
    }
}
