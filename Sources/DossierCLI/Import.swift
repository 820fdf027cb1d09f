import ArgumentParser
import DossierDomain
import DossierStore

extension Dossier {
    /// Bulk-imports decisions: all or nothing by default.
    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Import a JSON Lines file of decisions: all or nothing, every invalid line reported.")

        @Argument(help: "A JSON Lines file of decisions, or - for standard input.")
        var file: String

        @Flag(name: .customLong("skip-invalid"), help: "Write the valid decisions and put refused lines in --rejects.")
        var skipInvalid = false

        @Option(help: "Where --skip-invalid writes the refused lines, each with its reason (JSON Lines).")
        var rejects: String?

        @Option(help: "Who records (default: DOSSIER_ACTOR, else the operating-system user).")
        var actor: String?

        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            try await CLI.run {
                throw UserError(description: "import is not available yet")
            }
        }
    }
}
