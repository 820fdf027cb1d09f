import DossierDomain
import DossierStore
import Foundation
import Testing

/// Every rule of DOMAIN.md, recorded through the ledger on the real database: accepted at the
/// boundary, refused just past it (nothing written), overridden where that is allowed.
@Suite("Policy rules through the ledger")
struct RuleTests {
    @Test("hire: a worker already active is refused, even with an override (a fact); a re-hire after an exit is fine")
    func hireNotActive() async throws {
        var s = try Scenario()
        try await s.hire()
        try await s.refuse(.workerNotActive, "hire", "W1", "2011-01-01", Scenario.hireFields())
        try await s.record("resignation", "W1", "2012-01-01")
        try await s.hire("W1", "2013-01-01")
        #expect(try await s.show().state.serviceStart == CalendarDate("2013-01-01"))
        // worker-not-active is a fact about the record: no override, approved or not, bends it.
        try await s.refuse(.workerNotActive, "hire", "W1", "2014-01-01", Scenario.hireFields(), override: "数据迁移:原系统重复入职记录")
    }

    @Test("quota: 18 per 10,000 residents; the hire that fills it passes, the next is refused, override records it")
    func quota() async throws {
        var s = try Scenario()
        // 1,112 residents: 18 × 1112 / 10000 = 2 workers.
        try await s.record("population", "上海/黄浦区", "2010-01-01", ["year": .integer(2010), "urbanPopulation": .integer(1112)])
        try await s.hire("W1")
        try await s.hire("W2")
        try await s.refuse(.quota, "hire", "W3", "2010-06-01", Scenario.hireFields(), message: "may have 2 community workers")
        // Another district has room; a transfer back into the full one is refused.
        try await s.hire("W3", "2010-06-01", district: "徐汇区")
        try await s.refuse(.quota, "transfer", "W3", "2011-01-01", ["community": .string("桥一居民区"), "street": .string("五里桥街道"), "district": .string("黄浦区")])
        // An exit frees a place from its date on.
        try await s.record("resignation", "W2", "2012-01-01")
        try await s.hire("W4", "2012-02-01")
        let exception = try await s.hire("W5", "2012-03-01", override: "区委批准超编一名,沪黄社〔2012〕7号")
        #expect(exception.exceptions.map(\.rule) == [.quota])
    }

    @Test("quota: a future-dated hire counts from its date, so an earlier one that would overfill then is refused")
    func quotaFuture() async throws {
        var s = try Scenario()
        try await s.record("population", "上海/黄浦区", "2010-01-01", ["year": .integer(2010), "urbanPopulation": .integer(1112)])
        try await s.hire("W1", "2010-01-01")
        try await s.hire("W2", "2030-01-01")
        try await s.refuse(.quota, "hire", "W3", "2020-01-01", Scenario.hireFields(), message: "on 2030-01-01")
    }

    @Test("levels: within the range in force; a local policy can lower the top level")
    func levelRange() async throws {
        var s = try Scenario()
        try await s.record("policy", "上海/黄浦区", "2010-01-01", ["parameters": .object(JSONObject([("maxLevel", .integer(15))]))])
        try await s.hire("W1", level: 15)
        try await s.refuse(.levelRange, "hire", "W2", "2010-03-01", Scenario.hireFields(level: 16))
        try await s.refuse(.levelDifferent, "level-change", "W1", "2011-01-01", ["level": .integer(15), "grounds": .string("other")])
        // The same hire elsewhere in the city is under the default 18.
        try await s.hire("W2", level: 16, district: "徐汇区")
    }

    @Test("level-up on assessment grounds needs the last two annual assessments excellent and unused")
    func levelUpOnAssessment() async throws {
        var s = try Scenario()
        try await s.hire("W1", "2020-03-01", level: 8)
        _ = try await s.assess("W1", 2024, "excellent")
        _ = try await s.assess("W1", 2025, "competent")
        try await s.refuse(
            .levelUpAssessment, "level-change", "W1", "2026-02-01", ["level": .integer(9), "grounds": .string("assessment")],
            message: "found 2024 excellent, 2025 competent")
        var t = try Scenario()
        try await t.hire("W1", "2020-03-01", level: 8)
        _ = try await t.assess("W1", 2023, "excellent")
        _ = try await t.assess("W1", 2024, "excellent")
        try await t.refuse(.levelUpAssessment, "level-change", "W1", "2025-02-01", ["level": .integer(10), "grounds": .string("assessment")], message: "from 8 to 9")
        try await t.record("level-change", "W1", "2025-02-01", ["level": .integer(9), "grounds": .string("assessment")])
        // The same two years cannot earn a second level.
        try await t.refuse(.levelUpAssessment, "level-change", "W1", "2025-06-01", ["level": .integer(10), "grounds": .string("assessment")], message: "already used")
        // Seniority grounds are not bound by it, but by their own rule: years at the current level.
        try await t.refuse(
            .levelUpSeniority, "level-change", "W1", "2025-06-01", ["level": .integer(10), "grounds": .string("seniority")],
            message: "since 2025-02-01")
    }

    @Test("level-up on assessment grounds needs the years of service in force")
    func levelUpService() async throws {
        var s = try Scenario()
        try await s.hire("W1", "2024-01-20", level: 8)
        _ = try await s.assess("W1", 2024, "excellent")  // in force from 2025-01-15
        _ = try await s.assess("W1", 2025, "excellent")  // in force from 2026-01-15
        try await s.refuse(.levelUpAssessment, "level-change", "W1", "2026-01-19", ["level": .integer(9), "grounds": .string("assessment")], message: "full years of service")
        try await s.record("level-change", "W1", "2026-01-20", ["level": .integer(9), "grounds": .string("assessment")])
    }

    @Test("a level-down needs an unexcused sanction or a poor assessment; an excused misconduct does not count")
    func levelDown() async throws {
        var s = try Scenario()
        try await s.hire("W1", "2015-03-01", level: 8)
        try await s.refuse(.levelDownCause, "level-change", "W1", "2020-01-01", ["level": .integer(7), "grounds": .string("other")])
        let misconduct = try await s.record("misconduct", "W1", "2020-02-01", ["description": .string("违规使用公章"), "sanction": .string("demerit")])
        try await s.record("fault-tolerance", "W1", "2020-03-01", ["misconduct": misconduct.eventID.json, "ruling": .string("excused")])
        try await s.refuse(.levelDownCause, "level-change", "W1", "2020-04-01", ["level": .integer(7), "grounds": .string("other")], message: "excused misconduct does not count")
        try await s.record("misconduct", "W1", "2020-05-01", ["description": .string("台账不实"), "sanction": .string("demerit")])
        try await s.record("level-change", "W1", "2020-06-01", ["level": .integer(7), "grounds": .string("other")])
    }

    @Test("posts hold their own roles")
    func postRole() async throws {
        var s = try Scenario()
        try await s.refuse(.postRole, "hire", "W1", "2010-03-01", Scenario.hireFields(post: "principal", role: "staff"))
        try await s.hire("W1", post: "principal", role: "secretary-director")
        try await s.refuse(.postRole, "post-change", "W1", "2012-01-01", ["post": .string("deputy"), "role": .string("party-secretary")])
    }

    @Test("secondment: county level or above is forbidden; street and township need approval")
    func secondment() async throws {
        var s = try Scenario()
        try await s.hire()
        try await s.refuse(.secondmentForbidden, "secondment", "W1", "2012-01-01", ["to": .string("区政府办公室"), "toLevel": .string("county"), "until": .string("2012-12-31"), "approval": .string("x")])
        try await s.refuse(.secondmentApproval, "secondment", "W1", "2012-01-01", ["to": .string("街道办"), "toLevel": .string("street"), "until": .string("2012-12-31")], message: "county-level party committee")
        try await s.refuse(.noOpenSecondment, "secondment-end", "W1", "2012-01-01")
        try await s.record("secondment", "W1", "2012-01-01", ["to": .string("镇政府"), "toLevel": .string("township"), "until": .string("2012-12-31"), "approval": .string("区委社工部批〔2012〕1号")])
        #expect(try await s.show(asOf: "2012-06-01").state.status == .seconded)
        try await s.refuse(.secondmentOpen, "secondment", "W1", "2012-02-01", ["to": .string("街道办"), "toLevel": .string("street"), "until": .string("2012-12-31"), "approval": .string("y")])
        try await s.record("secondment-end", "W1", "2012-12-31")
        #expect(try await s.show(asOf: "2013-01-01").state.status == .active)
        let overridden = try await s.record("secondment", "W1", "2013-06-01", ["to": .string("市防汛指挥部"), "toLevel": .string("city"), "until": .string("2013-09-01")], override: "防汛应急,市委批准")
        #expect(overridden.exceptions.map(\.rule) == [.secondmentForbidden])
    }

    @Test("temporary posts: one open at a time; an end needs an open post; a cadre without one is unknown")
    func temporaryPosts() async throws {
        var s = try Scenario()
        let post: [String: JSONValue] = ["name": .string("汪仕敏"), "homeAgency": .string("黄浦区民政局"), "community": .string("桥二居民区"), "role": .string("first-secretary"), "until": .string("2025-06-30"), "kind": .string("cadre")]
        try await s.refuse(.unknownTemporaryPost, "temporary-post-end", "C1", "2024-01-01", override: "x")
        try await s.record("temporary-post", "C1", "2024-07-01", post)
        try await s.refuse(.temporaryPostOpen, "temporary-post", "C1", "2024-08-01", post)
        try await s.record("temporary-post-end", "C1", "2025-06-30")
        try await s.refuse(.noOpenTemporaryPost, "temporary-post-end", "C1", "2025-07-30")
        let trace = try await s.ledger.trace(subject: "C1")
        #expect(trace.stream == .cadre("C1"))
        #expect(trace.personal?.name == "汪仕敏")
    }

    @Test("fault tolerance: one ruling per misconduct, only on this worker's misconduct")
    func faultTolerance() async throws {
        var s = try Scenario()
        try await s.hire()
        let misconduct = try await s.record("misconduct", "W1", "2012-05-01", ["description": .string("x"), "sanction": .string("major-demerit")])
        let assessment = try await s.assess("W1", 2011, "competent")
        try await s.refuse(.targetKind, "fault-tolerance", "W1", "2012-06-01", ["misconduct": assessment.eventID.json, "ruling": .string("excused")], override: "structural rules cannot be overridden")
        try await s.record("fault-tolerance", "W1", "2012-06-01", ["misconduct": misconduct.eventID.json, "ruling": .string("mitigated")])
        #expect(try await s.show().state.misconducts.first?.countingSanction == .demerit)
        try await s.refuse(.misconductRuled, "fault-tolerance", "W1", "2012-07-01", ["misconduct": misconduct.eventID.json, "ruling": .string("excused")])
        try await s.hire("W2")
        try await s.refuse(.foreignEvent, "fault-tolerance", "W2", "2012-07-01", ["misconduct": misconduct.eventID.json, "ruling": .string("excused")], override: "no")
    }

    @Test("public institution: a secretary with 10 full years, a full 5-year term and a clean term")
    func publicInstitution() async throws {
        var s = try Scenario()
        try await s.hire("W1", "2012-03-01", post: "principal", role: "party-secretary")
        try await s.refuse(.publicInstitutionService, "public-institution", "W1", "2022-02-28", message: "has 9")
        try await s.record("public-institution", "W1", "2022-03-01")
        let report = try await s.show(asOf: "2022-03-02")
        #expect(report.state.establishment == .publicInstitution)
        #expect(report.state.isOnRoster)

        var t = try Scenario()
        try await t.hire("W1", "2010-01-01", post: "principal", role: "committee-director")
        try await t.refuse(.publicInstitutionSecretary, "public-institution", "W1", "2021-01-01")
        try await t.record("post-change", "W1", "2017-06-01", ["post": .string("principal"), "role": .string("party-secretary")])
        try await t.refuse(.publicInstitutionTerm, "public-institution", "W1", "2022-05-31", message: "has served 4")
        let misconduct = try await t.record("misconduct", "W1", "2020-01-10", ["description": .string("x"), "sanction": .string("warning")])
        try await t.refuse(.publicInstitutionRecord, "public-institution", "W1", "2022-06-01", message: "warning on 2020-01-10")
        // Once the mistake is excused it no longer counts against the worker.
        try await t.record("fault-tolerance", "W1", "2020-03-01", ["misconduct": misconduct.eventID.json, "ruling": .string("excused")])
        try await t.record("public-institution", "W1", "2022-06-01")
    }

    @Test("structural rules cannot be overridden")
    func structural() async throws {
        var s = try Scenario()
        try await s.refuse(.unknownWorker, "assessment", "W9", "2011-01-15", ["year": .integer(2010), "grade": .string("excellent")], override: "please")
        try await s.hire()
        _ = try await s.assess("W1", 2011, "excellent")
        try await s.refuse(.oneAssessmentPerYear, "assessment", "W1", "2012-03-01", ["year": .integer(2011), "grade": .string("competent")], override: "please")
        try await s.hire("W2")
        let other = try await s.assess("W2", 2011, "competent")
        try await s.refuse(.foreignEvent, "correction", "W1", "2013-01-01", ["corrects": other.eventID.json, "grade": .string("excellent")], override: "please")
        let training = try await s.record("training", "W1", "2012-05-01", ["kind": .string("special"), "hours": .integer(8)])
        try await s.record("rescission", "W1", "2012-06-01", ["rescinds": training.eventID.json, "grounds": .string("未参加")])
        try await s.refuse(.alreadyRescinded, "rescission", "W1", "2012-07-01", ["rescinds": training.eventID.json, "grounds": .string("again")], override: "please")
        try await s.refuse(.alreadyRescinded, "correction", "W1", "2012-07-01", ["corrects": training.eventID.json, "hours": .integer(9)])
        let own = try await s.assess("W1", 2012, "competent")
        try await s.refuse(.correctionFields, "correction", "W1", "2013-07-01", ["corrects": own.eventID.json, "grade": .string("superb")])
        try await s.refuse(.correctionFields, "correction", "W1", "2013-07-01", ["corrects": own.eventID.json, "sanction": .string("warning")])
    }

    @Test("exits and other decisions need an active worker: a fact, which no override bends")
    func workerActive() async throws {
        var s = try Scenario()
        try await s.hire()
        try await s.record("dismissal", "W1", "2015-01-01", ["grounds": .string("考核不称职")])
        try await s.refuse(.workerActive, "level-change", "W1", "2016-01-01", ["level": .integer(9), "grounds": .string("seniority")])
        try await s.refuse(.workerActive, "retirement", "W1", "2016-01-01")
        try await s.refuse(.workerActive, "civil-service", "W1", "2016-01-01")
        try await s.refuse(.workerActive, "training", "W1", "2016-01-01", ["kind": .string("special"), "hours": .integer(4)])
        try await s.refuse(.workerActive, "training", "W1", "2016-01-01", ["kind": .string("special"), "hours": .integer(4)], override: "离职人员补录培训")
        try await s.refuse(.workerActive, "dismissal", "W1", "2016-01-01", ["grounds": .string("again")], override: "重复辞退")
    }
}

@Suite("Time and history through the ledger")
struct HistoryTests {
    @Test("a retroactive decision is judged on its date and may not invalidate what follows")
    func retroactive() async throws {
        var s = try Scenario()
        try await s.hire("W1", "2015-01-01")
        try await s.record("level-change", "W1", "2018-01-01", ["level": .integer(9), "grounds": .string("seniority")])
        try await s.refuse(.workerActive, "resignation", "W1", "2017-01-01", message: "level-change of 2018-01-01 invalid")
        // A retroactive decision that breaks nothing is folded in its place.
        try await s.record("training", "W1", "2016-05-01", ["kind": .string("special"), "hours": .integer(8)])
        #expect(try await s.show(asOf: "2016-12-31").state.trainingHours[.special] == 8)
        // A scheduled (future) decision shows from its date.
        try await s.record("qualification", "W1", "2030-01-01", ["certificate": .string("social-worker")])
        #expect(try await s.show().state.qualifications.isEmpty)
        #expect(try await s.show(asOf: "2030-01-01").state.qualifications.keys.contains(.socialWorker))
    }

    @Test("a correction recorded years later changes the past as now known; known-at shows it as it was")
    func correctionYearsLater() async throws {
        var s = try Scenario()
        try await s.hire("W1", "2015-01-01")
        let assessment = try await s.assess("W1", 2019, "competent")
        _ = try await s.assess("W1", 2020, "excellent")
        let beforeCorrection = try await s.show(asOf: "2021-06-01")
        #expect(beforeCorrection.eligibility(.levelUp).eligible == false)
        try await Task.sleep(for: .milliseconds(20))
        let cut = Timestamp(microsecondsSinceEpoch: Int64(Date().timeIntervalSince1970 * 1_000_000))
        try await Task.sleep(for: .milliseconds(20))
        try await s.record("correction", "W1", "2024-03-01", ["corrects": assessment.eventID.json, "grade": .string("excellent")])
        let now = try await s.show(asOf: "2021-06-01")
        #expect(now.state.assessments[2019]?.grade == .excellent)
        #expect(now.eligibility(.levelUp).eligible)
        let then = try await s.show(asOf: "2021-06-01", knownAt: cut)
        #expect(then.state.assessments[2019]?.grade == .competent)
        #expect(then.eligibility(.levelUp).eligible == false)
        let trace = try await s.ledger.trace(subject: "W1")
        let corrected = trace.entries.first { $0.event.eventID == assessment.eventID }!
        #expect(corrected.status.correctedBy.count == 1)
        #expect(corrected.json["corrected"] == .bool(true))
    }

    @Test("rescinding an exit and overturning a dismissal put the worker back as if it never happened")
    func rescissionAndAppeal() async throws {
        var s = try Scenario()
        try await s.hire("W1", "2015-01-01")
        let resignation = try await s.record("resignation", "W1", "2018-01-01")
        #expect(try await s.show().state.status == .exited)
        try await s.record("rescission", "W1", "2018-02-01", ["rescinds": resignation.eventID.json, "grounds": .string("误录")])
        #expect(try await s.show(asOf: "2018-06-01").state.status == .active)
        let dismissal = try await s.record("dismissal", "W1", "2019-01-01", ["grounds": .string("考核不称职")])
        try await s.record("appeal-ruling", "W1", "2019-06-01", ["appealed": dismissal.eventID.json, "outcome": .string("overturned")])
        #expect(try await s.show(asOf: "2019-03-01").state.status == .active)
        let trace = try await s.ledger.trace(subject: "W1")
        #expect(trace.entries.first { $0.event.eventID == dismissal.eventID }?.json["overturned"] == .bool(true))
        #expect(trace.entries.first { $0.event.eventID == resignation.eventID }?.json["rescinded"] == .bool(true))
        #expect(trace.entries.count == 5)
    }

    @Test("an excused misconduct no longer puts a worker up for exit review")
    func excusedExitReview() async throws {
        var s = try Scenario()
        try await s.hire("W1", "2015-01-01")
        let misconduct = try await s.record("misconduct", "W1", "2024-05-01", ["description": .string("处置纠纷方式不当"), "sanction": .string("major-demerit")])
        #expect(try await s.show(asOf: "2024-06-01").eligibility(.exitReview).eligible)
        try await s.record("fault-tolerance", "W1", "2024-07-01", ["misconduct": misconduct.eventID.json, "ruling": .string("excused")])
        let after = try await s.show(asOf: "2024-08-01")
        #expect(after.eligibility(.exitReview).eligible == false)
        #expect(try await s.show(asOf: "2024-06-01").eligibility(.exitReview).eligible, "before the ruling it counted")
        let trace = try await s.ledger.trace(subject: "W1")
        #expect(trace.entries.first { $0.event.eventID == misconduct.eventID }?.json["excused"] == .bool(true))
    }

    @Test("the same decision twice is stored once; a different one under its reference is a conflict")
    func idempotentRecording() async throws {
        var s = try Scenario()
        let hire = s.decision("hire", "W1", "2015-01-01", Scenario.hireFields())
        let first = try await s.ledger.record(hire)
        let again = try await s.ledger.record(hire)
        #expect(again.duplicate)
        #expect(again.eventID == first.eventID)
        var renamed = hire
        renamed.personal = PersonalData(fields: JSONObject([("name", .string("李娜"))]))
        await #expect(throws: StoreError.self) { try await s.ledger.record(renamed) }
        #expect(try s.eventCount() == 1)
        #expect(try await s.show().personal?.name == "张伟")
    }
}
