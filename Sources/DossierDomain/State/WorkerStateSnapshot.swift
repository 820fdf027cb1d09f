import Foundation

/// A worker's stream folded once: what judging the next decision appended at its end needs.
///
/// Judging a decision from its stream's history decodes every event and folds them twice (before
/// and after the decision) to find what it breaks, there and later on. When the decision comes
/// last in effective order and points at no other event, the fold before it is the stream's
/// fold, nothing after it can change, and its verdict is the one `apply` gives on the folded
/// state. A snapshot keeps that state with what else the rules read of the history, and the
/// versions it was folded at: the worker's stream version and the policy stream's (the state
/// depends on the policy in force through the level-up years an assessment-grounded level change
/// uses). A snapshot is used only at both versions; anything else is judged from history.
public struct WorkerStateSnapshot: Sendable, Equatable, Codable {
    /// The encoding this program writes and reads; another is ignored (judged from history).
    public static let format = 1

    /// The worker's stream version folded.
    public var version: Int
    /// The policy stream's version folded with.
    public var policyVersion: Int
    /// The state after the stream's last decision in effective order.
    public var state: WorkerState
    /// The latest effective date of the decisions in force (nil when none).
    public var lastEffective: CalendarDate?
    /// Whether the stream holds a hire (in force or not): other decisions need one.
    public var hasHire: Bool
    /// Assessment years the history in force already holds twice (`one-assessment-per-year` is
    /// broken again only by a new duplicate).
    public var assessmentYearsTwice: Set<Int>

    /// The snapshot of a worker's stream at `version` (its decisions `stored`), folded with the
    /// reference data of `context`, whose policy is the policy stream's at `policyVersion`.
    public init(worker: String, version: Int, stored: [StoredDecision], context: RuleContext, policyVersion: Int) {
        let history = Replay.history(stored)
        self.version = version
        self.policyVersion = policyVersion
        self.state = Replay.fold(worker: worker, history, context: context).state
        self.lastEffective = history.entries.last?.decision.effective
        self.hasHire = stored.contains { $0.decision.kind == .hire }
        var seen = Set<Int>()
        var twice = Set<Int>()
        for entry in history.entries {
            if case .assessment(let year, _) = entry.decision.body, !seen.insert(year).inserted { twice.insert(year) }
        }
        self.assessmentYearsTwice = twice
    }

    /// Whether `decision` can be judged from this snapshot: a decision of this worker that comes
    /// last in effective order and reads nothing of the history but the state (not a hire, which
    /// compares the person and counts quotas; not a correction, rescission, ruling or appeal,
    /// which point at other events). Whether it is recorded already (sent again) the caller asks
    /// the log, which answers that from an index.
    public func judges(_ decision: Decision) -> Bool {
        guard Self.mayJudge(decision), decision.subject == state.worker, hasHire else { return false }
        return lastEffective.map { decision.effective >= $0 } ?? true
    }

    /// Whether a snapshot may judge a decision of this kind at all (whatever the stream holds).
    public static func mayJudge(_ decision: Decision) -> Bool {
        decision.subjectKind == .worker && decision.knownSince == nil && decision.kind != .hire && decision.kind != .appeal
            && !decision.kind.isMeta && decision.referencedEvent == nil
    }

    /// The snapshot with `decision` (judged from this one, recorded as `eventID` at `version`) applied.
    public func appending(_ decision: Decision, eventID: UUID, version: Int, context: RuleContext) -> WorkerStateSnapshot {
        var next = self
        _ = next.state.apply(decision, eventID: eventID, context: context)
        next.version = version
        next.lastEffective = decision.effective
        if case .assessment(let year, _) = decision.body, state.assessments[year] != nil { next.assessmentYearsTwice.insert(year) }
        return next
    }
}

extension Evaluator {
    /// Judges `decision`, to be recorded as `eventID`, from its stream's snapshot: the same
    /// verdict as `evaluate` on the stream's history, for the decisions `snapshot.judges`.
    /// Nil when the snapshot cannot judge it (judge it from history).
    public static func evaluate(
        _ decision: Decision, eventID: UUID, snapshot: WorkerStateSnapshot, context: RuleContext
    ) -> Verdict? {
        guard snapshot.judges(decision) else { return nil }
        var decision = decision
        var context = context
        context.quotaCheckedEvent = eventID
        var state = snapshot.state
        // A transfer within the worker's city may leave the city out.
        if case .transfer(var placement) = decision.body, placement.city.isEmpty {
            placement.city = state.placement?.city ?? ""
            decision.body = .transfer(placement)
        }
        var verdict: Verdict
        if case .assessment(let year, _) = decision.body, state.assessments[year] != nil,
            !snapshot.assessmentYearsTwice.contains(year)
        {
            verdict = Verdict(
                decision: decision,
                violations: [
                    RuleViolation(.oneAssessmentPerYear, "an annual assessment of \(year) is already recorded; correct it instead of adding another")
                ])
        } else {
            let violations = state.apply(decision, eventID: eventID, context: context)
            verdict = Verdict(decision: decision, violations: violations, warnings: WorkerState.quotaWarnings(for: decision, context: context))
        }
        // The gazetteer, as `evaluate` checks it.
        let places = context.places.check(verdict.decision)
        verdict.violations = places.violations + verdict.violations
        verdict.warnings += places.warnings
        return verdict
    }
}
