import DossierDomain
import Foundation
import PostgresClient

/// Keeps the read side up to date with the log, and rebuilds it.
///
/// New events reach the projections through this catch-up runner, not in the append
/// transaction: a decision can be retroactive, so applying one means folding the worker's whole
/// record again, and doing that here, in batches, keeps recording fast and lets one transaction
/// apply thousands of events. Each batch writes its rows and its checkpoint (the last position
/// applied) in one transaction, so a crash never applies an event twice or skips one. Queries
/// catch up before they answer.
public enum Projector {
    /// Progress of long work.
    public typealias Progress = @Sendable (_ phase: String, _ done: Int, _ total: Int?) -> Void

    /// What a catch-up did.
    public struct CatchUp: Sendable {
        public var applied: Int
        public var position: Int64
        /// False when another runner held the projections (nothing was done here).
        public var ran: Bool
    }

    static let lockKey: Int32 = 1152

    /// How far behind the log the projections may be before catching up means rebuilding.
    public static let rebuildThreshold: Int64 = 50_000

    /// The position the projections have applied up to.
    public static func checkpoint(_ connection: PostgresConnection) throws -> Int64 {
        try connection.query("SELECT coalesce(min(position), 0) FROM dossier_read.checkpoints").scalar(Int64.self) ?? 0
    }

    /// Catches up when this connection's role may keep the projections (admins, the server's
    /// login); otherwise leaves them as they are. Returns the position the projections reflect.
    /// (A standby is read as it is: it cannot be written.)
    public static func catchUpIfAllowed(_ connection: PostgresConnection, wait: Bool) throws -> Int64 {
        let mayProject = try connection.query(
            "SELECT has_table_privilege('dossier_read.checkpoints', 'UPDATE') AND NOT pg_is_in_recovery()"
        ).scalar(Bool.self) ?? false
        return mayProject ? try catchUp(connection, wait: wait).position : try checkpoint(connection)
    }

    /// Applies every event after the checkpoint, in batches, until caught up.
    ///
    /// - Parameter wait: wait for another runner to finish instead of returning at once.
    @discardableResult
    public static func catchUp(
        _ connection: PostgresConnection, batchSize: Int = 5000, wait: Bool = true, progress: Progress? = nil
    ) throws -> CatchUp {
        var applied = 0
        var position = try checkpoint(connection)
        let target = try EventLog.lastPosition(connection)
        // Far behind (after a bulk import, say), rebuilding is much faster than applying batch
        // after batch: each stream is then folded once instead of once per batch it appears in.
        if wait, target - position > rebuildThreshold {
            let rebuilt = try rebuild(connection, progress: progress)
            return CatchUp(applied: rebuilt.events, position: rebuilt.position, ran: true)
        }
        while true {
            let step = try connection.transaction { connection -> (Int, Int64)? in
                let locked: Bool
                if wait {
                    try connection.query("SELECT pg_advisory_xact_lock(\(lockKey), 0)")
                    locked = true
                } else {
                    locked = try connection.query("SELECT pg_try_advisory_xact_lock(\(lockKey), 0)").scalar(Bool.self) ?? false
                }
                guard locked else { return nil }
                let from = try connection.query(
                    "SELECT min(position) FROM dossier_read.checkpoints"
                ).scalar(Int64.self) ?? 0
                let events = try EventLog.readAll(connection, after: from, limit: batchSize)
                guard let last = events.last?.position else { return (0, from) }
                try apply(events, after: from, upTo: last, on: connection)
                try connection.query("UPDATE dossier_read.checkpoints SET position = \(last), updated_at = now()")
                return (events.count, last)
            }
            guard let (count, reached) = step else {
                return CatchUp(applied: applied, position: position, ran: false)
            }
            applied += count
            position = reached
            progress?("projecting", Int(max(0, position)), Int(target))
            if count < batchSize { return CatchUp(applied: applied, position: position, ran: true) }
        }
    }

    /// Applies a batch of events (after `from`, up to `end`) to every projection.
    static func apply(_ events: [RecordedEvent], after from: Int64, upTo end: Int64, on connection: PostgresConnection) throws {
        var streams = Set(events.map(\.stream))
        let references = try ReferenceEvents.read(connection, upTo: end)
        let policyEvents = events.filter { $0.stream == .policy }
        if !policyEvents.isEmpty {
            // Policy shapes everyone's eligibility: every worker's timeline learns it.
            for row in try connection.query(
                "SELECT DISTINCT stream FROM dossier.events WHERE stream LIKE 'worker/%' AND position <= \(end)"
            ).rows {
                streams.insert(StreamID(rawValue: try row.decode(String.self, at: 0)))
            }
        }
        let policyTimes = policyEvents.map(\.knownFrom)
        let snapshots = Snapshots.Reference(references)
        let list = streams.sorted()
        for start in stride(from: 0, to: list.count, by: 500) {
            let group = Array(list[start..<min(list.count, start + 500)])
            let stored = try readStreams(connection, group, upTo: end)
            // The workers' snapshots, from the same read (every worker's when the policy moved).
            try Snapshots.write(group, stored: stored, upTo: end, reference: snapshots, on: connection)
            let workers = group.filter { $0.kind == "worker" }.map(\.subject)
            var open: [String: [TimelineRow]] = [:]
            if !workers.isEmpty {
                for row in try connection.query(
                    """
                    SELECT \(fragment: ProjectionName.timeline.columnList) FROM dossier_read.worker_timeline
                     WHERE worker = ANY(\(PostgresArray(workers))) AND recorded_until IS NULL
                    """
                ).rows {
                    let parsed = try TimelineRow(row: row)
                    open[parsed.worker, default: []].append(parsed)
                }
            }
            var closes: [(worker: String, validFrom: CalendarDate, at: Timestamp)] = []
            var removals: [(worker: String, validFrom: CalendarDate, recordedFrom: Timestamp)] = []
            var inserts: [TimelineRow] = []
            var relearned: [String] = []
            var rows: [StreamRows] = []
            for stream in group {
                let decisions = stored[stream] ?? []
                rows.append(StreamRows(stream: stream, stored: decisions, context: references.context(knownAt: nil)))
                guard stream.kind == "worker" else { continue }
                let fresh = decisions.filter { $0.event.position > from }
                if let latest = (open[stream.subject] ?? []).map(\.recordedFrom).max(),
                    fresh.contains(where: { $0.event.knownFrom < latest })
                {
                    // An import claims knowledge (knownSince) before what the timeline holds:
                    // the worker's timeline is learned again from the start.
                    relearned.append(stream.subject)
                    var versions = TimelineVersions(open: [])
                    let allPolicyTimes = references.events.filter { $0.stream == .policy }.map(\.knownFrom)
                    learn(&versions, worker: stream.subject, decisions, times: decisions.map(\.event.knownFrom) + allPolicyTimes, references: references)
                    inserts += versions.inserted
                    continue
                }
                let times = fresh.map(\.event.knownFrom) + policyTimes
                var versions = TimelineVersions(open: open[stream.subject] ?? [])
                learn(&versions, worker: stream.subject, decisions, times: times, references: references)
                closes += versions.closed.map { (stream.subject, $0.validFrom, $0.at) }
                removals += versions.removed.map { (stream.subject, $0.validFrom, $0.recordedFrom) }
                inserts += versions.inserted
            }
            // Replace the stream's rows in the projections that are not versioned.
            for projection in [ProjectionName.audit, .assessments, .levels, .assignments] {
                let subjects = projection == .audit ? group.map(\.rawValue) : group.map(\.subject)
                try connection.query(
                    """
                    DELETE FROM \(fragment: projection.qualifiedTable)
                     WHERE \(fragment: PostgresQuery(unsafeSQL: projection.subjectColumn!)) = ANY(\(PostgresArray(subjects)))
                    """)
                try copy(projection, into: projection.table, on: connection) { writer in
                    for item in rows { try item.write(projection, &writer) }
                }
            }
            if !relearned.isEmpty {
                try connection.query("DELETE FROM dossier_read.worker_timeline WHERE worker = ANY(\(PostgresArray(relearned)))")
            }
            if !removals.isEmpty {
                try connection.query(
                    """
                    DELETE FROM dossier_read.worker_timeline t
                     USING unnest(\(PostgresArray(removals.map(\.worker))), \(PostgresArray(removals.map { PostgresDate($0.validFrom) })),
                                  \(PostgresArray(removals.map { PostgresTimestamp($0.recordedFrom) }))) AS r(worker, valid_from, recorded_from)
                     WHERE t.worker = r.worker AND t.valid_from = r.valid_from AND t.recorded_from = r.recorded_from
                       AND t.recorded_until IS NULL
                    """)
            }
            if !closes.isEmpty {
                try connection.query(
                    """
                    UPDATE dossier_read.worker_timeline t SET recorded_until = c.at
                      FROM unnest(\(PostgresArray(closes.map(\.worker))), \(PostgresArray(closes.map { PostgresDate($0.validFrom) })),
                                  \(PostgresArray(closes.map { PostgresTimestamp($0.at) }))) AS c(worker, valid_from, at)
                     WHERE t.worker = c.worker AND t.valid_from = c.valid_from AND t.recorded_until IS NULL
                    """)
            }
            try copy(.timeline, into: ProjectionName.timeline.table, on: connection) { writer in
                for row in inserts { try row.write(&writer) }
            }
        }
        if events.contains(where: { $0.stream == .policy || $0.stream.kind == "jurisdiction" }) {
            try connection.execute("DELETE FROM dossier_read.quotas")
            try writeQuotas(references, into: ProjectionName.quotas.table, on: connection)
        }
    }

    /// Adds to `versions` what was known of a worker at each of `times`, in order.
    ///
    /// `history`, when given, is the history of all of `decisions` (used where all are known).
    static func learn(
        _ versions: inout TimelineVersions, worker: String, _ decisions: [StoredDecision], times: [Timestamp],
        references: ReferenceEvents, history: History? = nil
    ) {
        guard let first = decisions.map(\.event.knownFrom).min() else { return }
        let last = decisions.map(\.event.knownFrom).max()!
        for time in Set(times).filter({ $0 >= first }).sorted() {
            let known = if let history, time >= last { history } else { Replay.history(decisions, knownAt: time) }
            let periods = Timeline.periods(
                worker: worker, known, context: references.context(knownAt: time))
            versions.learn(periods, worker: worker, at: time)
        }
    }

    static func readStreams(_ connection: PostgresConnection, _ streams: [StreamID], upTo end: Int64?) throws
        -> [StreamID: [StoredDecision]]
    {
        var stored: [StreamID: [StoredDecision]] = [:]
        for row in try readRows(connection, streams, upTo: end).rows {
            let event = try EventLog.decodeEvent(row)
            if EventLog.nonDecisionTypes.contains(event.type) { continue }
            stored[event.stream, default: []].append(try Ledger.decision(of: event))
        }
        return stored
    }

    /// The rows of `streams` (up to `end`), in stream and version order, undecoded.
    static func readRows(_ connection: PostgresConnection, _ streams: [StreamID], upTo end: Int64?) throws -> QueryResult {
        let names = PostgresArray(streams.map(\.rawValue))
        return try connection.query(
            end.map { end in
                """
                SELECT \(fragment: EventLog.columns) FROM dossier.events
                 WHERE stream = ANY(\(names)) AND position <= \(end)
                 ORDER BY stream, version
                """
            } ?? """
                SELECT \(fragment: EventLog.columns) FROM dossier.events WHERE stream = ANY(\(names))
                 ORDER BY stream, version
                """)
    }

    static func copy(
        _ projection: ProjectionName, into table: String, on connection: PostgresConnection,
        _ body: (inout CopyWriter) throws -> Void
    ) throws {
        try connection.copyFrom(
            PostgresQuery(unsafeSQL: "COPY dossier_read.\(table) (\(projection.columns)) FROM STDIN"), body)
    }

    static func writeQuotas(_ references: ReferenceEvents, into table: String, on connection: PostgresConnection) throws {
        let context = references.context(knownAt: nil)
        try copy(.quotas, into: table, on: connection) { writer in
            for jurisdiction in context.population.jurisdictions {
                let parts = jurisdiction.split(separator: "/", maxSplits: 1).map(String.init)
                for figure in context.population.figures(of: jurisdiction) {
                    let ratio = context.policy.parameters(
                        city: parts.first, district: parts.count > 1 ? parts[1] : nil, on: figure.effective
                    ).quotaPerTenThousand
                    writer.field(jurisdiction)
                    writer.field(Int32(figure.year))
                    writer.field(Int32(figure.population))
                    writer.field(Int32(ratio))
                    writer.field(Int32(figure.population * ratio / 10_000))
                    writer.field(PostgresDate(figure.effective))
                    try writer.endRow()
                }
            }
        }
    }
}

/// The policy and jurisdiction events, for judging what was known when. Thread-safe: the
/// rebuild's workers share one.
final class ReferenceEvents: @unchecked Sendable {
    /// The events the contexts of `context(knownAt:)` are folded from, in log order: every
    /// reference event but the places (no projection reads the gazetteer as it was known at a
    /// time), which are 53,553 of 53,938 at 10 million decisions. A stream with an amendment
    /// keeps all its events, so the amendments apply as they did.
    let events: [RecordedEvent]
    /// The reference data as the log holds it up to the position read (places included): what
    /// worker snapshots are judged with.
    let current: ReferenceData
    /// The knowledge times of `events`, ascending: the events known at a time are those whose
    /// time is among the first `count` of these.
    private let knownTimes: [Timestamp]
    /// When the policy stream's events became known, in log order.
    let policyTimes: [Timestamp]
    private let lock = NSLock()
    /// Contexts already built, by how many reference events were known.
    private var contexts: [Int: RuleContext] = [:]

    /// `current` when it is already built for exactly these events (else built here).
    init(events all: [RecordedEvent], current: ReferenceData? = nil) {
        self.current = current ?? ReferenceData.build(all)
        let amended = Set(all.lazy.filter { JurisdictionRecord.isAmendment($0.type) }.map(\.stream))
        events = all.filter { $0.type != DecisionKind.place.rawValue || amended.contains($0.stream) }
        knownTimes = events.map(\.knownFrom).sorted()
        policyTimes = events.filter { $0.stream == .policy }.map(\.knownFrom)
    }

    /// The reference events up to `end`. While the reference streams are unchanged, the same
    /// copy serves again (a catch-up reads them for every batch of events it applies).
    static func read(_ connection: PostgresConnection, upTo end: Int64 = Int64.max) throws -> ReferenceEvents {
        let version = try connection.query(ReferenceData.versionQuery)[0]
        let count = try version.decode(Int64.self, at: 0)
        let last = try version.decode(Int64.self, at: 1)
        let whole = last <= end
        if whole, let cached = cache.entry(connection.databaseIdentity, count: count, last: last) { return cached }
        // Whole, the events are those `ReferenceData.load` reads: one gazetteer serves both caches
        // (a server that also runs the projector keeps one, not two).
        let database = connection.databaseIdentity
        let references = ReferenceEvents(
            events: try ReferenceData.events(connection, upTo: end),
            current: whole ? ReferenceData.cache.entry(database, count: count, last: last) : nil)
        if whole {
            ReferenceData.cache.store(references.current, for: database, count: count, last: last)
            cache.store(references, for: database, count: count, last: last)
        }
        return references
    }

    /// The last whole reference events read, per database, with the count and last position
    /// of the reference streams then.
    static let cache = VersionedCache<ReferenceEvents>()

    func context(knownAt: Timestamp?) -> RuleContext {
        var count = knownTimes.count
        if let time = knownAt {
            var low = 0
            var high = knownTimes.count
            while low < high {
                let middle = (low + high) / 2
                if knownTimes[middle] <= time { low = middle + 1 } else { high = middle }
            }
            count = low
        }
        lock.lock()
        if let cached = contexts[count] {
            lock.unlock()
            return cached
        }
        lock.unlock()
        let known = knownAt.map { time in events.filter { $0.knownFrom <= time } } ?? events
        var population = PopulationBook()
        population.add(events: known.filter { $0.stream.kind == "jurisdiction" })
        let context = RuleContext(policy: PolicyBook(events: known.filter { $0.stream == .policy }), population: population)
        lock.lock()
        defer { lock.unlock() }
        // Another thread may have built it meanwhile: keep the first, so all share its lookups.
        if let cached = contexts[count] { return cached }
        contexts[count] = context
        return context
    }
}
