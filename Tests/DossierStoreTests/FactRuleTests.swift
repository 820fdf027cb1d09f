import DossierDomain
import DossierStore
import DossierTestSupport
import Foundation
import PostgresClient
import Testing

/// Issue 12: facts about the record are structural (no override bends them, approved or not);
/// policy bends only with `override` and `overrideApproval`; an assessment needs the worker on
/// the roster at the end of its year; seniority has its rule; quotas look at every later date
/// and warn when a district has no figure. Through the ledger on the real database.
@Suite("Facts and policy through the ledger (issue 12)")
struct FactRuleTests {
    static let approved = "黄浦区委〔2026〕12号"

    @Test("every rule is a fact or policy, as the README's table says")
    func classification() {
        let facts: Set<Rule> = [
            .unknownWorker, .foreignEvent, .targetKind, .alreadyRescinded, .oneAssessmentPerYear, .correctionFields,
            .unknownTemporaryPost, .selectionRoster, .appealTarget, .appealOpen, .appealRuled, .appealRulingDate, .rehireIdentity,
            .workerNotActive, .workerActive, .workerHired, .levelDifferent, .secondmentOpen, .noOpenSecondment,
            .temporaryPostOpen, .noOpenTemporaryPost, .misconductExists, .misconductRuled, .alreadyPublicInstitution,
            .unknownPlace, .placeChange, .noGazetteer,
        ]
        #expect(Set(Rule.allCases.filter(\.isStructural)) == facts)
        #expect(!Rule.assessmentYearEndRoster.isStructural && !Rule.levelUpSeniority.isStructural && !Rule.quota.isStructural)
    }

    @Test("no-open-secondment, worker-active: ending a secondment never opened and dismissing a dismissed worker are refused even with override and approval")
    func issueExamples() async throws {
        var s = try Scenario()
        try await s.hire()
        try await s.refuse(.noOpenSecondment, "secondment-end", "W1", "2012-01-01", override: "test", approval: Self.approved)
        try await s.record("dismissal", "W1", "2015-01-01", ["grounds": .string("考核不称职")])
        try await s.refuse(
            .workerActive, "dismissal", "W1", "2016-01-01", ["grounds": .string("again")], override: "test", approval: Self.approved,
            message: "exited (dismissal on 2015-01-01)")
        // The refusal says the fact is not overridable.
        var again = s.decision("dismissal", "W1", "2016-02-01", ["grounds": .string("again")])
        again.override = "test"
        again.overrideApproval = Self.approved
        do {
            _ = try await s.ledger.record(again)
            Issue.record("a second dismissal was recorded")
        } catch let error as LedgerError {
            #expect(error.description.contains("worker-active is a fact of the record, which no override bends"), "\(error)")
        }
    }

    @Test("worker-not-active, worker-hired, level-different, secondment-open, misconduct rules, temporary posts, already-public-institution: facts")
    func everyFact() async throws {
        var s = try Scenario()
        let o = "数据迁移", a = Self.approved
        try await s.hire("W1", "2010-03-01", post: "principal", role: "party-secretary")
        try await s.refuse(.workerNotActive, "hire", "W1", "2011-01-01", Scenario.hireFields(), override: o, approval: a)
        try await s.refuse(.workerHired, "qualification", "W1", "2009-01-01", ["certificate": .string("social-worker")], override: o, approval: a)
        try await s.refuse(.levelDifferent, "level-change", "W1", "2011-01-01", ["level": .integer(8), "grounds": .string("other")], override: o, approval: a)
        let secondment: [String: JSONValue] = ["to": .string("镇政府"), "toLevel": .string("township"), "until": .string("2012-12-31"), "approval": .string("批-1")]
        try await s.record("secondment", "W1", "2012-01-01", secondment)
        try await s.refuse(.secondmentOpen, "secondment", "W1", "2012-02-01", secondment, override: o, approval: a)
        let misconduct = try await s.record("misconduct", "W1", "2013-05-01", ["description": .string("x"), "sanction": .string("warning")])
        try await s.record("fault-tolerance", "W1", "2013-06-01", ["misconduct": misconduct.eventID.json, "ruling": .string("excused")])
        try await s.refuse(.misconductRuled, "fault-tolerance", "W1", "2013-07-01", ["misconduct": misconduct.eventID.json, "ruling": .string("not-excused")], override: o, approval: a)
        let second = try await s.record("misconduct", "W1", "2014-05-01", ["description": .string("y"), "sanction": .string("warning")])
        try await s.record("rescission", "W1", "2014-06-01", ["rescinds": second.eventID.json, "grounds": .string("误录")])
        try await s.refuse(.misconductExists, "fault-tolerance", "W1", "2014-07-01", ["misconduct": second.eventID.json, "ruling": .string("excused")], override: o, approval: a)
        try await s.record("public-institution", "W1", "2021-01-01")
        try await s.refuse(.alreadyPublicInstitution, "public-institution", "W1", "2022-01-01", override: o, approval: a)
        let post: [String: JSONValue] = ["name": .string("汪仕敏"), "homeAgency": .string("黄浦区民政局"), "community": .string("桥二居民区"), "role": .string("first-secretary"), "until": .string("2025-06-30"), "kind": .string("cadre")]
        try await s.record("temporary-post", "C1", "2024-07-01", post)
        try await s.refuse(.temporaryPostOpen, "temporary-post", "C1", "2024-08-01", post, override: o, approval: a)
        try await s.record("temporary-post-end", "C1", "2025-06-30")
        try await s.refuse(.noOpenTemporaryPost, "temporary-post-end", "C1", "2025-07-30", override: o, approval: a)
    }

    @Test("an override needs overrideApproval, and an approval needs override: refused naming the field, nothing written")
    func approvalRequired() async throws {
        var s = try Scenario()
        try await s.hire()
        let before = try s.eventCount()
        var bare = s.decision("level-change", "W1", "2011-01-01", ["level": .integer(12), "grounds": .string("assessment")])
        bare.override = "区委特批"
        await #expect(throws: InvalidDecision(field: "overrideApproval", bare.overridePairProblem!.problems[0].message)) {
            try await s.ledger.record(bare)
        }
        var approvalOnly = bare
        approvalOnly.override = nil
        approvalOnly.overrideApproval = Self.approved
        let error = await #expect(throws: InvalidDecision.self) { try await s.ledger.record(approvalOnly) }
        #expect(error?.problems.first?.field == "override")
        // The reader refuses the same in JSON.
        let json = #"{"decision":"training","worker":"W1","kind":"special","hours":4,"effective":"2011-01-01","authority":"a","reference":"r","override":"x"}"#
        let decoded = #expect(throws: InvalidDecision.self) { try DecisionCodec.decode(json: json) }
        #expect(decoded?.problems.map(\.field) == ["overrideApproval"])
        #expect(try s.eventCount() == before)
        // With both, a policy rule bends and the approval is in the payload.
        let recorded = try await s.record(
            "level-change", "W1", "2011-01-01", ["level": .integer(12), "grounds": .string("assessment")], override: "区委特批",
            approval: Self.approved)
        #expect(recorded.exceptions.map(\.rule) == [.levelUpAssessment])
        let trace = try await s.ledger.trace(subject: "W1")
        let event = trace.entries.first { $0.event.eventID == recorded.eventID }!.event
        #expect(event.payload["overrideApproval"] == .string(Self.approved))
    }

    @Test("the database refuses an override without approval, and an approval without override, from any writer")
    func databasePairs() async throws {
        let configuration = try TestDatabase.create()
        let store = EventStore(configuration)
        func event(_ payload: JSONObject) -> NewEvent {
            DossierStoreTests.event("dismissal", reference: "R-\(payload.count)", payload: payload, effective: "2020-01-01")
        }
        var grounds = JSONObject([("grounds", .string("x"))])
        grounds["override"] = .string("why")
        await #expect(throws: (any Error).self) { try await store.append(to: .worker("db1"), expected: .any, events: [event(grounds)]) }
        var approval = JSONObject([("grounds", .string("x"))])
        approval["overrideApproval"] = .string("批-1")
        await #expect(throws: (any Error).self) { try await store.append(to: .worker("db1"), expected: .any, events: [event(approval)]) }
        grounds["overrideApproval"] = .string("批-1")
        _ = try await store.append(to: .worker("db1"), expected: .any, events: [event(grounds)])
        let fields = try PostgresConnection(connectionString: configuration.connectionString).query(
            """
            SELECT count(*) FROM dossier.event_fields o
             WHERE o.field = 'override'
               AND NOT EXISTS (SELECT FROM dossier.event_fields a WHERE a.event_type = o.event_type AND a.field = 'overrideApproval')
            """
        ).scalar(Int64.self)
        #expect(fields == 0, "every event type that takes override takes overrideApproval")
    }

    @Test("assessment-year-end-roster: an assessment of 2026 for a worker dismissed in January 2026 is refused; approved, it is an exception")
    func assessmentYearEnd() async throws {
        var s = try Scenario()
        try await s.hire("W1", "2020-03-01")
        _ = try await s.assess("W1", 2025, "competent")  // on the roster on 2025-12-31
        try await s.record("dismissal", "W1", "2026-01-20", ["grounds": .string("考核不称职")])
        try await s.refuse(
            .assessmentYearEndRoster, "assessment", "W1", "2027-01-15", ["year": .integer(2026), "grade": .string("competent")],
            message: "on the roster on 2026-12-31")
        let recorded = try await s.record(
            "assessment", "W1", "2027-01-15", ["year": .integer(2026), "grade": .string("competent")], override: "年内工作满十一个月,区社会工作部同意考核",
            approval: Self.approved)
        #expect(recorded.exceptions.map(\.rule) == [.assessmentYearEndRoster])
        // A worker who left and came back before the year's end is assessed as usual.
        try await s.hire("W2", "2020-03-01")
        try await s.record("resignation", "W2", "2024-03-01")
        try await s.hire("W2", "2024-10-01")
        _ = try await s.assess("W2", 2024, "excellent")
    }

    @Test("level-up-on-seniority: one level a step after seniorityYearsPerLevel years at the level; 13 to 15 is refused")
    func seniority() async throws {
        var s = try Scenario()
        try await s.hire("W1", "2015-03-01", level: 13)
        try await s.refuse(
            .levelUpSeniority, "level-change", "W1", "2020-03-01", ["level": .integer(15), "grounds": .string("seniority")],
            message: "from 13 to 14, not 15")
        try await s.refuse(
            .levelUpSeniority, "level-change", "W1", "2018-02-28", ["level": .integer(14), "grounds": .string("seniority")],
            message: "needs 3 full years at the current level")
        try await s.record("level-change", "W1", "2018-03-01", ["level": .integer(14), "grounds": .string("seniority")])
        try await s.refuse(
            .levelUpSeniority, "level-change", "W1", "2019-03-01", ["level": .integer(15), "grounds": .string("seniority")],
            message: "since 2018-03-01")
        // The district sets its own number of years from a date.
        try await s.record("policy", "上海/黄浦区", "2019-01-01", ["parameters": .object(JSONObject([("seniorityYearsPerLevel", .integer(1))]))])
        try await s.record("level-change", "W1", "2019-03-01", ["level": .integer(15), "grounds": .string("seniority")])
        // Policy: approved, it bends.
        let bent = try await s.record(
            "level-change", "W1", "2019-06-01", ["level": .integer(17), "grounds": .string("seniority")], override: "特殊贡献",
            approval: Self.approved)
        #expect(bent.exceptions.map(\.rule) == [.levelUpSeniority])
        // The parameter's bounds, in the reader and in the database.
        let tooMany = #"{"decision":"policy","jurisdiction":"上海","parameters":{"seniorityYearsPerLevel":21},"effective":"2026-01-01","authority":"a","reference":"P-1"}"#
        let error = #expect(throws: InvalidDecision.self) { try DecisionCodec.decode(json: tooMany) }
        #expect(error?.problems.first?.field == "parameters.seniorityYearsPerLevel")
        let store = EventStore(s.configuration)
        let raw = event(
            "policy", reference: "P-raw",
            payload: JSONObject([("jurisdiction", .string("上海")), ("parameters", .object(JSONObject([("seniorityYearsPerLevel", .integer(21))])))]),
            effective: "2026-01-01")
        await #expect(throws: (any Error).self) { try await store.append(to: .policy, expected: .any, events: [raw]) }
    }

    @Test("quota: a back-dated hire is refused when a later, smaller population figure would put the district over because of it")
    func quotaLaterDates() async throws {
        var s = try Scenario()
        // 2010: 1,112 residents, 2 workers; 2023: 556 residents, 1 worker.
        try await s.record("population", "上海/黄浦区", "2010-01-01", ["year": .integer(2010), "urbanPopulation": .integer(1112)])
        try await s.record("population", "上海/黄浦区", "2023-01-01", ["year": .integer(2023), "urbanPopulation": .integer(556)])
        try await s.hire("W1", "2010-03-01")
        try await s.refuse(.quota, "hire", "W2", "2020-01-01", Scenario.hireFields(), message: "on 2023-01-01, a later date")
        // Before the smaller figure, with an exit in time, it fits.
        try await s.record("resignation", "W1", "2022-06-01")
        try await s.hire("W2", "2020-01-01")
        // A later ratio change counts too.
        try await s.record("population", "上海/徐汇区", "2010-01-01", ["year": .integer(2010), "urbanPopulation": .integer(1112)])
        try await s.record("policy", "上海/徐汇区", "2024-01-01", ["parameters": .object(JSONObject([("quotaPerTenThousand", .integer(9))]))])
        try await s.hire("X1", "2010-03-01", district: "徐汇区")
        try await s.refuse(.quota, "hire", "X2", "2015-01-01", Scenario.hireFields(district: "徐汇区"), message: "9 per 10,000")
    }

    @Test("quota: a hire into a district with no population figure in force is recorded with a warning")
    func quotaNoFigure() async throws {
        var s = try Scenario()
        let recorded = try await s.hire("W1", "2010-03-01", district: "徐汇区")
        // (上海 has no gazetteer here either: that warning is the places' own, left aside.)
        func quota(_ recorded: Ledger.Recorded) -> [RuleViolation] { recorded.warnings.filter { $0.rule != .noGazetteer } }
        #expect(quota(recorded).map(\.rule) == [.quota])
        #expect(quota(recorded).first?.message.contains("上海/徐汇区 has no population figure in force on 2010-03-01") == true)
        try await s.record("population", "上海/黄浦区", "2010-01-01", ["year": .integer(2010), "urbanPopulation": .integer(100_000)])
        #expect(quota(try await s.hire("W2", "2010-03-01")).isEmpty)
        let transfer = try await s.record("transfer", "W2", "2011-01-01", ["community": .string("天平居民区"), "street": .string("天平路街道"), "district": .string("徐汇区")])
        #expect(quota(transfer).map(\.rule) == [.quota])
        #expect(try await s.record("training", "W2", "2011-02-01", ["kind": .string("special"), "hours": .integer(4)]).warnings.isEmpty)
    }
}
