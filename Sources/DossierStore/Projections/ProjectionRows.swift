import DossierDomain
import Foundation
import PostgresClient

/// The projections of the read side, by the name `dossier rebuild` takes.
public enum ProjectionName: String, CaseIterable, Sendable {
    case timeline, audit, assessments, levels, assignments, quotas

    /// The table in `dossier_read` that holds it.
    public var table: String {
        switch self {
        case .timeline: "worker_timeline"
        case .audit: "audit_trail"
        case .assessments: "assessments"
        case .levels: "level_history"
        case .assignments: "assignments"
        case .quotas: "quotas"
        }
    }

    /// `dossier_read.<table>`, for statements (a name from this enum, never from input).
    var qualifiedTable: PostgresQuery { PostgresQuery(unsafeSQL: "dossier_read." + table) }

    /// The column list, for statements.
    var columnList: PostgresQuery { PostgresQuery(unsafeSQL: columns) }

    /// The column that names whose rows they are (for replacing one subject's rows).
    var subjectColumn: String? {
        switch self {
        case .timeline, .assessments, .levels: "worker"
        case .audit: "stream"
        case .assignments: "subject"
        case .quotas: nil
        }
    }

    var columns: String {
        switch self {
        case .timeline:
            "worker, valid_from, valid_until, recorded_from, recorded_until, status, exit_kind, post, role, level, community, "
                + "street, district, city, establishment, service_start, monthly_subsidy, level_up, level_up_reason, "
                + "public_institution, public_institution_reason, exit_review, exit_review_reason"
        case .audit:
            "position, event_id, stream, decision, effective, recorded_at, recorded_by, authority, reference, corrected, "
                + "rescinded, excused, mitigated, overturned, upheld, corrected_by, rescinded_by, overturned_by, ruled_by, "
                + "override, exceptions"
        case .assessments: "worker, year, grade, effective, event_id"
        case .levels: "worker, effective, level, grounds, event_id"
        case .assignments: "subject, kind, destination, level, community, since, planned_until, ended, event_id"
        case .quotas: "jurisdiction, year, urban_population, per_ten_thousand, quota, effective"
        }
    }
}

/// One period of a worker's timeline as the read side stores it, with its transaction time.
struct TimelineRow: Equatable {
    var worker: String
    var period: TimelinePeriod
    var recordedFrom: Timestamp
    var recordedUntil: Timestamp?
}

/// The rows one stream contributes to each projection (all but the timeline, which is
/// versioned in transaction time and computed by `TimelineVersions`).
struct StreamRows {
    var audit: [TraceEntry] = []
    var assessments: [(worker: String, record: WorkerState.AssessmentRecord)] = []
    var levels: [(worker: String, record: WorkerState.LevelRecord)] = []
    var assignments: [Assignment] = []

    struct Assignment {
        var subject: String
        var kind: String
        var destination: String
        var level: String?
        var community: String?
        var since: CalendarDate
        var plannedUntil: CalendarDate
        var ended: CalendarDate?
        var eventID: UUID
    }

    /// The stream's history as now known (nil for a stream without decisions), for the
    /// timeline, which would otherwise compute it again.
    var history: History?

    /// The rows of one stream, from its decisions as now known.
    init(stream: StreamID, stored: [StoredDecision], context: RuleContext) {
        guard !stored.isEmpty else { return }
        // The trace folds a worker's history with the same context: its fold serves here too.
        let (trace, history, outcome) = Replay.traceAndFold(stored, context: context)
        audit = trace
        self.history = history
        switch stream.kind {
        case "worker":
            let state =
                if let outcome, stored[0].decision.subject == stream.subject { outcome.state } else {
                    Replay.fold(worker: stream.subject, history, context: context).state
                }
            assessments = state.assessmentsByYear.map { (stream.subject, $0) }
            levels = state.levelHistory.map { (stream.subject, $0) }
            var open: Assignment?
            for entry in history.entries {
                switch entry.decision.body {
                case .secondment(let secondment):
                    if let previous = open { assignments.append(previous) }
                    open = Assignment(
                        subject: stream.subject, kind: "secondment", destination: secondment.to, level: secondment.toLevel.rawValue,
                        community: state.placement?.community, since: entry.decision.effective, plannedUntil: secondment.until,
                        ended: nil, eventID: entry.eventID)
                case .secondmentEnd, .dismissal, .resignation, .retirement, .civilService, .streetLeadership:
                    if var closing = open {
                        closing.ended = entry.decision.effective
                        assignments.append(closing)
                        open = nil
                    }
                default:
                    break
                }
            }
            if let open { assignments.append(open) }
        case "cadre":
            var open: Assignment?
            for entry in history.entries {
                switch entry.decision.body {
                case .temporaryPost(let post):
                    if let previous = open { assignments.append(previous) }
                    open = Assignment(
                        subject: stream.subject, kind: "temporary-post", destination: post.homeAgency, level: post.kind.rawValue,
                        community: post.community, since: entry.decision.effective, plannedUntil: post.until, ended: nil,
                        eventID: entry.eventID)
                case .temporaryPostEnd:
                    if var closing = open {
                        closing.ended = entry.decision.effective
                        assignments.append(closing)
                        open = nil
                    }
                default:
                    break
                }
            }
            if let open { assignments.append(open) }
        default:
            break
        }
    }

    func write(_ projection: ProjectionName, _ writer: inout CopyWriter) throws {
        switch projection {
        case .audit:
            for entry in audit {
                let event = entry.event
                writer.field(event.position)
                writer.field(event.eventID)
                writer.field(event.stream.rawValue)
                writer.field(event.type)
                writer.field(PostgresDate(event.effective))
                writer.field(PostgresTimestamp(event.recordedAt))
                writer.field(event.recordedBy)
                writer.field(event.authority)
                writer.field(event.reference)
                writer.field(!entry.status.correctedBy.isEmpty)
                writer.field(entry.status.rescindedBy != nil)
                writer.field(entry.status.ruling == .excused)
                writer.field(entry.status.ruling == .mitigated)
                writer.field(entry.status.overturnedBy != nil)
                writer.field(entry.status.upheldBy != nil)
                writer.field(PostgresArray(entry.status.correctedBy))
                writer.field(entry.status.rescindedBy)
                writer.field(entry.status.overturnedBy)
                writer.field(entry.status.rulingBy)
                writer.field(entry.decision.override)
                let rules: [String] =
                    if case .array(let list)? = event.payload["exceptions"] { list.compactMap(\.stringValue) } else { [] }
                writer.field(PostgresArray(rules))
                try writer.endRow()
            }
        case .assessments:
            for (worker, record) in assessments {
                writer.field(worker)
                writer.field(Int32(record.year))
                writer.field(record.grade.rawValue)
                writer.field(PostgresDate(record.effective))
                writer.field(record.eventID)
                try writer.endRow()
            }
        case .levels:
            for (worker, record) in levels {
                writer.field(worker)
                writer.field(PostgresDate(record.effective))
                writer.field(Int32(record.level))
                writer.field(record.grounds?.rawValue)
                writer.field(record.eventID)
                try writer.endRow()
            }
        case .assignments:
            for assignment in assignments {
                writer.field(assignment.subject)
                writer.field(assignment.kind)
                writer.field(assignment.destination)
                writer.field(assignment.level)
                writer.field(assignment.community)
                writer.field(PostgresDate(assignment.since))
                writer.field(PostgresDate(assignment.plannedUntil))
                writer.field(assignment.ended.map(PostgresDate.init))
                writer.field(assignment.eventID)
                try writer.endRow()
            }
        case .timeline, .quotas:
            break
        }
    }
}

extension TimelineRow {
    func write(_ writer: inout CopyWriter) throws {
        let snapshot = period.snapshot
        writer.field(worker)
        writer.field(PostgresDate(period.from))
        writer.field(period.until.map(PostgresDate.init))
        writer.field(PostgresTimestamp(recordedFrom))
        writer.field(recordedUntil.map(PostgresTimestamp.init))
        writer.field(snapshot.status.rawValue)
        writer.field(snapshot.exit?.rawValue)
        writer.field(snapshot.post?.rawValue)
        writer.field(snapshot.role?.rawValue)
        writer.field(snapshot.level.map(Int32.init))
        writer.field(snapshot.placement?.community)
        writer.field(snapshot.placement?.street)
        writer.field(snapshot.placement?.district)
        writer.field(snapshot.placement?.city)
        writer.field(snapshot.establishment.rawValue)
        writer.field(snapshot.serviceStart.map(PostgresDate.init))
        writer.field(Int32(snapshot.monthlySubsidy))
        writer.field(snapshot.levelUp.eligible)
        writer.field(snapshot.levelUp.reason)
        writer.field(snapshot.publicInstitution.eligible)
        writer.field(snapshot.publicInstitution.reason)
        writer.field(snapshot.exitReview.eligible)
        writer.field(snapshot.exitReview.reason)
        try writer.endRow()
    }

    /// Reads a row selected with `ProjectionName.timeline.columns`.
    init(row: Row) throws {
        func date(_ column: Int) throws -> CalendarDate? {
            try row.decodeIfPresent(PostgresDate.self, at: column).flatMap { CalendarDate(year: $0.year, month: $0.month, day: $0.day) }
        }
        func text(_ column: Int) throws -> String? { try row.decodeIfPresent(String.self, at: column) }
        worker = try row.decode(String.self, at: 0)
        recordedFrom = Timestamp(try row.decode(PostgresTimestamp.self, at: 3))
        recordedUntil = try row.decodeIfPresent(PostgresTimestamp.self, at: 4).map(Timestamp.init)
        var placement: Decision.Placement?
        if let community = try text(10), let street = try text(11), let district = try text(12), let city = try text(13) {
            placement = Decision.Placement(community: community, street: street, district: district, city: city)
        }
        let snapshot = WorkerSnapshot(
            status: WorkerState.Status(rawValue: try row.decode(String.self, at: 5)) ?? .notHired,
            exit: try text(6).flatMap(ExitKind.init(rawValue:)),
            post: try text(7).flatMap(Post.init(rawValue:)),
            role: try text(8).flatMap(Role.init(rawValue:)),
            level: try row.decodeIfPresent(Int32.self, at: 9).map(Int.init),
            placement: placement,
            establishment: Establishment(rawValue: try row.decode(String.self, at: 14)) ?? .communityWorker,
            serviceStart: try date(15),
            monthlySubsidy: Int(try row.decode(Int32.self, at: 16)),
            levelUp: Eligibility(try row.decode(Bool.self, at: 17), try row.decode(String.self, at: 18)),
            publicInstitution: Eligibility(try row.decode(Bool.self, at: 19), try row.decode(String.self, at: 20)),
            exitReview: Eligibility(try row.decode(Bool.self, at: 21), try row.decode(String.self, at: 22)))
        period = TimelinePeriod(from: try date(1)!, until: try date(2), snapshot: snapshot)
    }
}

/// Versions a worker's timeline in transaction time: for each moment the ledger learned
/// something new about the worker (or about policy), the periods that changed are closed and
/// the new ones opened.
struct TimelineVersions {
    struct Item {
        var row: TimelineRow
        /// True when the row is not in the table yet.
        var isNew: Bool
    }

    var items: [Item]
    /// Rows in the table learned at the same instant as a later learning replaced them (a batch
    /// cut through events recorded together): never a real state of knowledge, so removed.
    var removed: [(validFrom: CalendarDate, recordedFrom: Timestamp)] = []

    /// Starts from the rows in force (as known now) in the table.
    init(open rows: [TimelineRow]) {
        items = rows.map { Item(row: $0, isNew: false) }
    }

    /// Records what was known at `time`: the periods as computed from the events recorded by then.
    mutating func learn(_ periods: [TimelinePeriod], worker: String, at time: Timestamp) {
        var remaining = periods
        var kept: [Item] = []
        for item in items {
            guard item.row.recordedUntil == nil else {
                kept.append(item)
                continue
            }
            if let match = remaining.firstIndex(of: item.row.period) {
                remaining.remove(at: match)
                kept.append(item)
            } else if item.row.recordedFrom == time {
                if !item.isNew { removed.append((item.row.period.from, time)) }
            } else {
                var closed = item
                closed.row.recordedUntil = time
                kept.append(closed)
            }
        }
        items = kept
        for period in remaining {
            items.append(Item(row: TimelineRow(worker: worker, period: period, recordedFrom: time, recordedUntil: nil), isNew: true))
        }
    }

    /// Rows already in the table that are now closed: (valid_from, recorded_until).
    var closed: [(validFrom: CalendarDate, at: Timestamp)] {
        items.filter { !$0.isNew && $0.row.recordedUntil != nil }.map { ($0.row.period.from, $0.row.recordedUntil!) }
    }

    /// Rows to insert.
    var inserted: [TimelineRow] { items.filter(\.isNew).map(\.row) }
}
