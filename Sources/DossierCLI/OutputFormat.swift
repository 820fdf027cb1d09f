import ArgumentParser
import DossierDomain
import DossierStore
import Foundation

/// How a listing command prints its answer: `--format table|json|csv` (`--json` is the same as
/// `--format json`), and `--excel` for a CSV file Excel and WPS open with its Chinese intact.
struct OutputFormat: ParsableArguments {
    enum Choice: String, CaseIterable, ExpressibleByArgument {
        case table, json, csv
    }

    @Option(help: ArgumentHelp(
        "table (the default, for people), json, or csv (RFC 4180, UTF-8, a header row; columns in the README).",
        valueName: "table|json|csv"))
    var format: Choice?

    @Flag(help: "Print JSON (the same as --format json).")
    var json = false

    @Flag(help: "With --format csv: begin with a UTF-8 byte order mark, so Excel and WPS read Chinese text correctly.")
    var excel = false

    func validate() throws {
        if json, let format, format != .json {
            throw ValidationError("--json and --format \(format.rawValue) contradict each other: give one of them")
        }
        if excel, chosen != .csv {
            throw ValidationError("--excel only applies to CSV output: add --format csv, or drop --excel")
        }
    }

    /// The format asked for (table when none was).
    var chosen: Choice { json ? .json : format ?? .table }

    /// The CSV text of a listing (a header row even when there are no records).
    func csv(header: [String], rows: [[CSV.Field]]) -> String {
        CSV.document(header: header, rows: rows, byteOrderMark: excel)
    }

    /// Prints a listing in the chosen format: `table()` for people (nothing at all when it is
    /// empty), `jsonText()` for json, the header and rows for csv (printed as they are: every
    /// record already ends in CRLF).
    func print(table: () -> String, json jsonText: () -> String, csvHeader: [String], csvRows: () -> [[CSV.Field]]) {
        switch chosen {
        case .table:
            let text = table()
            if !text.isEmpty { CLI.print(text) }
        case .json: CLI.print(jsonText())
        case .csv: CLI.print(csv(header: csvHeader, rows: csvRows()), terminator: "")
        }
    }
}

// The CSV columns of the people commands' listings (their types live in DossierStore's People,
// beside their `json`; README, "CSV and other formats").

extension People.Person {
    /// The CSV columns of `user list` (`scopes` separated by spaces).
    static let csvHeader = ["name", "role", "scopes", "addedAt", "addedBy", "disabled", "disabledAt"]

    var csvRow: [CSV.Field] {
        [.text(name), .text(role), CSV.Field(list: scopes), .text(addedAt.description), .text(addedBy),
         CSV.Field(disabledAt != nil), CSV.Field(disabledAt?.description)]
    }
}

extension People.AccessEntry {
    /// The CSV columns of `access-log`.
    static let csvHeader = ["at", "reader", "login", "worker", "what"]

    var csvRow: [CSV.Field] { [.text(at.description), .text(reader), .text(login), .text(worker), .text(what)] }
}

extension People {
    /// The CSV columns of `user who`: the keys of its JSON objects, in order.
    static let whoCSVHeader = ["person", "role", "scope", "grantedAt", "grantedBy"]

    static func whoCSVRow(_ row: JSONObject) -> [CSV.Field] {
        whoCSVHeader.map { CSV.Field(row[$0]?.stringValue) }
    }

    /// The CSV columns of `find`.
    static let findCSVHeader = ["worker", "name"]
}
