/// Whether a worker qualifies for something on a date, and why.
public struct Eligibility: Sendable, Equatable {
    public var eligible: Bool
    public var reason: String

    public init(_ eligible: Bool, _ reason: String) {
        self.eligible = eligible
        self.reason = reason
    }

    public var json: JSONValue {
        .object(JSONObject([("eligible", .bool(eligible)), ("reason", .string(reason))]))
    }
}

/// The three lists Dossier keeps: level-up candidates, public-institution candidates and
/// exit-review cases.
public enum EligibilityKind: String, CaseIterable, Sendable {
    case levelUp = "level-up"
    case publicInstitution = "public-institution"
    case exitReview = "exit-review"
}

extension WorkerState {
    /// Eligibility of each kind on `date` under `parameters`.
    public func eligibility(_ kind: EligibilityKind, on date: CalendarDate, _ parameters: PolicyParameters) -> Eligibility {
        guard isOnRoster else {
            return Eligibility(false, "not on the roster (\(statusPhrase(on: date)))")
        }
        switch kind {
        case .levelUp:
            guard let level, level < parameters.maxLevel else {
                return Eligibility(false, "already at the highest level \(parameters.maxLevel)")
            }
            if let problem = levelUpProblem(on: date, to: level + 1, parameters, dated: false) {
                return Eligibility(false, problem)
            }
            let years = latestAssessments(on: date, count: parameters.levelUpConsecutiveExcellent).map { String($0.year) }
            return Eligibility(
                true,
                "excellent in \(years.joined(separator: " and ")), not yet used; may move from level \(level) to \(level + 1)")
        case .publicInstitution:
            if establishment == .publicInstitution {
                return Eligibility(false, "joined the public-institution establishment on \(publicInstitutionSince?.description ?? "?")")
            }
            let problems = publicInstitutionProblems(on: date, parameters, dated: false)
            if !problems.isEmpty {
                return Eligibility(false, problems.map(\.message).joined(separator: "; "))
            }
            return Eligibility(
                true,
                "party secretary since \(secretarySince!), in continuous community work since \(serviceStart!), "
                    + "no unexcused sanction or assessment below competent in the term")
        case .exitReview:
            var reasons: [String] = []
            let inForce = assessmentsByYear.filter { $0.effective <= date }
            if let latest = inForce.last, latest.grade == .incompetent {
                reasons.append("the latest annual assessment (\(latest.year)) is incompetent")
            } else if inForce.count >= 2, inForce.suffix(2).allSatisfy({ $0.grade.isBelowCompetent }) {
                let years = inForce.suffix(2).map { "\($0.year) \($0.grade.rawValue)" }
                reasons.append("two annual assessments in a row below competent (\(years.joined(separator: ", ")))")
            }
            let since = date.adding(years: -parameters.exitReviewLookbackYears)
            for misconduct in misconducts
            where misconduct.countingSanction == .majorDemerit && misconduct.effective > since && misconduct.effective <= date {
                reasons.append("an unexcused major demerit on \(misconduct.effective)")
            }
            if reasons.isEmpty {
                return Eligibility(
                    false,
                    "no incompetent assessment and no unexcused major demerit in the last \(parameters.exitReviewLookbackYears) years")
            }
            return Eligibility(true, reasons.joined(separator: "; "))
        }
    }

    /// The monthly certificate subsidy in force on `date`, in yuan.
    public func monthlySubsidy(_ parameters: PolicyParameters) -> Int {
        guard isOnRoster, let certificate = highestCertificate else { return 0 }
        return parameters.certificateSubsidy[certificate] ?? 0
    }
}
