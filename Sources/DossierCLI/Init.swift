import ArgumentParser
import DossierStore
import PostgresClient

extension Dossier {
    /// Creates or upgrades the ledger's schema (idempotent).
    struct Init: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create or upgrade the database schema (idempotent).",
            discussion: """
                Applies the missing numbered migrations in order, each in its own transaction, and \
                records them with a checksum. Refuses to run when an applied migration has changed \
                since. Needs a role that may create roles and schemas (a superuser, or the embedded default).
                """)

        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            try await CLI.run {
                let (configuration, login) = try database.administration()
                let applied = try await PostgresSession.open(configuration, role: .person).run { connection in
                    let applied = try Migrator().migrate(connection)
                    // Tables a killed rebuild left behind (none while a rebuild runs).
                    _ = try? Projector.dropLeftovers(connection)
                    // The installer is an admin: the superuser that ran init, and on the embedded
                    // default the operating-system user, who logs in by peer authentication.
                    try People.registerInstaller(connection)
                    if let login {
                        try People.registerAdmin(connection, login: login)
                        // `dossier serve` runs as the operating-system user and acts for people.
                        try People.grantGateway(connection, login: login)
                    }
                    return applied
                }
                CLI.print(
                    applied.isEmpty
                        ? "schema up to date (\(EmbeddedMigration.all.count) migrations) in \(configuration.label)"
                        : "applied \(applied.joined(separator: ", ")) in \(configuration.label)")
            }
        }
    }
}
