import Foundation
import PostgresClient

/// A hot standby that serves reads (`DOSSIER_READ_URL`), kept honest about what it has replayed.
///
/// Read-your-writes: a reader takes the primary's WAL position after the write it must see (or,
/// for a short-lived command, the primary's current position) and waits, for a bounded time,
/// until the standby has replayed up to it; past the bound it reads the primary instead.
public enum ReadReplica {
    /// The standby had not replayed what a read needs (the access-log entry just committed on the
    /// primary) within the bound: the read belongs on the primary.
    public struct Lagging: Error, Sendable, CustomStringConvertible {
        public var description: String { "the standby has not replayed the primary's last commit in time" }
    }

    /// The primary's current WAL position (`pg_current_wal_lsn()`), as text (`0/16B3748`).
    public static func primaryPosition(_ connection: PostgresConnection) throws -> String {
        try connection.query("SELECT pg_current_wal_lsn()::text").scalar(String.self) ?? "0/0"
    }

    /// Whether the connection is to a server in recovery (a standby).
    public static func isStandby(_ connection: PostgresConnection) throws -> Bool {
        try connection.query("SELECT pg_is_in_recovery()").scalar(Bool.self) ?? false
    }

    /// Waits until the standby has replayed the WAL up to `position`, for at most `timeout`
    /// seconds. Returns whether it has. (A server that is not in recovery has everything it
    /// committed: true at once.)
    public static func waitForReplay(_ connection: PostgresConnection, to position: String, timeout: TimeInterval) throws -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            let replayed = try connection.query(
                """
                SELECT NOT pg_is_in_recovery()
                       OR coalesce(pg_last_wal_replay_lsn() >= \(position)::pg_lsn, false)
                """
            ).scalar(Bool.self) ?? false
            if replayed { return true }
            if Date() >= deadline { return false }
            Thread.sleep(forTimeInterval: 0.01)
        }
    }
}
