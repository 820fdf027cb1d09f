import Foundation

/// The judgement on one decision before it is recorded.
public struct Verdict: Sendable, Equatable {
    /// The decision as it will be recorded (a transfer's city filled in from the record).
    public var decision: Decision
    /// Every rule broken: by the decision itself, or by a later recorded decision that it
    /// would make invalid (a retroactive exit before a recorded level change, say).
    public var violations: [RuleViolation]

    public init(decision: Decision, violations: [RuleViolation]) {
        self.decision = decision
        self.violations = violations
    }

    /// Recorded: nothing broken, or only policy rules with an override given.
    public var accepted: Bool {
        violations.isEmpty || (decision.override != nil && violations.allSatisfy { !$0.rule.isStructural })
    }

    /// Recorded despite a policy rule: listed for auditors.
    public var isException: Bool { accepted && !violations.isEmpty }
}

/// Judges decisions against a stream's history, the policy in force on their effective date
/// and, for hires and transfers, the jurisdiction's quota.
public enum Evaluator {
    /// Judges `decision`, to be recorded as `eventID`, against the stream's `history`.
    ///
    /// A retroactive decision is judged against the history as it stands on its effective date,
    /// and every recorded decision after it is judged again: a rule it newly breaks counts.
    public static func evaluate(
        _ decision: Decision, eventID: UUID, history stored: [StoredDecision], context: RuleContext
    ) -> Verdict {
        var decision = decision
        var context = context
        context.quotaCheckedEvent = eventID
        var violations: [RuleViolation] = []
        let before = Replay.history(stored)

        switch decision.kind.subject {
        case .jurisdiction, .policy:
            return Verdict(decision: decision, violations: [])
        case .cadre:
            if decision.kind == .temporaryPostEnd, !stored.contains(where: { $0.decision.kind == .temporaryPost }) {
                violations.append(RuleViolation(.unknownTemporaryPost, "no temporary post of \(decision.subject) is recorded"))
            }
        case .worker:
            if decision.kind != .hire, !stored.contains(where: { $0.decision.kind == .hire }) {
                violations.append(
                    RuleViolation(.unknownWorker, "no hire of worker \(decision.subject) is recorded; record the hire first"))
                return Verdict(decision: decision, violations: violations)
            }
        }

        // A transfer within the worker's city may leave the city out.
        if case .transfer(var placement) = decision.body, placement.city.isEmpty {
            let state = Replay.fold(worker: decision.subject, before, asOf: decision.effective).state
            placement.city = state.placement?.city ?? ""
            decision.body = .transfer(placement)
        }

        violations += structuralProblems(decision, in: stored, history: before)
        if !violations.isEmpty { return Verdict(decision: decision, violations: violations) }

        // Judge by replay: what the decision breaks, and what it newly breaks later on.
        let candidate = StoredDecision(
            event: RecordedEvent(
                position: Int64.max, stream: decision.stream, version: Int.max, eventID: eventID, type: decision.kind.rawValue,
                schemaVersion: DecisionCodec.currentSchemaVersion(of: decision.kind), payload: DecisionCodec.payload(of: decision),
                effective: decision.effective, recordedAt: Timestamp(microsecondsSinceEpoch: Int64.max),
                recordedBy: "", authority: decision.authority, reference: decision.reference),
            decision: decision)
        let after = Replay.history(stored + [candidate])
        if decision.kind == .assessment || decision.kind == .correction {
            violations += duplicateAssessments(after, before: before)
            if !violations.isEmpty { return Verdict(decision: decision, violations: violations) }
        }
        let old: [UUID: [RuleViolation]]
        let new: [UUID: [RuleViolation]]
        if decision.kind.subject == .cadre {
            old = Replay.foldCadre(cadre: decision.subject, before).1
            new = Replay.foldCadre(cadre: decision.subject, after).1
        } else {
            old = Replay.fold(worker: decision.subject, before, context: context).violations
            new = Replay.fold(worker: decision.subject, after, context: context).violations
        }
        // The decision's own violations first, then consequences in effective order.
        violations += new[eventID] ?? []
        if decision.kind.isMeta, let target = decision.referencedEvent {
            violations += (new[target] ?? []).filter { !(old[target] ?? []).contains($0) }
        }
        for entry in after.entries where entry.eventID != eventID && entry.eventID != decision.referencedEvent {
            let fresh = (new[entry.eventID] ?? []).filter { !(old[entry.eventID] ?? []).contains($0) }
            violations += fresh.map {
                RuleViolation($0.rule, "it would make the recorded \(entry.decision.kind.rawValue) of \(entry.decision.effective) invalid: \($0.message)")
            }
        }
        return Verdict(decision: decision, violations: violations)
    }

    /// Structural rules about the events a decision points at. Cannot be overridden.
    static func structuralProblems(_ decision: Decision, in stored: [StoredDecision], history: History) -> [RuleViolation] {
        guard let target = decision.referencedEvent else { return [] }
        let short = target.uuidString.lowercased()
        guard let referenced = stored.first(where: { $0.eventID == target }) else {
            return [
                RuleViolation(
                    .foreignEvent,
                    "event \(short) is not in the record of \(decision.subject); a decision can only point at its own record")
            ]
        }
        let targetKind = referenced.decision.kind
        let status = history.status[target] ?? EventStatus()
        switch decision.body {
        case .faultTolerance:
            if targetKind != .misconduct {
                return [RuleViolation(.targetKind, "a fault-tolerance ruling rules on a misconduct; event \(short) is a \(targetKind.rawValue)")]
            }
        case .appealRuling:
            if targetKind.isMeta {
                return [RuleViolation(.targetKind, "an appeal rules on a decision, not on a \(targetKind.rawValue) (event \(short))")]
            }
            if status.isVoid {
                return [RuleViolation(.alreadyRescinded, "event \(short) is already rescinded or overturned")]
            }
        case .correction(let correction):
            if targetKind.isMeta {
                return [RuleViolation(.targetKind, "a \(targetKind.rawValue) cannot be corrected (event \(short)); rescind it instead")]
            }
            if status.isVoid {
                return [RuleViolation(.alreadyRescinded, "event \(short) is rescinded or overturned and cannot be corrected")]
            }
            let current = history.entries.first { $0.eventID == target }?.decision ?? referenced.decision
            do {
                _ = try Replay.corrected(current, by: correction)
            } catch {
                return [RuleViolation(.correctionFields, "the correction does not fit the \(targetKind.rawValue) it corrects: \(error)")]
            }
            if decision.personal != nil, targetKind != .hire, targetKind != .temporaryPost {
                return [RuleViolation(.correctionFields, "personal data can only be corrected on a hire or temporary post")]
            }
        case .rescission:
            if targetKind == .rescission {
                return [RuleViolation(.targetKind, "a rescission cannot be rescinded (event \(short)); record the decision again")]
            }
            if status.isVoid {
                return [RuleViolation(.alreadyRescinded, "event \(short) is already rescinded or overturned")]
            }
        default:
            break
        }
        return []
    }

    /// Assessment years held twice in the history with the decision, not already twice before.
    static func duplicateAssessments(_ history: History, before: History) -> [RuleViolation] {
        func duplicates(_ history: History) -> Set<Int> {
            var seen = Set<Int>()
            var twice = Set<Int>()
            for entry in history.entries {
                if case .assessment(let year, _) = entry.decision.body, !seen.insert(year).inserted { twice.insert(year) }
            }
            return twice
        }
        return duplicates(history).subtracting(duplicates(before)).sorted().map {
            RuleViolation(.oneAssessmentPerYear, "an annual assessment of \($0) is already recorded; correct it instead of adding another")
        }
    }
}
