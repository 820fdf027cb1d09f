import Foundation

/// The judgement on one decision before it is recorded.
public struct Verdict: Sendable, Equatable {
    /// The decision as it will be recorded (a transfer's city filled in from the record).
    public var decision: Decision
    /// Every rule broken: by the decision itself, or by a later recorded decision that it
    /// would make invalid (a retroactive exit before a recorded level change, say).
    public var violations: [RuleViolation]
    /// What the recorder should know but that does not stop the decision (a check that could
    /// not be made, say): printed beside the recorded decision, never stored.
    public var warnings: [RuleViolation]

    public init(decision: Decision, violations: [RuleViolation], warnings: [RuleViolation] = []) {
        self.decision = decision
        self.violations = violations
        self.warnings = warnings
    }

    /// Recorded: nothing broken, or only policy rules with an override given (facts, the
    /// structural rules, are never overridden).
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
    static func evaluateRules(
        _ decision: Decision, eventID: UUID, history stored: [StoredDecision], context: RuleContext
    ) -> Verdict {
        var decision = decision
        var context = context
        context.quotaCheckedEvent = eventID
        var violations: [RuleViolation] = []

        switch decision.subjectKind {
        case .jurisdiction, .policy:
            if case .selection(let selection) = decision.body {
                violations += selectionProblems(decision, selection, context: context)
            }
            // Only an amendment reads the stream's history (a city's stream holds every place).
            if decision.kind.amendsOthers {
                violations += amendmentProblems(decision, eventID: eventID, in: stored, history: Replay.history(stored), context: context)
            }
            return Verdict(decision: decision, violations: violations)
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

        let before = Replay.history(stored)

        // A transfer within the worker's city may leave the city out.
        if case .transfer(var placement) = decision.body, placement.city.isEmpty {
            let state = Replay.fold(worker: decision.subject, before, asOf: decision.effective).state
            placement.city = state.placement?.city ?? ""
            decision.body = .transfer(placement)
        }

        violations += structuralProblems(decision, in: stored, history: before)
        violations += appealProblems(decision, in: stored, history: before, context: context)
        if !violations.isEmpty { return Verdict(decision: decision, violations: violations) }

        // Judge by replay: what the decision breaks, and what it newly breaks later on.
        let after = Replay.history(stored + [pending(decision, eventID: eventID)])
        if decision.kind == .assessment || decision.kind == .correction {
            violations += duplicateAssessments(after, before: before)
            if !violations.isEmpty { return Verdict(decision: decision, violations: violations) }
        }
        let old: [UUID: [RuleViolation]]
        let new: [UUID: [RuleViolation]]
        if decision.subjectKind == .cadre {
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
        return Verdict(decision: decision, violations: violations, warnings: WorkerState.quotaWarnings(for: decision, context: context))
    }

    /// `decision`, to be recorded as `eventID`, as the last event of its stream: how histories
    /// are read with it before it is stored.
    static func pending(_ decision: Decision, eventID: UUID) -> StoredDecision {
        StoredDecision(
            event: RecordedEvent(
                position: Int64.max, stream: decision.stream, version: Int.max, eventID: eventID, type: decision.kind.rawValue,
                schemaVersion: DecisionCodec.currentSchemaVersion(of: decision.kind), payload: DecisionCodec.payload(of: decision),
                effective: decision.effective, recordedAt: Timestamp(microsecondsSinceEpoch: Int64.max),
                recordedBy: "", authority: decision.authority, reference: decision.reference),
            decision: decision)
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

    /// A correction or rescission of a jurisdiction's decision: it amends a population figure,
    /// a policy or a place of the same stream (a policy of the same jurisdiction), not yet
    /// rescinded, and a correction leaves a decision that reads. Structural.
    /// `before` is the stream's history without it.
    static func amendmentProblems(
        _ decision: Decision, eventID: UUID, in stored: [StoredDecision], history before: History, context: RuleContext
    ) -> [RuleViolation] {
        guard let target = decision.referencedEvent else { return [] }
        let short = target.uuidString.lowercased()
        let owner = decision.subjectKind == .policy ? "the policy of \(decision.subject)" : decision.subject
        // In the policy stream, a policy and an amendment of one both name their jurisdiction.
        guard let referenced = stored.first(where: { $0.eventID == target }),
            decision.subjectKind != .policy || referenced.decision.policyJurisdiction == decision.subject
        else {
            return [
                RuleViolation(
                    .foreignEvent,
                    "event \(short) is not a decision of \(owner); a correction or rescission with \"jurisdiction\" amends "
                        + "a population figure, policy or place of that jurisdiction")
            ]
        }
        if case .selection = referenced.decision.body {
            return [
                RuleViolation(
                    .targetKind,
                    "a selection is not corrected or rescinded (event \(short)); a worker it names answers it by an appeal")
            ]
        }
        let problems = structuralProblems(decision, in: stored, history: before)
        guard problems.isEmpty, case .place = referenced.decision.body else { return problems }
        if case .correction(let correction) = decision.body,
            let field = ["kind", "action", "within", "into"].first(where: { correction.changes[$0] != nil })
        {
            return [
                RuleViolation(
                    .correctionFields,
                    "a place's \(field) is not corrected (event \(short)); rescind the place decision and record it again")
            ]
        }
        // The gazetteer with the place as amended must still hold together (and leave the other
        // place decisions valid): the whole gazetteer, since a place's parents lie in other streams.
        let amended = Replay.history(stored + [pending(decision, eventID: eventID)]).entries.first { $0.eventID == target }
        let changes = context.places.changes.compactMap { item -> (eventID: UUID, effective: CalendarDate, change: PlaceChange)? in
            guard item.eventID == target else { return item }
            guard let amended, case .place(let change) = amended.decision.body else { return nil }  // rescinded
            return (target, amended.decision.effective, change)
        }
        let old = context.places.problems
        return PlaceBook(changes: changes).problems.flatMap { id, messages in
            messages.filter { !(old[id] ?? []).contains($0) }.map {
                RuleViolation(.placeChange, "the \(decision.kind.rawValue) would leave the gazetteer invalid: \($0)")
            }
        }
    }

    /// A selection names only workers on the roster of its jurisdiction (the district, or any
    /// district of the city) on its effective date, as their records stand now. Structural.
    static func selectionProblems(_ decision: Decision, _ selection: Decision.Selection, context: RuleContext) -> [RuleViolation] {
        let jurisdiction = decision.subject
        let date = decision.effective
        var violations: [RuleViolation] = []
        for (field, worker) in selection.selected.map({ ("selected", $0) }) + selection.passedOver.map({ ("passedOver", $0) }) {
            guard let stored = context.namedWorkers[worker], stored.contains(where: { $0.decision.kind == .hire }) else {
                violations.append(
                    RuleViolation(.unknownWorker, "field \"\(field)\": no hire of worker \(worker) is recorded; a selection names workers on record"))
                continue
            }
            let state = Replay.fold(worker: worker, Replay.history(stored), asOf: date).state
            let placement = state.placement
            let inPlace = placement.map { $0.districtJurisdiction == jurisdiction || $0.city == jurisdiction } ?? false
            if !state.isOnRoster || !inPlace {
                let where_ = state.isOnRoster ? "on the roster of \(placement.map(\.districtJurisdiction) ?? "no jurisdiction")" : state.statusPhrase(on: date)
                violations.append(
                    RuleViolation(
                        .selectionRoster,
                        "field \"\(field)\": \(worker) was not on the roster of \(jurisdiction) on \(date) (\(where_)); "
                            + "a selection names only workers on its jurisdiction's roster on its effective date"))
            }
        }
        return violations
    }

    /// The structural rules of appeals, and of rulings on appeals. An appeal is lodged against
    /// an event that exists and is either a decision of the worker's own record (not a
    /// correction, rescission, ruling or appeal, and not void) or a selection that names the
    /// worker; no other appeal of the worker against it is open. A ruling rules on an appeal
    /// once.
    static func appealProblems(_ decision: Decision, in stored: [StoredDecision], history: History, context: RuleContext) -> [RuleViolation] {
        switch decision.body {
        case .appeal(let against, _):
            let short = against.uuidString.lowercased()
            var violations: [RuleViolation] = []
            if let target = stored.first(where: { $0.eventID == against }) {
                let kind = target.decision.kind
                if kind.isMeta || kind == .appeal {
                    violations.append(
                        RuleViolation(
                            .targetKind,
                            "field \"against\": an appeal is lodged against a decision or a selection, not against a \(kind.rawValue) "
                                + "(event \(short))"))
                } else if history.status[against]?.isVoid == true {
                    violations.append(
                        RuleViolation(.alreadyRescinded, "field \"against\": event \(short) is already rescinded or overturned; there is nothing to appeal"))
                }
            } else if let target = context.appealTarget, target.eventID == against {
                if case .selection(let selection) = target.decision.body {
                    if selection.result(for: decision.subject) == nil {
                        violations.append(
                            RuleViolation(
                                .appealTarget,
                                "field \"against\": the selection \(short) (\(target.event.reference), \(target.event.stream.subject)) does not "
                                    + "name \(decision.subject); a worker appeals only a selection that selected or passed them over"))
                    }
                } else if target.event.stream.kind == "worker" {
                    violations.append(
                        RuleViolation(
                            .appealTarget,
                            "field \"against\": event \(short) is a \(target.event.type) of another worker's record "
                                + "(\(target.event.stream.subject)); \(decision.subject) may appeal only their own decisions or a selection naming them"))
                } else {
                    violations.append(
                        RuleViolation(
                            .appealTarget,
                            "field \"against\": event \(short) is a \(target.event.type) of \(target.event.stream.rawValue), not a decision of "
                                + "\(decision.subject) nor a selection naming them"))
                }
            } else {
                violations.append(
                    RuleViolation(.appealTarget, "field \"against\": no event \(short) is recorded; give the event id of the decision or selection appealed against"))
            }
            for other in stored where other.eventID != decision.eventID {
                guard case .appeal(let otherTarget, _) = other.decision.body, otherTarget == against else { continue }
                let status = history.status[other.eventID] ?? EventStatus()
                if status.rescindedBy == nil, status.appealRuledBy == nil {
                    violations.append(
                        RuleViolation(
                            .appealOpen,
                            "field \"against\": appeal \(other.eventID.uuidString.lowercased()) (\(other.event.reference), lodged "
                                + "\(other.decision.effective)) against event \(short) is still open; await its ruling, or withdraw it by a rescission"))
                }
            }
            return violations
        case .appealRuling(let appeal, _):
            guard let target = stored.first(where: { $0.eventID == appeal }), target.decision.kind == .appeal else { return [] }
            var violations: [RuleViolation] = []
            if let ruled = history.status[appeal]?.appealRuledBy {
                violations.append(
                    RuleViolation(
                        .appealRuled,
                        "field \"appealed\": appeal \(appeal.uuidString.lowercased()) was already ruled on by \(ruled.uuidString.lowercased()); "
                            + "correct or rescind that ruling instead"))
            }
            let lodged = history.entries.first { $0.eventID == appeal }?.decision.effective ?? target.decision.effective
            if decision.effective < lodged {
                violations.append(
                    RuleViolation(
                        .appealRulingDate,
                        "field \"effective\": the ruling takes effect on \(decision.effective), before the appeal \(appeal.uuidString.lowercased()) "
                            + "was lodged on \(lodged); a ruling comes on or after the appeal"))
            }
            return violations
        default:
            return []
        }
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
