import DossierDomain
import Foundation
import PostgresClient

extension Projector {
    /// What a rebuild did.
    public struct Rebuilt: Sendable {
        public var position: Int64
        public var events: Int
        public var streams: Int
        public var seconds: Double
    }

    /// Rebuilds projections from the log into fresh tables and swaps them in atomically, so
    /// readers see the old tables or the new, never a half-built one. Works a few hundred
    /// streams at a time, so memory stays flat however long the log.
    ///
    /// A rebuild of every projection goes up to the last committed position; a rebuild of some goes to
    /// the checkpoint the others are at, so all stay consistent.
    public static func rebuild(
        _ connection: PostgresConnection, only: Set<ProjectionName> = Set(ProjectionName.allCases), progress: Progress? = nil
    ) throws -> Rebuilt {
        let started = Date()
        // Runners wait while the rebuild works (they try again after).
        try connection.query("SELECT pg_advisory_lock(\(lockKey), 0)")
        defer { _ = try? connection.query("SELECT pg_advisory_unlock(\(lockKey), 0)") }
        let end: Int64 =
            only.count == ProjectionName.allCases.count
            ? try EventLog.lastPosition(connection)
            : try checkpoint(connection)
        let projections = ProjectionName.allCases.filter(only.contains)
        // Tables an interrupted rebuild left behind (this one holds the lock now).
        _ = try dropLeftovers(connection)
        // The tables and views belong to the owner: the owner's functions make the fresh tables
        // and swap them in, so the projector only ever writes rows.
        let tables = PostgresArray(projections.map(\.table))
        try connection.query("SELECT dossier_read.prepare_next(\(tables))")
        let (events, streams) = try fill(projections, upTo: end, on: connection, progress: progress)
        if only.count == ProjectionName.allCases.count {
            // Every snapshot folded afresh (a new program may fold differently).
            try connection.query("DELETE FROM dossier_read.worker_snapshots")
            try Snapshots.refresh(connection, upTo: end, progress: progress)
        }
        try connection.transaction { connection in
            try connection.query("SELECT dossier_read.swap_next(\(tables))")
            try connection.query(
                """
                UPDATE dossier_read.checkpoints SET position = \(end), updated_at = now()
                 WHERE projection = ANY(\(PostgresArray(projections.map(\.rawValue))))
                """)
        }
        return Rebuilt(position: end, events: events, streams: streams, seconds: Date().timeIntervalSince(started))
    }

    /// Drops the `_next` tables a killed rebuild left behind, unless a rebuild is running; returns
    /// how many it dropped.
    public static func dropLeftovers(_ connection: PostgresConnection) throws -> Int {
        Int(try connection.query("SELECT dossier_read.drop_leftovers()").scalar(Int32.self) ?? 0)
    }

    /// Computes the rows of `projections` from the log up to `end` into their `_next` tables,
    /// a few hundred streams at a time. Returns the events and streams read.
    static func fill(
        _ projections: [ProjectionName], upTo end: Int64, on connection: PostgresConnection, progress: Progress?
    ) throws -> (events: Int, streams: Int) {
        let streams = try connection.query(
            "SELECT DISTINCT stream FROM dossier.events WHERE position <= \(end) ORDER BY stream"
        ).rows.map { StreamID(rawValue: try $0.decode(String.self, at: 0)) }
        let references = try ReferenceEvents.read(connection, upTo: end)
        let policyTimes = references.events.filter { $0.stream == .policy }.map(\.knownFrom)
        let context = references.context(knownAt: nil)
        var events = 0
        for start in stride(from: 0, to: streams.count, by: 500) {
            let group = Array(streams[start..<min(streams.count, start + 500)])
            let stored = try readStreams(connection, group, upTo: end)
            var rows: [StreamRows] = []
            var timeline: [TimelineRow] = []
            for stream in group {
                let decisions = stored[stream] ?? []
                events += decisions.count
                rows.append(StreamRows(stream: stream, stored: decisions, context: context))
                if stream.kind == "worker", projections.contains(.timeline) {
                    var versions = TimelineVersions(open: [])
                    learn(
                        &versions, worker: stream.subject, decisions, times: decisions.map(\.event.knownFrom) + policyTimes,
                        references: references)
                    timeline += versions.inserted
                }
            }
            for projection in projections where projection != .quotas {
                try copy(projection, into: projection.table + "_next", on: connection) { writer in
                    if projection == .timeline {
                        for row in timeline { try row.write(&writer) }
                    } else {
                        for item in rows { try item.write(projection, &writer) }
                    }
                }
            }
            progress?("rebuilding", events, nil)
        }
        if projections.contains(.quotas) {
            try writeQuotas(references, into: ProjectionName.quotas.table + "_next", on: connection)
        }
        return (events, streams.count)
    }

    /// Recomputes the placement spans that quota checks read, from the log, under the import
    /// barrier (no decision is recorded meanwhile).
    public static func rebuildPlacements(_ connection: PostgresConnection, progress: Progress? = nil) throws -> Int {
        try connection.transaction { connection in
            try connection.query("SELECT dossier.take_import_barrier()")
            let workers = try connection.query(
                "SELECT DISTINCT stream FROM dossier.events WHERE stream LIKE 'worker/%' ORDER BY stream"
            ).rows.map { StreamID(rawValue: try $0.decode(String.self, at: 0)) }
            var spans = 0
            for start in stride(from: 0, to: workers.count, by: 500) {
                let group = Array(workers[start..<min(workers.count, start + 500)])
                let stored = try readStreams(connection, group, upTo: Int64.max)
                try connection.copyFrom(Ledger.copyPlacements) { writer in
                    for stream in group {
                        let state = Replay.fold(worker: stream.subject, Replay.history(stored[stream] ?? [])).state
                        try Ledger.copySpans(worker: stream.subject, state.spans, into: &writer)
                        spans += state.spans.count
                    }
                }
                progress?("placements", start + group.count, workers.count)
            }
            try connection.query("SELECT dossier.apply_staged_placements('{}', true)")
            return spans
        }
    }

    /// Rows that differ between each projection table and what a rebuild from the log gives
    /// (0 everywhere when the incremental projections are right). Leaves no table behind.
    public static func differencesFromRebuild(_ connection: PostgresConnection) throws -> [ProjectionName: Int] {
        // A rebuild into scratch tables at the current checkpoint, compared row for row.
        try catchUp(connection)
        let position = try checkpoint(connection)
        var differences: [ProjectionName: Int] = [:]
        try connection.query("SELECT pg_advisory_lock(\(lockKey), 0)")
        defer { _ = try? connection.query("SELECT pg_advisory_unlock(\(lockKey), 0)") }
        let tables = PostgresArray(ProjectionName.allCases.map(\.table))
        try connection.query("SELECT dossier_read.prepare_next(\(tables))")
        _ = try fill(ProjectionName.allCases, upTo: position, on: connection, progress: nil)
        for projection in ProjectionName.allCases {
            let columns = projection.columnList
            let count = try connection.query(
                """
                SELECT (SELECT count(*) FROM (SELECT \(fragment: columns) FROM \(fragment: projection.qualifiedTable)
                                              EXCEPT ALL SELECT \(fragment: columns) FROM \(fragment: projection.nextTable)) a)
                     + (SELECT count(*) FROM (SELECT \(fragment: columns) FROM \(fragment: projection.nextTable)
                                              EXCEPT ALL SELECT \(fragment: columns) FROM \(fragment: projection.qualifiedTable)) b)
                """
            ).scalar(Int64.self) ?? -1
            differences[projection] = Int(count)
        }
        try connection.query("SELECT dossier_read.drop_next(\(tables))")
        return differences
    }
}

extension ProjectionName {
    var nextTable: PostgresQuery { PostgresQuery(unsafeSQL: "dossier_read." + table + "_next") }
}
