import ArgumentParser
import DossierDomain
import DossierStore
import Foundation

extension Dossier {
    /// Lists the gazetteer on a date.
    struct Places: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the places (city > district > street > community) that exist on a date, with their dates.",
            discussion: """
                Places are recorded as place decisions (dossier record): {"decision":"place","action":"establish", \
                "kind":"district","name":"黄浦区","within":"上海","effective":"2000-01-01","authority":"…","reference":"…"}; \
                action also rename (newName), merge (into, a path) or abolish. README, "Places".
                """)

        @Option(name: .customLong("as-of"), help: "The date (YYYY-MM-DD, default today).") var asOf: String?
        @Option(name: .customLong("known-at"), help: "Only what was recorded by then (YYYY-MM-DD or ISO 8601).") var knownAt: String?
        @Option(help: "Only this city.") var city: String?
        @OptionGroup var output: OutputFormat
        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            try await CLI.run {
                let date = try asOf.map { try CLI.parseDate($0, option: "--as-of") } ?? Ledger.today()
                let time = try knownAt.map { try CLI.parseTime($0, option: "--known-at") }
                let book = try await ReadModel(try database.readConfiguration()).gazetteer(knownAt: time)
                var tree = book.tree(on: date)
                if let city {
                    tree = tree.filter { $0.name == city }
                    if tree.isEmpty {
                        let known = book.tree(on: date).map(\.name)
                        let similar = PlaceBook.closest(to: city, among: known)
                        throw UserError(
                            description: "--city: no city \(city) in the gazetteer on \(date)"
                                + (similar.isEmpty ? "" : "; did you mean \(similar.joined(separator: " or "))?"))
                    }
                }
                var rows: [[CSV.Field]] = []
                var lines: [String] = []
                func walk(_ nodes: [PlaceBook.Node], depth: Int) {
                    for node in nodes {
                        var dates = "since \(node.established)"
                        if let ended = node.ended { dates += ", \(node.endedBy == .merge ? "merged" : "abolished") \(ended)" }
                        if !node.formerNames.isEmpty { dates += ", formerly \(node.formerNames.joined(separator: ", "))" }
                        lines.append(String(repeating: "  ", count: depth) + "\(node.name)  \(node.kind.rawValue), \(dates)")
                        rows.append([
                            .text(node.kind.rawValue), .text(node.path), .text(node.name), .text(node.established.description),
                            CSV.Field(node.ended?.description), CSV.Field(node.formerNames.isEmpty ? nil : node.formerNames.joined(separator: " ")),
                        ])
                        walk(node.children, depth: depth + 1)
                    }
                }
                walk(tree, depth: 0)
                output.print(
                    table: { lines.isEmpty ? "(no places on \(date): record them as place decisions; README, \"Places\")" : lines.joined(separator: "\n") },
                    json: { JSONValue.array(tree.map { .object($0.json) }).prettyText() },
                    csvHeader: ["kind", "path", "name", "established", "ends", "formerNames"], csvRows: { rows })
            }
        }
    }
}

extension CLI {
    /// `--jurisdiction` as the ledger knows it: a bare district name that names one district
    /// becomes `City/District`; an ambiguous one, or an unknown one close to a known name, is
    /// refused (exit 1) naming the option and the candidates.
    static func resolvedJurisdiction(_ jurisdiction: String?, _ database: DatabaseOptions, option: String = "--jurisdiction") async throws -> String? {
        guard let jurisdiction, !jurisdiction.contains("/"), !jurisdiction.trimmingCharacters(in: .whitespaces).isEmpty else {
            return jurisdiction
        }
        do {
            return try await ReadModel(try database.readConfiguration()).resolveJurisdiction(jurisdiction)
        } catch let error as ReadModel.AmbiguousJurisdiction {
            throw UserError(description: "\(option): \(error.description)")
        } catch let error as ReadModel.UnknownDistrict {
            throw UserError(description: "\(option): \(error.description)")
        }
    }
}
