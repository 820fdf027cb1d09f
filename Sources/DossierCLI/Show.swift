import ArgumentParser
import DossierDomain
import DossierStore
import Foundation

extension Dossier {
    /// Shows one worker's record on a date, as known at a time.
    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show a worker's record on a date (default today), as known at a time (default now).")

        @Argument(help: "The worker (or temporary-post cadre) id.")
        var worker: String

        @Option(name: .customLong("as-of"), help: "The date to show the record on (YYYY-MM-DD).")
        var asOf: String?

        @Option(name: .customLong("known-at"), help: "Show only what was recorded by then (YYYY-MM-DD or ISO 8601 time).")
        var knownAt: String?

        @Flag(help: "Print the documented JSON object instead of a table.")
        var json = false

        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            try await CLI.run {
                let date = try asOf.map { try CLI.parseDate($0, option: "--as-of") }
                let time = try knownAt.map { try CLI.parseTime($0, option: "--known-at") }
                let shown = try await CLI.reading(database) {
                    try await Ledger($0, primary: try database.primary(behind: $0)).showAny(worker, asOf: date, knownAt: time)
                }
                switch shown {
                case .worker(let report): CLI.print(json ? JSONValue.object(report.json).prettyText() : Self.table(report))
                case .cadre(let report): CLI.print(json ? JSONValue.object(report.json).prettyText() : Self.table(report))
                }
            }
        }

        /// A temporary-post cadre's record: the post held on the date, then every post.
        static func table(_ report: CadreReport) -> String {
            var rows: [(String, String)] = []
            rows.append(("cadre", "\(report.cadre)  \(report.personal?.displayName ?? "—")"))
            rows.append(("as of", "\(report.asOf)" + (report.knownAt.map { ", as known at \($0)" } ?? ", as known now")))
            func phrase(_ post: CadreReport.Post) -> String {
                "\(post.role.rawValue) (\(post.kind.rawValue)) in \(post.community), from \(post.homeAgency), since \(post.since), until \(post.until)"
                    + (post.ended.map { ", ended \($0)" } ?? "")
            }
            rows.append(("status", report.current.map { "on a temporary post: " + phrase($0) } ?? "no temporary post"))
            for post in report.posts { rows.append(("temporary post", phrase(post))) }
            if report.posts.isEmpty { rows.append(("temporary post", "—")) }
            let width = rows.map(\.0.count).max() ?? 0
            return rows.map { $0.0.padding(toLength: width + 2, withPad: " ", startingAt: 0) + $0.1 }.joined(separator: "\n")
        }

        static func table(_ report: WorkerReport) -> String {
            let state = report.state
            var rows: [(String, String)] = []
            let name = report.personal?.displayName ?? "—"
            rows.append(("worker", "\(state.worker)  \(name)"))
            rows.append(("as of", "\(report.asOf)" + (report.knownAt.map { ", as known at \($0)" } ?? ", as known now")))
            rows.append(("status", state.status.rawValue + (state.exit.map { " (\($0.rawValue) on \(state.exitDate!))" } ?? "")))
            rows.append(("post", state.post.map { "\($0.rawValue) (\(state.role?.rawValue ?? "—"))" } ?? "—"))
            rows.append(("level", state.level.map(String.init) ?? "—"))
            if let placement = state.placement {
                rows.append(("community", "\(placement.community), \(placement.street), \(placement.district), \(placement.city)"))
            }
            rows.append(("establishment", state.establishment.rawValue))
            rows.append(("service start", state.serviceStart?.description ?? "—"))
            if let since = state.secretarySince { rows.append(("secretary since", since.description)) }
            rows.append((
                "assessments",
                state.assessmentsByYear.isEmpty ? "—" : state.assessmentsByYear.map { "\($0.year) \($0.grade.rawValue)" }.joined(separator: ", ")
            ))
            rows.append((
                "qualifications",
                state.qualifications.isEmpty ? "—" : state.qualifications.keys.sorted().map(\.rawValue).joined(separator: ", ")
            ))
            rows.append(("monthly subsidy", "\(state.monthlySubsidy(report.parameters)) yuan"))
            if let secondment = state.secondment {
                rows.append(("seconded", "to \(secondment.to) (\(secondment.toLevel.rawValue)) since \(secondment.since), until \(secondment.until)"))
            }
            for misconduct in state.misconducts {
                rows.append((
                    "misconduct",
                    "\(misconduct.effective) \(misconduct.sanction.rawValue)"
                        + (misconduct.ruling.map { ", ruled \($0.rawValue), counts as \(misconduct.countingSanction.rawValue)" } ?? "")
                ))
            }
            for selection in report.selections {
                rows.append((
                    "selection",
                    "\(selection.effective) \(selection.purpose.rawValue) in \(selection.jurisdiction), ref \(selection.reference): "
                        + (selection.result == .selected ? "selected" : "passed over")
                        + (selection.appeal.map { ", appealed (\($0.uuidString.lowercased()))" } ?? "")
                        + (selection.outcome.map { ", ruled \($0.rawValue) on \(selection.rulingEffective!)" } ?? "")
                ))
            }
            for kind in EligibilityKind.allCases {
                let eligibility = report.eligibility(kind)
                rows.append(("\(kind.rawValue)", (eligibility.eligible ? "yes — " : "no — ") + eligibility.reason))
            }
            let width = rows.map(\.0.count).max() ?? 0
            return rows.map { $0.0.padding(toLength: width + 2, withPad: " ", startingAt: 0) + $0.1 }.joined(separator: "\n")
        }
    }

    /// Shows the whole timeline of a worker's (or cadre's) record.
    struct Trace: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show every recorded decision of a worker, with corrections, rescissions, rulings and appeals.")

        @Argument(help: "The worker (or temporary-post cadre) id.")
        var worker: String

        @OptionGroup var output: OutputFormat

        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            try await CLI.run {
                let trace = try await CLI.reading(database) { try await Ledger($0, primary: try database.primary(behind: $0)).trace(subject: worker) }
                output.print(
                    table: { (["\(trace.stream)  \(trace.personal?.displayName ?? "")"] + trace.entries.map(Self.line)).joined(separator: "\n") },
                    json: { JSONValue.array(trace.entries.map { .object($0.json) }).prettyText() },
                    csvHeader: TraceEntry.csvHeader, csvRows: { trace.entries.map(\.csvRow) })
            }
        }

        static func line(_ entry: TraceEntry) -> String {
            let event = entry.event
            var marks: [String] = []
            if !entry.status.correctedBy.isEmpty { marks.append("CORRECTED") }
            if entry.status.rescindedBy != nil { marks.append("RESCINDED") }
            if entry.status.overturnedBy != nil { marks.append("OVERTURNED") }
            if entry.status.upheldBy != nil { marks.append("UPHELD") }
            if !entry.status.appealedBy.isEmpty { marks.append("APPEALED") }
            if let selection = entry.selection { marks.append(selection == .selected ? "SELECTED" : "PASSED OVER") }
            if let status = entry.appealStatus { marks.append("APPEAL " + status.uppercased()) }
            if let ruling = entry.status.ruling { marks.append(ruling.rawValue.uppercased()) }
            if entry.decision.override != nil { marks.append("POLICY EXCEPTION") }
            var details = event.payload
            details["override"] = nil
            details["personal"] = nil
            var text = "#\(event.position)  \(event.effective)  \(event.type)"
                + (marks.isEmpty ? "" : "  [" + marks.joined(separator: ", ") + "]")
            text += "\n    \(JSONValue.object(details).canonicalText)"
            text += "\n    ref \(event.reference), by \(event.authority); recorded \(event.recordedAt) by \(event.recordedBy)"
                + (event.onBehalfOf.map { " (on behalf of \($0), as the recorder noted)" } ?? "")
            if let knownSince = event.knownSince {
                text += "\n    known since \(knownSince), as claimed by the import \(event.recordedBy) recorded (the old system's record)"
            }
            text += "\n    event \(event.eventID.uuidString.lowercased())"
            func ids(_ label: String, _ list: [UUID]) {
                if !list.isEmpty { text += "\n    \(label) " + list.map { $0.uuidString.lowercased() }.joined(separator: ", ") }
            }
            ids("corrected by", entry.status.correctedBy)
            ids("rescinded by", entry.status.rescindedBy.map { [$0] } ?? [])
            ids("overturned by", entry.status.overturnedBy.map { [$0] } ?? [])
            ids("ruled by", (entry.status.rulingBy ?? entry.status.appealRuledBy).map { [$0] } ?? [])
            if let against = entry.decision.appealTarget {
                text += "\n    against \(entry.againstDecision ?? "event") \(against.uuidString.lowercased())"
            }
            ids("appealed by", entry.status.appealedBy)
            if let override = entry.decision.override {
                text += "\n    override: \(override)"
                if case .array(let rules)? = event.payload["exceptions"] {
                    text += " (rules: \(rules.compactMap(\.stringValue).joined(separator: ", ")))"
                }
                text += "\n    approved by: \(entry.decision.overrideApproval ?? "(missing)")"
            }
            return text
        }
    }
}
