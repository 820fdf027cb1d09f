import ArgumentParser

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
            3 database unavailable or not initialised, 4 integrity check failed.
            """,
        subcommands: [
            Init.self, Record.self, Import.self, Show.self, Trace.self, Roster.self, Eligible.self, Quota.self,
            Exceptions.self, History.self, Project.self, Rebuild.self, CheckpointCommand.self, Verify.self, Prove.self,
            Export.self, VerifyBundle.self, DatabaseCommand.self, User.self, Erase.self, AccessLog.self, Find.self, Serve.self,
        ]
    )
}
