import ArgumentParser
import DossierDomain
import DossierStore
import Foundation

extension Dossier {
    /// Lists what needs attention on a date.
    struct Due: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List what needs attention on a date, with the rule and the date each fell due.",
            discussion: """
                Kinds: secondment-overdue, temporary-post-overdue, level-review, assessment-missing, below-quota, \
                no-population, public-institution, fault-ruling-overdue (README, "What needs attention"). Sorted by the \
                date each fell due, then subject.
                """)

        @Option(name: .customLong("as-of"), help: "The date (YYYY-MM-DD, default today).") var asOf: String?
        @Option(help: "Only items in this City or City/District (a worker's: where the worker is placed on the date).")
        var jurisdiction: String?
        @OptionGroup var output: OutputFormat
        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            try await CLI.run {
                let date = try asOf.map { try CLI.parseDate($0, option: "--as-of") } ?? Ledger.today()
                let model = ReadModel(try database.readConfiguration())
                defer { CLI.noteLag(model) }
                let jurisdiction = try await CLI.resolvedJurisdiction(self.jurisdiction, database)
                let items = try await CLI.inKnownJurisdiction(jurisdiction) {
                    try await model.due(asOf: date, jurisdiction: jurisdiction)
                }
                output.print(
                    table: { items.isEmpty ? "(nothing due on \(date))" : items.map(\.line).joined(separator: "\n") },
                    json: { JSONValue.array(items.map { .object($0.json) }).prettyText() },
                    csvHeader: ReadModel.DueItem.csvHeader, csvRows: { items.map(\.csvRow) })
            }
        }
    }
}
