@testable import DossierStore
import DossierDomain
import DossierTestSupport
import Foundation
import PostgresClient
import Testing

/// Corrections and rescissions of a jurisdiction's decisions (population figures, policies),
/// carrying `jurisdiction` instead of `worker`: judged, stored in the amended decision's stream,
/// and read by the rules, the quota report and the SQL functions as of a date and as known at
/// a time.
@Suite("Corrections and rescissions of jurisdiction decisions")
struct JurisdictionAmendmentTests {
    /// A decision from JSON fields, with a fresh reference.
    static func amendment(_ kind: String, jurisdiction: String, _ effective: String, _ fields: [String: JSONValue]) throws -> Decision {
        var object = JSONObject([
            ("decision", .string(kind)), ("jurisdiction", .string(jurisdiction)), ("effective", .string(effective)),
            ("authority", .string("上海市民政局")), ("reference", .string("AM-\(UUID().uuidString.prefix(8))")),
        ])
        for (key, value) in fields { object[key] = value }
        return try DecisionCodec.decode(.object(object))
    }

    /// Expects `decision` refused under `rule`, with nothing written.
    static func refuse(_ s: Scenario, _ decision: Decision, _ rule: Rule, _ text: String, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let before = try s.eventCount()
        do {
            _ = try await s.ledger.record(decision)
            Issue.record("expected a refusal under \(rule.rawValue)", sourceLocation: sourceLocation)
        } catch LedgerError.refused(_, let violations) {
            #expect(violations.contains { $0.rule == rule && $0.message.contains(text) }, "got \(violations)", sourceLocation: sourceLocation)
        }
        #expect(try s.eventCount() == before, "a refused decision writes nothing", sourceLocation: sourceLocation)
    }

    func quota(_ s: Scenario, _ date: String, knownAt: Timestamp? = nil) async throws -> ReadModel.QuotaLine? {
        try await ReadModel(s.configuration).quota(jurisdiction: "上海/黄浦区", asOf: CalendarDate(date)!, knownAt: knownAt).first
    }

    @Test("rule correction-fields and one-stream: a population figure corrected and rescinded, read by quota, the rules and the SQL as known at each time")
    func populationCorrected() async throws {
        var s = try Scenario()
        let figure = try await s.record("population", "上海/黄浦区", "2010-01-01", ["year": .integer(2010), "urbanPopulation": .integer(1500)])
        try await s.hire("W1", "2015-03-01")
        try await s.hire("W2", "2015-06-01")
        #expect(try await quota(s, "2015-12-31")?.quota == 2)

        // The figure was 3,000: corrected in the district's own stream.
        let correction = try await s.ledger.record(
            try Self.amendment("correction", jurisdiction: "上海/黄浦区", "2026-11-02", ["corrects": figure.eventID.json, "urbanPopulation": .integer(3000)]))
        #expect(correction.decision.stream == .jurisdiction("上海/黄浦区") && !correction.duplicate)
        let stored = try adminConnection(s.configuration).query(
            "SELECT stream, payload FROM dossier.events WHERE event_id = \(correction.eventID)").rows[0]
        #expect(try stored.decode(String.self, at: 0) == "jurisdiction/上海/黄浦区")
        let now = try #require(try await quota(s, "2015-12-31"))
        #expect(now.urbanPopulation == 3000 && now.quota == 5 && now.gap == 3)
        // As known before the correction: the figure as first recorded.
        let then = try #require(try await quota(s, "2015-12-31", knownAt: figure.recordedAt))
        #expect(then.urbanPopulation == 1500 && then.quota == 2)
        // The rules judge hires with the corrected figure: three more fit (quota 5).
        try await s.hire("W3", "2016-01-01")
        try await s.hire("W4", "2016-01-01")
        try await s.hire("W5", "2016-01-01")
        try await s.refuse(.quota, "hire", "W6", "2016-01-01", Scenario.hireFields())

        // A correction that moves the figure's date: nothing in force on 2015-12-31.
        _ = try await s.ledger.record(
            try Self.amendment("correction", jurisdiction: "上海/黄浦区", "2026-11-03", ["corrects": figure.eventID.json, "correctedEffective": .string("2016-01-01")]))
        let moved = try #require(try await quota(s, "2015-12-31"))
        #expect(moved.standing == .noFigure && moved.quota == nil)
        #expect(try await quota(s, "2016-06-30")?.urbanPopulation == 3000, "the later correction keeps the earlier's figure")

        // Refusals, each with nothing written.
        try await Self.refuse(
            s, try Self.amendment("correction", jurisdiction: "上海/黄浦区", "2026-11-04", ["corrects": figure.eventID.json, "urbanPopulation": .integer(0)]),
            .correctionFields, "urbanPopulation")
        try await Self.refuse(
            s, try Self.amendment("correction", jurisdiction: "上海/黄浦区", "2026-11-04", ["corrects": figure.eventID.json, "level": .integer(3)]),
            .correctionFields, "level")
        try await Self.refuse(
            s, try Self.amendment("correction", jurisdiction: "上海/徐汇区", "2026-11-04", ["corrects": figure.eventID.json, "urbanPopulation": .integer(10)]),
            .foreignEvent, "is not a decision of 上海/徐汇区")

        // Rescinded: no figure at all, and a second rescission or a correction is refused.
        _ = try await s.ledger.record(
            try Self.amendment("rescission", jurisdiction: "上海/黄浦区", "2026-11-05", ["rescinds": figure.eventID.json, "grounds": .string("录入错误")]))
        #expect(try await quota(s, "2016-06-30")?.standing == .noFigure)
        try await Self.refuse(
            s, try Self.amendment("rescission", jurisdiction: "上海/黄浦区", "2026-11-06", ["rescinds": figure.eventID.json, "grounds": .string("again")]),
            .alreadyRescinded, "already rescinded")
        try await Self.refuse(
            s, try Self.amendment("correction", jurisdiction: "上海/黄浦区", "2026-11-06", ["corrects": figure.eventID.json, "urbanPopulation": .integer(9)]),
            .alreadyRescinded, "rescinded")
        // As known before the rescission, the corrected figure still stood.
        #expect(try await quota(s, "2016-06-30", knownAt: correction.recordedAt)?.urbanPopulation == 3000)
        try Self.sqlAgreesWithRules(s)
    }

    @Test("rule one-stream: a policy corrected in the policy stream, only by its own jurisdiction; rescinded, the ratio falls back")
    func policyCorrected() async throws {
        var s = try Scenario()
        try await s.record("population", "上海/黄浦区", "2010-01-01", ["year": .integer(2010), "urbanPopulation": .integer(10000)])
        let policy = try await s.record(
            "policy", "上海", "2017-01-01", ["parameters": .object(JSONObject([("quotaPerTenThousand", .integer(20))]))])
        #expect(try await quota(s, "2017-06-30")?.perTenThousand == 20)

        let corrected = try await s.ledger.record(
            try Self.amendment(
                "correction", jurisdiction: "上海", "2026-11-02",
                ["corrects": policy.eventID.json, "parameters": .object(JSONObject([("quotaPerTenThousand", .integer(30))]))]))
        #expect(corrected.decision.stream == .policy && corrected.decision.subject == "上海")
        let payload = try adminConnection(s.configuration).query(
            "SELECT stream, payload ->> 'jurisdiction' FROM dossier.events WHERE event_id = \(corrected.eventID)").rows[0]
        #expect(try payload.decode(String.self, at: 0) == "policy" && payload.decode(String.self, at: 1) == "上海")
        #expect(try await quota(s, "2017-06-30")?.perTenThousand == 30)
        #expect(try await quota(s, "2017-06-30", knownAt: policy.recordedAt)?.perTenThousand == 20)

        // Another jurisdiction cannot amend the city's policy; parameters keep their rules.
        try await Self.refuse(
            s, try Self.amendment(
                "correction", jurisdiction: "上海/黄浦区", "2026-11-03",
                ["corrects": policy.eventID.json, "parameters": .object(JSONObject([("quotaPerTenThousand", .integer(40))]))]),
            .foreignEvent, "is not a decision of the policy of 上海/黄浦区")
        try await Self.refuse(
            s, try Self.amendment(
                "correction", jurisdiction: "上海", "2026-11-03",
                ["corrects": policy.eventID.json, "parameters": .object(JSONObject([("maxLevel", .integer(99))]))]),
            .correctionFields, "maxLevel")
        try await Self.refuse(
            s, try Self.amendment("rescission", jurisdiction: "*", "2026-11-03", ["rescinds": policy.eventID.json, "grounds": .string("x")]),
            .foreignEvent, "the policy of *")

        _ = try await s.ledger.record(
            try Self.amendment("rescission", jurisdiction: "上海", "2026-11-04", ["rescinds": policy.eventID.json, "grounds": .string("文件作废")]))
        #expect(try await quota(s, "2017-06-30")?.perTenThousand == 18, "no policy left: the Opinions' 18 per 10,000")
        try Self.sqlAgreesWithRules(s)

        // The general policy ("*") is amended in the policy stream too.
        let general = try await s.record(
            "policy", "*", "2018-01-01", ["parameters": .object(JSONObject([("quotaPerTenThousand", .integer(15))]))])
        let fix = try await s.ledger.record(
            try Self.amendment(
                "correction", jurisdiction: "*", "2026-11-05",
                ["corrects": general.eventID.json, "parameters": .object(JSONObject([("quotaPerTenThousand", .integer(16))]))]))
        #expect(fix.decision.stream == .policy)
        #expect(try await quota(s, "2018-06-30")?.perTenThousand == 16)
        // Read back from the log, the amendment decodes to what was recorded.
        let back = try #require(try Ledger.event(fix.eventID, on: adminConnection(s.configuration)))
        #expect(back.decision.subjectKind == .policy && back.decision.subject == "*" && back.decision.stream == .policy)
    }

    @Test("rule place-change: a misspelt community corrected in its district's stream; a correction onto a sibling's name is refused")
    func placeCorrected() async throws {
        var s = try Scenario()
        try await s.gazetteer()
        let typo = try await s.place("community", "桥四居名区", within: "上海/黄浦区/五里桥街道", "2005-01-01")
        try await s.refuse(.unknownPlace, "hire", "W1", "2026-11-03", PlaceTests.hire(community: "桥四居民区"), message: "桥四居民区")
        // A correction onto the name of a community that exists beside it is refused.
        try await Self.refuse(
            s, try Self.amendment("correction", jurisdiction: "上海/黄浦区", "2026-11-03", ["corrects": typo.eventID.json, "name": .string("桥二居民区")]),
            .placeChange, "桥二居民区")
        try await Self.refuse(
            s, try Self.amendment("correction", jurisdiction: "上海/黄浦区", "2026-11-03", ["corrects": typo.eventID.json, "action": .string("abolish")]),
            .correctionFields, "action is not corrected")
        let admin = try adminConnection(s.configuration)
        let sneaked = #expect(throws: (any Error).self) {
            try EventLog.append(admin, to: .jurisdiction("上海/黄浦区"), expected: .any, events: [
                event("correction", payload: JSONObject([("corrects", typo.eventID.json), ("within", .string("上海/黄浦区/田林街道"))]), effective: "2026-11-03")
            ])
        }
        #expect("\(sneaked.map { String(describing: $0) } ?? "")".contains("are not corrected"), "\(String(describing: sneaked))")
        let fixed = try await s.ledger.record(
            try Self.amendment("correction", jurisdiction: "上海/黄浦区", "2026-11-03", ["corrects": typo.eventID.json, "name": .string("桥四居民区")]))
        #expect(fixed.decision.personal == nil, "a place's name is not personal data")
        let stored = try adminConnection(s.configuration).query(
            "SELECT payload ->> 'name' FROM dossier.events WHERE event_id = \(fixed.eventID)").scalar(String.self)
        #expect(stored == "桥四居民区")
        try await s.record("hire", "W1", "2026-11-03", PlaceTests.hire(community: "桥四居民区"))
        try await s.refuse(.unknownPlace, "hire", "W2", "2026-11-03", PlaceTests.hire(community: "桥四居名区"), message: "did you mean 桥四居民区")
    }

    @Test("a selection is answered by appeals: neither corrected nor rescinded (rule target-kind)")
    func selectionNotAmended() async throws {
        var s = try Scenario()
        try await s.hire("W1", "2015-03-01")
        let selection = try DecisionCodec.decode(.object(JSONObject([
            ("decision", .string("selection")), ("jurisdiction", .string("上海/黄浦区")), ("effective", .string("2020-06-01")),
            ("authority", .string("a")), ("reference", .string("SEL-1")), ("for", .string("post")),
            ("selected", .array([.string("W1")])), ("passedOver", .array([])), ("criteria", .string("c")),
        ])))
        let recorded = try await s.ledger.record(selection)
        try await Self.refuse(
            s, try Self.amendment("rescission", jurisdiction: "上海/黄浦区", "2026-11-03", ["rescinds": recorded.eventID.json, "grounds": .string("x")]),
            .targetKind, "appeal")
    }

    @Test("the database refuses amendments that bypass Dossier: another district's clerk, a forged policy jurisdiction, bad parameters, a selection")
    func databaseRefuses() async throws {
        let p = try People3()
        var s = p.scenario
        let figure = try await s.record("population", "上海/黄浦区", "2010-01-01", ["year": .integer(2010), "urbanPopulation": .integer(1500)])
        let policy = try await s.record(
            "policy", "上海", "2017-01-01", ["parameters": .object(JSONObject([("quotaPerTenThousand", .integer(20))]))])
        let clerk = try p.add("clerk", .hr, ["上海/徐汇区"])
        let xuhui = try p.add("xuhui", .hr, ["上海/徐汇区"])
        let before = try p.snapshot()
        // Through Dossier as the clerk: refused by the database's scope check.
        let ledger = Ledger(try p.configuration(as: clerk))
        let error = await #expect(throws: StoreError.self) {
            try await ledger.record(
                try Self.amendment("correction", jurisdiction: "上海/黄浦区", "2026-11-02", ["corrects": figure.eventID.json, "urbanPopulation": .integer(9)]))
        }
        #expect(error?.description.contains("outside the scopes of \(clerk)") == true, "\(error?.description ?? "")")
        // As the clerk's own session: the append function and a raw INSERT.
        let connection = try p.connection(as: clerk)
        let correction = JSONObject([("corrects", figure.eventID.json), ("urbanPopulation", .integer(9))])
        #expect(throws: (any Error).self) {
            try EventLog.append(connection, to: .jurisdiction("上海/黄浦区"), expected: .any, events: [event("correction", payload: correction, effective: "2026-11-02")])
        }
        #expect(throws: PostgresError.self) {
            try connection.query(
                "INSERT INTO dossier.events (position, stream, version, event_id, event_type, schema_version, payload, effective, recorded_at, recorded_by, authority, reference) VALUES (999999, 'jurisdiction/上海/黄浦区', 9, gen_random_uuid(), 'correction', 1, \(PostgresJSONB(JSONValue.object(correction).canonicalText)), '2026-11-02', now(), 'x', 'a', 'r')")
        }
        // A district clerk who forges the city policy's jurisdiction as their own district.
        let forged = JSONObject([
            ("corrects", policy.eventID.json), ("jurisdiction", .string("上海/徐汇区")),
            ("parameters", .object(JSONObject([("quotaPerTenThousand", .integer(99))]))),
        ])
        let refused = #expect(throws: (any Error).self) {
            try EventLog.append(try p.connection(as: xuhui), to: .policy, expected: .any, events: [event("correction", payload: forged, effective: "2026-11-02")])
        }
        #expect("\(refused.map { String(describing: $0) } ?? "")".contains("not that of the decision"), "\(String(describing: refused))")
        // Even an administrator's direct append must keep the rules Dossier judges by.
        func rejected(_ stream: StreamID, _ type: String, _ payload: JSONObject, _ text: String, sourceLocation: SourceLocation = #_sourceLocation) {
            let error = #expect(throws: (any Error).self, sourceLocation: sourceLocation) {
                try EventLog.append(p.admin, to: stream, expected: .any, events: [event(type, payload: payload, effective: "2026-11-02")])
            }
            #expect("\(error.map { String(describing: $0) } ?? "")".contains(text), "\(String(describing: error))", sourceLocation: sourceLocation)
        }
        rejected(.policy, "correction", JSONObject([
            ("corrects", policy.eventID.json), ("jurisdiction", .string("上海")),
            ("parameters", .object(JSONObject([("maxLevel", .integer(99))]))),
        ]), "policy parameter")
        rejected(.policy, "rescission", JSONObject([
            ("rescinds", policy.eventID.json), ("jurisdiction", .string("*")), ("grounds", .string("g")),
        ]), "not that of the decision")
        rejected(.jurisdiction("上海/徐汇区"), "correction", correction, "is not an earlier decision of")
        rejected(.jurisdiction("上海/黄浦区"), "correction", JSONObject([("corrects", figure.eventID.json), ("level", .integer(3))]), "not a field of the population")
        #expect(try p.snapshot() == before, "nothing was written")
    }

    /// The SQL's figures in force equal the rules engine's, on dates around the test's
    /// decisions, as known at each recording time.
    static func sqlAgreesWithRules(_ s: Scenario, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let admin = try adminConnection(s.configuration)
        let references = try ReferenceEvents.read(admin)
        let times: [Timestamp?] = [nil] + references.events.map(\.recordedAt)
        for date in ["2009-12-31", "2010-06-01", "2015-12-31", "2016-06-30", "2017-06-30", "2018-06-30"].compactMap(CalendarDate.init) {
            for time in times {
                let figures = try ReportsAsOfTests.figuresInForce(admin, references, on: date, knownAt: time)
                #expect(figures.sql == figures.rules, "on \(date) as known at \(time.map { "\($0)" } ?? "now")", sourceLocation: sourceLocation)
            }
        }
    }
}
