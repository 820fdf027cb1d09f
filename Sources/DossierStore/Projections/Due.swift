import DossierDomain
import Foundation
import PostgresClient

/// `dossier due`: what needs attention on a date, from the read side and the domain folds.
///
/// Each item has a kind (a stable machine word), a subject, the jurisdiction it belongs to, the
/// rule that makes it due and the date it fell due. Everything is read as the logged-in person,
/// through the database's grants: the projections of `dossier_read`, and, for misconduct, the
/// log's worker streams and the policy stream, which every role that may run it may read.
extension ReadModel {
    /// What an item is about. The raw values are the `kind` column: stable, never renamed.
    public enum DueKind: String, CaseIterable, Sendable {
        /// A secondment still open after its `until` date.
        case secondmentOverdue = "secondment-overdue"
        /// A cadre's temporary post still open after its `until` date.
        case temporaryPostOverdue = "temporary-post-overdue"
        /// A worker whose consecutive excellent assessments, not yet used, call for a level review.
        case levelReview = "level-review"
        /// A worker on the roster on 31 December of last year with no assessment for that year.
        case assessmentMissing = "assessment-missing"
        /// A district (or a city with its own population figure) staffed below its approved total.
        case belowQuota = "below-quota"
        /// A district with workers on its roster and no population figure in force.
        case noPopulation = "no-population"
        /// A party secretary who meets the public-institution rule.
        case publicInstitution = "public-institution"
        /// A misconduct with no fault-tolerance ruling `faultRulingDays` days after it.
        case faultRulingOverdue = "fault-ruling-overdue"
    }

    /// One thing that needs attention.
    public struct DueItem: Sendable, Equatable {
        public var due: CalendarDate
        public var kind: DueKind
        public var subject: String
        /// `worker`, `cadre` or `jurisdiction`.
        public var subjectKind: String
        /// `City/District` (or `City` for a city's own quota); nil when no place is known.
        public var jurisdiction: String?
        /// The rule that makes it due, for people.
        public var rule: String
        /// The facts: what is open, since when, what the eligibility found.
        public var detail: String
        /// The decision it is about (the secondment, temporary post, misconduct), when there is one.
        public var eventID: UUID?

        /// The CSV columns of `due`, the keys of `json` in order (README, "CSV and other formats").
        public static let csvHeader = ["due", "kind", "subject", "subjectKind", "jurisdiction", "rule", "detail", "eventId"]

        public var json: JSONObject {
            JSONObject([
                ("due", .string(due.description)), ("kind", .string(kind.rawValue)), ("subject", .string(subject)),
                ("subjectKind", .string(subjectKind)), ("jurisdiction", jurisdiction.map(JSONValue.string) ?? .null),
                ("rule", .string(rule)), ("detail", .string(detail)),
                ("eventId", eventID.map { .string($0.uuidString.lowercased()) } ?? .null),
            ])
        }

        /// One CSV record, in the order of `csvHeader`.
        public var csvRow: [CSV.Field] {
            [.text(due.description), .text(kind.rawValue), .text(subject), .text(subjectKind), CSV.Field(jurisdiction), .text(rule),
             .text(detail), CSV.Field(eventID?.uuidString.lowercased())]
        }

        /// The item for people: its date, kind, subject and place, then the rule and the facts.
        public var line: String {
            "\(due)  \(kind.rawValue)  \(subject)" + (subjectKind == "jurisdiction" ? "" : " (\(subjectKind))")
                + (jurisdiction.map { "  in \($0)" } ?? "") + "\n    rule: \(rule)\n    \(detail)"
        }
    }

    /// What needs attention on `date`, in one jurisdiction (`City` or `City/District`) when
    /// given: sorted by the date each fell due, then subject, then kind. See `DueKind` and the
    /// README ("What needs attention") for each rule and the date it falls due.
    public func due(asOf date: CalendarDate, jurisdiction: String? = nil) async throws -> [DueItem] {
        let place = try Self.jurisdictionParts(jurisdiction)
        return try await session.run { connection in
            _ = try self.refresh(connection)
            try Self.requireKnown(jurisdiction, connection)
            var items: [DueItem] = []
            items += try Self.overdueAssignments(connection, on: date)
            items += try Self.eligibilityRuns(connection, .levelUp, on: date)
            items += try Self.eligibilityRuns(connection, .publicInstitution, on: date)
            items += try Self.missingAssessments(connection, on: date)
            items += try Self.staffing(connection, on: date)
            items += try Self.unruledMisconduct(connection, on: date)
            if let city = place.city {
                items = items.filter { item in
                    guard let found = item.jurisdiction else { return false }
                    if let district = place.district { return found == city + "/" + district }
                    return found == city || found.hasPrefix(city + "/")
                }
            }
            return items.sorted {
                ($0.due, $0.subject, $0.kind.rawValue, $0.eventID?.uuidString ?? "")
                    < ($1.due, $1.subject, $1.kind.rawValue, $1.eventID?.uuidString ?? "")
            }
        }
    }

    /// `City/District` from the two columns (nil when the city is unknown).
    static func place(_ city: String?, _ district: String?) -> String? {
        city.map { city in district.map { city + "/" + $0 } ?? city }
    }

    /// A date of the read side as a `CalendarDate` (every stored date is one Dossier can read).
    static func calendarDate(_ date: PostgresDate) throws -> CalendarDate {
        guard let value = CalendarDate(year: date.year, month: date.month, day: date.day) else {
            throw LedgerError.unreadable(position: 0, reason: "the read side holds the date \(date), outside the years Dossier reads")
        }
        return value
    }

    /// Secondments and temporary posts still open on `date` whose `until` is before it. `until`
    /// is the last day of the assignment (an end recorded on that date is on time), so one falls
    /// due the day after `until`. A secondment's place is where the worker is placed (the latest
    /// period up to `date`, as known now); a temporary post's, the district of its community (where
    /// workers of that community are placed, on `date` if any are).
    static func overdueAssignments(_ connection: PostgresConnection, on date: CalendarDate) throws -> [DueItem] {
        let day = PostgresDate(date)
        return try connection.query(
            """
            SELECT a.kind, a.subject, a.destination, a.level, a.community, a.since, a.planned_until, a.event_id,
                   coalesce(w.city, c.city), coalesce(w.district, c.district)
              FROM dossier_read.assignments a
              LEFT JOIN LATERAL (
                  SELECT t.city, t.district FROM dossier_read.worker_timeline t
                   WHERE a.kind = 'secondment' AND t.worker = a.subject AND t.recorded_until IS NULL
                     AND t.valid_from <= \(day) AND t.city IS NOT NULL
                   ORDER BY t.valid_from DESC LIMIT 1) w ON true
              LEFT JOIN LATERAL (
                  SELECT t.city, t.district FROM dossier_read.worker_timeline t
                   WHERE a.kind = 'temporary-post' AND t.community = a.community AND t.recorded_until IS NULL
                     AND t.valid_from <= \(day) AND t.city IS NOT NULL
                   ORDER BY (t.valid_until IS NULL OR t.valid_until > \(day)) DESC, t.valid_from DESC, t.city, t.district
                   LIMIT 1) c ON true
             WHERE a.since <= \(day) AND a.planned_until < \(day) AND (a.ended IS NULL OR a.ended > \(day))
            """
        ).rows.map { row in
            let kind = try row.decode(String.self, at: 0)
            let subject = try row.decode(String.self, at: 1)
            let destination = try row.decode(String.self, at: 2)
            let level = try row.decodeIfPresent(String.self, at: 3) ?? "?"
            let community = try row.decodeIfPresent(String.self, at: 4)
            let since = try calendarDate(try row.decode(PostgresDate.self, at: 5))
            let until = try calendarDate(try row.decode(PostgresDate.self, at: 6))
            let eventID = try row.decode(UUID.self, at: 7)
            let jurisdiction = place(try row.decodeIfPresent(String.self, at: 8), try row.decodeIfPresent(String.self, at: 9))
            let due = until.adding(days: 1) ?? until
            if kind == "secondment" {
                return DueItem(
                    due: due, kind: .secondmentOverdue, subject: subject, subjectKind: "worker", jurisdiction: jurisdiction,
                    rule: "a secondment ends on its approved until date (a street or township secondment is approved for a "
                        + "set term; county level and above may not second): record secondment-end, or correct until",
                    detail: "seconded to \(destination) (\(level)) since \(since), until \(until); no secondment-end in force on \(date)",
                    eventID: eventID)
            }
            return DueItem(
                due: due, kind: .temporaryPostOverdue, subject: subject, subjectKind: "cadre", jurisdiction: jurisdiction,
                rule: "a temporary post ends on its until date: record temporary-post-end, or correct until",
                detail: "from \(destination) (\(level)) at \(community ?? "?") since \(since), until \(until); "
                    + "no temporary-post-end in force on \(date)",
                eventID: eventID)
        }
    }

    /// Workers eligible on `date` for a level-up (a level review) or for the public-institution
    /// establishment, each with the day the eligibility began: the first day of the run of
    /// eligible periods of the timeline (as known now) that reaches `date`. For a level review
    /// that is the effective date of the second excellent assessment, unless the years of service
    /// the rule also needs were reached later.
    static func eligibilityRuns(_ connection: PostgresConnection, _ kind: EligibilityKind, on date: CalendarDate) throws -> [DueItem] {
        let column: PostgresQuery =
            switch kind {
            case .levelUp: "level_up"
            case .publicInstitution: "public_institution"
            case .exitReview: "exit_review"
            }
        let day = PostgresDate(date)
        return try connection.query(
            """
            SELECT c.worker, c.city, c.district, c.\(fragment: column)_reason,
                   coalesce((SELECT max(f.valid_until) FROM dossier_read.worker_timeline f
                              WHERE f.worker = c.worker AND f.recorded_until IS NULL AND NOT f.\(fragment: column)
                                AND f.valid_from <= \(day)),
                            (SELECT min(f.valid_from) FROM dossier_read.worker_timeline f
                              WHERE f.worker = c.worker AND f.recorded_until IS NULL))
              FROM dossier_read.worker_timeline c
             WHERE c.recorded_until IS NULL AND c.valid_from <= \(day) AND (c.valid_until IS NULL OR c.valid_until > \(day))
               AND c.\(fragment: column)
            """
        ).rows.map { row in
            let worker = try row.decode(String.self, at: 0)
            let jurisdiction = place(try row.decodeIfPresent(String.self, at: 1), try row.decodeIfPresent(String.self, at: 2))
            let reason = try row.decode(String.self, at: 3)
            let since = try calendarDate(try row.decode(PostgresDate.self, at: 4))
            switch kind {
            case .levelUp:
                return DueItem(
                    due: since, kind: .levelReview, subject: worker, subjectKind: "worker", jurisdiction: jurisdiction,
                    rule: "level review: consecutive excellent annual assessments not yet used for a level-up move a worker "
                        + "up one level (Huangpu practice; policy levelUpConsecutiveExcellent, levelUpMinServiceYears)",
                    detail: reason, eventID: nil)
            default:
                return DueItem(
                    due: since, kind: .publicInstitution, subject: worker, subjectKind: "worker", jurisdiction: jurisdiction,
                    rule: "public institution: a community party secretary with full years of continuous community work "
                        + "(policy publicInstitutionServiceYears) and one full term as secretary (secretaryTermYears) may be "
                        + "hired as public-institution staff (the Opinions)",
                    detail: reason, eventID: nil)
            }
        }
    }

    /// Workers on the roster on `date` who were also on it on 31 December of the year before,
    /// with no assessment for that year in force on `date`. Due on 1 January of `date`'s year:
    /// the first day the year's assessment can be complete.
    static func missingAssessments(_ connection: PostgresConnection, on date: CalendarDate) throws -> [DueItem] {
        let year = date.year - 1
        guard let yearEnd = CalendarDate(year: year, month: 12, day: 31), let due = CalendarDate(year: date.year, month: 1, day: 1)
        else { return [] }
        let day = PostgresDate(date)
        let end = PostgresDate(yearEnd)
        return try connection.query(
            """
            SELECT t.worker, t.city, t.district FROM dossier_read.worker_timeline t
             WHERE t.recorded_until IS NULL AND t.valid_from <= \(day) AND (t.valid_until IS NULL OR t.valid_until > \(day))
               AND t.status IN ('active', 'seconded')
               AND EXISTS (SELECT FROM dossier_read.worker_timeline p
                            WHERE p.worker = t.worker AND p.recorded_until IS NULL AND p.valid_from <= \(end)
                              AND (p.valid_until IS NULL OR p.valid_until > \(end)) AND p.status IN ('active', 'seconded'))
               AND NOT EXISTS (SELECT FROM dossier_read.assessments a
                                WHERE a.worker = t.worker AND a.year = \(Int32(year)) AND a.effective <= \(day))
            """
        ).rows.map { row in
            DueItem(
                due: due, kind: .assessmentMissing, subject: try row.decode(String.self, at: 0), subjectKind: "worker",
                jurisdiction: place(try row.decodeIfPresent(String.self, at: 1), try row.decodeIfPresent(String.self, at: 2)),
                rule: "annual assessment: every worker on the roster at the end of a year is assessed for that year (the Opinions)",
                detail: "on the roster on \(yearEnd); no assessment for \(year) in force on \(date)", eventID: nil)
        }
    }

    /// Districts (and cities with their own population figure) whose headcount on `date` is
    /// below the quota in force, and districts with workers on the roster and no population figure
    /// in force; each due on the first day of the unbroken stretch up to `date` in that state (the
    /// headcount and the figure in force change only on the days this walks over).
    static func staffing(_ connection: PostgresConnection, on date: CalendarDate) throws -> [DueItem] {
        let day = PostgresDate(date)
        // Changes of each district's headcount, as known now, up to `date`.
        var changes: [String: [(CalendarDate, Int)]] = [:]
        for row in try connection.query(
            """
            SELECT city, district, d, sum(n)::bigint FROM (
                SELECT city, district, valid_from AS d, 1 AS n FROM dossier_read.worker_timeline
                 WHERE recorded_until IS NULL AND status IN ('active', 'seconded') AND valid_from <= \(day)
                   AND city IS NOT NULL AND district IS NOT NULL
                UNION ALL
                SELECT city, district, valid_until, -1 FROM dossier_read.worker_timeline
                 WHERE recorded_until IS NULL AND status IN ('active', 'seconded') AND valid_until <= \(day)
                   AND city IS NOT NULL AND district IS NOT NULL) x
             GROUP BY 1, 2, 3 HAVING sum(n) <> 0 ORDER BY 3
            """
        ).rows {
            let city = try row.decode(String.self, at: 0)
            let district = city + "/" + (try row.decode(String.self, at: 1))
            let change = (try calendarDate(try row.decode(PostgresDate.self, at: 2)), Int(try row.decode(Int64.self, at: 3)))
            changes[district, default: []].append(change)
            changes[city, default: []].append(change)
        }
        // The population figures: the one in force on a day is the latest year not after the
        // day's year among those effective by then (as `quota` reads them).
        struct Figure { var year: Int; var population: Int; var ratio: Int; var quota: Int; var effective: CalendarDate }
        var figures: [String: [Figure]] = [:]
        for row in try connection.query(
            "SELECT jurisdiction, year, urban_population, per_ten_thousand, quota, effective FROM dossier_read.quotas WHERE effective <= \(day)"
        ).rows {
            let figure = Figure(
                year: Int(try row.decode(Int32.self, at: 1)), population: Int(try row.decode(Int32.self, at: 2)),
                ratio: Int(try row.decode(Int32.self, at: 3)), quota: Int(try row.decode(Int32.self, at: 4)),
                effective: try calendarDate(try row.decode(PostgresDate.self, at: 5)))
            figures[try row.decode(String.self, at: 0), default: []].append(figure)
        }
        func inForce(_ list: [Figure], on day: CalendarDate) -> Figure? {
            list.filter { $0.year <= day.year && $0.effective <= day }.max { $0.year < $1.year }
        }
        var items: [DueItem] = []
        var started: [String: (kind: DueKind, since: CalendarDate)] = [:]
        let jurisdictions = Set(changes.keys).union(figures.keys)
        for jurisdiction in jurisdictions.sorted() {
            let isDistrict = jurisdiction.contains("/")
            let steps = (changes[jurisdiction] ?? []).sorted { $0.0 < $1.0 }
            let ownFigures = figures[jurisdiction] ?? []
            // A city without its own figure is controlled through its districts: nothing of its own to flag.
            if !isDistrict && ownFigures.isEmpty { continue }
            var days = Set(steps.map(\.0))
            for figure in ownFigures {
                days.insert(max(figure.effective, CalendarDate(year: figure.year, month: 1, day: 1) ?? figure.effective))
            }
            var headcount = 0
            var next = 0
            // (day, state) at every day the state may change, up to `date`; the state is the
            // item's kind, or nil when nothing is due.
            var states: [(day: CalendarDate, kind: DueKind?)] = []
            for change in days.filter({ $0 <= date }).sorted() {
                while next < steps.count, steps[next].0 <= change {
                    headcount += steps[next].1
                    next += 1
                }
                let figure = inForce(ownFigures, on: change)
                let kind: DueKind? =
                    if let figure { headcount < figure.quota ? .belowQuota : nil } else { isDistrict && headcount > 0 ? .noPopulation : nil }
                states.append((change, kind))
            }
            guard let last = states.last, let kind = last.kind else { continue }
            var since = last.day
            for state in states.reversed() {
                guard state.kind == kind else { break }
                since = state.day
            }
            started[jurisdiction] = (kind, since)
        }
        // What is due, with the figures `dossier quota` shows for the date (dossier_read.quota_as_of).
        for row in try connection.query(
            """
            SELECT jurisdiction, headcount, year, urban_population, per_ten_thousand, quota, standing
              FROM dossier_read.quota_as_of(\(day)) ORDER BY jurisdiction
            """
        ).rows {
            let jurisdiction = try row.decode(String.self, at: 0)
            let headcount = Int(try row.decode(Int32.self, at: 1))
            let standing = try row.decode(String.self, at: 6)
            // Since when: the walk above, when it finds the same state on `date` (it reads the
            // quota the projection keeps, computed with the ratio in force when the figure took
            // effect; after a change of ratio alone, the date asked about).
            func since(_ kind: DueKind) -> CalendarDate { started[jurisdiction].flatMap { $0.kind == kind ? $0.since : nil } ?? date }
            if standing == "below", let quota = try row.decodeIfPresent(Int32.self, at: 5).map(Int.init) {
                let year = try row.decodeIfPresent(Int32.self, at: 2).map { String($0) } ?? "?"
                let population = try row.decodeIfPresent(Int32.self, at: 3).map { String($0) } ?? "?"
                let ratio = try row.decodeIfPresent(Int32.self, at: 4).map { String($0) } ?? "?"
                items.append(
                    DueItem(
                        due: since(.belowQuota), kind: .belowQuota, subject: jurisdiction, subjectKind: "jurisdiction",
                        jurisdiction: jurisdiction,
                        rule: "staffing standard: community workers per 10,000 urban permanent residents (policy "
                            + "quotaPerTenThousand, 18 by the Opinions) set the approved total; a headcount below it is a shortfall",
                        detail: "headcount \(headcount), approved total \(quota) (\(ratio) per 10,000 of \(population), \(year)): "
                            + "\(quota - headcount) below",
                        eventID: nil))
            } else if standing == "no-figure", jurisdiction.contains("/"), headcount > 0 {
                items.append(
                    DueItem(
                        due: since(.noPopulation), kind: .noPopulation, subject: jurisdiction, subjectKind: "jurisdiction",
                        jurisdiction: jurisdiction,
                        rule: "staffing standard: the approved total is set from the urban permanent population in force "
                            + "(a population decision for the district)",
                        detail: "headcount \(headcount), no population figure in force", eventID: nil))
            }
        }
        return items
    }

    /// Misconduct in force on `date` with no fault-tolerance ruling in force by then, once
    /// `faultRulingDays` days (the policy in force on the misconduct's date where the worker was
    /// placed then) have passed since it: due on its effective date plus those days. Read from the
    /// workers' streams and folded (corrections, rescissions and appeal rulings applied).
    static func unruledMisconduct(_ connection: PostgresConnection, on date: CalendarDate) throws -> [DueItem] {
        let streams = try connection.query(
            """
            SELECT DISTINCT stream FROM dossier_read.audit_trail
             WHERE decision = 'misconduct' AND stream LIKE 'worker/%' AND NOT rescinded AND NOT overturned
               AND effective <= \(PostgresDate(date))
            """
        ).rows.map { try $0.decode(String.self, at: 0) }
        guard !streams.isEmpty else { return [] }
        let references = try ReferenceData.read(connection)
        var byStream: [String: [StoredDecision]] = [:]
        for row in try connection.query(
            """
            SELECT \(fragment: EventLog.columns) FROM dossier.events
             WHERE stream = ANY(\(PostgresArray(streams))) ORDER BY stream, version
            """
        ).rows {
            let event = try EventLog.decodeEvent(row)
            if EventLog.nonDecisionTypes.contains(event.type) { continue }
            byStream[event.stream.rawValue, default: []].append(try Ledger.decision(of: event))
        }
        var items: [DueItem] = []
        for (stream, stored) in byStream {
            let worker = StreamID(rawValue: stream).subject
            let state = Replay.fold(worker: worker, Replay.history(stored), asOf: date, context: references.context).state
            for misconduct in state.misconducts where misconduct.ruling == nil {
                let placement = state.spans.last { $0.covers(misconduct.effective) }?.placement ?? state.placement
                let days = references.policy.parameters(city: placement?.city, district: placement?.district, on: misconduct.effective)
                    .faultRulingDays
                guard let due = misconduct.effective.adding(days: days), due <= date else { continue }
                items.append(
                    DueItem(
                        due: due, kind: .faultRulingOverdue, subject: worker, subjectKind: "worker",
                        jurisdiction: state.placement.map { $0.city + "/" + $0.district },
                        rule: "fault tolerance and error correction: a misconduct is ruled on (excused, mitigated or "
                            + "not-excused) within \(days) days (policy faultRulingDays)",
                        detail: "misconduct on \(misconduct.effective): \(misconduct.description) (sanction "
                            + "\(misconduct.sanction.rawValue)); no fault-tolerance ruling in force on \(date)",
                        eventID: misconduct.eventID))
            }
        }
        return items
    }
}
