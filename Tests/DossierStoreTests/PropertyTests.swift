import DossierDomain
import DossierStore
import Foundation
import Testing

/// The seeded generator of the property tests.
typealias TestRandom = SplitMix64

@Suite("Properties of recording and replay")
struct PropertyTests {
    /// Random decisions (valid or not, in or out of date order, corrections, rescissions,
    /// rulings and appeals among them) for three workers.
    static func randomDecisions(_ random: inout TestRandom, scenario: inout Scenario, recorded: [UUID: (String, String)]) -> Decision {
        let worker = "P\(random.int(1...3))"
        let date = "20\(10 + random.int(0...15))-\(String(format: "%02d", random.int(1...12)))-\(String(format: "%02d", random.int(1...28)))"
        let mine = recorded.filter { $0.value.0 == worker }
        switch random.int(0...13) {
        case 0, 1: return scenario.decision("hire", worker, date, Scenario.hireFields(level: random.int(1...18)))
        case 2: return scenario.decision("assessment", worker, date, ["year": .integer(Int64(Int(date.prefix(4))! - 1)), "grade": .string(random.pick(Grade.allCases).rawValue)])
        case 3: return scenario.decision("level-change", worker, date, ["level": .integer(Int64(random.int(1...18))), "grounds": .string(random.pick(LevelGrounds.allCases).rawValue)])
        case 4: return scenario.decision("training", worker, date, ["kind": .string("special"), "hours": .integer(Int64(random.int(1...40)))])
        case 5: return scenario.decision("misconduct", worker, date, ["description": .string("x"), "sanction": .string(random.pick(Sanction.allCases).rawValue)])
        case 6: return scenario.decision(random.pick(["resignation", "retirement", "civil-service"]), worker, date)
        case 7: return scenario.decision("transfer", worker, date, ["community": .string("桥\(random.int(1...4))居民区"), "street": .string("五里桥街道"), "district": .string(random.pick(["黄浦区", "徐汇区"]))])
        case 8: return scenario.decision("secondment", worker, date, ["to": .string("街道办"), "toLevel": .string("street"), "until": .string("2027-01-01"), "approval": .string("批")])
        case 9: return scenario.decision("secondment-end", worker, date)
        default:
            guard let (target, kind) = mine.randomElement().map({ ($0.key, $0.value.1) }) else {
                return scenario.decision("qualification", worker, date, ["certificate": .string("social-worker")])
            }
            switch random.int(0...3) {
            case 0 where kind == "assessment":
                return scenario.decision("correction", worker, date, ["corrects": target.json, "grade": .string(random.pick(Grade.allCases).rawValue)])
            case 1 where kind == "misconduct":
                return scenario.decision("fault-tolerance", worker, date, ["misconduct": target.json, "ruling": .string(random.pick(FaultRuling.allCases).rawValue)])
            case 2:
                return scenario.decision("appeal-ruling", worker, date, ["appealed": target.json, "outcome": .string(random.pick(AppealOutcome.allCases).rawValue)])
            default:
                return scenario.decision("rescission", worker, date, ["rescinds": target.json, "grounds": .string("误录")])
            }
        }
    }

    @Test("the fold of the stored events equals the state computed while recording, in any chunking", arguments: [1 as UInt64, 2, 3])
    func foldEqualsRecording(seed: UInt64) async throws {
        var random = TestRandom(state: seed)
        var scenario = try Scenario()
        var recorded: [UUID: (String, String)] = [:]
        // What the recorder knows: every accepted decision, as it will read back.
        var mirror: [String: [StoredDecision]] = [:]
        var accepted = 0
        for _ in 0..<150 {
            let decision = Self.randomDecisions(&random, scenario: &scenario, recorded: recorded)
            let outcome: Ledger.Recorded
            do {
                outcome = try await scenario.ledger.record(decision)
            } catch is LedgerError {
                continue  // refused by a rule: the generator makes many of those on purpose
            } catch {
                Issue.record("recording \(decision.kind.rawValue) \(decision.reference) for \(decision.subject) failed: \(error)")
                continue
            }
            accepted += 1
            recorded[outcome.eventID] = (decision.subject, decision.kind.rawValue)
            var stored = outcome.decision
            stored.personal = nil
            mirror[decision.subject, default: []].append(StoredDecision(
                event: RecordedEvent(
                    position: outcome.position, stream: decision.stream, version: outcome.version, eventID: outcome.eventID,
                    type: decision.kind.rawValue, schemaVersion: 1, payload: DecisionCodec.payload(of: decision),
                    effective: decision.effective, recordedAt: outcome.recordedAt, recordedBy: "dossier_super",
                    authority: decision.authority, reference: decision.reference),
                decision: stored))
        }
        // (The count varies a little between runs: targets are picked among event ids, which are random.)
        #expect(accepted > 12, "the generator should produce enough valid decisions")

        let store = EventStore(scenario.configuration)
        for chunk in [1, 7, 1000] {
            var byStream: [StreamID: [StoredDecision]] = [:]
            var last: Int64 = 0
            while true {
                let batch = try await store.readAll(after: last, limit: chunk)
                guard let tail = batch.last else { break }
                for event in batch { byStream[event.stream, default: []].append(try StoredDecision(event: event)) }
                last = tail.position
            }
            for (worker, mirrored) in mirror {
                let fromLog = Replay.fold(worker: worker, Replay.history(byStream[.worker(worker)] ?? [])).state
                let whileRecording = Replay.fold(worker: worker, Replay.history(mirrored)).state
                #expect(fromLog == whileRecording, "worker \(worker), chunk \(chunk)")
                for asOf in ["2012-06-30", "2018-01-01", "2026-12-31"] {
                    let date = CalendarDate(asOf)!
                    let shown = try await scenario.ledger.show(worker: worker, asOf: date).state
                    #expect(shown == Replay.fold(worker: worker, Replay.history(mirrored), asOf: date).state, "\(worker) on \(asOf)")
                }
            }
        }

        // The placement spans kept while recording (quota checks read them) equal the fold's.
        let admin = try adminConnection(scenario.configuration)
        for (worker, mirrored) in mirror {
            let kept = try admin.query(
                "SELECT community, from_date::text, coalesce(until_date::text, '') FROM dossier.placements WHERE worker = \(worker) ORDER BY span"
            ).rows.map { "\(try $0.decode(String.self, at: 0)) \(try $0.decode(String.self, at: 1)) \(try $0.decode(String.self, at: 2))" }
            let folded = Replay.fold(worker: worker, Replay.history(mirrored)).state.spans.map {
                "\($0.placement.community) \($0.from) \($0.until.map(\.description) ?? "")"
            }
            #expect(kept == folded, "placements of \(worker)")
        }
    }
}
