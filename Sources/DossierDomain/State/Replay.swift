import Foundation

/// A decision as the log holds it, decoded once.
public struct StoredDecision: Sendable, Equatable {
    public var event: RecordedEvent
    public var decision: Decision

    public init(event: RecordedEvent, decision: Decision) {
        self.event = event
        self.decision = decision
    }

    /// Decodes an event; fails only for an event this program cannot read.
    public init(event: RecordedEvent) throws(InvalidDecision) {
        self.event = event
        self.decision = try DecisionCodec.decision(from: event)
    }

    public var eventID: UUID { event.eventID }
}

/// What later decisions did to an event: corrected, rescinded, overturned, ruled on.
public struct EventStatus: Sendable, Equatable {
    public var correctedBy: [UUID] = []
    public var rescindedBy: UUID?
    public var overturnedBy: UUID?
    public var upheldBy: UUID?
    /// For misconduct: the fault-tolerance ruling in force, and the event that made it.
    public var ruling: FaultRuling?
    public var rulingBy: UUID?
    /// The appeals lodged against this event (and not withdrawn), in log order.
    public var appealedBy: [UUID] = []
    /// For an appeal: the ruling on it and its outcome (for the decision appealed against).
    public var appealRuledBy: UUID?
    public var appealOutcome: AppealOutcome?

    public var isVoid: Bool { rescindedBy != nil || overturnedBy != nil }
}

/// One stream's decisions as they stand: corrections applied, rescinded and overturned ones
/// left out, in effective order.
public struct History: Sendable {
    public struct Entry: Sendable, Equatable {
        public var eventID: UUID
        public var position: Int64
        /// The decision as corrected.
        public var decision: Decision
    }

    /// In (effective date, position) order.
    public var entries: [Entry]
    /// By event id, for every event known.
    public var status: [UUID: EventStatus]
    /// What this record's appeals did to events outside it (selections naming the worker):
    /// `appealedBy`, and `overturnedBy` or `upheldBy` for the worker only.
    public var external: [UUID: EventStatus] = [:]
}

/// Reads histories and folds them into state. Pure: the same events give the same answer.
public enum Replay {
    /// The history of one stream as known at `knownAt` (everything when nil).
    ///
    /// A correction, rescission or overturning appeal ruling rewrites the decision it points at
    /// from that decision's own date, as soon as it is known: the state on any date then reads
    /// as if the decision had been made that way, or not at all.
    public static func history(_ stored: [StoredDecision], knownAt: Timestamp? = nil) -> History {
        let known = knownAt.map { limit in stored.filter { $0.event.knownFrom <= limit } } ?? stored
        var status: [UUID: EventStatus] = [:]
        for item in known { status[item.eventID] = EventStatus() }
        // Rescissions first (a rescission cannot be rescinded), then appeal rulings.
        for item in known {
            if case .rescission(let target, _) = item.decision.body, status[target] != nil {
                status[target]!.rescindedBy = item.eventID
            }
        }
        // Appeals not withdrawn (rescinded), by id: what each is lodged against.
        var appeals: [UUID: UUID] = [:]
        var external: [UUID: EventStatus] = [:]
        var appealIDs = Set<UUID>()
        for item in known {
            guard case .appeal(let against, _) = item.decision.body else { continue }
            appealIDs.insert(item.eventID)
            guard status[item.eventID]?.rescindedBy == nil else { continue }
            appeals[item.eventID] = against
            if status[against] != nil {
                status[against]!.appealedBy.append(item.eventID)
            } else {
                external[against, default: EventStatus()].appealedBy.append(item.eventID)
            }
        }
        for item in known where status[item.eventID]?.rescindedBy == nil {
            // A ruling on an appeal rules on what the appeal is lodged against.
            if case .appealRuling(let appeal, let outcome) = item.decision.body, appealIDs.contains(appeal) {
                guard let against = appeals[appeal], status[appeal]?.appealRuledBy == nil else { continue }
                status[appeal]!.appealRuledBy = item.eventID
                status[appeal]!.appealOutcome = outcome
                if status[against] != nil {
                    if outcome == .overturned {
                        if status[against]!.overturnedBy == nil { status[against]!.overturnedBy = item.eventID }
                    } else {
                        status[against]!.upheldBy = item.eventID
                    }
                } else if outcome == .overturned {
                    external[against, default: EventStatus()].overturnedBy = item.eventID
                } else {
                    external[against, default: EventStatus()].upheldBy = item.eventID
                }
                continue
            }
            if case .appealRuling(let target, let outcome) = item.decision.body, status[target] != nil {
                if outcome == .overturned {
                    status[target]!.overturnedBy = item.eventID
                } else {
                    status[target]!.upheldBy = item.eventID
                }
            }
        }
        var decisions: [UUID: Decision] = [:]
        for item in known where !item.decision.kind.isMeta { decisions[item.eventID] = item.decision }
        for item in known {
            guard case .correction(let correction) = item.decision.body, status[item.eventID]?.isVoid == false,
                let target = decisions[correction.corrects], status[correction.corrects]?.isVoid == false,
                let corrected = try? corrected(target, by: correction)
            else { continue }
            decisions[correction.corrects] = corrected
            status[correction.corrects]!.correctedBy.append(item.eventID)
        }
        let entries = known.compactMap { item -> History.Entry? in
            guard let decision = decisions[item.eventID], status[item.eventID]?.isVoid == false else { return nil }
            return History.Entry(eventID: item.eventID, position: item.event.position, decision: decision)
        }.sorted { ($0.decision.effective, $0.position) < ($1.decision.effective, $1.position) }
        return History(entries: entries, status: status, external: external)
    }

    /// A decision with a correction's fields applied; throws the problems when they do not fit
    /// the decision's kind.
    public static func corrected(_ target: Decision, by correction: Decision.Correction) throws(InvalidDecision) -> Decision {
        var plain = Decision(
            kind: target.kind, subject: target.subject, effective: target.effective, authority: target.authority,
            reference: target.reference, override: target.override, body: target.body, personal: nil)
        plain.overrideApproval = target.overrideApproval
        var object = DecisionCodec.json(of: plain)
        for (key, value) in correction.changes {
            guard object[key] != nil || optionalFields(of: target.kind).contains(key) else {
                throw InvalidDecision(field: key, "is not a field of a \(target.kind.rawValue) decision and cannot be corrected")
            }
            object[key] = value
        }
        if let date = correction.correctedEffective { object["effective"] = .string(date.description) }
        var decision = try DecisionCodec.decode(object, mode: .stored)
        decision.personal = target.personal
        return decision
    }

    static func optionalFields(of kind: DecisionKind) -> Set<String> {
        switch kind {
        case .secondment: ["approval"]
        case .faultTolerance: ["sanction"]
        default: []
        }
    }

    /// The outcome of folding a history.
    public struct Outcome: Sendable {
        public var state: WorkerState
        /// The rules each decision broke when it was applied, by event id.
        public var violations: [UUID: [RuleViolation]]
    }

    /// Folds a worker's history up to `asOf` (every entry when nil).
    public static func fold(
        worker: String, _ history: History, asOf: CalendarDate? = nil, context: RuleContext = RuleContext()
    ) -> Outcome {
        var state = WorkerState(worker: worker)
        var violations: [UUID: [RuleViolation]] = [:]
        for entry in history.entries {
            if let asOf, entry.decision.effective > asOf { break }
            let broken = state.apply(entry.decision, eventID: entry.eventID, context: context)
            if !broken.isEmpty { violations[entry.eventID] = broken }
        }
        return Outcome(state: state, violations: violations)
    }

    /// Folds a cadre's history up to `asOf`.
    public static func foldCadre(cadre: String, _ history: History, asOf: CalendarDate? = nil) -> (CadreState, [UUID: [RuleViolation]]) {
        var state = CadreState(cadre: cadre)
        var violations: [UUID: [RuleViolation]] = [:]
        for entry in history.entries {
            if let asOf, entry.decision.effective > asOf { break }
            let broken = state.apply(entry.decision, eventID: entry.eventID)
            if !broken.isEmpty { violations[entry.eventID] = broken }
        }
        return (state, violations)
    }
}
