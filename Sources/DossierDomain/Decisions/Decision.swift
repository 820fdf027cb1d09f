import Foundation

/// One personnel decision, as HR records it: the JSON object of DOMAIN.md, typed.
public struct Decision: Sendable, Equatable {
    public var kind: DecisionKind
    /// The worker id, cadre id, jurisdiction, or "policy", by the kind's subject.
    public var subject: String
    public var effective: CalendarDate
    /// The deciding body.
    public var authority: String
    /// The decision document number; with subject and kind, the idempotency key.
    public var reference: String
    /// A justification for recording the decision despite a policy rule.
    public var override: String?
    /// Who approved the override: a document reference (same rules as `reference`). Required
    /// with `override` in input; decisions recorded before it existed have none.
    public var overrideApproval: String? = nil
    public var body: Body
    /// Personal data carried by the decision (names and identity data). Never stored in the
    /// log: it goes beside it, and the event commits to it by a salted hash.
    public var personal: PersonalData?
    /// The event id to record the decision under, when the sender chose it (so that later
    /// decisions in the same import can point at it); otherwise the ledger picks one.
    public var eventID: UUID?
    /// When the system a legacy import came from first recorded the decision (`knownSince`,
    /// accepted by `import` only): knowledge-time queries take it instead of the database clock.
    /// Stored in the payload, so part of the hashed event.
    public var knownSince: Timestamp?

    /// A hire sent without a worker id: the ledger assigns the next id of the district's series.
    public var assignsWorker: Bool { kind == .hire && subject.isEmpty }

    public init(
        kind: DecisionKind, subject: String, effective: CalendarDate, authority: String, reference: String,
        override: String? = nil, body: Body, personal: PersonalData? = nil
    ) {
        self.kind = kind
        self.subject = subject
        self.effective = effective
        self.authority = authority
        self.reference = reference
        self.override = override
        self.body = body
        self.personal = personal
    }

    /// For a correction or rescission of a jurisdiction's decision (a population figure, a
    /// policy, a place), the kind of stream that decision lies in: `.jurisdiction`, or `.policy`
    /// (then `subject` is the policy's jurisdiction). Nil for a correction of a worker's decision
    /// and for every other kind.
    public var amendedSubject: DecisionKind.Subject?

    /// Whose stream the decision goes to: the kind's, or that of the decision it amends.
    public var subjectKind: DecisionKind.Subject { amendedSubject ?? kind.subject }

    /// An override names why (`override`) and who approved it (`overrideApproval`), both or
    /// neither: the problem when one comes without the other (decisions built in code, as
    /// the reader checks decisions sent as JSON).
    public var overridePairProblem: InvalidDecision? {
        if override != nil, overrideApproval == nil {
            return InvalidDecision(
                field: "overrideApproval",
                "is required with \"override\": give the reference of the document approving the exception (who approved it), "
                    + "beside the justification")
        }
        if override == nil, overrideApproval != nil {
            return InvalidDecision(
                field: "override", "is required with \"overrideApproval\": an approval is given only with the justification of an override")
        }
        return nil
    }

    /// The stream the decision is recorded in.
    public var stream: StreamID {
        switch subjectKind {
        case .worker: .worker(subject)
        case .cadre: .cadre(subject)
        case .jurisdiction: .jurisdiction(subject)
        case .policy: .policy
        }
    }

    /// The fields beyond the common ones, per kind.
    public enum Body: Sendable, Equatable {
        case hire(Hire)
        case levelChange(level: Int, grounds: LevelGrounds)
        case postChange(post: Post, role: Role)
        case transfer(Placement)
        case assessment(year: Int, grade: Grade)
        case qualification(certificate: Certificate)
        case training(kind: TrainingKind, hours: Int)
        case secondment(Secondment)
        case secondmentEnd
        case temporaryPost(TemporaryPost)
        case temporaryPostEnd
        case misconduct(description: String, sanction: Sanction)
        case faultTolerance(misconduct: UUID, ruling: FaultRuling, sanction: Sanction?)
        case dismissal(grounds: String)
        case resignation
        case retirement
        case civilService
        case publicInstitution
        case streetLeadership
        case appealRuling(appealed: UUID, outcome: AppealOutcome)
        case correction(Correction)
        case rescission(rescinds: UUID, grounds: String)
        case population(year: Int, urbanPopulation: Int)
        case policy(PolicyParameters.Changes)
        case selection(Selection)
        /// An appeal lodged by the worker against `against` (an event id), on `grounds`.
        case appeal(against: UUID, grounds: String)
        /// A change of the gazetteer (jurisdiction stream of the city, or of the district for
        /// its streets and communities).
        case place(PlaceChange)
    }

    /// A promotion or recruitment round: the workers it selected and those it passed over.
    public struct Selection: Sendable, Equatable {
        public var purpose: SelectionPurpose
        public var selected: [String]
        public var passedOver: [String]
        public var criteria: String

        public init(purpose: SelectionPurpose, selected: [String], passedOver: [String], criteria: String) {
            self.purpose = purpose
            self.selected = selected
            self.passedOver = passedOver
            self.criteria = criteria
        }

        /// How the selection named `worker`, or nil when it does not name them.
        public func result(for worker: String) -> SelectionResult? {
            if selected.contains(worker) { return .selected }
            if passedOver.contains(worker) { return .passedOver }
            return nil
        }

        /// The most workers one list may name.
        public static let maximumNames = 200
    }

    public struct Hire: Sendable, Equatable {
        public var placement: Placement
        public var post: Post
        public var role: Role
        public var level: Int
        public var education: Education
        /// Why a rehire's personal data differ from the record's: the hire corrects them.
        public var personalCorrection: String? = nil
    }

    /// Where a worker serves: community within street within district within city.
    public struct Placement: Sendable, Equatable, Hashable, Codable {
        public var community: String
        public var street: String
        public var district: String
        public var city: String

        public init(community: String, street: String, district: String, city: String) {
            self.community = community
            self.street = street
            self.district = district
            self.city = city
        }

        /// The district's jurisdiction id, `City/District`.
        public var districtJurisdiction: String { city + "/" + district }
    }

    public struct Secondment: Sendable, Equatable {
        public var to: String
        public var toLevel: SecondmentLevel
        public var until: CalendarDate
        public var approval: String?
    }

    public struct TemporaryPost: Sendable, Equatable {
        public var homeAgency: String
        public var community: String
        /// Where the community lies (absent on temporary posts recorded before the gazetteer).
        public var street: String?
        public var district: String?
        public var city: String?
        public var role: Role
        public var until: CalendarDate
        public var kind: TemporaryPostKind
    }

    /// A correction: the event it corrects and the fields that change (checked against that
    /// event's kind when the history is known).
    public struct Correction: Sendable, Equatable {
        public var corrects: UUID
        public var changes: JSONObject
        /// A new effective date for the corrected decision.
        public var correctedEffective: CalendarDate?
    }

    /// The jurisdiction a policy decision, or an amendment of one, applies to (`*`, a city or
    /// `City/District`); nil for other decisions.
    public var policyJurisdiction: String? {
        if case .policy(let changes) = body { return changes.jurisdiction }
        return amendedSubject == .policy ? subject : nil
    }

    /// The event ids this decision points at.
    public var referencedEvent: UUID? {
        switch body {
        case .faultTolerance(let misconduct, _, _): misconduct
        case .appealRuling(let appealed, _): appealed
        case .correction(let correction): correction.corrects
        case .rescission(let rescinds, _): rescinds
        default: nil
        }
    }

    /// The event an appeal is lodged against (a decision of the worker, or a selection naming
    /// them, which lies in a jurisdiction's stream).
    public var appealTarget: UUID? {
        if case .appeal(let against, _) = body { return against }
        return nil
    }
}

/// Names and identity data of a person, kept beside the log.
public struct PersonalData: Sendable, Equatable {
    public var fields: JSONObject

    public init(fields: JSONObject) { self.fields = fields }

    /// The fields a decision may carry as personal data.
    public static let fieldNames: Set<String> = ["name", "idNumber", "birthDate", "phone"]

    public var name: String? { fields["name"]?.stringValue }
}
