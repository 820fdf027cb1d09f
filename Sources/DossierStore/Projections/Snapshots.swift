import DossierDomain
import Foundation
import PostgresClient

/// Worker snapshots (`dossier_read.worker_snapshots`, schema/0017): each worker stream folded at
/// a version, so that recording the next decision reads one row instead of the stream.
///
/// Written by the projector (catch-up and rebuild), read by writers, which use a snapshot only at
/// the stream's and the policy stream's current versions (`WorkerStateSnapshot`).
public enum Snapshots {
    /// The statement reading the policy stream's version, whether `decision` is recorded already
    /// (its idempotency key, from the log's index) and its stream's snapshot (in the round trip
    /// that takes the stream's lock): one row, the snapshot's columns null when it has none.
    static func query(_ decision: Decision) -> PostgresQuery {
        let stream = decision.stream.rawValue
        return """
            SELECT (SELECT coalesce(max(version), 0) FROM dossier.events WHERE stream = 'policy'),
                   s.version, s.policy_version, s.format, s.state::text,
                   EXISTS (SELECT FROM dossier.events e WHERE e.stream = \(stream) AND e.event_type = \(decision.kind.rawValue)
                              AND e.reference = \(decision.reference))
              FROM (SELECT 1) one LEFT JOIN dossier_read.worker_snapshots s ON s.stream = \(stream)
            """
    }

    /// Whether the decision of a row of `query` is recorded already.
    static func recorded(_ result: QueryResult) throws -> Bool {
        try result[0].decode(Bool.self, at: 5)
    }

    /// The policy stream's version in a row of `query`.
    static func policyVersion(_ result: QueryResult) throws -> Int {
        Int(try result[0].decode(Int32.self, at: 0))
    }

    /// The snapshot in a row of `query`, when it is at the stream's `version` and the policy
    /// stream's current version, in this program's format (else nil: judged from the stream).
    static func decode(_ result: QueryResult, version: Int) -> WorkerStateSnapshot? {
        guard let row = result.rows.first, let policy = try? policyVersion(result),
            let stored = try? row.decodeIfPresent(Int32.self, at: 1), Int(stored) == version,
            (try? row.decodeIfPresent(Int32.self, at: 2)).flatMap({ $0 }).map(Int.init) == policy,
            (try? row.decodeIfPresent(Int32.self, at: 3)).flatMap({ $0 }).map(Int.init) == WorkerStateSnapshot.format,
            let text = try? row.decodeIfPresent(String.self, at: 4),
            let snapshot = try? JSONDecoder().decode(WorkerStateSnapshot.self, from: Data(text.utf8)),
            // The columns are what the row is used at; the encoded state must agree with them.
            snapshot.version == version, snapshot.policyVersion == policy
        else { return nil }
        return snapshot
    }

    /// Folds and writes the snapshots of `streams` (worker streams only) as the log holds them up
    /// to position `end`, replacing their rows. Returns how many were written.
    @discardableResult
    static func write(
        _ streams: [StreamID], stored: [StreamID: [StoredDecision]], upTo end: Int64, reference: Reference,
        on connection: PostgresConnection
    ) throws -> Int {
        let workers = streams.filter { $0.kind == "worker" }
        guard !workers.isEmpty else { return 0 }
        let names = PostgresArray(workers.map(\.rawValue))
        var versions: [String: Int] = [:]
        for row in try connection.query(
            """
            SELECT stream, max(version) FROM dossier.events WHERE stream = ANY(\(names)) AND position <= \(end) GROUP BY stream
            """
        ).rows {
            versions[try row.decode(String.self, at: 0)] = Int(try row.decode(Int32.self, at: 1))
        }
        let encoder = JSONEncoder()
        var written = 0
        try connection.query("DELETE FROM dossier_read.worker_snapshots WHERE stream = ANY(\(names))")
        try connection.copyFrom(copyStatement) { writer in
            for stream in workers {
                guard let version = versions[stream.rawValue] else { continue }
                try writeRow(stream, version: version, stored: stored[stream] ?? [], reference: reference, encoder: encoder, into: &writer)
                written += 1
            }
        }
        return written
    }

    static let copyStatement: PostgresQuery =
        "COPY dossier_read.worker_snapshots (stream, version, policy_version, format, state) FROM STDIN"

    /// Folds one worker stream (its decisions up to `version`) and writes its snapshot row.
    static func writeRow(
        _ stream: StreamID, version: Int, stored: [StoredDecision], reference: Reference, encoder: JSONEncoder,
        into writer: inout CopyWriter
    ) throws {
        let snapshot = WorkerStateSnapshot(
            worker: stream.subject, version: version, stored: stored, context: reference.context,
            policyVersion: reference.policyVersion)
        writer.field(stream.rawValue)
        writer.field(Int32(version))
        writer.field(Int32(reference.policyVersion))
        writer.field(Int32(WorkerStateSnapshot.format))
        writer.field(String(decoding: try encoder.encode(snapshot), as: UTF8.self))
        try writer.endRow()
    }

    /// The reference streams up to a position: what snapshots are folded with, and the policy
    /// stream's version then.
    struct Reference {
        var policyVersion: Int
        var context: RuleContext

        /// The reference streams as the log holds them up to `end`.
        static func read(_ connection: PostgresConnection, upTo end: Int64) throws -> Reference {
            Reference(try ReferenceEvents.read(connection, upTo: end))
        }

        /// The reference streams of `references` (read by the projector).
        init(_ references: ReferenceEvents) {
            policyVersion = references.events.filter { $0.stream == .policy }.map(\.version).max() ?? 0
            context = references.current.context
        }
    }

    /// Brings worker snapshots to the log as it stands up to `end` (the projector's position):
    /// those of `streams` (every worker's when nil) whose snapshot is missing or at another
    /// version (all of them when the policy stream moved), a few hundred at a time. Returns
    /// how many were written.
    @discardableResult
    public static func refresh(
        _ connection: PostgresConnection, streams: [StreamID]? = nil, upTo end: Int64, progress: Projector.Progress? = nil
    ) throws -> Int {
        let reference = try Reference.read(connection, upTo: end)
        let only = streams.map { PostgresArray($0.filter { $0.kind == "worker" }.map(\.rawValue)) }
        let stale = try connection.query(
            """
            SELECT e.stream FROM (SELECT stream, max(version) AS version FROM dossier.events
                                   WHERE stream LIKE 'worker/%' AND position <= \(end)
                                     AND (\(only)::text[] IS NULL OR stream = ANY(\(only)::text[]))
                                   GROUP BY stream) e
              LEFT JOIN dossier_read.worker_snapshots s USING (stream)
             WHERE s.stream IS NULL OR s.version <> e.version OR s.format <> \(Int32(WorkerStateSnapshot.format))
                OR s.policy_version <> \(Int32(reference.policyVersion))
             ORDER BY e.stream
            """
        ).rows.map { StreamID(rawValue: try $0.decode(String.self, at: 0)) }
        var written = 0
        for start in stride(from: 0, to: stale.count, by: 500) {
            let group = Array(stale[start..<min(stale.count, start + 500)])
            let stored = try Projector.readStreams(connection, group, upTo: end)
            written += try write(group, stored: stored, upTo: end, reference: reference, on: connection)
            progress?("snapshots", written, stale.count)
        }
        return written
    }

}
