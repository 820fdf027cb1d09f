import DossierDomain
import DossierStore
import DossierTestSupport
import Foundation
import PostgresClient
import Testing

/// Issue 12: workers are people (rehire-identity, assigned ids); imported history keeps its
/// knowledge time (knownSince); `show` knows every subject `trace` knows.
@Suite("Workers are people; imported history keeps its knowledge time")
struct PeopleAndKnownSinceTests {
    static func hireFields(name: String, idNumber: String? = nil, district: String = "黄浦区") -> [String: JSONValue] {
        var fields = Scenario.hireFields(district: district)
        fields["name"] = .string(name)
        if let idNumber { fields["idNumber"] = .string(idNumber) }
        return fields
    }

    @Test("rehire-identity: the same person is rehired; another person under an exited worker's id is refused, nothing written, the old history keeps its name")
    func rehireIdentity() async throws {
        var s = try Scenario()
        try await s.record("hire", "W1", "2010-03-01", Self.hireFields(name: "张三", idNumber: "310101198001010011"))
        try await s.record("dismissal", "W1", "2012-03-01", ["grounds": .string("旷工")])
        // Another person: refused, naming the id and status, never the record's name.
        let before = try s.eventCount()
        var other = s.decision("hire", "W1", "2026-11-01", Self.hireFields(name: "李四", idNumber: "310101199002020022"))
        do {
            _ = try await s.ledger.record(other)
            Issue.record("a new person under W1 was recorded")
        } catch LedgerError.refused(_, let violations) {
            let violation = violations.first { $0.rule == .rehireIdentity }
            #expect(violation != nil, "got \(violations)")
            #expect(violation?.message.contains("W1 is an existing person (exited (dismissal on 2012-03-01))") == true, "\(violations)")
            #expect(violation?.message.contains("idNumber and name differ") == true, "\(violations)")
            #expect(violation?.message.contains("张三") == false && violation?.message.contains("3101011980") == false)
            #expect(Rule.rehireIdentity.isStructural)
        }
        #expect(try s.eventCount() == before)
        // Not even an override gets past it (structural).
        other.override = "数据迁移"
        other.overrideApproval = "区委批〔2026〕1号"
        await #expect(throws: LedgerError.self) { _ = try await s.ledger.record(other) }
        #expect(try s.eventCount() == before)
        #expect(try await s.show(asOf: "2011-01-01").state.status == .active)
        let trace = try await s.ledger.trace(subject: "W1")
        #expect(trace.personal?.name == "张三")
        // The same person comes back (fields it does not give are not compared).
        try await s.record("hire", "W1", "2026-11-01", Self.hireFields(name: "张三"))
        #expect(try await s.show().personal?.name == "张三")
    }

    @Test("rehire-identity: a rehire that says it corrects the personal data (personalCorrection) is recorded and shows the corrected name")
    func personalCorrection() async throws {
        var s = try Scenario()
        try await s.record("hire", "W1", "2010-03-01", Self.hireFields(name: "张三"))
        try await s.record("resignation", "W1", "2012-03-01")
        try await s.refuse(.rehireIdentity, "hire", "W1", "2014-01-01", Self.hireFields(name: "张叁"), message: "name differs")
        var fields = Self.hireFields(name: "张叁")
        fields["personalCorrection"] = .string("身份证姓名为张叁,原录入有误")
        let recorded = try await s.record("hire", "W1", "2014-01-01", fields)
        #expect(!recorded.duplicate)
        #expect(try await s.show().personal?.name == "张叁")
        let payload = try PostgresConnection(connectionString: s.configuration.connectionString)
            .query("SELECT payload ->> 'personalCorrection' FROM dossier.events WHERE event_id = \(recorded.eventID)").scalar(String.self)
        #expect(payload == "身份证姓名为张叁,原录入有误")
    }

    @Test("rehire-identity: an hr clerk who may not read the person's data is refused without learning anything")
    func rehireUnreadable() async throws {
        let p = try People3()
        _ = try await p.scenario.ledger.record(try p.decision("hire", "X-1", "2010-01-01", Self.hireFields(name: "王五", district: "徐汇区")))
        _ = try await p.scenario.ledger.record(try p.decision("resignation", "X-1", "2012-01-01", [:]))
        let clerk = try p.add("clerk", .hr, ["上海/黄浦区"])
        let ledger = Ledger(try p.configuration(as: clerk))
        let before = try p.scenario.eventCount()
        do {
            _ = try await ledger.record(try p.decision("hire", "X-1", "2020-01-01", Self.hireFields(name: "王五")))
            Issue.record("recorded a rehire of a person the clerk may not read")
        } catch LedgerError.refused(_, let violations) {
            #expect(violations.contains { $0.rule == .rehireIdentity && $0.message.contains("may not read") }, "\(violations)")
            #expect(!violations.contains { $0.message.contains("王五") })
        }
        #expect(try p.scenario.eventCount() == before)
        // The database function answers nothing about them to that clerk.
        let known = try p.connection(as: clerk).query(
            "SELECT o_known FROM dossier.identity_check('worker/X-1', '{\"name\":\"王五\"}')").scalar(Bool.self)
        #expect(known == false)
        // An auditor may not ask at all.
        let auditor = try p.add("audit", .auditor)
        #expect(throws: (any Error).self) {
            try p.connection(as: auditor).query("SELECT * FROM dossier.identity_check('worker/X-1', '{}')")
        }
    }

    /// A hire without `worker`, as a clerk sends it for the ledger to assign the id.
    static func idless(_ effective: String, _ fields: [String: JSONValue], reference: String) throws -> Decision {
        var object = JSONObject([
            ("decision", .string("hire")), ("effective", .string(effective)), ("authority", .string("黄浦区社会工作部")),
            ("reference", .string(reference)),
        ])
        for (key, value) in fields { object[key] = value }
        return try DecisionCodec.decode(.object(object))
    }

    @Test("assigned ids: a hire without worker gets the next id of the district's series, a retry is the same hire, concurrent hires get different ids")
    func assignedIDs() async throws {
        var s = try Scenario()
        for id in ["HP-0007", "HP-0009", "XX-1"] { try await s.record("hire", id, "2010-03-01", Self.hireFields(name: "工作者" + id)) }
        let fresh = try Self.idless("2026-11-01", Self.hireFields(name: "新人甲"), reference: "N-1")
        #expect(fresh.assignsWorker)
        let first = try await s.ledger.record(fresh)
        #expect(first.decision.subject == "HP-0010")
        #expect(first.json["subject"] == .string("HP-0010"))
        // The same decision sent again is recognised, not a second person.
        let again = try await s.ledger.record(fresh)
        #expect(again.duplicate && again.decision.subject == "HP-0010" && again.eventID == first.eventID)
        // A district with no workers yet starts its documented default series.
        let elsewhere = try await s.ledger.record(try Self.idless("2026-11-01", Self.hireFields(name: "新人乙", district: "静安区"), reference: "N-2"))
        #expect(elsewhere.decision.subject == WorkerSeries.defaultPrefix(of: "上海/静安区") + "00001")
        // Four clerks at once: four people, four ids.
        let configuration = s.configuration
        var decisions: [Decision] = []
        for index in 0..<4 { decisions.append(try Self.idless("2026-11-02", Self.hireFields(name: "并发\(index)"), reference: "N-C\(index)")) }
        let ids = try await withThrowingTaskGroup(of: String.self) { group in
            for decision in decisions {
                group.addTask { try await Ledger(configuration).record(decision).decision.subject }
            }
            var ids: [String] = []
            for try await id in group { ids.append(id) }
            return ids
        }
        #expect(Set(ids) == ["HP-0011", "HP-0012", "HP-0013", "HP-0014"], "\(ids)")
    }

    @Test("the district's series: the prefix most ids share, the number's width kept")
    func series() {
        #expect(WorkerSeries.series(of: "上海/黄浦区", ids: ["D01-00017", "D01-00003", "X-9"]).id(after: 1) == "D01-00018")
        #expect(WorkerSeries.series(of: "上海/黄浦区", ids: ["HP-9"]).id(after: 1) == "HP-10")
        let empty = WorkerSeries.series(of: "上海/黄浦区", ids: [])
        #expect(empty.id(after: 1) == WorkerSeries.defaultPrefix(of: "上海/黄浦区") + "00001")
        #expect(WorkerSeries.defaultPrefix(of: "上海/黄浦区") != WorkerSeries.defaultPrefix(of: "上海/徐汇区"))
    }

    /// Imports JSON Lines through the store's importer.
    static func importLines(_ configuration: DatabaseConfiguration, _ lines: [String]) async throws -> Importer.Report {
        let chunk = lines.enumerated().map { Importer.Line(number: $0.offset + 1, bytes: Array($0.element.utf8)) }
        let box = ChunkBox(chunk)
        return try await Importer(configuration).run(chunks: { box.next() }, skipInvalid: false)
    }

    final class ChunkBox: @unchecked Sendable {
        var chunk: [Importer.Line]?
        init(_ chunk: [Importer.Line]) { self.chunk = chunk }
        func next() -> [Importer.Line]? {
            defer { chunk = nil }
            return chunk
        }
    }

    static let legacyHire = #"{"decision":"hire","worker":"L-1","name":"赵六","community":"桥二居民区","street":"五里桥街道","district":"黄浦区","city":"上海","post":"staff","role":"staff","level":6,"education":"bachelor","effective":"2010-03-01","authority":"五里桥街道","reference":"L-2010-1","knownSince":"2010-03-02T09:30:00+08:00"}"#
    static let legacyAssessment = #"{"decision":"assessment","worker":"L-1","year":2010,"grade":"excellent","effective":"2011-01-15","authority":"五里桥街道","reference":"L-2011-A","knownSince":"2011-01-20"}"#

    @Test("knownSince: an import's knowledge time answers --known-at (show, trace, reference data); recorded_at stays the clock")
    func knownSince() async throws {
        let s = try Scenario()
        let report = try await Self.importLines(s.configuration, [Self.legacyHire, Self.legacyAssessment])
        #expect(report.committed && report.written == 2, "\(report.problems)")
        let hired = try await s.show("L-1", asOf: "2010-12-31", knownAt: Timestamp(parsing: "2010-06-01T00:00:00Z"))
        #expect(hired.state.status == .active)
        #expect(hired.state.assessmentsByYear.isEmpty)
        let assessed = try await s.show("L-1", asOf: "2011-12-31", knownAt: Timestamp(parsing: "2011-01-20T00:00:00Z"))
        #expect(assessed.state.assessmentsByYear.map(\.year) == [2010])
        // Before the old system knew of the hire: the ledger says it knew nothing then.
        do {
            _ = try await s.show("L-1", knownAt: Timestamp(parsing: "2010-01-01T00:00:00Z"))
            Issue.record("a knowledge time before anything was known showed a record")
        } catch LedgerError.nothingKnown(_, let first, let claimed, _) {
            #expect(first == Timestamp(parsing: "2010-03-02T01:30:00Z") && claimed)
        }
        let trace = try await s.ledger.trace(subject: "L-1")
        #expect(trace.entries.first?.event.knownSince == Timestamp(parsing: "2010-03-02T01:30:00Z"))
        #expect(trace.entries.first?.json["knownSinceClaimedBy"] == .string("dossier_super"))
        #expect(trace.entries[0].event.recordedAt > Timestamp(parsing: "2026-01-01T00:00:00Z")!)
        // A date means its first instant in UTC.
        #expect(trace.entries[1].event.knownSince == Timestamp(parsing: "2011-01-20T00:00:00Z"))
    }

    @Test("knownSince: without it, a known-at before the import says the ledger knew nothing then")
    func nothingKnownBeforeImport() async throws {
        var s = try Scenario()
        try await s.hire("W1")
        do {
            _ = try await s.show(knownAt: Timestamp(parsing: "2020-01-01T00:00:00Z"))
            Issue.record("expected nothing known")
        } catch let error as LedgerError {
            #expect(error.description.contains("the ledger first recorded worker W1 on 20"), "\(error)")
            #expect(error.description.contains("nothing was known at 2020-01-01T00:00:00.000000Z"), "\(error)")
        }
    }

    @Test("knownSince: malformed, or later than the import, refused naming the line and field, nothing written; record refuses it; the database refuses a bad one from any writer")
    func knownSinceRefused() async throws {
        let s = try Scenario()
        let bad = Self.legacyAssessment.replacingOccurrences(of: #""2011-01-20""#, with: #""last spring""#)
        let future = Self.legacyAssessment.replacingOccurrences(of: #""2011-01-20""#, with: #""2199-01-01T00:00:00Z""#)
        for line in [bad, future] {
            let report = try await Self.importLines(s.configuration, [Self.legacyHire, line])
            #expect(!report.committed)
            #expect(report.problems.count == 1 && report.problems[0].line == 2, "\(report.problems)")
            #expect(report.problems.first?.message.contains("knownSince") == true, "\(report.problems)")
            #expect(try s.eventCount() == 0)
        }
        var decision = try DecisionCodec.decode(json: Self.legacyHire)
        #expect(decision.knownSince != nil)
        await #expect(throws: InvalidDecision.self) { _ = try await s.ledger.record(decision) }
        decision.knownSince = nil
        _ = try await s.ledger.record(decision)
        let admin = try adminConnection(s.configuration)
        for claim in ["\"soon\"", "\"2199-01-01T00:00:00.000000Z\""] {
            #expect(throws: (any Error).self) {
                try admin.query(
                    PostgresQuery(
                        unsafeSQL: """
                            SELECT * FROM dossier.append_to_stream('worker/L-1', -1, ARRAY[gen_random_uuid()], ARRAY['training'], ARRAY[1]::smallint[],
                                   ARRAY['{"kind":"special","hours":2,"knownSince":\(claim)}'::jsonb], ARRAY['2012-01-01'::date], ARRAY['a'], ARRAY[gen_random_uuid()::text])
                            """))
            }
        }
        #expect(try s.eventCount() == 1)
    }

    @Test("knownSince earlier than what the read side holds: the worker's timeline is learned again, equal to a rebuild; roster --known-at follows it")
    func projectionRelearns() async throws {
        var s = try Scenario()
        let hire = try await s.record("hire", "W1", "2010-03-01", Self.hireFields(name: "张三"))
        let reads = ReadModel(s.configuration)
        #expect(try await reads.roster(place: .init(district: "黄浦区"), asOf: CalendarDate("2012-06-01")!).first?.level == 8)
        // The old system's 2012 level change reaches the ledger after the hire, claiming 2012.
        let line = #"{"decision":"level-change","worker":"W1","level":9,"grounds":"other","effective":"2012-03-01","authority":"a","reference":"L-1","knownSince":"2012-03-05"}"#
        let report = try await Self.importLines(s.configuration, [line])
        #expect(report.committed, "\(report.problems)")
        let justAfterHire = Timestamp(microsecondsSinceEpoch: hire.recordedAt.microsecondsSinceEpoch + 1)
        func level(_ knownAt: Timestamp?) async throws -> Int? {
            try await reads.roster(place: .init(district: "黄浦区"), asOf: CalendarDate("2012-06-01")!, knownAt: knownAt).first?.level
        }
        #expect(try await level(nil) == 9)
        #expect(try await level(justAfterHire) == 9, "known since 2012, so known when the hire was recorded")
        #expect(try await level(Timestamp(parsing: "2012-03-01T00:00:00Z")) == nil, "the hire itself was not known then")
        let differences = try await PostgresSession.open(s.configuration, role: .person).run { try Projector.differencesFromRebuild($0) }
        #expect(differences.values.allSatisfy { $0 == 0 }, "\(differences)")
    }

    @Test("show knows a temporary-post cadre as trace does: the post held and every post")
    func showCadre() async throws {
        var s = try Scenario()
        let post = try await s.record(
            "temporary-post", "C-17", "2024-03-01",
            ["name": .string("汪仕敏"), "homeAgency": .string("黄浦区民政局"), "community": .string("桥二居民区"), "role": .string("first-secretary"),
             "until": .string("2026-02-28"), "kind": .string("cadre")])
        let shown = try await s.ledger.showAny("C-17", asOf: CalendarDate("2025-01-01"))
        guard case .cadre(let report) = shown else {
            Issue.record("show of a cadre did not give a cadre's record")
            return
        }
        #expect(report.current?.eventID == post.eventID && report.current?.community == "桥二居民区")
        #expect(report.json["subjectKind"] == .string("cadre"))
        try await s.record("temporary-post-end", "C-17", "2025-06-30")
        guard case .cadre(let later) = try await s.ledger.showAny("C-17", asOf: CalendarDate("2025-12-31")) else { return }
        #expect(later.current == nil && later.posts.first?.ended == CalendarDate("2025-06-30"))
        await #expect(throws: LedgerError.self) { _ = try await s.ledger.showAny("C-99") }
    }
}
