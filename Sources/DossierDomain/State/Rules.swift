import Foundation

/// Every rule Dossier enforces, by the name a refusal gives. Structural rules are facts about
/// the record (a secondment to end must be open, a worker dismissed must be on the roster) and
/// cannot be overridden; policy rules (levels, quotas, approvals, eligibility thresholds) can,
/// by a decision that carries `override` (why) and `overrideApproval` (who approved it, a
/// document reference), and such decisions are listed as policy exceptions. The split, rule by
/// rule, is the README's table "Structural and policy rules".
public enum Rule: String, Sendable, CaseIterable, Codable {
    // Structural
    case unknownWorker = "unknown-worker"
    case foreignEvent = "event-of-another-record"
    case targetKind = "target-kind"
    case alreadyRescinded = "already-rescinded"
    case oneAssessmentPerYear = "one-assessment-per-year"
    case correctionFields = "correction-fields"
    case unknownTemporaryPost = "unknown-temporary-post"
    /// A selection names a worker who was not on the jurisdiction's roster on its date.
    case selectionRoster = "selection-roster"
    /// An appeal's target is missing, of another record, or a selection that does not name the worker.
    case appealTarget = "appeal-target"
    /// An appeal against the same decision is already open.
    case appealOpen = "appeal-open"
    /// The appeal was already ruled on.
    case appealRuled = "appeal-already-ruled"
    /// A ruling on an appeal takes effect before the appeal was lodged.
    case appealRulingDate = "ruling-before-appeal"
    /// A hire under an existing worker id whose personal data are not the record's person's,
    /// without `personalCorrection` saying it corrects them.
    case rehireIdentity = "rehire-identity"
    /// A place the decision names does not exist on its effective date (the gazetteer).
    case unknownPlace = "unknown-place"
    /// A place decision does not fit the gazetteer (parent missing, name taken, no such place).
    case placeChange = "place-change"
    /// A warning, never a refusal: the city has no gazetteer, so its places were not checked.
    case noGazetteer = "no-gazetteer"
    // Facts about the worker's record (structural too: see isStructural), then policy
    case workerNotActive = "worker-not-active"
    case workerActive = "worker-active"
    case workerHired = "worker-hired"
    case quota
    case levelRange = "level-range"
    case levelDifferent = "level-different"
    case levelUpAssessment = "level-up-on-assessment"
    case levelDownCause = "level-down-cause"
    case postRole = "post-role"
    case secondmentForbidden = "secondment-county-or-above"
    case secondmentApproval = "secondment-approval"
    case secondmentOpen = "secondment-open"
    case noOpenSecondment = "no-open-secondment"
    case temporaryPostOpen = "temporary-post-open"
    case noOpenTemporaryPost = "no-open-temporary-post"
    case misconductExists = "misconduct-in-force"
    case misconductRuled = "misconduct-already-ruled"
    case publicInstitutionSecretary = "public-institution-secretary"
    case publicInstitutionService = "public-institution-service"
    case publicInstitutionTerm = "public-institution-term"
    case publicInstitutionRecord = "public-institution-record"
    case alreadyPublicInstitution = "already-public-institution"
    /// An assessment of year Y needs the worker on the roster on 31 December of Y (policy).
    case assessmentYearEndRoster = "assessment-year-end-roster"
    /// A level change on seniority grounds: one level a step, after `seniorityYearsPerLevel`
    /// full years at the current level (policy).
    case levelUpSeniority = "level-up-on-seniority"

    /// Structural rules (facts about the record) cannot be overridden.
    public var isStructural: Bool {
        switch self {
        case .unknownWorker, .foreignEvent, .targetKind, .alreadyRescinded, .oneAssessmentPerYear,
            .correctionFields, .unknownTemporaryPost, .selectionRoster, .appealTarget, .appealOpen, .appealRuled,
            .appealRulingDate, .rehireIdentity, .unknownPlace, .placeChange, .noGazetteer,
            // Facts about the worker's record: who is on the roster, what is open, what was ruled.
            .workerNotActive, .workerActive, .workerHired, .levelDifferent, .secondmentOpen, .noOpenSecondment,
            .temporaryPostOpen, .noOpenTemporaryPost, .misconductExists, .misconductRuled, .alreadyPublicInstitution:
            true
        case .quota, .levelRange, .levelUpAssessment, .levelDownCause, .postRole, .secondmentForbidden,
            .secondmentApproval, .publicInstitutionSecretary, .publicInstitutionService, .publicInstitutionTerm,
            .publicInstitutionRecord, .assessmentYearEndRoster, .levelUpSeniority:
            false
        }
    }
}

/// How the personal data of a hire under an existing worker id compare with the record's person's.
/// Names fields, never their values: the recorder may not be allowed to read them.
public struct PersonCheck: Sendable, Equatable {
    public enum Outcome: Sendable, Equatable {
        /// The identity fields both carry are the same (or the record has no personal data).
        case same
        /// These identity fields differ.
        case differs([String])
        /// The recorder may not read the record's personal data: nothing could be compared.
        case unreadable
        /// The record's personal data were erased: nothing could be compared.
        case erased
    }

    /// The hire being judged.
    public var event: UUID
    public var outcome: Outcome

    public init(event: UUID, outcome: Outcome) {
        self.event = event
        self.outcome = outcome
    }

    /// Why the hire is refused, or nil when it is the record's person.
    func problem(worker: String, status: String) -> String? {
        let what =
            "\(worker) is an existing person (\(status)); a hire under this id is a rehire of that person, and "
        let ways =
            ": send the record's personal data, add \"personalCorrection\": \"<why>\" if this hire corrects them, "
            + "or leave \"worker\" out to hire a new person under the next id of the district's series"
        switch outcome {
        case .same: return nil
        case .differs(let fields):
            return what + "its \(fields.joined(separator: " and ")) \(fields.count == 1 ? "differs" : "differ") from the record's" + ways
        case .unreadable:
            return what + "you may not read that person's personal data, so this hire cannot be shown to be them"
                + ": ask someone who may (the worker's district or a reviewer), or leave \"worker\" out to hire a new person"
        case .erased: return what + "that person's personal data were erased, so they cannot be compared" + ways
        }
    }
}

/// A rule a decision breaks, with the facts behind it.
public struct RuleViolation: Sendable, Equatable, Hashable, CustomStringConvertible {
    public var rule: Rule
    public var message: String

    public init(_ rule: Rule, _ message: String) {
        self.rule = rule
        self.message = message
    }

    public var description: String { "\(rule.rawValue): \(message)" }
}

/// What the rules need beyond one worker's history.
public struct RuleContext: Sendable {
    public var policy: PolicyBook
    public var population: PopulationBook
    /// Where other workers are placed, for quotas.
    public var headcount: HeadcountIndex
    /// The one event whose quota is checked (quotas of recorded decisions are not re-judged).
    public var quotaCheckedEvent: UUID?
    /// For a selection: the records of the workers it names, by worker id (a worker without a
    /// record is absent).
    public var namedWorkers: [String: [StoredDecision]] = [:]
    /// For an appeal against an event outside the worker's record: that event (a selection),
    /// when the log holds it.
    public var appealTarget: StoredDecision?
    /// For a hire under an existing id: how its personal data compare with the record's person's
    /// (set by the ledger, which alone may read them).
    public var person: PersonCheck?
    /// The gazetteer: the places that exist on every date.
    public var places = PlaceBook()

    public init(
        policy: PolicyBook = PolicyBook(), population: PopulationBook = PopulationBook(),
        headcount: HeadcountIndex = HeadcountIndex(), quotaCheckedEvent: UUID? = nil
    ) {
        self.policy = policy
        self.population = population
        self.headcount = headcount
        self.quotaCheckedEvent = quotaCheckedEvent
    }

    func parameters(for placement: Decision.Placement?, on date: CalendarDate) -> PolicyParameters {
        policy.parameters(city: placement?.city, district: placement?.district, on: date)
    }
}

extension WorkerState {
    /// Checks one decision against the state just before it, then applies it.
    ///
    /// - Returns: the rules the decision breaks. The decision is applied either way: a decision
    ///   recorded with an override, or a legacy one, still shapes the record.
    public mutating func apply(_ decision: Decision, eventID: UUID, context: RuleContext) -> [RuleViolation] {
        let date = decision.effective
        var violations: [RuleViolation] = []
        func requireActive() {
            if !isOnRoster {
                violations.append(
                    RuleViolation(
                        .workerActive,
                        "\(decision.kind.rawValue) needs an active worker; \(worker) is \(statusPhrase(on: date)) on \(date)"))
            }
        }
        func requireHired() {
            if firstHired == nil || firstHired! > date {
                violations.append(
                    RuleViolation(.workerHired, "\(decision.kind.rawValue) needs a worker hired by \(date); \(worker) is not"))
            }
        }

        switch decision.body {
        case .hire(let hire):
            if isOnRoster {
                violations.append(
                    RuleViolation(.workerNotActive, "\(worker) is already active on \(date) (hired \(serviceStart?.description ?? "?"))"))
            }
            let parameters = context.parameters(for: hire.placement, on: date)
            violations += levelRangeViolations(hire.level, parameters)
            violations += postRoleViolations(hire.post, hire.role, parameters)
            if context.quotaCheckedEvent == eventID {
                violations += quotaViolations(entering: hire.placement, on: date, context: context)
            }
            let rehire = firstHired != nil
            if rehire, hire.personalCorrection == nil, let check = context.person, check.event == eventID,
                let problem = check.problem(worker: worker, status: statusPhrase(on: date))
            {
                violations.append(RuleViolation(.rehireIdentity, problem))
            }
            status = .active
            exit = nil
            exitDate = nil
            post = hire.post
            role = hire.role
            education = hire.education
            placement = hire.placement
            serviceStart = date
            firstHired = firstHired ?? date
            secretarySince = hire.role.isPartySecretary ? date : nil
            if level != hire.level || !rehire {
                levelHistory.append(LevelRecord(effective: date, level: hire.level, grounds: nil, eventID: eventID))
            }
            level = hire.level
            openSpan(hire.placement, from: date)
            noteChange("status", Status.active.rawValue, date, eventID)
            noteChange("level", String(hire.level), date, eventID)
            noteChange("post", "\(hire.post.rawValue) (\(hire.role.rawValue))", date, eventID)
            noteChange("community", communityPhrase(hire.placement), date, eventID)

        case .levelChange(let newLevel, let grounds):
            requireActive()
            let parameters = context.parameters(for: placement, on: date)
            violations += levelRangeViolations(newLevel, parameters)
            let current = level ?? 0
            if newLevel == current {
                violations.append(RuleViolation(.levelDifferent, "\(worker) is already at level \(current) on \(date)"))
            } else if newLevel > current, grounds == .assessment {
                if let problem = levelUpProblem(on: date, to: newLevel, parameters) {
                    violations.append(RuleViolation(.levelUpAssessment, problem))
                }
                for record in latestAssessments(on: date, count: parameters.levelUpConsecutiveExcellent) {
                    levelUpYearsUsed.insert(record.year)
                }
            } else if newLevel < current, let problem = levelDownProblem(on: date, parameters) {
                violations.append(RuleViolation(.levelDownCause, problem))
            }
            if newLevel != current, grounds == .seniority, let problem = seniorityProblem(on: date, to: newLevel, parameters) {
                violations.append(RuleViolation(.levelUpSeniority, problem))
            }
            level = newLevel
            levelHistory.append(LevelRecord(effective: date, level: newLevel, grounds: grounds, eventID: eventID))
            noteChange("level", String(newLevel), date, eventID)

        case .postChange(let newPost, let newRole):
            requireActive()
            violations += postRoleViolations(newPost, newRole, context.parameters(for: placement, on: date))
            if newRole.isPartySecretary {
                if !(role?.isPartySecretary ?? false) { secretarySince = date }
            } else {
                secretarySince = nil
            }
            post = newPost
            role = newRole
            noteChange("post", "\(newPost.rawValue) (\(newRole.rawValue))", date, eventID)

        case .transfer(let target):
            requireActive()
            if context.quotaCheckedEvent == eventID {
                violations += quotaViolations(entering: target, on: date, context: context)
            }
            if isOnRoster {
                placement = target
                openSpan(target, from: date)
            }
            noteChange("community", communityPhrase(target), date, eventID)

        case .assessment(let year, let grade):
            if firstHired == nil || firstHired! > CalendarDate.endOfYear(year)! {
                violations.append(
                    RuleViolation(.workerHired, "an assessment of \(year) needs a worker hired by the end of \(year); \(worker) is not"))
            } else if let yearEnd = CalendarDate.endOfYear(year), !spans.contains(where: { $0.covers(yearEnd) }) {
                violations.append(
                    RuleViolation(
                        .assessmentYearEndRoster,
                        "an annual assessment of \(year) needs the worker on the roster on \(yearEnd); \(worker) is "
                            + "\(statusPhrase(on: date)) (with the district's approval, record it with override and overrideApproval)"))
            }
            assessments[year] = AssessmentRecord(year: year, grade: grade, eventID: eventID, effective: date)

        case .qualification(let certificate):
            requireHired()
            if qualifications[certificate] == nil { qualifications[certificate] = date }

        case .training(let kind, let hours):
            requireActive()
            trainingHours[kind, default: 0] += hours

        case .secondment(let secondment):
            let parameters = context.parameters(for: placement, on: date)
            requireActive()
            if let open = self.secondment {
                violations.append(
                    RuleViolation(.secondmentOpen, "\(worker) is already seconded to \(open.to) since \(open.since)"))
            }
            if secondment.toLevel >= parameters.secondmentForbiddenFrom {
                violations.append(
                    RuleViolation(
                        .secondmentForbidden,
                        "agencies at \(parameters.secondmentForbiddenFrom.rawValue) level or above may not second community workers; "
                            + "\(secondment.to) is at \(secondment.toLevel.rawValue) level"))
            }
            if parameters.secondmentApprovalRequired.contains(secondment.toLevel), secondment.approval == nil {
                violations.append(
                    RuleViolation(
                        .secondmentApproval,
                        "a secondment to the \(secondment.toLevel.rawValue) needs the approval of the county-level party "
                            + "committee's social work department; give it as \"approval\""))
            }
            if isOnRoster {
                self.secondment = SecondmentRecord(
                    to: secondment.to, toLevel: secondment.toLevel, since: date, until: secondment.until,
                    approval: secondment.approval, eventID: eventID)
                status = .seconded
                noteChange("status", Status.seconded.rawValue, date, eventID)
            }

        case .secondmentEnd:
            if secondment == nil {
                violations.append(RuleViolation(.noOpenSecondment, "\(worker) has no open secondment on \(date)"))
            }
            secondment = nil
            if status == .seconded {
                status = .active
                noteChange("status", Status.active.rawValue, date, eventID)
            }

        case .misconduct(let description, let sanction):
            requireHired()
            misconducts.append(
                MisconductRecord(
                    eventID: eventID, effective: date, description: description, sanction: sanction, ruling: nil,
                    rulingEventID: nil, countingSanction: sanction))

        case .faultTolerance(let target, let ruling, let sanction):
            guard let index = misconducts.firstIndex(where: { $0.eventID == target }) else {
                violations.append(
                    RuleViolation(
                        .misconductExists,
                        "misconduct \(target.uuidString.lowercased()) is not in force on \(date) (later, rescinded or overturned)"))
                break
            }
            if let previous = misconducts[index].ruling {
                violations.append(
                    RuleViolation(.misconductRuled, "misconduct \(target.uuidString.lowercased()) was already ruled \(previous.rawValue)"))
            }
            misconducts[index].ruling = ruling
            misconducts[index].rulingEventID = eventID
            switch ruling {
            case .excused: misconducts[index].countingSanction = .none
            case .mitigated:
                misconducts[index].countingSanction = min(sanction ?? misconducts[index].sanction.lighter, misconducts[index].sanction)
            case .notExcused: misconducts[index].countingSanction = misconducts[index].sanction
            }

        case .dismissal, .resignation, .retirement, .civilService, .streetLeadership:
            requireActive()
            if isOnRoster {
                status = .exited
                exit = decision.kind.exit
                exitDate = date
                secondment = nil
                secretarySince = nil
                closeSpan(on: date)
                noteChange("status", "exited (\(decision.kind.rawValue))", date, eventID)
            }

        case .publicInstitution:
            requireActive()
            if establishment == .publicInstitution {
                violations.append(
                    RuleViolation(.alreadyPublicInstitution, "\(worker) joined the public-institution establishment on \(publicInstitutionSince?.description ?? "?")"))
            }
            violations += publicInstitutionProblems(on: date, context.parameters(for: placement, on: date))
                .map { RuleViolation($0.rule, $0.message) }
            establishment = .publicInstitution
            publicInstitutionSince = date
            noteChange("status", "public-institution establishment", date, eventID)

        case .temporaryPost, .temporaryPostEnd, .population, .policy, .appealRuling, .correction, .rescission, .selection, .place,
            .appeal:
            break
        }
        return violations
    }

    func statusPhrase(on date: CalendarDate) -> String {
        switch status {
        case .notHired: "not hired yet"
        case .exited: "exited (\(exit?.rawValue ?? "?") on \(exitDate?.description ?? "?"))"
        case .active: "active"
        case .seconded: "seconded"
        }
    }

    func communityPhrase(_ placement: Decision.Placement) -> String {
        "\(placement.community), \(placement.street), \(placement.district), \(placement.city)"
    }

    func levelRangeViolations(_ level: Int, _ parameters: PolicyParameters) -> [RuleViolation] {
        level <= parameters.maxLevel
            ? [] : [RuleViolation(.levelRange, "level \(level) is above the highest level \(parameters.maxLevel) in force")]
    }

    func postRoleViolations(_ post: Post, _ role: Role, _ parameters: PolicyParameters) -> [RuleViolation] {
        let allowed = parameters.postRoles[post] ?? []
        guard !allowed.contains(role) else { return [] }
        return [
            RuleViolation(
                .postRole,
                "the \(post.rawValue) post holds the roles \(allowed.map(\.rawValue).sorted().joined(separator: ", ")); not \(role.rawValue)")
        ]
    }

    /// The latest `count` annual assessments in force on `date`, oldest first.
    func latestAssessments(on date: CalendarDate, count: Int) -> [AssessmentRecord] {
        Array(assessments.values.filter { $0.effective <= date }.sorted { $0.year < $1.year }.suffix(count))
    }

    /// Why a level-up on assessment grounds to `newLevel` on `date` is not allowed, or nil.
    /// `dated` puts the date in the message (refusals); eligibility lists leave it out so the
    /// reason stays the same from one day to the next.
    func levelUpProblem(on date: CalendarDate, to newLevel: Int, _ parameters: PolicyParameters, dated: Bool = true) -> String? {
        let needed = parameters.levelUpConsecutiveExcellent
        let latest = latestAssessments(on: date, count: needed)
        let consecutive = latest.count == needed && zip(latest, latest.dropFirst()).allSatisfy { $1.year == $0.year + 1 }
        if latest.count < needed || !consecutive || latest.contains(where: { $0.grade != .excellent })
            || latest.contains(where: { levelUpYearsUsed.contains($0.year) })
        {
            let found = latest.isEmpty
                ? "none" : latest.map { "\($0.year) \($0.grade.rawValue)" + (levelUpYearsUsed.contains($0.year) ? " (already used)" : "") }
                    .joined(separator: ", ")
            return "level-change on assessment grounds needs \(needed) consecutive excellent annual assessments "
                + "not used for an earlier level-up" + (dated ? ", as of \(date)" : "") + "; found \(found)"
        }
        let years = serviceStart.map { $0.fullYears(until: date) } ?? 0
        if years < parameters.levelUpMinServiceYears {
            return "level-change on assessment grounds needs \(parameters.levelUpMinServiceYears) full years of service; "
                + "\(worker) has \(years)" + (dated ? " on \(date)" : "")
        }
        if let level, newLevel != level + 1 {
            return "two excellent assessments earn one level: from \(level) to \(level + 1), not \(newLevel)"
        }
        return nil
    }

    /// The date the worker's current level took effect (the latest level record up to now).
    var levelSince: CalendarDate? { levelHistory.last?.effective }

    /// Why a level change to `newLevel` on seniority grounds on `date` is not allowed, or nil:
    /// seniority raises one level a step, after `seniorityYearsPerLevel` full years at the
    /// current level.
    func seniorityProblem(on date: CalendarDate, to newLevel: Int, _ parameters: PolicyParameters) -> String? {
        let needed = parameters.seniorityYearsPerLevel
        guard let current = level else { return nil }
        if newLevel != current + 1 {
            return "a level change on seniority grounds raises one level a step: from \(current) to \(current + 1), not \(newLevel)"
        }
        let since = levelSince ?? serviceStart ?? date
        let years = since.fullYears(until: date)
        if years < needed {
            return "a level change on seniority grounds needs \(needed) full years at the current level (seniorityYearsPerLevel); "
                + "\(worker) has been at level \(current) since \(since): \(years) on \(date)"
        }
        return nil
    }

    /// Why a level decrease on `date` has no cause, or nil when it has one.
    func levelDownProblem(on date: CalendarDate, _ parameters: PolicyParameters) -> String? {
        let since = date.adding(years: -parameters.levelDownLookbackYears)
        let sanctioned = misconducts.contains { $0.effective > since && $0.effective <= date && $0.countingSanction >= .demerit }
        let poor = assessments.values.contains {
            $0.effective <= date && $0.year >= date.year - parameters.levelDownLookbackYears && $0.grade.isBelowCompetent
        }
        if sanctioned || poor { return nil }
        return "a level-down needs a cause within \(parameters.levelDownLookbackYears) years before \(date): an unexcused "
            + "demerit or major demerit, or an assessment below competent; \(worker) has none (excused misconduct does not count)"
    }

    /// The public-institution rule's failures on `date` (empty when the worker qualifies).
    func publicInstitutionProblems(on date: CalendarDate, _ parameters: PolicyParameters, dated: Bool = true) -> [RuleViolation] {
        let onDate = dated ? " on \(date)" : ""
        var problems: [RuleViolation] = []
        guard let role, role.isPartySecretary, let secretarySince else {
            return [
                RuleViolation(
                    .publicInstitutionSecretary,
                    "only a community party organisation secretary can join a public institution this way; \(worker) is "
                        + (role?.rawValue ?? "without a role") + onDate)
            ]
        }
        let serviceYears = serviceStart.map { $0.fullYears(until: date) } ?? 0
        if serviceYears < parameters.publicInstitutionServiceYears {
            problems.append(
                RuleViolation(
                    .publicInstitutionService,
                    "needs \(parameters.publicInstitutionServiceYears) full years of continuous community work; \(worker) has "
                        + "\(serviceYears) (since \(serviceStart?.description ?? "?"))" + onDate))
        }
        let termYears = secretarySince.fullYears(until: date)
        if termYears < parameters.secretaryTermYears {
            problems.append(
                RuleViolation(
                    .publicInstitutionTerm,
                    "needs one full term (\(parameters.secretaryTermYears) years) as secretary; \(worker) has served "
                        + "\(termYears) (since \(secretarySince))" + onDate))
        }
        let termStart = date.adding(years: -parameters.secretaryTermYears)
        let sanctions = misconducts.filter { $0.effective > termStart && $0.effective <= date && $0.countingSanction != .none }
        let poor = assessments.values.filter {
            $0.effective <= date && $0.year >= termStart.year && $0.year < date.year + 1 && $0.grade.isBelowCompetent
        }.sorted { $0.year < $1.year }
        if !sanctions.isEmpty || !poor.isEmpty {
            var facts: [String] = sanctions.map { "\($0.countingSanction.rawValue) on \($0.effective)" }
            facts += poor.map { "\($0.year) \($0.grade.rawValue)" }
            problems.append(
                RuleViolation(
                    .publicInstitutionRecord,
                    "needs no unexcused sanction and no assessment below competent in the term"
                        + (dated ? " since \(termStart)" : " (the last \(parameters.secretaryTermYears) years)") + "; found "
                        + facts.joined(separator: ", ")))
        }
        return problems
    }

    /// Quota failures when this worker enters `target` on `date`: on that date and on every later
    /// one, each judged by the population figure and the ratio in force then (a later, smaller
    /// figure, or a lower ratio, counts), with the worker counted from `date` on.
    func quotaViolations(entering target: Decision.Placement, on date: CalendarDate, context: RuleContext) -> [RuleViolation] {
        var violations: [RuleViolation] = []
        for jurisdiction in [target.districtJurisdiction, target.city] {
            // The dates from which the quota in force may change: the figures' and the policies'.
            var starts = Set([date])
            for figure in context.population.figures(of: jurisdiction) {
                for day in [figure.effective, CalendarDate(year: figure.year, month: 1, day: 1)].compactMap({ $0 }) where day > date {
                    starts.insert(day)
                }
            }
            for day in context.policy.effectiveDates where day > date { starts.insert(day) }
            let ordered = starts.sorted()
            var breaches: [(count: Int, day: CalendarDate, quota: Int, text: String)] = []
            for (index, start) in ordered.enumerated() {
                guard let (year, population) = context.population.urbanPopulation(of: jurisdiction, on: start) else { continue }
                let parameters = context.parameters(for: target, on: start)
                let quota = population * parameters.quotaPerTenThousand / 10_000
                let end = index + 1 < ordered.count ? ordered[index + 1].adding(days: -1) : nil
                let others = context.headcount.busiestDay(in: jurisdiction, from: start, through: end, excluding: worker)
                if others.count + 1 > quota {
                    breaches.append(
                        (others.count + 1, others.day, quota,
                         "\(parameters.quotaPerTenThousand) per 10,000 of \(population) urban residents, \(year)"))
                }
            }
            // The first breach names the quota; later ones are counted.
            if let first = breaches.first {
                let later = breaches.count > 1 ? " (and on \(breaches.count - 1) later period\(breaches.count > 2 ? "s" : "") of another figure or ratio)" : ""
                violations.append(
                    RuleViolation(
                        .quota,
                        "\(jurisdiction) may have \(first.quota) community workers (\(first.text)); this would make \(first.count) on "
                            + "\(first.day)" + (first.day > date ? ", a later date this \(date) decision affects" : "") + later))
            }
        }
        return violations
    }

    /// What a hire or transfer into a district with no population figure in force on its date
    /// should tell the recorder: the district's quota could not be checked (not a violation).
    public static func quotaWarnings(for decision: Decision, context: RuleContext) -> [RuleViolation] {
        let target: Decision.Placement
        switch decision.body {
        case .hire(let hire): target = hire.placement
        case .transfer(let placement): target = placement
        default: return []
        }
        let district = target.districtJurisdiction
        guard context.population.urbanPopulation(of: district, on: decision.effective) == nil else { return [] }
        let city = context.population.urbanPopulation(of: target.city, on: decision.effective) != nil
        return [
            RuleViolation(
                .quota,
                "\(district) has no population figure in force on \(decision.effective), so its quota could not be checked"
                    + (city ? " (the quota of \(target.city) was)" : "")
                    + "; record a population decision for it (dossier quota lists it as having no figure)")
        ]
    }
}

extension CadreState {
    mutating func apply(_ decision: Decision, eventID: UUID) -> [RuleViolation] {
        var violations: [RuleViolation] = []
        switch decision.body {
        case .temporaryPost(let post):
            if isOpen {
                violations.append(
                    RuleViolation(.temporaryPostOpen, "\(cadre) already holds a temporary post in \(community ?? "?") since \(since?.description ?? "?")"))
            }
            homeAgency = post.homeAgency
            community = post.community
            role = post.role
            kind = post.kind
            since = decision.effective
            until = post.until
            ended = nil
            isOpen = true
        case .temporaryPostEnd:
            if !isOpen {
                violations.append(RuleViolation(.noOpenTemporaryPost, "\(cadre) holds no temporary post on \(decision.effective)"))
            }
            isOpen = false
            ended = decision.effective
        default:
            break
        }
        return violations
    }
}
