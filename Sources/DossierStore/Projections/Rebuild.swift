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
    ///
    /// `workers` threads fold streams (`workerCount` by default); `groupSize` streams are read at
    /// a time. Neither changes the tables made, row for row and in the same order.
    public static func rebuild(
        _ connection: PostgresConnection, only: Set<ProjectionName> = Set(ProjectionName.allCases), progress: Progress? = nil,
        workers: Int = workerCount, groupSize: Int = 500
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
        // Every snapshot folded afresh (a new program may fold differently), in the same pass:
        // the workers fold and encode each worker's snapshot beside its rows.
        let references = try ReferenceEvents.read(connection, upTo: end)
        let snapshots = only.count == ProjectionName.allCases.count ? Snapshots.Reference(references) : nil
        if snapshots != nil { try connection.query("DELETE FROM dossier_read.worker_snapshots") }
        let (events, streams) = try fill(
            projections, upTo: end, on: connection, references: references, progress: progress, workers: workers,
            groupSize: groupSize, snapshots: snapshots)
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

    /// How many threads fold streams in a rebuild: `DOSSIER_PROJECTION_WORKERS` when set (tests
    /// force 1 and 4), else the number of processors.
    public static var workerCount: Int {
        if let text = ProcessInfo.processInfo.environment["DOSSIER_PROJECTION_WORKERS"], let count = Int(text), count >= 1 {
            return min(count, 64)
        }
        return max(1, ProcessInfo.processInfo.activeProcessorCount)
    }

    /// Computes the rows of `projections` from the log up to `end` into their `_next` tables,
    /// a few hundred streams at a time. Returns the events and streams read.
    ///
    /// The connection reads one group's rows while `workers` threads decode, fold and encode the
    /// group before (each a contiguous run of its streams, so the rows go out in the same order
    /// whatever the number of workers), and then writes that group's rows with `COPY`.
    static func fill(
        _ projections: [ProjectionName], upTo end: Int64, on connection: PostgresConnection, references: ReferenceEvents? = nil,
        progress: Progress?, workers: Int = workerCount, groupSize: Int = 500, snapshots: Snapshots.Reference? = nil
    ) throws -> (events: Int, streams: Int) {
        var streams = StreamNames()
        try connection.forEachBatch(
            "SELECT DISTINCT stream FROM dossier.events WHERE position <= \(end) ORDER BY stream", batchSize: 10_000
        ) { batch in
            for row in batch.rows { try row.withBytes(0) { try streams.append($0) } }
            return true
        }
        let references = try references ?? ReferenceEvents.read(connection, upTo: end)
        let context = references.context(knownAt: nil)
        let written = projections.filter { $0 != .quotas }
        let compute = DispatchQueue(label: "dossier.rebuild.compute")
        var events = 0
        var inFlight: GroupWork?
        func finish(_ work: GroupWork) throws {
            let slices = try work.wait()
            for (index, projection) in written.enumerated() {
                try copy(projection, into: projection.table + "_next", on: connection) { writer in
                    for slice in slices { try writer.append(slice.writers[index]) }
                }
            }
            if snapshots != nil {
                try connection.copyFrom(Snapshots.copyStatement) { writer in
                    for slice in slices { try writer.append(slice.snapshots) }
                }
            }
            events += slices.reduce(0) { $0 + $1.events }
            progress?("rebuilding", events, nil)
        }
        for start in stride(from: 0, to: streams.count, by: max(1, groupSize)) {
            let group = (start..<min(streams.count, start + max(1, groupSize))).map { streams[$0] }
            let work = GroupWork(try readRows(connection, group, upTo: end), workers: workers)
            compute.async { work.run(written, context: context, references: references, snapshots: snapshots) }
            // While this group is worked on, the one before is written.
            if let previous = inFlight { try finish(previous) }
            inFlight = work
        }
        if let last = inFlight { try finish(last) }
        if projections.contains(.quotas) {
            try writeQuotas(references, into: ProjectionName.quotas.table + "_next", on: connection)
        }
        return (events, streams.count)
    }

    /// Stream names one after another in one buffer: a rebuild lists every stream of the log
    /// (404,527 at 10 M decisions took 25 MB as an array of strings, 10 MB like this).
    struct StreamNames {
        private var bytes: [UInt8] = []
        private var ends: [Int32] = []

        var count: Int { ends.count }

        mutating func append(_ name: UnsafeBufferPointer<UInt8>?) throws {
            guard let name else { throw PostgresError(.decoding, context: "a stream name is NULL") }
            bytes.append(contentsOf: name)
            ends.append(Int32(bytes.count))
        }

        subscript(index: Int) -> StreamID {
            let start = index == 0 ? 0 : Int(ends[index - 1])
            return StreamID(rawValue: String(decoding: bytes[start..<Int(ends[index])], as: UTF8.self))
        }
    }

    /// One group's rows, split into contiguous runs of whole streams, one per worker; `run`
    /// decodes, folds and encodes them, `wait` gives what it made.
    final class GroupWork: @unchecked Sendable {
        /// What one slice gave each projection, encoded for COPY.
        final class Slice {
            var events = 0
            var writers: [CopyWriter] = []
            /// Rows of `dossier_read.worker_snapshots`, when the rebuild writes them.
            var snapshots = CopyWriter()
            var error: (any Error)?
        }

        let result: QueryResult
        let slices: [ArraySlice<Range<Int>>]
        let outputs: [Slice]
        private let done = DispatchSemaphore(value: 0)

        init(_ result: QueryResult, workers: Int) {
            self.result = result
            // Each stream's rows are contiguous (ordered by stream, version).
            var runs: [Range<Int>] = []
            var first = 0
            for index in 0..<result.rowCount where index > 0 {
                let same = result[index].withBytes(1) { current in
                    result[index - 1].withBytes(1) { previous in
                        guard let current, let previous else { return current == nil && previous == nil }
                        return current.elementsEqual(previous)
                    }
                }
                if !same {
                    runs.append(first..<index)
                    first = index
                }
            }
            if result.rowCount > 0 { runs.append(first..<result.rowCount) }
            // Slices of about equal numbers of rows.
            var slices: [ArraySlice<Range<Int>>] = []
            let share = max(1, (result.rowCount + workers - 1) / workers)
            var sliceStart = 0
            var rows = 0
            for (index, run) in runs.enumerated() {
                rows += run.count
                if rows >= share * (slices.count + 1), slices.count < workers - 1 {
                    slices.append(runs[sliceStart...index])
                    sliceStart = index + 1
                }
            }
            if sliceStart < runs.count || slices.isEmpty { slices.append(runs[sliceStart..<runs.count]) }
            self.slices = slices
            outputs = slices.map { _ in Slice() }
        }

        func run(
            _ projections: [ProjectionName], context: RuleContext, references: ReferenceEvents, snapshots: Snapshots.Reference?
        ) {
            DispatchQueue.concurrentPerform(iterations: slices.count) { index in
                let output = outputs[index]
                output.writers = projections.map { _ in CopyWriter() }
                do {
                    output.events = try Projector.project(
                        result, runs: slices[index], projections, context: context, references: references,
                        into: &output.writers, snapshots: snapshots, snapshotRows: &output.snapshots)
                } catch {
                    output.error = error
                }
            }
            done.signal()
        }

        func wait() throws -> [Slice] {
            done.wait()
            for output in outputs { if let error = output.error { throw error } }
            return outputs
        }
    }

    /// Decodes the streams of `runs` (row ranges of `result`, one stream each) and encodes the
    /// rows they give `projections` into `writers` (one per projection, in that order). Returns
    /// the decisions read.
    static func project(
        _ result: QueryResult, runs: ArraySlice<Range<Int>>, _ projections: [ProjectionName], context: RuleContext,
        references: ReferenceEvents, into writers: inout [CopyWriter], snapshots: Snapshots.Reference? = nil,
        snapshotRows: inout CopyWriter
    ) throws -> Int {
        var events = 0
        let timeline = projections.firstIndex(of: .timeline)
        let encoder = JSONEncoder()
        for run in runs {
            var decisions: [StoredDecision] = []
            decisions.reserveCapacity(run.count)
            var stream: StreamID?
            var version = 0
            for index in run {
                let event = try EventLog.decodeEvent(result[index])
                stream = event.stream
                version = max(version, event.version)
                if EventLog.nonDecisionTypes.contains(event.type) { continue }
                decisions.append(try Ledger.decision(of: event))
            }
            if let snapshots, let stream, stream.kind == "worker" {
                // As `Snapshots.write` folds and writes it.
                try Snapshots.writeRow(
                    stream, version: version, stored: decisions, reference: snapshots, encoder: encoder, into: &snapshotRows)
            }
            guard let stream, !decisions.isEmpty else { continue }
            events += decisions.count
            let rows = StreamRows(stream: stream, stored: decisions, context: context)
            for (index, projection) in projections.enumerated() where projection != .timeline {
                try rows.write(projection, &writers[index])
            }
            if let timeline, stream.kind == "worker" {
                var versions = TimelineVersions(open: [])
                learn(
                    &versions, worker: stream.subject, decisions, times: decisions.map(\.event.knownFrom) + references.policyTimes,
                    references: references, history: rows.history)
                for row in versions.inserted { try row.write(&writers[timeline]) }
            }
        }
        return events
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
