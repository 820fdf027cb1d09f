import Foundation

/// A community worker's record as of one date: the fold of the worker's effective decisions.
public struct WorkerState: Sendable, Equatable, Codable {
    public enum Status: String, Sendable, Codable {
        /// No hire in force yet on the date asked about.
        case notHired = "not-hired"
        case active, seconded, exited
    }

    public struct AssessmentRecord: Sendable, Equatable, Codable {
        public var year: Int
        public var grade: Grade
        public var eventID: UUID
        public var effective: CalendarDate
    }

    public struct LevelRecord: Sendable, Equatable, Codable {
        public var effective: CalendarDate
        public var level: Int
        public var grounds: LevelGrounds?
        public var eventID: UUID
    }

    public struct SecondmentRecord: Sendable, Equatable, Codable {
        public var to: String
        public var toLevel: SecondmentLevel
        public var since: CalendarDate
        public var until: CalendarDate
        public var approval: String?
        public var eventID: UUID
    }

    public struct MisconductRecord: Sendable, Equatable, Codable {
        public var eventID: UUID
        public var effective: CalendarDate
        public var description: String
        public var sanction: Sanction
        public var ruling: FaultRuling?
        public var rulingEventID: UUID?
        /// The sanction that counts against the worker after any ruling (`none` when excused).
        public var countingSanction: Sanction
    }

    /// A stretch of time the worker held a place on a community's roster.
    public struct PlacementSpan: Sendable, Equatable, Hashable, Codable {
        public var placement: Decision.Placement
        public var from: CalendarDate
        /// The first day no longer in this place; nil while it lasts.
        public var until: CalendarDate?

        public init(placement: Decision.Placement, from: CalendarDate, until: CalendarDate?) {
            self.placement = placement
            self.from = from
            self.until = until
        }

        public func covers(_ date: CalendarDate) -> Bool {
            from <= date && (until.map { date < $0 } ?? true)
        }
    }

    /// One change of a tracked attribute, for `dossier history`.
    public struct Change: Sendable, Equatable, Codable {
        public var field: String
        public var value: String
        public var effective: CalendarDate
        public var eventID: UUID
    }

    public var worker: String
    public var status: Status = .notHired
    public var exit: ExitKind?
    public var exitDate: CalendarDate?
    public var post: Post?
    public var role: Role?
    public var level: Int?
    public var education: Education?
    public var placement: Decision.Placement?
    public var establishment: Establishment = .communityWorker
    /// The start of the current continuous community service (the latest hire).
    public var serviceStart: CalendarDate?
    /// The first hire ever.
    public var firstHired: CalendarDate?
    /// The start of the current continuous tenure as party secretary.
    public var secretarySince: CalendarDate?
    public var assessments: [Int: AssessmentRecord] = [:]
    /// Assessment years already used for a level-up on assessment grounds.
    public var levelUpYearsUsed: Set<Int> = []
    public var qualifications: [Certificate: CalendarDate] = [:]
    public var trainingHours: [TrainingKind: Int] = [:]
    public var secondment: SecondmentRecord?
    public var misconducts: [MisconductRecord] = []
    public var levelHistory: [LevelRecord] = []
    public var spans: [PlacementSpan] = []
    public var changes: [Change] = []
    public var publicInstitutionSince: CalendarDate?

    public init(worker: String) {
        self.worker = worker
    }

    /// Encoded (for a worker's snapshot, `WorkerStateSnapshot`) without `changes`: no rule reads
    /// them, and they are most of a record's size; a decoded state has none.
    enum CodingKeys: String, CodingKey {
        case worker, status, exit, exitDate, post, role, level, education, placement, establishment, serviceStart, firstHired
        case secretarySince, assessments, levelUpYearsUsed, qualifications, trainingHours, secondment, misconducts
        case levelHistory, spans, publicInstitutionSince
    }

    /// On the roster (active or seconded).
    public var isOnRoster: Bool { status == .active || status == .seconded }

    /// The highest certificate held.
    public var highestCertificate: Certificate? { qualifications.keys.max() }

    /// Assessments in year order.
    public var assessmentsByYear: [AssessmentRecord] { assessments.values.sorted { $0.year < $1.year } }

    mutating func noteChange(_ field: String, _ value: String?, _ date: CalendarDate, _ eventID: UUID) {
        changes.append(Change(field: field, value: value ?? "—", effective: date, eventID: eventID))
    }

    mutating func openSpan(_ placement: Decision.Placement, from date: CalendarDate) {
        closeSpan(on: date)
        spans.append(PlacementSpan(placement: placement, from: date, until: nil))
    }

    mutating func closeSpan(on date: CalendarDate) {
        if let last = spans.indices.last, spans[last].until == nil {
            spans[last].until = date
            if spans[last].until! <= spans[last].from { spans.removeLast() }
        }
    }
}

/// A cadre sent to a community on a temporary post: the fold of the cadre's stream.
public struct CadreState: Sendable, Equatable {
    public var cadre: String
    public var homeAgency: String?
    public var community: String?
    public var role: Role?
    public var kind: TemporaryPostKind?
    public var since: CalendarDate?
    public var until: CalendarDate?
    public var ended: CalendarDate?
    public var isOpen = false

    public init(cadre: String) { self.cadre = cadre }
}
