import DossierDomain
import DossierStore
import DossierTestSupport
import Foundation
import PostgresClient
import Testing

extension Scenario {
    /// Records a place decision (a fresh reference each time).
    @discardableResult
    mutating func place(
        _ kind: String, _ name: String, within: String? = nil, _ effective: String = "2000-01-01", action: String = "establish",
        extra: [String: JSONValue] = [:], on ledger: Ledger? = nil
    ) async throws -> Ledger.Recorded {
        try await (ledger ?? self.ledger).record(placeDecision(kind, name, within: within, effective, action: action, extra: extra))
    }

    mutating func placeDecision(_ kind: String, _ name: String, within: String? = nil, _ effective: String = "2000-01-01", action: String = "establish", extra: [String: JSONValue] = [:]) throws -> Decision {
        counter += 1
        var object = JSONObject([
            ("decision", .string("place")), ("action", .string(action)), ("kind", .string(kind)), ("name", .string(name)),
            ("effective", .string(effective)), ("authority", .string("上海市人民政府")), ("reference", .string("地名-\(counter)")),
        ])
        if let within { object["within"] = .string(within) }
        for (key, value) in extra { object[key] = value }
        return try DecisionCodec.decode(.object(object))
    }

    /// 上海 > 黄浦区 > 五里桥街道 > 桥二居民区, 桥三居民区; 上海 > 徐汇区 > 田林街道 > 田林一居民区 (from 2000).
    mutating func gazetteer() async throws {
        try await place("city", "上海")
        try await place("district", "黄浦区", within: "上海")
        try await place("district", "徐汇区", within: "上海")
        try await place("street", "五里桥街道", within: "上海/黄浦区")
        try await place("street", "田林街道", within: "上海/徐汇区")
        try await place("community", "桥二居民区", within: "上海/黄浦区/五里桥街道")
        try await place("community", "桥三居民区", within: "上海/黄浦区/五里桥街道")
        try await place("community", "田林一居民区", within: "上海/徐汇区/田林街道")
    }

    /// Expects a place decision refused under `rule` with nothing written.
    mutating func refusePlace(_ rule: Rule, _ decision: Decision, message: String, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let before = try eventCount()
        do {
            _ = try await ledger.record(decision)
            Issue.record("expected a refusal under \(rule.rawValue)", sourceLocation: sourceLocation)
        } catch LedgerError.refused(_, let violations) {
            #expect(violations.contains { $0.rule == rule && $0.message.contains(message) }, "got \(violations)", sourceLocation: sourceLocation)
        }
        #expect(try eventCount() == before, sourceLocation: sourceLocation)
    }
}

@Suite("Places: the gazetteer through the ledger")
struct PlaceTests {
    static func hire(district: String = "黄浦区", street: String = "五里桥街道", community: String = "桥二居民区", city: String = "上海") -> [String: JSONValue] {
        var fields = Scenario.hireFields(district: district, community: community)
        fields["street"] = .string(street)
        fields["city"] = .string(city)
        return fields
    }

    @Test("unknown-place: a misspelt district is refused with did-you-mean, even with an override; nothing written")
    func misspeltDistrict() async throws {
        var s = try Scenario()
        try await s.gazetteer()
        try await s.refuse(
            .unknownPlace, "hire", "W1", "2026-11-03", Self.hire(district: "黄埔区"),
            message: "黄埔区: no such district in 上海 on 2026-11-03; did you mean 黄浦区?")
        try await s.refuse(.unknownPlace, "hire", "W1", "2026-11-03", Self.hire(district: "黄埔区"), override: "区里同意")
        #expect(Rule.unknownPlace.isStructural)
        let recorded = try await s.record("hire", "W1", "2026-11-03", Self.hire())
        #expect(!recorded.warnings.contains { $0.rule == .noGazetteer })
    }

    @Test("unknown-place: a community that exists in another district is refused, naming where it lies")
    func communityOfAnotherDistrict() async throws {
        var s = try Scenario()
        try await s.gazetteer()
        try await s.refuse(
            .unknownPlace, "hire", "W1", "2010-01-01", Self.hire(district: "徐汇区", street: "田林街道", community: "桥二居民区"),
            message: "桥二居民区: no such community in 上海/徐汇区/田林街道 on 2010-01-01")
        try await s.refuse(
            .unknownPlace, "hire", "W1", "2010-01-01", Self.hire(district: "徐汇区", street: "田林街道", community: "桥二居民区"),
            message: "a community 桥二居民区 lies in 上海/黄浦区/五里桥街道")
        // A transfer is checked the same way (the city comes from the record).
        try await s.record("hire", "W1", "2010-01-01", Self.hire())
        try await s.refuse(
            .unknownPlace, "transfer", "W1", "2011-01-01",
            ["community": .string("田林二居民区"), "street": .string("田林街道"), "district": .string("徐汇区")],
            message: "田林二居民区: no such community in 上海/徐汇区/田林街道 on 2011-01-01; did you mean 田林一居民区?")
        try await s.record("transfer", "W1", "2011-01-01", ["community": .string("田林一居民区"), "street": .string("田林街道"), "district": .string("徐汇区")])
    }

    @Test("unknown-place: places exist from their effective date; rename, merge and abolish change what may be named")
    func effectiveDates() async throws {
        var s = try Scenario()
        try await s.gazetteer()
        try await s.place("community", "桥新居民区", within: "上海/黄浦区/五里桥街道", "2012-01-01")
        try await s.refuse(.unknownPlace, "hire", "W1", "2011-12-31", Self.hire(community: "桥新居民区"), message: "is established from 2012-01-01")
        try await s.record("hire", "W1", "2012-01-01", Self.hire(community: "桥新居民区"))
        // Rename: the old name is unknown from its date, with the new one named.
        try await s.place("community", "桥三居民区", within: "上海/黄浦区/五里桥街道", "2015-01-01", action: "rename", extra: ["newName": .string("桥东居民区")])
        try await s.refuse(.unknownPlace, "hire", "W2", "2015-02-01", Self.hire(community: "桥三居民区"), message: "was renamed 桥东居民区")
        try await s.record("hire", "W2", "2015-02-01", Self.hire(community: "桥东居民区"))
        // Merge: the merged community is gone from its date.
        try await s.place(
            "community", "桥新居民区", within: "上海/黄浦区/五里桥街道", "2016-01-01", action: "merge",
            extra: ["into": .string("上海/黄浦区/五里桥街道/桥二居民区")])
        try await s.refuse(.unknownPlace, "hire", "W3", "2016-02-01", Self.hire(community: "桥新居民区"), message: "was merged into 上海/黄浦区/五里桥街道/桥二居民区 on 2016-01-01")
        // Abolish.
        try await s.place("community", "桥东居民区", within: "上海/黄浦区/五里桥街道", "2017-01-01", action: "abolish")
        try await s.refuse(.unknownPlace, "hire", "W3", "2017-02-01", Self.hire(community: "桥东居民区"), message: "was abolished on 2017-01-01")
    }

    @Test("place-change: parent missing, name taken, no such place, merge of another kind, abolish with what lies in it; nothing written")
    func placeDecisionsValidated() async throws {
        var s = try Scenario()
        try await s.gazetteer()
        try await s.refusePlace(.placeChange, try s.placeDecision("street", "新街道", within: "上海/黄埔区"), message: "did you mean 黄浦区?")
        try await s.refusePlace(.placeChange, try s.placeDecision("street", "新街道", within: "上海/黄浦区", "1999-01-01"), message: "上海: no such city on 1999-01-01")
        try await s.refusePlace(.placeChange, try s.placeDecision("community", "桥二居民区", within: "上海/黄浦区/五里桥街道"), message: "exists")
        try await s.refusePlace(
            .placeChange, try s.placeDecision("community", "桥九居民区", within: "上海/黄浦区/五里桥街道", "2010-01-01", action: "abolish"),
            message: "abolish of 桥九居民区: no such community")
        try await s.refusePlace(
            .placeChange,
            try s.placeDecision("community", "桥二居民区", within: "上海/黄浦区/五里桥街道", "2010-01-01", action: "merge", extra: ["into": .string("上海/黄浦区/五里桥街道/桥九居民区")]),
            message: "into: 桥九居民区: no such community")
        try await s.refusePlace(.placeChange, try s.placeDecision("street", "五里桥街道", within: "上海/黄浦区", "2010-01-01", action: "abolish"), message: "abolish or merge them first")
        #expect(Rule.placeChange.isStructural)
    }

    @Test("no-gazetteer: a city with no place established is not checked; the hire is recorded with a warning")
    func cityWithoutGazetteer() async throws {
        var s = try Scenario()
        let recorded = try await s.hire()
        // (No population figure either: the quota's warning is left aside.)
        func places(_ recorded: Ledger.Recorded) -> [RuleViolation] { recorded.warnings.filter { $0.rule != .quota } }
        #expect(places(recorded).map(\.rule) == [.noGazetteer])
        #expect(places(recorded).first?.message.contains("上海 has no gazetteer: places not checked") == true)
        // Another city's gazetteer does not make this one checked.
        try await s.place("city", "北京")
        let second = try await s.hire("W2", district: "黄埔区")
        #expect(places(second).map(\.rule) == [.noGazetteer])
        // Once 上海 is established, every placement in it is checked.
        try await s.place("city", "上海")
        try await s.refuse(.unknownPlace, "hire", "W3", "2010-03-01", Scenario.hireFields(), message: "黄浦区: no such district in 上海")
    }

    @Test("unknown-place: population and policy decisions name districts that exist; temporary posts name their street, district and city")
    func populationPolicyAndTemporaryPosts() async throws {
        var s = try Scenario()
        try await s.gazetteer()
        try await s.refuse(.unknownPlace, "population", "上海/黄埔区", "2020-01-01", ["year": .integer(2020), "urbanPopulation": .integer(5000)], message: "did you mean 黄浦区?")
        try await s.record("population", "上海/黄浦区", "2020-01-01", ["year": .integer(2020), "urbanPopulation": .integer(5000)])
        try await s.refuse(.unknownPlace, "policy", "上海/黄埔区", "2020-01-01", ["parameters": .object(JSONObject([("maxLevel", .integer(15))]))], message: "did you mean 黄浦区?")
        func post(_ fields: [String: JSONValue]) -> [String: JSONValue] {
            var object: [String: JSONValue] = [
                "name": .string("李雷"), "homeAgency": .string("黄浦区民政局"), "role": .string("first-secretary"), "until": .string("2021-06-01"),
                "kind": .string("cadre"),
            ]
            for (key, value) in fields { object[key] = value }
            return object
        }
        try await s.refuse(
            .unknownPlace, "temporary-post", "C1", "2020-06-01",
            post(["community": .string("桥二居民区"), "street": .string("田林街道"), "district": .string("徐汇区"), "city": .string("上海")]),
            message: "桥二居民区: no such community in 上海/徐汇区/田林街道")
        try await s.refuse(.unknownPlace, "temporary-post", "C1", "2020-06-01", post(["community": .string("桥二居民区"), "city": .string("上海")]), message: "names the community's street and district")
        try await s.record(
            "temporary-post", "C1", "2020-06-01",
            post(["community": .string("桥二居民区"), "street": .string("五里桥街道"), "district": .string("黄浦区"), "city": .string("上海")]))
        // An old-style temporary post (community only) is still recorded, with a warning.
        let old = try await s.record("temporary-post", "C2", "2020-06-01", post(["community": .string("桥二居民区")]))
        #expect(old.warnings.map(\.rule) == [.noGazetteer])
    }

    @Test("a merge moves the merged community's workers in the roster from its date; a district merge moves them in the quota; nobody's history is rewritten")
    func mergeInProjections() async throws {
        var s = try Scenario()
        try await s.gazetteer()
        try await s.record("hire", "W1", "2010-01-01", Self.hire(community: "桥三居民区"))
        try await s.record("hire", "W2", "2010-01-01", Self.hire(community: "桥二居民区"))
        try await s.record("hire", "W3", "2010-01-01", Self.hire(district: "徐汇区", street: "田林街道", community: "田林一居民区"))
        try await s.place(
            "community", "桥三居民区", within: "上海/黄浦区/五里桥街道", "2015-01-01", action: "merge",
            extra: ["into": .string("上海/黄浦区/五里桥街道/桥二居民区")])
        let model = ReadModel(s.configuration)
        let before = try await model.roster(place: ReadModel.Place(community: "桥三居民区"), asOf: CalendarDate("2014-12-31")!)
        #expect(before.map(\.worker) == ["W1"])
        let after = try await model.roster(place: ReadModel.Place(community: "桥二居民区"), asOf: CalendarDate("2015-01-01")!)
        #expect(after.map(\.worker) == ["W1", "W2"])
        #expect(try await model.roster(place: ReadModel.Place(community: "桥三居民区"), asOf: CalendarDate("2015-01-01")!).isEmpty)
        // The record itself still says where W1 was hired.
        #expect(try await s.show("W1").state.placement?.community == "桥三居民区")
        // A district merge: 徐汇区's workers count in 黄浦区's headcount from its date.
        try await s.place("district", "徐汇区", within: "上海", "2018-01-01", action: "merge", extra: ["into": .string("上海/黄浦区")])
        let quota2017 = try await model.quota(asOf: CalendarDate("2017-12-31")!)
        #expect(quota2017.first { $0.jurisdiction == "上海/黄浦区" }?.headcount == 2)
        let quota2018 = try await model.quota(asOf: CalendarDate("2018-01-01")!)
        #expect(quota2018.first { $0.jurisdiction == "上海/黄浦区" }?.headcount == 3)
        #expect(quota2018.first { $0.jurisdiction == "上海/徐汇区" } == nil)
        let roster = try await model.roster(place: ReadModel.Place(city: "上海", district: "黄浦区"), asOf: CalendarDate("2018-06-01")!)
        #expect(roster.map(\.worker) == ["W1", "W2", "W3"])
        // A rename shows the new name from its date.
        try await s.place("street", "五里桥街道", within: "上海/黄浦区", "2019-01-01", action: "rename", extra: ["newName": .string("五里桥新街道")])
        let renamed = try await model.roster(place: ReadModel.Place(street: "五里桥新街道"), asOf: CalendarDate("2019-01-01")!)
        #expect(renamed.map(\.worker) == ["W1", "W2"])
    }

    @Test("a rescinded place decision is out of the gazetteer, and a rescinded merge moves nobody (the lead's jurisdiction rescissions)")
    func rescindedPlaces() async throws {
        var s = try Scenario()
        try await s.gazetteer()
        let extra = try await s.place("community", "桥新居民区", within: "上海/黄浦区/五里桥街道", "2012-01-01")
        try await s.record("hire", "W1", "2010-01-01", Self.hire(community: "桥三居民区"))
        let merge = try await s.place(
            "community", "桥三居民区", within: "上海/黄浦区/五里桥街道", "2015-01-01", action: "merge",
            extra: ["into": .string("上海/黄浦区/五里桥街道/桥二居民区")])
        let model = ReadModel(s.configuration)
        #expect(try await model.roster(place: ReadModel.Place(community: "桥二居民区"), asOf: CalendarDate("2016-01-01")!).map(\.worker) == ["W1"])
        for (target, reference) in [(extra.eventID, "RS-1"), (merge.eventID, "RS-2")] {
            let rescission = try DecisionCodec.decode(.object(JSONObject([
                ("decision", .string("rescission")), ("jurisdiction", .string("上海/黄浦区")), ("rescinds", target.json),
                ("grounds", .string("记录有误")), ("effective", .string("2020-01-01")), ("authority", .string("黄浦区人民政府")),
                ("reference", .string(reference)),
            ])))
            _ = try await s.ledger.record(rescission)
        }
        try await s.refuse(.unknownPlace, "hire", "W2", "2013-01-01", Self.hire(community: "桥新居民区"), message: "桥新居民区: no such community")
        try await s.record("hire", "W2", "2016-01-01", Self.hire(community: "桥三居民区"))
        #expect(try await model.roster(place: ReadModel.Place(community: "桥三居民区"), asOf: CalendarDate("2016-01-01")!).map(\.worker) == ["W1", "W2"])
    }

    @Test("quota at record time counts a merged district's workers in the district it merged into, from the merge on")
    func quotaAfterDistrictMerge() async throws {
        var s = try Scenario()
        try await s.gazetteer()
        // 1,112 residents: 18 × 1112 / 10000 = 2 workers.
        try await s.record("population", "上海/黄浦区", "2010-01-01", ["year": .integer(2010), "urbanPopulation": .integer(1112)])
        try await s.record("hire", "W1", "2010-01-01", Self.hire())
        try await s.record("hire", "W2", "2010-01-01", Self.hire(district: "徐汇区", street: "田林街道", community: "田林一居民区"))
        try await s.place("district", "徐汇区", within: "上海", "2015-01-01", action: "merge", extra: ["into": .string("上海/黄浦区")])
        // Before the merge 黄浦区 has room for one more; from it on, W2 counts there too.
        try await s.refuse(.quota, "hire", "W3", "2016-01-01", Self.hire(), message: "this would make 3 on 2016-01-01")
        try await s.refuse(.quota, "hire", "W3", "2012-01-01", Self.hire(), message: "this would make 3 on 2015-01-01")
    }

    @Test("hr scope of a temporary post: the district it names, so the same community name in another district does not stand in the way")
    func temporaryPostScope() async throws {
        let p = try People3()
        var s = p.scenario
        try await s.gazetteer()
        try await s.place("community", "桥二居民区", within: "上海/徐汇区/田林街道")
        try await s.record("hire", "W1", "2010-01-01", Self.hire())
        try await s.record("hire", "W2", "2010-01-01", Self.hire(district: "徐汇区", street: "田林街道"))
        let clerk = try p.add("hptemp", .hr, ["上海/黄浦区"])
        let ledger = Ledger(try p.configuration(as: clerk))
        func post(_ cadre: String, _ district: String?, street: String) throws -> Decision {
            var object = JSONObject([
                ("decision", .string("temporary-post")), ("worker", .string(cadre)), ("name", .string("李雷")),
                ("homeAgency", .string("区民政局")), ("community", .string("桥二居民区")), ("role", .string("first-secretary")),
                ("until", .string("2021-06-01")), ("kind", .string("cadre")), ("effective", .string("2020-06-01")),
                ("authority", .string("区委组织部")), ("reference", .string("ZP-\(cadre)")),
            ])
            if let district {
                object["district"] = .string(district)
                object["street"] = .string(street)
                object["city"] = .string("上海")
            }
            return try DecisionCodec.decode(.object(object))
        }
        _ = try await ledger.record(try post("C1", "黄浦区", street: "五里桥街道"))
        let before = try p.snapshot()
        await #expect(throws: StoreError.self) { try await ledger.record(try post("C2", "徐汇区", street: "田林街道")) }
        // Without its district (as recorded before the gazetteer), the community name alone
        // lies in both districts: outside the clerk's scope, as before.
        await #expect(throws: StoreError.self) { try await ledger.record(try post("C3", nil, street: "")) }
        #expect(try p.snapshot() == before)
    }

    @Test("hr scope: a district clerk records its own streets and communities, not another district's nor districts; refused by the database too")
    func hrScope() async throws {
        let p = try People3()
        var s = p.scenario
        try await s.gazetteer()
        let clerk = try p.add("hpplaces", .hr, ["上海/黄浦区"])
        let ledger = Ledger(try p.configuration(as: clerk))
        _ = try await s.place("street", "外滩街道", within: "上海/黄浦区", on: ledger)
        _ = try await s.place("community", "外滩一居民区", within: "上海/黄浦区/外滩街道", on: ledger)
        let before = try p.snapshot()
        for decision in [
            try s.placeDecision("street", "新田林街道", within: "上海/徐汇区"),
            try s.placeDecision("district", "新区", within: "上海"),
        ] {
            let error = await #expect(throws: StoreError.self) { try await ledger.record(decision) }
            #expect(error?.description.contains(clerk) == true, "\(String(describing: error))")
        }
        #expect(try p.snapshot() == before)
        // From psql: an append to another district's stream, a place put in the clerk's own stream
        // that belongs to another district, and a raw INSERT are all refused.
        let psql = try p.connection(as: clerk)
        func append(_ stream: String, _ payload: String) -> PostgresQuery {
            """
            SELECT * FROM dossier.append_to_stream(\(stream), -1, ARRAY[gen_random_uuid()], ARRAY['place'], ARRAY[1]::smallint[],
                   ARRAY[\(payload)::jsonb], ARRAY['2020-01-01'::date], ARRAY['a'], ARRAY[gen_random_uuid()::text])
            """
        }
        for attack: PostgresQuery in [
            append("jurisdiction/上海/徐汇区", #"{"kind":"street","action":"establish","name":"x街道","within":"上海/徐汇区"}"#),
            append("jurisdiction/上海/黄浦区", #"{"kind":"street","action":"establish","name":"x街道","within":"上海/徐汇区"}"#),
            append("jurisdiction/上海/黄浦区", #"{"kind":"district","action":"establish","name":"x区","within":"上海"}"#),
            append("jurisdiction/上海/黄浦区", #"{"kind":"community","action":"merge","name":"外滩一居民区","within":"上海/黄浦区/外滩街道","into":"上海/徐汇区/田林街道/田林一居民区"}"#),
            """
            INSERT INTO dossier.events (position, stream, version, event_id, event_type, schema_version, payload, effective,
                                        recorded_at, recorded_by, authority, reference)
            VALUES (999999, 'jurisdiction/上海/徐汇区', 99, gen_random_uuid(), 'place', 1,
                    '{"kind":"street","action":"establish","name":"y街道","within":"上海/徐汇区"}', '2020-01-01', now(), 'x', 'a', 'r')
            """,
        ] {
            do {
                _ = try psql.query(attack)
                Issue.record("not refused: \(attack.sql)")
            } catch let error as PostgresError {
                #expect(error.sqlState != nil, "\(attack.sql): \(error)")
            }
            _ = try? psql.executeScript("ROLLBACK")
        }
        #expect(try p.snapshot() == before)
        // Even an admin (whom no scope limits) cannot put a place in a stream it does not belong to.
        for (payload, message) in [
            (#"{"kind":"street","action":"establish","name":"x街道","within":"上海/徐汇区"}"#, "is recorded in jurisdiction/上海/徐汇区"),
            (#"{"kind":"street","action":"merge","name":"五里桥街道","within":"上海/黄浦区","into":"上海/徐汇区/田林街道"}"#, "merges only into another street of 上海/黄浦区"),
            (#"{"kind":"street","action":"rename","name":"五里桥街道","within":"上海/黄浦区"}"#, "only a rename, gives newName"),
        ] {
            do {
                _ = try p.admin.query(append("jurisdiction/上海/黄浦区", payload))
                Issue.record("not refused: \(payload)")
            } catch let error as PostgresError {
                #expect(error.sqlState?.code == "DS011" && (error.serverMessage ?? "").contains(message), "\(error.serverMessage ?? "")")
            }
        }
        #expect(try p.snapshot() == before)
    }
}
