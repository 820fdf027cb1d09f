import ArgumentParser
import Foundation

/// The `dossier` command: an event-sourced ledger of community workers' careers.
@main
struct Dossier: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dossier",
        abstract: "An append-only ledger of community workers' careers, on PostgreSQL.",
        discussion: """
            Without DOSSIER_DATABASE_URL, dossier uses a private PostgreSQL cluster of its own \
            (created on first use under DOSSIER_HOME). Decisions are JSON objects; files of them \
            are JSON Lines. Exit status: 0 success, 1 refused or invalid input or conflict, \
            2 bad command line, 3 database unavailable or not initialised (or a decision known \
            not to be recorded after a lost connection), 4 integrity check failed, 5 (verify) a \
            checkpoint covers events the ledger does not hold, 6 outcome unknown (send the same \
            file again: it is safe).
            """,
        subcommands: [
            Init.self, Record.self, Import.self, Show.self, Trace.self, Roster.self, Eligible.self, Quota.self, Report.self,
            Exceptions.self, Appeals.self, Due.self, Places.self, History.self, Project.self, Rebuild.self, CheckpointCommand.self, Verify.self, Prove.self,
            Export.self, VerifyBundle.self, DatabaseCommand.self, User.self, Erase.self, AccessLog.self, Find.self, Serve.self,
        ]
    )

    /// Parses and runs the command; a bad command line exits 2 (the README's status), not
    /// ArgumentParser's 64.
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var command = command as? AsyncParsableCommand {
                try await command.run()
            } else {
                try command.run()
            }
        } catch {
            if exitCode(for: error) == .validationFailure {
                FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
                exit(withError: ExitCode(2))
            }
            exit(withError: error)
        }
    }
}
