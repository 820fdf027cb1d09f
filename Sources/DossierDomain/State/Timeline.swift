/// What the read side keeps of a worker on one day: the state and the three eligibilities.
public struct WorkerSnapshot: Sendable, Equatable {
    public var status: WorkerState.Status
    public var exit: ExitKind?
    public var post: Post?
    public var role: Role?
    public var level: Int?
    public var placement: Decision.Placement?
    public var establishment: Establishment
    public var serviceStart: CalendarDate?
    public var monthlySubsidy: Int
    public var levelUp: Eligibility
    public var publicInstitution: Eligibility
    public var exitReview: Eligibility

    public init(
        status: WorkerState.Status, exit: ExitKind?, post: Post?, role: Role?, level: Int?, placement: Decision.Placement?,
        establishment: Establishment, serviceStart: CalendarDate?, monthlySubsidy: Int, levelUp: Eligibility,
        publicInstitution: Eligibility, exitReview: Eligibility
    ) {
        self.status = status
        self.exit = exit
        self.post = post
        self.role = role
        self.level = level
        self.placement = placement
        self.establishment = establishment
        self.serviceStart = serviceStart
        self.monthlySubsidy = monthlySubsidy
        self.levelUp = levelUp
        self.publicInstitution = publicInstitution
        self.exitReview = exitReview
    }

    public init(_ state: WorkerState, on date: CalendarDate, _ parameters: PolicyParameters) {
        status = state.status
        exit = state.exit
        post = state.post
        role = state.role
        level = state.level
        placement = state.placement
        establishment = state.establishment
        serviceStart = state.serviceStart
        monthlySubsidy = state.monthlySubsidy(parameters)
        levelUp = state.eligibility(.levelUp, on: date, parameters)
        publicInstitution = state.eligibility(.publicInstitution, on: date, parameters)
        exitReview = state.eligibility(.exitReview, on: date, parameters)
    }

    public func eligibility(_ kind: EligibilityKind) -> Eligibility {
        switch kind {
        case .levelUp: levelUp
        case .publicInstitution: publicInstitution
        case .exitReview: exitReview
        }
    }
}

/// A stretch of valid time over which a worker's snapshot does not change.
public struct TimelinePeriod: Sendable, Equatable {
    public var from: CalendarDate
    /// The first day of the next period; nil for the last.
    public var until: CalendarDate?
    public var snapshot: WorkerSnapshot

    public init(from: CalendarDate, until: CalendarDate?, snapshot: WorkerSnapshot) {
        self.from = from
        self.until = until
        self.snapshot = snapshot
    }

    public func covers(_ date: CalendarDate) -> Bool { from <= date && (until.map { date < $0 } ?? true) }
}

/// A worker's whole record as periods of valid time: the snapshot on any date is the one of the
/// period covering it. Periods change where a decision takes effect, where policy changes, and
/// where the passing of time alone changes an eligibility (years of service reached, a sanction
/// or a poor assessment leaving the window the rules look back over).
public enum Timeline {
    public static func periods(worker: String, _ history: History, context: RuleContext) -> [TimelinePeriod] {
        guard let first = history.entries.first?.decision.effective else { return [] }
        var state = WorkerState(worker: worker)
        var quiet = context
        quiet.quotaCheckedEvent = nil
        var seen = Set<CalendarDate>(history.entries.map(\.decision.effective))
        seen.formUnion(context.policy.effectiveDates.filter { $0 > first })
        var queue = seen.sorted()
        var position = 0
        var periods: [TimelinePeriod] = []
        var next = 0
        while position < queue.count {
            let date = queue[position]
            position += 1
            var applied = false
            while next < history.entries.count, history.entries[next].decision.effective <= date {
                _ = state.apply(history.entries[next].decision, eventID: history.entries[next].eventID, context: quiet)
                next += 1
                applied = true
            }
            if applied {
                let fresh = timeBreakpoints(state, context: context).filter { $0 > date && !seen.contains($0) }
                if !fresh.isEmpty {
                    seen.formUnion(fresh)
                    queue = (Array(queue[position...]) + fresh).sorted()
                    position = 0
                }
            }
            let snapshot = WorkerSnapshot(state, on: date, context.parameters(for: state.placement, on: date))
            if let last = periods.last, last.snapshot == snapshot { continue }
            if !periods.isEmpty { periods[periods.count - 1].until = date }
            periods.append(TimelinePeriod(from: date, until: nil, snapshot: snapshot))
        }
        return periods
    }

    /// The days on which the passing of time alone may change an eligibility.
    static func timeBreakpoints(_ state: WorkerState, context: RuleContext) -> [CalendarDate] {
        let parameters = context.parameters(for: state.placement, on: state.serviceStart ?? CalendarDate(year: 2000, month: 1, day: 1)!)
        var dates: [CalendarDate] = []
        let serviceYears = max(parameters.levelUpMinServiceYears, parameters.publicInstitutionServiceYears, 10) + 5
        if let start = state.serviceStart {
            for years in 1...serviceYears { dates.append(start.adding(years: years)) }
        }
        if let since = state.secretarySince {
            for years in 1...(parameters.secretaryTermYears + 5) { dates.append(since.adding(years: years)) }
        }
        let windows = Set([parameters.secretaryTermYears, parameters.exitReviewLookbackYears, parameters.levelDownLookbackYears, 5, 2])
        for misconduct in state.misconducts {
            for years in windows {
                let edge = misconduct.effective.adding(years: years)
                dates.append(edge)
                if let after = edge.adding(days: 1) { dates.append(after) }
            }
        }
        for assessment in state.assessments.values where assessment.grade.isBelowCompetent {
            for years in windows {
                if let edge = CalendarDate(year: min(assessment.year + years + 1, CalendarDate.supportedYears.upperBound), month: 1, day: 1) {
                    dates.append(edge)
                }
            }
        }
        return dates
    }
}
