import ArgumentParser
import DossierDomain
import DossierStore

extension Dossier {
    /// Records decisions one by one, each judged against the ledger.
    struct Record: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Record the decisions in FILE (a JSON object or JSON Lines; - for standard input).",
            discussion: """
                Every line is read and checked for form first: if any is malformed, nothing is \
                recorded. Then each decision is judged and recorded in order; the first refusal \
                stops the run (decisions before it stay recorded; sending the file again is safe, \
                since a decision already recorded is recognised and not stored twice).
                """)

        @Argument(help: "A file of decisions, or - for standard input.")
        var file: String

        @Option(help: ArgumentHelp(
            "A note of whom you record for (stored apart from the recorder, shown in trace).",
            discussion: "Who recorded is always the database login (or the person a server acts for), never this."))
        var onBehalfOf: String?

        @Flag(help: "Print one JSON object per decision recorded.")
        var json = false

        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            try await CLI.run {
                let onBehalfOf = try CLI.onBehalfOf(onBehalfOf)
                let lines = DecisionInput.lines(try InputFile.readAll(file, limit: InputFile.recordLimit, purpose: "record"))
                let invalid = lines.compactMap { line -> String? in
                    if case .failure(let error) = line.result { return "line \(line.number): \(error)" }
                    return nil
                }
                guard invalid.isEmpty else {
                    throw UserError(description: "nothing recorded; invalid input:\n  " + invalid.joined(separator: "\n  "))
                }
                guard !lines.isEmpty else { throw UserError(description: "no decisions in \(file)") }
                let ledger = Ledger(try database.configuration())
                var recorded = 0
                for line in lines {
                    let decision = try line.result.get()
                    do {
                        let outcome = try await ledger.record(decision, onBehalfOf: onBehalfOf)
                        recorded += 1
                        report(decision, outcome)
                    } catch {
                        if lines.count > 1 {
                            CLI.printError("stopped at line \(line.number); \(recorded) of \(lines.count) decisions recorded before it")
                        }
                        throw error
                    }
                }
            }
        }

        func report(_ decision: Decision, _ outcome: Ledger.Recorded) {
            for warning in outcome.warnings {
                CLI.printError("warning: \(warning)")
            }
            if json {
                CLI.print(JSONValue.object(outcome.json).canonicalText)
                return
            }
            let what = "\(decision.kind.rawValue) \(decision.reference) for \(outcome.decision.subject)"
            if outcome.duplicate {
                CLI.print("already recorded: \(what) (position \(outcome.position), event \(outcome.eventID.uuidString.lowercased()))")
            } else {
                CLI.print("recorded \(what) at position \(outcome.position) (event \(outcome.eventID.uuidString.lowercased()))")
                if decision.assignsWorker, case .hire(let hire) = decision.body {
                    CLI.print("  worker id assigned: \(outcome.decision.subject) (the next of \(hire.placement.districtJurisdiction)'s series)")
                }
                for exception in outcome.exceptions {
                    CLI.print("  policy exception (overridden): \(exception)")
                }
            }
        }
    }
}
