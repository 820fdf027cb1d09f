/// The closed vocabularies of decisions. Each raw value is the JSON spelling of DOMAIN.md.

/// A kind of decision: the `decision` field, and the type of the event that records it.
public enum DecisionKind: String, CaseIterable, Sendable, Codable {
    case hire
    case levelChange = "level-change"
    case postChange = "post-change"
    case transfer
    case assessment
    case qualification
    case training
    case secondment
    case secondmentEnd = "secondment-end"
    case temporaryPost = "temporary-post"
    case temporaryPostEnd = "temporary-post-end"
    case misconduct
    case faultTolerance = "fault-tolerance"
    case dismissal
    case resignation
    case retirement
    case civilService = "civil-service"
    case publicInstitution = "public-institution"
    case streetLeadership = "street-leadership"
    case appealRuling = "appeal-ruling"
    /// A worker's appeal against a decision of theirs or a selection that names them.
    case appeal
    case correction
    case rescission
    case population
    case policy
    /// A promotion or recruitment round in a jurisdiction: who was selected, who passed over.
    case selection
    /// A place of the gazetteer established, renamed, merged or abolished.
    case place

    /// Whose stream a decision of this kind goes to.
    public enum Subject: Sendable { case worker, cadre, jurisdiction, policy }

    public var subject: Subject {
        switch self {
        case .temporaryPost, .temporaryPostEnd: .cadre
        case .population, .selection, .place: .jurisdiction
        case .policy: .policy
        default: .worker
        }
    }

    /// Corrections and rescissions: they amend a decision of the same stream, a worker's or a
    /// jurisdiction's (population, policy, place).
    public var amendsOthers: Bool { self == .correction || self == .rescission }

    /// Decisions about other decisions: they change how the history reads, not the worker.
    public var isMeta: Bool { self == .correction || self == .rescission || self == .appealRuling }

    /// Kinds that never change where a worker served (the placement spans quota counts): the
    /// fold applies them without opening or closing a span, and they are not about other
    /// decisions. Recording one needs no recomputation of the worker's spans.
    public var leavesPlacementsAlone: Bool {
        self == .training || self == .assessment || self == .qualification || self == .appeal
    }

    /// Decisions that end the worker's time on the roster.
    public var exit: ExitKind? {
        switch self {
        case .dismissal: .dismissal
        case .resignation: .resignation
        case .retirement: .retirement
        case .civilService: .civilService
        case .streetLeadership: .streetLeadership
        default: nil
        }
    }
}

/// The three post categories (Shanghai since 2015).
public enum Post: String, CaseIterable, Sendable, Codable {
    case principal, deputy, staff
}

/// A worker's role in the community's organisations.
public enum Role: String, CaseIterable, Sendable, Codable {
    case partySecretary = "party-secretary"
    case committeeDirector = "committee-director"
    /// Party secretary and residents' committee director in one person.
    case secretaryDirector = "secretary-director"
    case deputySecretary = "deputy-secretary"
    case deputyDirector = "deputy-director"
    case committeeMember = "committee-member"
    case staff
    /// A cadre sent from an agency as the community's first secretary (temporary posts).
    case firstSecretary = "first-secretary"

    /// Roles that count as the community party organisation's secretary.
    public var isPartySecretary: Bool { self == .partySecretary || self == .secretaryDirector }
}

/// Highest education completed.
public enum Education: String, CaseIterable, Sendable, Codable {
    case secondary, associate, bachelor, master, doctorate
}

/// Annual assessment grades, best first.
public enum Grade: String, CaseIterable, Sendable, Codable, Comparable {
    case excellent, competent
    case basicallyCompetent = "basically-competent"
    case incompetent

    var rank: Int { Self.allCases.firstIndex(of: self)! }

    /// Better grades are smaller.
    public static func < (lhs: Grade, rhs: Grade) -> Bool { lhs.rank < rhs.rank }

    /// Below `competent`.
    public var isBelowCompetent: Bool { self == .basicallyCompetent || self == .incompetent }
}

/// Social work qualification certificates, lowest first.
public enum Certificate: String, CaseIterable, Sendable, Codable, Comparable {
    case assistantSocialWorker = "assistant-social-worker"
    case socialWorker = "social-worker"
    case seniorSocialWorker = "senior-social-worker"

    public static func < (lhs: Certificate, rhs: Certificate) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}

public enum TrainingKind: String, CaseIterable, Sendable, Codable {
    case initial
    case onTheJob = "on-the-job"
    case special
    case practical
}

/// The level of the body a worker is seconded to, lowest first.
public enum SecondmentLevel: String, CaseIterable, Sendable, Codable, Comparable {
    case street, township, county, city, province, central

    public static func < (lhs: SecondmentLevel, rhs: SecondmentLevel) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}

public enum TemporaryPostKind: String, CaseIterable, Sendable, Codable {
    case cadre
    case newCivilServant = "new-civil-servant"
}

/// Sanctions for misconduct, lightest first.
public enum Sanction: String, CaseIterable, Sendable, Codable, Comparable {
    case none, warning, demerit
    case majorDemerit = "major-demerit"

    public static func < (lhs: Sanction, rhs: Sanction) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }

    /// One step lighter (`none` stays `none`).
    public var lighter: Sanction {
        let index = Self.allCases.firstIndex(of: self)!
        return Self.allCases[max(0, index - 1)]
    }
}

public enum FaultRuling: String, CaseIterable, Sendable, Codable {
    case excused, mitigated
    case notExcused = "not-excused"
}

public enum AppealOutcome: String, CaseIterable, Sendable, Codable {
    case upheld, overturned
}

/// What a selection round selects for (`selection`'s `for`).
public enum SelectionPurpose: String, CaseIterable, Sendable, Codable {
    case publicInstitution = "public-institution"
    case civilService = "civil-service"
    case streetLeadership = "street-leadership"
    case levelReview = "level-review"
    case post

    /// The eligibility list a selection of this purpose decides a round of, if any.
    public var eligibility: EligibilityKind? {
        switch self {
        case .publicInstitution: .publicInstitution
        case .levelReview: .levelUp
        default: nil
        }
    }
}

/// How a selection named a worker.
public enum SelectionResult: String, CaseIterable, Sendable, Codable {
    case selected
    case passedOver = "passed-over"
}

public enum LevelGrounds: String, CaseIterable, Sendable, Codable {
    case seniority, assessment, education, qualification, other
}

/// How a worker left the roster.
public enum ExitKind: String, CaseIterable, Sendable, Codable {
    case dismissal, resignation, retirement
    case civilService = "civil-service"
    case streetLeadership = "street-leadership"
}

/// The establishment a worker belongs to.
public enum Establishment: String, Sendable, Codable {
    case communityWorker = "community-worker"
    case publicInstitution = "public-institution"
}

/// The levels of the gazetteer, each within the one before.
public enum PlaceKind: String, CaseIterable, Sendable, Codable, Comparable {
    case city, district, street, community

    /// How many names a path of this kind has (`上海/黄浦区/外滩街道/外滩社区` is 4).
    public var depth: Int { Self.allCases.firstIndex(of: self)! + 1 }

    public static func < (lhs: PlaceKind, rhs: PlaceKind) -> Bool { lhs.depth < rhs.depth }
}

/// What a place decision does.
public enum PlaceAction: String, CaseIterable, Sendable, Codable {
    case establish, rename, merge, abolish
}
