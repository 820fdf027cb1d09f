import DossierDomain
import Foundation
import PostgresClient

/// Why the event store refused or failed an operation.
public enum StoreError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The stream was not at the version the caller expected; nothing was written.
    case wrongExpectedVersion(stream: StreamID, expected: ExpectedVersion, actual: Int)
    /// A different decision is already recorded under the same idempotency key.
    case idempotencyConflict(stream: StreamID, existingEventID: UUID?)
    /// The database cannot be reached.
    case unavailable(String)
    /// The database has no Dossier schema, or an older one.
    case notInitialized
    /// The connected user lacks a privilege the operation needs.
    case permissionDenied(String)
    /// The log holds something Dossier cannot read (a sign of tampering or a bug).
    case corruptEvent(position: Int64, reason: String)
    /// A stored payload or argument is invalid.
    case invalidArgument(String)
    /// The database refused the caller: not a Dossier user, disabled, or a role that may not do this.
    case notAllowed(String)
    /// The database refused a decision outside the caller's jurisdictions.
    case outOfScope(String)
    /// The database refused what was to be stored (its shape), or a person or record is unknown.
    case refused(String)
    /// A lock or statement did not finish within its timeout.
    case timedOut(String)
    /// The connection broke after the commit was sent; the log was checked afterwards and does not
    /// hold the decision: nothing was recorded.
    case notRecorded(String)
    /// The connection broke after the commit was sent and the database could not be reached again
    /// to check whether the decision is in the log.
    case outcomeUnknown(String)

    public var description: String {
        switch self {
        case .wrongExpectedVersion(let stream, let expected, let actual):
            "stream \(stream) is at version \(actual), not \(expected) as expected: "
                + "someone recorded a decision meanwhile; read it and try again"
        case .idempotencyConflict(let stream, let existing):
            "a different decision is already recorded in \(stream) under the same kind and reference"
                + (existing.map { " (event \($0.uuidString.lowercased()))" } ?? "")
                + "; use a new reference, or a correction to change the recorded one"
        case .unavailable(let reason):
            "the database cannot be reached: \(reason)"
        case .notInitialized:
            "the database has no Dossier schema yet: run `dossier init`"
        case .permissionDenied(let what):
            "permission denied: \(what)"
        case .corruptEvent(let position, let reason):
            "the event at position \(position) cannot be read: \(reason)"
        case .invalidArgument(let reason):
            reason
        case .notAllowed(let reason), .outOfScope(let reason), .refused(let reason):
            reason
        case .timedOut(let what):
            what
        case .notRecorded(let what):
            "not recorded: \(what)"
        case .outcomeUnknown(let what):
            "outcome unknown: \(what)"
        }
    }
}

extension PostgresError {
    /// True when the error ended the connection: it broke, or the server ended the session
    /// (shutdown, crash, an administrator's pg_terminate_backend).
    ///
    /// A failed result libpq made itself (no SQLSTATE: "server closed the connection
    /// unexpectedly") counts too, as do connection exceptions (class 08).
    public var isLostConnection: Bool {
        if kind == .connectionLost || kind == .connectionFailed { return true }
        guard let code = sqlState?.code else { return kind == .server }
        return ["57P01", "57P02", "57P03"].contains(code) || code.hasPrefix("08")
    }
}

extension StoreError {
    /// Whether an error means the database went away (a restart, a crash, a lost network): a
    /// lost connection, as PostgreSQL reports it or as the store has already named it.
    public static func isLostConnection(_ error: Error) -> Bool {
        if case StoreError.unavailable = error { return true }
        if let error = error as? PostgresError { return error.isLostConnection }
        return false
    }

    /// Whether an error is the database refusing a write in a read-only transaction: a standby
    /// (SQLSTATE 25006), as PostgreSQL reports it or wrapped in another error's description.
    public static func isReadOnlyRefusal(_ error: Error) -> Bool {
        if let error = error as? PostgresError { return error.sqlState?.code == "25006" }
        return "\(error)".contains("25006")
    }
}

/// The version a stream must be at for an append to go through.
public enum ExpectedVersion: Sendable, Equatable, CustomStringConvertible {
    /// Whatever version the stream is at.
    case any
    /// The stream must not exist yet.
    case noStream
    /// The stream must be exactly at this version (its last event's version).
    case exactly(Int)

    var sqlValue: Int32 {
        switch self {
        case .any: -1
        case .noStream: 0
        case .exactly(let version): Int32(version)
        }
    }

    public var description: String {
        switch self {
        case .any: "any version"
        case .noStream: "no stream yet"
        case .exactly(let version): "version \(version)"
        }
    }
}

extension StoreError {
    /// Maps a PostgreSQL error to the store's own, when it is one the store knows.
    public static func from(_ error: PostgresError, stream: StreamID? = nil, expected: ExpectedVersion = .any) -> Error {
        switch error.sqlState?.code {
        case "DS002":
            let actual = error.detail.flatMap { Int($0) } ?? -1
            let name = stream ?? error.hint.map(StreamID.init(rawValue:)) ?? StreamID(rawValue: "?")
            return StoreError.wrongExpectedVersion(stream: name, expected: expected, actual: actual)
        case "DS003":
            let name = stream ?? error.hint.map(StreamID.init(rawValue:)) ?? StreamID(rawValue: "?")
            return StoreError.idempotencyConflict(stream: name, existingEventID: error.detail.flatMap(UUID.init))
        case "42P01", "3F000", "42883":
            return StoreError.notInitialized
        case "42501":
            return StoreError.permissionDenied(
                (error.serverMessage ?? "not allowed")
                    + ": this login holds no Dossier role that allows it (an admin adds people with `dossier user add`; "
                    + "on the embedded default, `dossier init` makes the operating-system user an admin)")
        case "DS010":
            return StoreError.notAllowed(error.serverMessage ?? "not allowed")
        case "DS013":
            return StoreError.outOfScope(error.serverMessage ?? "outside your jurisdictions")
        case "DS011", "DS012":
            return StoreError.refused(error.serverMessage ?? "refused by the database")
        case "55P03":
            return StoreError.timedOut(
                "another session holds a lock this command needs and did not release it within lock_timeout "
                    + "(\(DatabaseConfiguration.lockTimeout)); try again later, or ask an administrator who holds it "
                    + "(pg_stat_activity)")
        case "57014":
            return StoreError.timedOut(
                "the statement did not finish within statement_timeout (\(DatabaseConfiguration.statementTimeout)); "
                    + "set DOSSIER_STATEMENT_TIMEOUT to allow longer")
        case "57P01", "57P02", "57P03":
            return StoreError.unavailable(
                "the database server is shutting down or restarting (SQLSTATE \(error.sqlState?.code ?? "57P")); try again when it is back")
        default:
            if error.kind == .connectionFailed || error.kind == .connectionLost {
                return StoreError.unavailable(error.context ?? error.kind.rawValue)
            }
            return error
        }
    }
}
