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

    public func eligibility(_ kind: EligibilityKind) -> Eligibility {
        state.eligibility(kind, on: asOf, parameters)
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

    public init(event: RecordedEvent, decision: Decision, status: EventStatus, exceptions: [RuleViolation]) {
        self.event = event
        self.decision = decision
        self.status = status
        self.exceptions = exceptions
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
        object["ruledBy"] = id(status.rulingBy)
        object["override"] = decision.override.map(JSONValue.string) ?? .null
        object["exceptions"] = .array(exceptions.map { .string($0.rule.rawValue) })
        var details = event.payload
        details["override"] = nil
        object["details"] = .object(details)
        return object
    }

    /// The CSV columns of `dossier trace --format csv`: the keys of `json` in order, with the
    /// event's `stream` after `eventId`; lists of event ids and rule names are separated by
    /// spaces, and `details` is the canonical JSON text of the decision's own fields.
    public static let csvHeader = [
        "position", "eventId", "stream", "decision", "effective", "recordedAt", "recordedBy", "onBehalfOf", "authority",
        "reference", "corrected", "rescinded", "excused", "mitigated", "overturned", "upheld", "correctedBy", "rescindedBy",
        "overturnedBy", "ruledBy", "override", "exceptions", "details",
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
    /// The trace of a stream: every event in log order, with what later events did to it.
    public static func trace(_ stored: [StoredDecision], context: RuleContext = RuleContext()) -> [TraceEntry] {
        let history = history(stored)
        var status = history.status
        let outcome = stored.first?.decision.kind.subject == .worker
            ? fold(worker: stored[0].decision.subject, history, context: context) : nil
        for misconduct in outcome?.state.misconducts ?? [] {
            status[misconduct.eventID]?.ruling = misconduct.ruling
            status[misconduct.eventID]?.rulingBy = misconduct.rulingEventID
        }
        return stored.map { item in
            let exceptions = item.decision.override == nil ? [] : (outcome?.violations[item.eventID] ?? [])
            return TraceEntry(event: item.event, decision: item.decision, status: status[item.eventID] ?? EventStatus(), exceptions: exceptions)
        }
    }
}
