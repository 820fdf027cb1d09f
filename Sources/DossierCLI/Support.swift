import ArgumentParser
import DossierDomain
import DossierServer
import DossierStore
import Foundation
import PostgresClient

#if canImport(Glibc)
    import Glibc
#endif

/// Exit statuses of `dossier`.
enum Exit {
    static let refused = ExitCode(1)
    static let database = ExitCode(3)
    static let integrity = ExitCode(4)
    /// A checkpoint kept outside covers events the ledger does not hold, and all it holds is intact.
    static let missingEvents = ExitCode(5)
    /// The connection broke after a commit was sent and the log could not be checked.
    static let unknown = ExitCode(6)
}

/// A problem shown to the user as one message on stderr, with an exit status.
struct UserError: Error, CustomStringConvertible {
    var description: String
    var exit: ExitCode = Exit.refused
}

/// Shared options for commands that talk to the ledger.
struct DatabaseOptions: ParsableArguments {
    /// The connection string in the environment variable `name` (nil when unset or empty),
    /// refused before any connection is tried when libpq cannot read it or its scheme is not
    /// postgresql:// (a misspelt scheme would reach the server, password and all, as a database
    /// name). The message shows it only redacted (`ConnectionString`).
    static func connectionString(_ name: String) throws -> String? {
        guard let url = ProcessInfo.processInfo.environment[name], !url.isEmpty else { return nil }
        do {
            try ConnectionString.validate(url)
        } catch {
            let redacted = ConnectionString.redacted(url)
            throw UserError(
                description: "malformed \(name): \(error.reason)"
                    + (error.reason.contains(redacted) ? "" : "; it reads \"\(redacted)\""))
        }
        return url
    }

    /// Resolves where the ledger is: DOSSIER_DATABASE_URL, or the embedded cluster (started on demand).
    /// A malformed DOSSIER_DATABASE_URL or DOSSIER_READ_URL is refused here, by every command.
    func configuration() throws -> DatabaseConfiguration {
        _ = try Self.connectionString("DOSSIER_READ_URL")
        if let url = try Self.connectionString("DOSSIER_DATABASE_URL") {
            return DatabaseConfiguration(connectionString: url, label: "DOSSIER_DATABASE_URL")
        }
        do {
            return try EmbeddedCluster().start()
        } catch let failure as EmbeddedCluster.Failure {
            throw UserError(description: failure.description, exit: Exit.database)
        }
    }
}

extension DatabaseOptions {
    /// Where `dossier init` works: DOSSIER_DATABASE_URL as given, or the embedded cluster as its
    /// superuser; and the login to make an admin there (the embedded default's operating-system user).
    func administration() throws -> (configuration: DatabaseConfiguration, admin: String?) {
        if let url = try Self.connectionString("DOSSIER_DATABASE_URL") {
            return (DatabaseConfiguration(connectionString: url, label: "DOSSIER_DATABASE_URL"), nil)
        }
        do {
            let cluster = EmbeddedCluster()
            try cluster.start()
            return (cluster.superuserConfiguration, EmbeddedCluster.operatingSystemUser)
        } catch let failure as EmbeddedCluster.Failure {
            throw UserError(description: failure.description, exit: Exit.database)
        }
    }
}

extension DatabaseOptions {
    /// The label of a configuration that points at the standby of DOSSIER_READ_URL.
    static let standbyLabel = "the standby at DOSSIER_READ_URL"

    /// How long a read waits for the standby to replay what the primary had committed.
    static let standbyWait: TimeInterval = 2

    /// Where a read command reads: without DOSSIER_READ_URL, the ledger; with it, the standby
    /// there once it has replayed everything the primary had committed when the command began
    /// (read-your-writes for a command run after a write), waiting at most 2 s, else the primary
    /// (said on stderr). When the primary cannot be reached, the standby as it is (said too).
    /// The primary, when `configuration` is the standby of DOSSIER_READ_URL (where the access
    /// log is written before a standby serves personal data); nil when it is the primary.
    func primary(behind configuration: DatabaseConfiguration) throws -> DatabaseConfiguration? {
        configuration.label == Self.standbyLabel ? try self.configuration() : nil
    }

    func readConfiguration() throws -> DatabaseConfiguration {
        guard let url = try Self.connectionString("DOSSIER_READ_URL") else { return try configuration() }
        let standby = DatabaseConfiguration(connectionString: url, label: Self.standbyLabel)
        let primary: DatabaseConfiguration
        let position: String
        do {
            primary = try configuration()
            position = try ReadReplica.primaryPosition(try PostgresConnection(connectionString: primary.connectionString))
        } catch {
            CLI.printError("note: the primary cannot be reached (\(CLI.explain(error).0)); reading the standby as it is, which may lag")
            return standby
        }
        do {
            let connection = try PostgresConnection(connectionString: standby.connectionString)
            if try ReadReplica.waitForReplay(connection, to: position, timeout: Self.standbyWait) { return standby }
            CLI.printError(
                "note: the standby at DOSSIER_READ_URL has not replayed the primary's last commit within "
                    + "\(Int(Self.standbyWait)) s; reading the primary")
        } catch {
            CLI.printError("note: the standby at DOSSIER_READ_URL cannot be used (\(CLI.explain(error).0)); reading the primary")
        }
        return primary
    }
}

enum CLI {
    /// A text given as a command-line option that goes into an event, checked and normalized by
    /// the rules of the decision field of the same name (`DecisionText`).
    static func checkedText(_ text: String, option: String) throws -> String {
        do {
            return try DecisionText.checked(text, field: option)
        } catch {
            throw ValidationError("--\(option): " + (error.problems.first?.message ?? "is not acceptable text"))
        }
    }

    /// Runs a read on `readConfiguration()`. On a standby, a statement that would write (the
    /// database refuses it: SQLSTATE 25006, read-only transaction) is not retried there: the
    /// read is made on the primary instead, and stderr says so.
    static func reading<T>(_ database: DatabaseOptions, _ body: (DatabaseConfiguration) async throws -> T) async throws -> T {
        let configuration = try database.readConfiguration()
        guard configuration.label == DatabaseOptions.standbyLabel else { return try await body(configuration) }
        do {
            return try await body(configuration)
        } catch where StoreError.isReadOnlyRefusal(error) || error is ReadReplica.Lagging {
            printError(
                error is ReadReplica.Lagging
                    ? "note: the standby has not replayed this read's access-log entry within 2 s; reading the primary"
                    : "note: this read needs a write the standby refuses; reading the primary")
            return try await body(try database.configuration())
        }
    }

    /// Runs a command body, turning every error into one clear line on stderr and an exit status.
    /// Runs a read filtered by `--jurisdiction`: a blank or overlong value, and one the ledger
    /// does not know, are refused (exit 1) naming the option.
    static func inKnownJurisdiction<T>(_ jurisdiction: String?, _ body: () async throws -> T) async throws -> T {
        if let jurisdiction, jurisdiction.trimmingCharacters(in: .whitespaces).isEmpty || jurisdiction.count > 201 {
            throw UserError(description: "--jurisdiction takes City or City/District, not \"\(jurisdiction.prefix(40))\"")
        }
        do {
            return try await body()
        } catch let unknown as ReadModel.UnknownJurisdiction {
            throw UserError(description: "--jurisdiction: \(unknown.description)")
        }
    }

    static func run(_ body: () async throws -> Void) async throws {
        defer { reportPeakMemory() }
        do {
            try await body()
        } catch let error as ExitCode {
            throw error
        } catch let error as ValidationError {
            // A bad option value found while running: a bad command line (exit 2), as when parsing.
            printError("Error: \(error.message)")
            throw ExitCode(2)
        } catch {
            let (message, code) = explain(error)
            printError(message)
            throw code
        }
    }

    static func explain(_ error: Error) -> (String, ExitCode) {
        switch error {
        case let error as UserError:
            return (error.description, error.exit)
        case let error as LedgerError:
            return (error.description, Exit.refused)
        case let error as StoreError:
            switch error {
            case .unavailable, .notInitialized, .timedOut, .notRecorded: return (error.description, Exit.database)
            case .outcomeUnknown: return (error.description, Exit.unknown)
            case .permissionDenied, .notAllowed, .outOfScope, .refused: return (error.description, Exit.refused)
            case .corruptEvent: return (error.description, Exit.integrity)
            default: return (error.description, Exit.refused)
            }
        case let error as InvalidDecision:
            return ("invalid decision: \(error)", Exit.refused)
        case let error as MigrationError:
            return (error.description, Exit.database)
        case let error as PostgresError:
            if error.kind == .connectionFailed, (error.context ?? "").contains("permission denied for database") {
                return (
                    "this login may not connect to the ledger: only its people may (an admin adds them with "
                        + "`dossier user add`; on the embedded default `dossier init` makes the operating-system user an admin)",
                    Exit.database)
            }
            if error.kind == .connectionFailed || error.kind == .connectionLost {
                return ("the database cannot be reached: \(error.context ?? error.kind.rawValue)", Exit.database)
            }
            return ("database error: \(error)", Exit.database)
        case let error as EmbeddedCluster.Failure:
            return (error.description, error.refused ? Exit.refused : Exit.database)
        case let error as IntegrityError:
            // Not yet checkpointed is a state to fix by a command, not a sign of tampering.
            switch error {
            case .stale, .badKey: return (error.description, Exit.refused)
            default: break
            }
            return (error.description, Exit.integrity)
        case let error as ServeError:
            return (error.description, Exit.refused)
        case let error as Checkpoint.Invalid:
            return ("checkpoint: \(error)", Exit.integrity)
        default:
            return ("error: \(error)", Exit.refused)
        }
    }

    /// With DOSSIER_REPORT_PEAK_MEMORY set, prints the process's peak resident memory (VmHWM
    /// of /proc/self/status, which, unlike getrusage, does not include the parent's memory
    /// inherited before exec) for tools/bench.
    static func reportPeakMemory() {
        guard ProcessInfo.processInfo.environment["DOSSIER_REPORT_PEAK_MEMORY"] != nil,
            let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") })
        else { return }
        FileHandle.standardError.write(Data("dossier-peak-memory-kb: \(line.split(separator: " ")[1])\n".utf8))
    }

    /// Says on stderr when an answer came from projections behind the log (this login may not
    /// bring them up to date: `dossier project --follow` or an admin does).
    static func noteLag(_ model: ReadModel) {
        let behind = model.behind
        if behind > 0 {
            printError("note: the read side is \(behind) events behind the log; an admin's `dossier project` brings it up to date")
        }
    }

    static func printError(_ message: String) {
        FileHandle.standardError.write(Data(("dossier: " + message + "\n").utf8))
    }

    static func print(_ text: String, terminator: String = "\n") {
        FileHandle.standardOutput.write(Data((text + terminator).utf8))
    }

    /// Whether stderr is a terminal (progress lines are shown only there).
    static var stderrIsTerminal: Bool { isatty(2) == 1 }

    /// Checks an "on behalf of" note: 1 to 200 printable characters, or none.
    static func onBehalfOf(_ option: String?) throws -> String? {
        guard let option else { return nil }
        let trimmed = option.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty, trimmed.unicodeScalars.count <= 200,
            !trimmed.unicodeScalars.contains(where: { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) })
        else {
            throw UserError(description: "--on-behalf-of must be 1 to 200 printable characters")
        }
        return trimmed
    }

    static func osUser() -> String {
        if let entry = getpwuid(geteuid()), let name = entry.pointee.pw_name {
            return String(cString: name)
        }
        return ProcessInfo.processInfo.environment["USER"] ?? "unknown"
    }

    static func parseDate(_ text: String, option: String) throws -> CalendarDate {
        guard let date = CalendarDate(text) else {
            throw UserError(description: "\(option) must be a real date written YYYY-MM-DD, not \"\(text)\"")
        }
        return date
    }

    static func parseTime(_ text: String, option: String) throws -> Timestamp {
        guard let time = Timestamp(parsing: text) else {
            throw UserError(
                description: "\(option) must be a date (YYYY-MM-DD, meaning its end) or an ISO 8601 time such as "
                    + "2026-01-31T12:00:00Z, not \"\(text)\"")
        }
        return time
    }
}
