import ArgumentParser
import DossierStore

extension Dossier {
    /// Manages the embedded default database.
    struct DatabaseCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "db",
            abstract: "Manage the embedded default database (status, start, stop).",
            subcommands: [Status.self, Start.self, Stop.self])

        struct Status: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Show whether the embedded database exists and runs.")

            func run() async throws {
                let cluster = EmbeddedCluster()
                switch cluster.status() {
                case .notCreated: CLI.print("not created (it will be, under \(cluster.home.path), on first use)")
                case .stopped: CLI.print("stopped (data in \(cluster.dataDirectory.path))")
                case .running(let pid): CLI.print("running (pid \(pid), socket in \(cluster.socketDirectory.path))")
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
    }
}
