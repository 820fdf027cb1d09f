import DossierDomain
import DossierStore
import DossierTestSupport
import Foundation
import PostgresClient
import Testing

/// Selections and appeals as cases (issue 13): a selection round in a jurisdiction's stream, an
/// appeal in the worker's, a ruling on the appeal ruling on its target; each refusal names its
/// rule and field and writes nothing; the database refuses what Dossier refuses.
@Suite("Selections and appeals")
struct AppealTests {
    /// A selection decision (in 上海/黄浦区 unless told).
    static func selection(
        jurisdiction: String = "上海/黄浦区", for purpose: String = "public-institution", selected: [String], passedOver: [String],
        effective: String = "2020-06-01", reference: String = "SEL-2020-1", criteria: String = "任职满十年，考核优秀"
    ) throws -> Decision {
        let object = JSONObject([
            ("decision", .string("selection")), ("jurisdiction", .string(jurisdiction)), ("for", .string(purpose)),
            ("selected", .array(selected.map(JSONValue.string))), ("passedOver", .array(passedOver.map(JSONValue.string))),
            ("criteria", .string(criteria)), ("effective", .string(effective)), ("authority", .string("黄浦区委组织部")),
            ("reference", .string(reference)),
        ])
        return try DecisionCodec.decode(.object(object))
    }

    /// Three workers in 黄浦区 (W1, W2 party secretaries since 2005, W3 staff) and one in 徐汇区 (X1).
    static func city() async throws -> Scenario {
        var s = try Scenario()
        try await s.hire("W1", "2005-01-01", post: "principal", role: "party-secretary")
        try await s.hire("W2", "2005-01-01", post: "principal", role: "party-secretary")
        try await s.hire("W3", "2012-01-01")
        try await s.hire("X1", "2012-01-01", district: "徐汇区")
        return s
    }

    func trace(_ s: Scenario, _ worker: String) async throws -> [TraceEntry] {
        try await s.ledger.trace(subject: worker).entries
    }

    func refused(_ s: Scenario, _ decision: Decision, _ rule: Rule, field: String, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let before = try s.eventCount()
        do {
            _ = try await s.ledger.record(decision)
            Issue.record("expected a refusal under \(rule.rawValue)", sourceLocation: sourceLocation)
        } catch LedgerError.refused(_, let violations) {
            #expect(violations.contains { $0.rule == rule }, "got \(violations)", sourceLocation: sourceLocation)
            #expect(violations.contains { $0.message.contains("field \"\(field)\"") }, "got \(violations)", sourceLocation: sourceLocation)
        }
        #expect(try s.eventCount() == before, "a refused decision writes nothing", sourceLocation: sourceLocation)
    }

    @Test("a selection is recorded once, in the jurisdiction's stream, and shown in the trace of every worker it names")
    func selectionInTraces() async throws {
        let s = try await Self.city()
        let recorded = try await s.ledger.record(try Self.selection(selected: ["W1"], passedOver: ["W2", "W3"]))
        #expect(recorded.decision.stream == .jurisdiction("上海/黄浦区"))
        // Idempotent on (jurisdiction, decision, reference); a different one under the key conflicts.
        let again = try await s.ledger.record(try Self.selection(selected: ["W1"], passedOver: ["W2", "W3"]))
        #expect(again.duplicate && again.eventID == recorded.eventID)
        await #expect(throws: StoreError.self) { try await s.ledger.record(try Self.selection(selected: ["W2"], passedOver: ["W1"])) }

        for (worker, result) in [("W1", "selected"), ("W2", "passed-over"), ("W3", "passed-over")] {
            let entries = try await trace(s, worker)
            let entry = entries.first { $0.event.eventID == recorded.eventID }
            #expect(entry?.selection?.rawValue == result, "\(worker)")
            #expect(entry?.json["selection"] == .string(result))
            #expect(entry?.json["decision"] == .string("selection"))
            // Merged in log order: after the worker's hire.
            #expect(entries.map(\.event.position) == entries.map(\.event.position).sorted())
        }
        #expect(try await trace(s, "X1").allSatisfy { $0.event.type != "selection" })
    }

    @Test("selections refused: a worker not on the jurisdiction's roster that day, an unknown worker; bad input named by field")
    func selectionRefusals() async throws {
        var s = try await Self.city()
        try await s.hire("W4", "2021-01-01")
        try await s.record("dismissal", "W3", "2019-01-01", ["grounds": .string("不称职")])
        try await refused(s, try Self.selection(selected: ["W1"], passedOver: ["X1"]), .selectionRoster, field: "passedOver")
        try await refused(s, try Self.selection(selected: ["W4"], passedOver: []), .selectionRoster, field: "selected")
        try await refused(s, try Self.selection(selected: ["W1"], passedOver: ["W3"]), .selectionRoster, field: "passedOver")
        try await refused(s, try Self.selection(selected: ["NOBODY"], passedOver: []), .unknownWorker, field: "selected")
        // A city-wide round takes any district of the city.
        _ = try await s.ledger.record(try Self.selection(jurisdiction: "上海", selected: ["W1"], passedOver: ["X1"], reference: "SH-1"))

        func invalid(_ json: String, _ field: String, sourceLocation: SourceLocation = #_sourceLocation) {
            do {
                _ = try DecisionCodec.decode(json: json)
                Issue.record("\(json) was read", sourceLocation: sourceLocation)
            } catch {
                #expect(error.problems.contains { $0.field == field }, "\(error)", sourceLocation: sourceLocation)
            }
        }
        let base = #""decision":"selection","jurisdiction":"上海/黄浦区","criteria":"c","effective":"2020-06-01","authority":"a","reference":"r""#
        invalid(#"{\#(base),"for":"mayor","selected":["W1"],"passedOver":[]}"#, "for")
        invalid(#"{\#(base),"for":"post","selected":["W1"],"passedOver":["W1"]}"#, "passedOver")
        invalid(#"{\#(base),"for":"post","selected":[],"passedOver":[]}"#, "selected")
        invalid(#"{\#(base),"for":"post","selected":["W1"],"passedOver":[],"colour":"red"}"#, "colour")
        invalid(#"{\#(base),"for":"post","selected":"W1","passedOver":[]}"#, "selected")
        invalid(#"{\#(base),"for":"post","selected":["W 1"],"passedOver":[]}"#, "selected[0]")
        invalid(#"{\#(base),"for":"post","selected":[1],"passedOver":[]}"#, "selected[0]")
        invalid(#"{\#(base),"for":"post","selected":["W1","W1"],"passedOver":[]}"#, "selected")
        let many = (0...200).map { "\"W\($0)\"" }.joined(separator: ",")
        invalid(#"{\#(base),"for":"post","selected":[\#(many)],"passedOver":[]}"#, "selected")
        invalid(#"{"decision":"appeal","worker":"W1","against":"nope","grounds":"g","effective":"2020-06-01","authority":"a","reference":"r"}"#, "against")
        invalid(#"{"decision":"appeal","worker":"W1","against":"0b5f1c7e-1f0a-4c59-9a3e-5d6c2b8e4f10","effective":"2020-06-01","authority":"a","reference":"r"}"#, "grounds")
    }

    @Test("an appeal against a decision: open, then overturned (the decision is rescinded) or upheld (it stands)")
    func appealOnDecision() async throws {
        var s = try await Self.city()
        let misconduct = try await s.record("misconduct", "W3", "2015-02-01", ["description": .string("台账填报不实"), "sanction": .string("demerit")])
        let appeal = try await s.record("appeal", "W3", "2015-03-01", ["against": misconduct.eventID.json, "grounds": .string("事实不清；'); DROP TABLE dossier.events; --")])
        var entries = try await trace(s, "W3")
        var target = entries.first { $0.event.eventID == misconduct.eventID }
        var lodged = entries.first { $0.event.eventID == appeal.eventID }
        #expect(target?.status.appealedBy == [appeal.eventID] && target?.json["appealed"] == .bool(true))
        #expect(lodged?.appealStatus == "open" && lodged?.againstDecision == "misconduct")
        #expect(lodged?.json["against"] == misconduct.eventID.json)
        // The injection string is stored as text.
        #expect(lodged?.event.payload["grounds"] == .string("事实不清；'); DROP TABLE dossier.events; --"))
        #expect(try await s.show("W3", asOf: "2015-12-31").state.misconducts.count == 1)

        let ruling = try await s.record("appeal-ruling", "W3", "2015-06-01", ["appealed": appeal.eventID.json, "outcome": .string("overturned")])
        entries = try await trace(s, "W3")
        target = entries.first { $0.event.eventID == misconduct.eventID }
        lodged = entries.first { $0.event.eventID == appeal.eventID }
        #expect(target?.status.overturnedBy == ruling.eventID)
        #expect(lodged?.appealStatus == "overturned" && lodged?.json["ruledBy"] == ruling.eventID.json)
        #expect(lodged?.status.isVoid == false, "the appeal itself stands")
        #expect(try await s.show("W3", asOf: "2015-12-31").state.misconducts.isEmpty, "overturned: as if never made")
        // Not before the appeal was lodged.
        try await s.refuse(.appealRulingDate, "appeal-ruling", "W3", "2015-02-28", ["appealed": appeal.eventID.json, "outcome": .string("upheld")])
        // Ruled once.
        try await s.refuse(.appealRuled, "appeal-ruling", "W3", "2015-07-01", ["appealed": appeal.eventID.json, "outcome": .string("upheld")])
        // Nothing left to appeal.
        try await s.refuse(.alreadyRescinded, "appeal", "W3", "2015-08-01", ["against": misconduct.eventID.json, "grounds": .string("again")])

        // Upheld: the dismissal stands.
        let dismissal = try await s.record("dismissal", "W2", "2016-01-01", ["grounds": .string("不称职")])
        let second = try await s.record("appeal", "W2", "2016-01-10", ["against": dismissal.eventID.json, "grounds": .string("程序违法")])
        let upheld = try await s.record("appeal-ruling", "W2", "2016-04-01", ["appealed": second.eventID.json, "outcome": .string("upheld")])
        entries = try await trace(s, "W2")
        #expect(entries.first { $0.event.eventID == dismissal.eventID }?.status.upheldBy == upheld.eventID)
        #expect(entries.first { $0.event.eventID == second.eventID }?.appealStatus == "upheld")
        #expect(try await s.show("W2", asOf: "2016-06-01").state.status == .exited)
        // Once ruled, another appeal against it may be lodged (a new case).
        _ = try await s.record("appeal", "W2", "2016-05-01", ["against": dismissal.eventID.json, "grounds": .string("新证据")])
    }

    @Test("appeals refused, naming the field, nothing written: no such event, another worker's, a selection not naming the worker, one already open")
    func appealRefusals() async throws {
        var s = try await Self.city()
        let selection = try await s.ledger.record(try Self.selection(selected: ["W1"], passedOver: ["W2"]))
        let training = try await s.record("training", "W1", "2016-01-01", ["kind": .string("special"), "hours": .integer(8)])
        let against = { (id: UUID) -> [String: JSONValue] in ["against": id.json, "grounds": .string("不服")] }
        try await s.refuse(.appealTarget, "appeal", "W2", "2020-07-01", against(UUID()), message: #"field "against": no event"#)
        try await s.refuse(.appealTarget, "appeal", "W2", "2020-07-01", against(training.eventID), message: "another worker's record")
        try await s.refuse(.appealTarget, "appeal", "W3", "2020-07-01", against(selection.eventID), message: "does not name W3")
        try await s.refuse(.unknownWorker, "appeal", "NOBODY", "2020-07-01", against(selection.eventID))
        let first = try await s.record("appeal", "W2", "2020-07-01", against(selection.eventID))
        try await s.refuse(.appealOpen, "appeal", "W2", "2020-07-02", against(selection.eventID), message: "is still open")
        try await s.refuse(.targetKind, "appeal", "W2", "2020-07-02", against(first.eventID), message: #"field "against""#)
        // Withdrawn (rescinded): a new appeal may be lodged.
        try await s.record("rescission", "W2", "2020-07-03", ["rescinds": first.eventID.json, "grounds": .string("撤回申诉")])
        _ = try await s.record("appeal", "W2", "2020-07-04", against(selection.eventID))
    }

    @Test("passed over: eligibility names the selection; overturned on appeal it is re-opened, from the ruling's date and once it is known")
    func reopenedEligibility() async throws {
        var s = try await Self.city()
        #expect(try await s.show("W2", asOf: "2020-05-01").eligibility(.publicInstitution).eligible, "the policy alone would allow it")
        let selection = try await s.ledger.record(try Self.selection(selected: ["W1"], passedOver: ["W2"]))
        var report = try await s.show("W2", asOf: "2020-07-01")
        var eligibility = report.eligibility(.publicInstitution)
        #expect(!eligibility.eligible && eligibility.reason.contains("passed over in the public-institution selection SEL-2020-1"), "\(eligibility.reason)")
        #expect(report.json["selections"] != nil && report.selections.first?.result == .passedOver)
        #expect(try await s.show("W2", asOf: "2020-05-31").eligibility(.publicInstitution).eligible, "not before the round")
        #expect(try await s.show("W1", asOf: "2020-07-01").eligibility(.publicInstitution).reason.hasPrefix("selected in"))

        let appeal = try await s.record("appeal", "W2", "2020-07-15", ["against": selection.eventID.json, "grounds": .string("评分有误")])
        eligibility = try await s.show("W2", asOf: "2020-08-01").eligibility(.publicInstitution)
        #expect(!eligibility.eligible && eligibility.reason.contains("lodged 2020-07-15 is open"), "\(eligibility.reason)")
        try await Task.sleep(for: .milliseconds(20))
        let beforeRuling = Timestamp(microsecondsSinceEpoch: Int64(Date().timeIntervalSince1970 * 1_000_000))
        try await Task.sleep(for: .milliseconds(20))
        let ruling = try await s.record("appeal-ruling", "W2", "2020-10-01", ["appealed": appeal.eventID.json, "outcome": .string("overturned")])

        eligibility = try await s.show("W2", asOf: "2020-09-30").eligibility(.publicInstitution)
        #expect(!eligibility.eligible, "before the ruling's effective date: still passed over (\(eligibility.reason))")
        report = try await s.show("W2", asOf: "2020-10-01")
        eligibility = report.eligibility(.publicInstitution)
        #expect(eligibility.eligible, "\(eligibility.reason)")
        #expect(eligibility.reason.hasPrefix("re-opened by the appeal ruling \(ruling.decision.reference) of 2020-10-01 (event \(ruling.eventID.uuidString.lowercased()))"), "\(eligibility.reason)")
        #expect(report.selections.first?.reopened == true)
        #expect(report.json["eligibility"]?.objectValue?["publicInstitution"]?.objectValue?["eligible"] == .bool(true))
        eligibility = try await s.show("W2", asOf: "2020-10-01", knownAt: beforeRuling).eligibility(.publicInstitution)
        #expect(!eligibility.eligible && eligibility.reason.contains("is open"), "as known before the ruling was recorded: \(eligibility.reason)")
        // Only for the worker who appealed: the selected worker's round stands.
        #expect(try await s.show("W1", asOf: "2020-10-01").selections.first?.reopened == false)

        // The trace shows the appeal, its target and the ruling together.
        let entries = try await trace(s, "W2")
        let target = entries.first { $0.event.eventID == selection.eventID }
        #expect(target?.status.appealedBy == [appeal.eventID] && target?.status.overturnedBy == ruling.eventID)
        #expect(target?.json["overturned"] == .bool(true) && target?.json["selection"] == .string("passed-over"))
        let lodged = entries.first { $0.event.eventID == appeal.eventID }
        #expect(lodged?.againstDecision == "selection" && lodged?.appealStatus == "overturned")
        #expect(lodged?.json["ruledBy"] == ruling.eventID.json)
        let w1 = try await trace(s, "W1").first { $0.event.eventID == selection.eventID }
        #expect(w1?.status.overturnedBy == nil && w1?.status.appealedBy == [])
    }

    @Test("the database refuses an hr clerk's selection for another district, through Dossier and through a direct append")
    func clerkScope() async throws {
        let p = try People3()
        _ = try await p.scenario.ledger.record(try p.hire("HP-1"))
        _ = try await p.scenario.ledger.record(try p.hire("XH-1", district: "徐汇区"))
        let clerk = try p.add("clerk", .hr, ["上海/黄浦区"])
        let ledger = Ledger(try p.configuration(as: clerk))
        let before = try p.snapshot()
        let outside = try Self.selection(jurisdiction: "上海/徐汇区", selected: ["XH-1"], passedOver: [], reference: "XH-SEL-1")
        let error = await #expect(throws: StoreError.self) { try await ledger.record(outside) }
        #expect(error?.description.contains("outside the scopes of \(clerk)") == true, "\(error?.description ?? "")")
        // The same through the append function, as the clerk's own session (psql).
        let connection = try p.connection(as: clerk)
        let payload = JSONObject([
            ("for", .string("post")), ("selected", .array([.string("XH-1")])), ("passedOver", .array([])), ("criteria", .string("c")),
        ])
        #expect(throws: (any Error).self) {
            try EventLog.append(connection, to: .jurisdiction("上海/徐汇区"), expected: .any, events: [event("selection", payload: payload, effective: "2020-06-01")])
        }
        #expect(throws: PostgresError.self) {
            try connection.query(
                "INSERT INTO dossier.events (position, stream, version, event_id, event_type, schema_version, payload, effective, recorded_at, recorded_by, authority, reference) VALUES (999999, 'jurisdiction/上海/徐汇区', 1, gen_random_uuid(), 'selection', 1, '{}', '2020-06-01', now(), 'x', 'a', 'r')")
        }
        #expect(try p.snapshot() == before)
        // Its own district: recorded.
        _ = try await ledger.record(try Self.selection(selected: ["HP-1"], passedOver: [], reference: "HP-SEL-1"))
    }

    @Test("the database itself refuses bad selections and appeals that bypass Dossier's judgement")
    func databaseChecks() async throws {
        var s = try await Self.city()
        let admin = try adminConnection(s.configuration)
        let selection = try await s.ledger.record(try Self.selection(selected: ["W1"], passedOver: ["W2"]))
        let other = try await s.record("training", "W1", "2016-01-01", ["kind": .string("special"), "hours": .integer(8)])
        let before = try s.eventCount()
        func rejected(_ stream: StreamID, _ type: String, _ payload: JSONObject, _ text: String, sourceLocation: SourceLocation = #_sourceLocation) {
            let error = #expect(throws: (any Error).self, sourceLocation: sourceLocation) {
                try EventLog.append(admin, to: stream, expected: .any, events: [event(type, payload: payload, effective: "2020-08-01")])
            }
            #expect("\(error.map { String(describing: $0) } ?? "")".contains(text), "\(String(describing: error))", sourceLocation: sourceLocation)
        }
        func payload(_ selected: [String], _ passedOver: [String]) -> JSONObject {
            JSONObject([
                ("for", .string("post")), ("selected", .array(selected.map(JSONValue.string))),
                ("passedOver", .array(passedOver.map(JSONValue.string))), ("criteria", .string("c")),
            ])
        }
        let huangpu = StreamID.jurisdiction("上海/黄浦区")
        rejected(huangpu, "selection", payload(["W1"], ["W1"]), "both selected and passed over")
        rejected(huangpu, "selection", payload([], []), "names no worker")
        rejected(huangpu, "selection", payload(["X1"], []), "not placed in 上海/黄浦区")
        rejected(huangpu, "selection", payload(["NOBODY"], []), "no hire of worker NOBODY")
        rejected(huangpu, "selection", JSONObject([("for", .string("mayor")), ("selected", .array([])), ("passedOver", .array([])), ("criteria", .string("c"))]), "for")
        let appeal = { (id: UUID) in JSONObject([("against", id.json), ("grounds", .string("g"))]) }
        rejected(.worker("W3"), "appeal", appeal(selection.eventID), "does not name W3")
        rejected(.worker("W2"), "appeal", appeal(other.eventID), "is not a decision of worker/W2")
        rejected(.worker("W2"), "appeal", appeal(UUID()), "is not recorded")
        _ = try EventLog.append(admin, to: .worker("W2"), expected: .any, events: [event("appeal", payload: appeal(selection.eventID), effective: "2020-08-01")])
        rejected(.worker("W2"), "appeal", appeal(selection.eventID), "still open")
        #expect(try s.eventCount() == before + 1)
    }
}
