import ArgumentParser
import DossierStore
import Foundation

extension Dossier {
    /// Manages the embedded default database.
    struct DatabaseCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "db",
            abstract: "Manage the embedded default database (status, start, stop, backup, restore).",
            subcommands: [Status.self, Start.self, Stop.self, Backup.self, Restore.self])

        /// Refuses the embedded database's commands on a managed PostgreSQL (DOSSIER_DATABASE_URL).
        static func refuseManaged(_ command: String) throws {
            if let url = ProcessInfo.processInfo.environment["DOSSIER_DATABASE_URL"], !url.isEmpty {
                throw UserError(
                    description: "DOSSIER_DATABASE_URL is set: `dossier db \(command)` works on the embedded default "
                        + "database only; for a managed PostgreSQL use its own tools as README.md says "
                        + "(\"Backups\": pg_basebackup, or pg_dumpall --roles-only with pg_dump)")
            }
        }

        struct Status: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Show whether the embedded database exists and runs.")

            func run() async throws {
                try await CLI.run {
                    let cluster = EmbeddedCluster()
                    switch cluster.status() {
                    case .notCreated: CLI.print("not created (it will be, under \(cluster.home.path), on first use)")
                    case .stopped: CLI.print("stopped (data in \(cluster.dataDirectory.path))")
                    case .running(let pid): CLI.print("running (pid \(pid), socket in \(cluster.socketDirectory.path))")
                    case .notAnswering(let pid):
                        throw UserError(
                            description: "not answering (pid \(pid) exists but the server accepts no connection on "
                                + "\(cluster.socketDirectory.path)): run `dossier db stop` then `dossier db start` "
                                + "(server log: \(cluster.logFile.path))",
                            exit: Exit.database)
                    case .crashed(let pid):
                        throw UserError(
                            description: "not running: the server (pid \(pid)) was killed or crashed and left its "
                                + "postmaster.pid behind; run `dossier db start` (it recovers from the log; server log: "
                                + "\(cluster.logFile.path))",
                            exit: Exit.database)
                    }
                }
            }
        }

        struct Start: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Create the embedded database if needed and start it.")

            func run() async throws {
                try await CLI.run {
                    let cluster = EmbeddedCluster()
                    try cluster.start()
                    CLI.print("running (socket in \(cluster.socketDirectory.path))")
                }
            }
        }

        struct Stop: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Stop the embedded database.")

            func run() async throws {
                try await CLI.run {
                    try EmbeddedCluster().stop()
                    CLI.print("stopped")
                }
            }
        }
    
        struct Backup: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Back up the whole embedded cluster (every database and role) to DIR with pg_basebackup.",
                discussion: "DIR must not exist or be empty. The backup is checked with pg_verifybackup. The checkpoint "
                    + "signing key is not in it: keep a copy of the key and its public half apart.")

            @Argument(help: "A new or empty directory.") var directory: String

            func run() async throws {
                try await CLI.run {
                    try DatabaseCommand.refuseManaged("backup")
                    let cluster = EmbeddedCluster()
                    let report = try cluster.backup(to: directory)
                    let megabytes = String(format: "%.1f", Double(report.bytes) / 1_048_576)
                    CLI.print(
                        "backed up the embedded database (every database and role, \(megabytes) MB) to \(report.directory); "
                            + "checked with pg_verifybackup. Restore it with `dossier db restore \(report.directory)`. "
                            + "Keep `dossier checkpoint` files and the checkpoint key apart from it.")
                }
            }
        }

        struct Restore: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Replace the embedded database with a backup that `dossier db backup` wrote.",
                discussion: "Refuses, changing nothing, when DIR is not a backup that verifies, or (without --force) "
                    + "when the embedded database holds data. With --force it stops the server, keeps the data it "
                    + "replaces in DOSSIER_HOME/pgdata.replaced-TIME, restores, and starts the server. Then run "
                    + "`dossier verify --checkpoint FILE` with your checkpoint files to see what the restore lost.")

            @Argument(help: "The backup directory.") var directory: String
            @Flag(help: "Replace an embedded database that holds data (stopping it if it runs).") var force = false

            func run() async throws {
                try await CLI.run {
                    try DatabaseCommand.refuseManaged("restore")
                    let cluster = EmbeddedCluster()
                    let report = try cluster.restore(from: directory, force: force)
                    var done = report.stoppedServer ? "stopped the embedded database, " : ""
                    if let aside = report.replacedDataKeptIn {
                        done += "moved its data to \(aside) (delete it when you no longer need it), "
                    }
                    CLI.print(
                        done + "restored \(directory) into \(cluster.dataDirectory.path) and started it. Run "
                            + "`dossier verify --checkpoint FILE` with the checkpoints you kept: it says whether events "
                            + "recorded after the backup were lost.")
                }
            }
        }
    }
}
