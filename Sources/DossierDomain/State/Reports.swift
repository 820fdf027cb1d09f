import Foundation

/// What is known of a person's personal data (kept beside the log).
public struct PersonalRecord: Sendable, Equatable {
    public var name: String?
    public var erased: Bool
    /// The reader's role may not see personal data (auditors): the fields were withheld.
    public var withheld: Bool
    /// When, by whom and under which reference the data was erased.
    public var erasure: String?

    public init(name: String?, erased: Bool, withheld: Bool = false) {
        self.name = name
        self.erased = erased
        self.withheld = withheld
    }

    /// The name as shown to a person: the name, or why there is none.
    public var displayName: String {
        if erased { return "(personal data erased" + (erasure.map { " " + $0 } ?? "") + ")" }
        if withheld { return "(withheld: this role does not read personal data)" }
        return name ?? "—"
    }
}

/// The answer to `dossier show`: a worker's record on a date, as known at a time.
public struct WorkerReport: Sendable {
    public var state: WorkerState
    public var personal: PersonalRecord?
    public var asOf: CalendarDate
    public var knownAt: Timestamp?
    public var parameters: PolicyParameters
    /// The stream version the answer is built from.
    public var version: Int
    /// The selections naming the worker in effect on `asOf` (as known at `knownAt`), oldest
    /// first, each with what an appeal made of it.
    public var selections: [SelectionStanding] = []

    public init(
        state: WorkerState, personal: PersonalRecord?, asOf: CalendarDate, knownAt: Timestamp?, parameters: PolicyParameters,
        version: Int
    ) {
        self.state = state
        self.personal = personal
        self.asOf = asOf
        self.knownAt = knownAt
        self.parameters = parameters
        self.version = version
    }

    /// Eligibility of `kind` on `asOf`: the policy's answer, and the latest selection round of
    /// that kind naming the worker (`SelectionStanding.apply`).
    public func eligibility(_ kind: EligibilityKind) -> Eligibility {
        let policy = state.eligibility(kind, on: asOf, parameters)
        guard state.isOnRoster, let latest = selections.last(where: { $0.purpose.eligibility == kind }) else { return policy }
        return latest.apply(to: policy)
    }

    /// The documented JSON object of `dossier show --json` (see README, "JSON output").
    public var json: JSONObject {
        func text(_ value: String?) -> JSONValue { value.map(JSONValue.string) ?? .null }
        var object = JSONObject()
        object["worker"] = .string(state.worker)
        object["name"] = text(personal?.name)
        object["personalData"] = .string(personal == nil ? "none" : personal!.erased ? "erased" : personal!.withheld ? "withheld" : "held")
        object["asOf"] = .string(asOf.description)
        object["knownAt"] = text(knownAt?.description)
        object["version"] = .integer(Int64(version))
        object["status"] = .string(state.status.rawValue)
        object["exit"] = text(state.exit?.rawValue)
        object["exitDate"] = text(state.exitDate?.description)
        object["post"] = text(state.post?.rawValue)
        object["role"] = text(state.role?.rawValue)
        object["level"] = state.level.map { .integer(Int64($0)) } ?? .null
        object["community"] = text(state.placement?.community)
        object["street"] = text(state.placement?.street)
        object["district"] = text(state.placement?.district)
        object["city"] = text(state.placement?.city)
        object["establishment"] = .string(state.establishment.rawValue)
        object["serviceStart"] = text(state.serviceStart?.description)
        object["secretarySince"] = text(state.secretarySince?.description)
        object["assessments"] = .array(
            state.assessmentsByYear.map {
                .object(JSONObject([("year", .integer(Int64($0.year))), ("grade", .string($0.grade.rawValue))]))
            })
        object["qualifications"] = .array(
            state.qualifications.sorted { $0.key < $1.key }.map {
                .object(JSONObject([("certificate", .string($0.key.rawValue)), ("since", .string($0.value.description))]))
            })
        object["monthlySubsidy"] = .integer(Int64(state.monthlySubsidy(parameters)))
        object["trainingHours"] = .object(
            JSONObject(TrainingKind.allCases.map { ($0.rawValue, .integer(Int64(state.trainingHours[$0] ?? 0))) }))
        object["secondment"] =
            state.secondment.map { secondment in
                .object(
                    JSONObject([
                        ("to", .string(secondment.to)), ("toLevel", .string(secondment.toLevel.rawValue)),
                        ("since", .string(secondment.since.description)), ("until", .string(secondment.until.description)),
                        ("approval", text(secondment.approval)),
                    ]))
            } ?? .null
        object["misconduct"] = .array(
            state.misconducts.map { record in
                .object(
                    JSONObject([
                        ("eventId", .string(record.eventID.uuidString.lowercased())),
                        ("effective", .string(record.effective.description)),
                        ("sanction", .string(record.sanction.rawValue)),
                        ("ruling", text(record.ruling?.rawValue)),
                        ("countsAs", .string(record.countingSanction.rawValue)),
                    ]))
            })
        object["selections"] = .array(selections.map { .object($0.json) })
        object["eligibility"] = .object(
            JSONObject([
                ("levelUp", eligibility(.levelUp).json),
                ("publicInstitution", eligibility(.publicInstitution).json),
                ("exitReview", eligibility(.exitReview).json),
            ]))
        return object
    }
}

/// One line of `dossier trace`: a recorded event and what later decisions did to it.
public struct TraceEntry: Sendable {
    public var event: RecordedEvent
    public var decision: Decision
    public var status: EventStatus
    /// Policy rules the decision broke when it was recorded with an override.
    public var exceptions: [RuleViolation]
    /// For a selection in a worker's trace: how it named the worker.
    public var selection: SelectionResult?
    /// For an appeal: the kind of the event it is lodged against (nil when unknown here).
    public var againstDecision: String?

    public init(event: RecordedEvent, decision: Decision, status: EventStatus, exceptions: [RuleViolation]) {
        self.event = event
        self.decision = decision
        self.status = status
        self.exceptions = exceptions
    }

    /// For an appeal: open, or the outcome of the ruling on it (for the decision appealed against).
    public var appealStatus: String? {
        guard decision.kind == .appeal else { return nil }
        return status.appealOutcome?.rawValue ?? "open"
    }

    /// The documented JSON object of one `dossier trace --json` entry.
    public var json: JSONObject {
        func id(_ value: UUID?) -> JSONValue { value.map { .string($0.uuidString.lowercased()) } ?? .null }
        var object = JSONObject()
        object["position"] = .integer(event.position)
        object["eventId"] = id(event.eventID)
        object["decision"] = .string(event.type)
        object["effective"] = .string(event.effective.description)
        object["recordedAt"] = .string(event.recordedAt.description)
        object["recordedBy"] = .string(event.recordedBy)
        object["onBehalfOf"] = event.onBehalfOf.map(JSONValue.string) ?? .null
        object["authority"] = .string(event.authority)
        object["reference"] = .string(event.reference)
        object["corrected"] = .bool(!status.correctedBy.isEmpty)
        object["rescinded"] = .bool(status.rescindedBy != nil)
        object["excused"] = .bool(status.ruling == .excused)
        object["mitigated"] = .bool(status.ruling == .mitigated)
        object["overturned"] = .bool(status.overturnedBy != nil)
        object["upheld"] = .bool(status.upheldBy != nil)
        object["correctedBy"] = .array(status.correctedBy.map { id($0) })
        object["rescindedBy"] = id(status.rescindedBy)
        object["overturnedBy"] = id(status.overturnedBy)
        object["ruledBy"] = id(status.rulingBy ?? status.appealRuledBy)
        object["override"] = decision.override.map(JSONValue.string) ?? .null
        object["exceptions"] = .array(exceptions.map { .string($0.rule.rawValue) })
        var details = event.payload
        details["override"] = nil
        object["details"] = .object(details)
        object["appealed"] = .bool(!status.appealedBy.isEmpty)
        object["appealedBy"] = .array(status.appealedBy.map { id($0) })
        object["selection"] = selection.map { .string($0.rawValue) } ?? .null
        object["against"] = id(decision.appealTarget)
        object["againstDecision"] = againstDecision.map(JSONValue.string) ?? .null
        object["appealStatus"] = appealStatus.map(JSONValue.string) ?? .null
        // A legacy import's claim of when the old system first recorded it, and whose import.
        object["knownSince"] = event.knownSince.map { .string($0.description) } ?? .null
        object["knownSinceClaimedBy"] = event.knownSince == nil ? .null : .string(event.recordedBy)
        return object
    }

    /// The CSV columns of `dossier trace --format csv`: the keys of `json` in order, with the
    /// event's `stream` after `eventId`; lists of event ids and rule names are separated by
    /// spaces, and `details` is the canonical JSON text of the decision's own fields.
    public static let csvHeader = [
        "position", "eventId", "stream", "decision", "effective", "recordedAt", "recordedBy", "onBehalfOf", "authority",
        "reference", "corrected", "rescinded", "excused", "mitigated", "overturned", "upheld", "correctedBy", "rescindedBy",
        "overturnedBy", "ruledBy", "override", "exceptions", "details", "appealed", "appealedBy", "selection", "against",
        "againstDecision", "appealStatus", "knownSince", "knownSinceClaimedBy",
    ]

    /// One CSV record, in the order of `csvHeader`.
    public var csvRow: [CSV.Field] {
        let object = json
        return Self.csvHeader.map { key in
            if key == "stream" { return .text(event.stream.rawValue) }
            switch object[key] {
            case .integer(let number)?: return .integer(number)
            case .string(let text)?: return .text(text)
            case .bool(let flag)?: return CSV.Field(flag)
            case .array(let list)?: return CSV.Field(list: list.compactMap(\.stringValue))
            case .object(let details)?: return .text(JSONValue.object(details).canonicalText)
            default: return .absent
            }
        }
    }
}

extension Replay {
    /// The trace of a stream: every event in log order, with what later events did to it; for a
    /// worker, with the `selections` naming the worker merged in by position (each marked
    /// selected or passed over, and appealed, upheld or overturned for this worker by the
    /// worker's appeals), and each appeal with the kind of what it is lodged against.
    public static func trace(_ stored: [StoredDecision], selections: [StoredDecision] = [], context: RuleContext = RuleContext())
        -> [TraceEntry]
    {
        var entries = streamTrace(stored, context: context)
        guard let worker = stored.first?.decision.subject, stored.first?.decision.subjectKind == .worker else { return entries }
        let history = history(stored)
        var selectionEntries: [TraceEntry] = []
        for item in selections {
            guard case .selection(let selection) = item.decision.body, let result = selection.result(for: worker) else { continue }
            var entry = TraceEntry(event: item.event, decision: item.decision, status: history.external[item.eventID] ?? EventStatus(), exceptions: [])
            entry.selection = result
            selectionEntries.append(entry)
        }
        if !selectionEntries.isEmpty {
            entries = (entries + selectionEntries).sorted { $0.event.position < $1.event.position }
        }
        var kinds: [UUID: String] = [:]
        for entry in entries { kinds[entry.event.eventID] = entry.event.type }
        for index in entries.indices {
            if let target = entries[index].decision.appealTarget { entries[index].againstDecision = kinds[target] }
        }
        return entries
    }

    /// The trace of one stream alone.
    static func streamTrace(_ stored: [StoredDecision], context: RuleContext) -> [TraceEntry] {
        streamTraceAndFold(stored, context: context).trace
    }

    /// The trace of a stream without selections (as `trace(stored, context:)` gives it), with the
    /// history and, for a worker, the fold it was made from, for callers that need those too
    /// (the projections) and would otherwise compute them again.
    public static func traceAndFold(_ stored: [StoredDecision], context: RuleContext)
        -> (trace: [TraceEntry], history: History, outcome: Outcome?)
    {
        var (entries, history, outcome) = streamTraceAndFold(stored, context: context)
        guard stored.first?.decision.subjectKind == .worker else { return (entries, history, outcome) }
        var kinds: [UUID: String] = [:]
        for entry in entries { kinds[entry.event.eventID] = entry.event.type }
        for index in entries.indices {
            if let target = entries[index].decision.appealTarget { entries[index].againstDecision = kinds[target] }
        }
        return (entries, history, outcome)
    }

    static func streamTraceAndFold(_ stored: [StoredDecision], context: RuleContext)
        -> (trace: [TraceEntry], history: History, outcome: Outcome?)
    {
        let history = history(stored)
        var status = history.status
        let outcome = stored.first?.decision.subjectKind == .worker
            ? fold(worker: stored[0].decision.subject, history, context: context) : nil
        for misconduct in outcome?.state.misconducts ?? [] {
            status[misconduct.eventID]?.ruling = misconduct.ruling
            status[misconduct.eventID]?.rulingBy = misconduct.rulingEventID
        }
        let entries = stored.map { item in
            let exceptions = item.decision.override == nil ? [] : (outcome?.violations[item.eventID] ?? [])
            return TraceEntry(event: item.event, decision: item.decision, status: status[item.eventID] ?? EventStatus(), exceptions: exceptions)
        }
        return (entries, history, outcome)
    }
}

/// A selection round that names a worker, as it stands for that worker on a date (as known at
/// a time): how it named them, and the appeal against it and its ruling when in force by then.
public struct SelectionStanding: Sendable, Equatable {
    public var eventID: UUID
    public var purpose: SelectionPurpose
    public var jurisdiction: String
    public var effective: CalendarDate
    public var reference: String
    public var result: SelectionResult
    /// The latest appeal of the worker against it lodged by the date (not withdrawn).
    public var appeal: UUID?
    public var appealLodged: CalendarDate?
    /// The ruling on that appeal, when it takes effect by the date.
    public var ruling: UUID?
    public var rulingReference: String?
    public var rulingEffective: CalendarDate?
    public var outcome: AppealOutcome?

    /// A worker passed over whose appeal was ruled overturned: the round is re-opened for them.
    public var reopened: Bool { result == .passedOver && outcome == .overturned }

    /// The selection's effect on the eligibility the policy gives (`policy`):
    /// - selected: the policy's answer, the selection named first;
    /// - passed over, standing: not eligible, naming the selection (and an open appeal, or the
    ///   ruling that upheld it), then the policy's reason;
    /// - passed over, overturned on appeal: re-opened; the policy's answer, naming the ruling.
    public func apply(to policy: Eligibility) -> Eligibility {
        let round = "the \(purpose.rawValue) selection \(reference) of \(effective) in \(jurisdiction) (event \(eventID.uuidString.lowercased()))"
        switch result {
        case .selected:
            return Eligibility(policy.eligible, "selected in \(round); " + policy.reason)
        case .passedOver:
            if reopened, let ruling, let rulingEffective {
                return Eligibility(
                    policy.eligible,
                    "re-opened by the appeal ruling \(rulingReference ?? "?") of \(rulingEffective) (event \(ruling.uuidString.lowercased())), "
                        + "which overturned for this worker \(round) that passed them over; " + policy.reason)
            }
            var reason = "passed over in \(round)"
            if let appeal, let appealLodged {
                if outcome == .upheld, let ruling, let rulingEffective {
                    reason += "; the appeal \(appeal.uuidString.lowercased()) was dismissed: the selection was upheld by the ruling "
                        + "\(rulingReference ?? "?") of \(rulingEffective) (event \(ruling.uuidString.lowercased()))"
                } else {
                    reason += "; the appeal \(appeal.uuidString.lowercased()) lodged \(appealLodged) is open"
                }
            }
            return Eligibility(false, reason + "; " + policy.reason)
        }
    }

    public var json: JSONObject {
        func id(_ value: UUID?) -> JSONValue { value.map { .string($0.uuidString.lowercased()) } ?? .null }
        return JSONObject([
            ("eventId", id(eventID)), ("for", .string(purpose.rawValue)), ("jurisdiction", .string(jurisdiction)),
            ("effective", .string(effective.description)), ("reference", .string(reference)), ("result", .string(result.rawValue)),
            ("appeal", id(appeal)), ("appealLodged", appealLodged.map { .string($0.description) } ?? .null),
            ("ruling", id(ruling)), ("rulingEffective", rulingEffective.map { .string($0.description) } ?? .null),
            ("outcome", outcome.map { .string($0.rawValue) } ?? .null), ("reopened", .bool(reopened)),
        ])
    }
}

extension Replay {
    /// How each of `selections` naming `worker` stands on `asOf`, given the worker's record
    /// `stored` as known at `knownAt` (and the selections known then): only selections effective
    /// by `asOf`, appeals lodged by then, and rulings effective by then count.
    public static func selections(
        _ selections: [StoredDecision], worker: String, stored: [StoredDecision], asOf: CalendarDate, knownAt: Timestamp? = nil
    ) -> [SelectionStanding] {
        let history = history(stored, knownAt: knownAt)
        let byID = Dictionary(stored.map { ($0.eventID, $0) }, uniquingKeysWith: { first, _ in first })
        var standings: [SelectionStanding] = []
        for item in selections.sorted(by: { ($0.decision.effective, $0.event.position) < ($1.decision.effective, $1.event.position) }) {
            if let knownAt, item.event.knownFrom > knownAt { continue }
            guard item.decision.effective <= asOf, case .selection(let selection) = item.decision.body,
                let result = selection.result(for: worker)
            else { continue }
            var standing = SelectionStanding(
                eventID: item.eventID, purpose: selection.purpose, jurisdiction: item.decision.subject, effective: item.decision.effective,
                reference: item.event.reference, result: result)
            let appeals = (history.external[item.eventID]?.appealedBy ?? []).compactMap { byID[$0] }.filter { $0.decision.effective <= asOf }
            if let appeal = appeals.last {
                standing.appeal = appeal.eventID
                standing.appealLodged = appeal.decision.effective
                if let rulingID = history.status[appeal.eventID]?.appealRuledBy, let ruling = byID[rulingID], ruling.decision.effective <= asOf {
                    standing.ruling = rulingID
                    standing.rulingReference = ruling.event.reference
                    standing.rulingEffective = ruling.decision.effective
                    standing.outcome = history.status[appeal.eventID]?.appealOutcome
                }
            }
            standings.append(standing)
        }
        return standings
    }
}
