import DossierStore
import Foundation

/// A command run as a child process, with its wall time and peak resident memory.
struct ChildRun {
    var status: Int32
    var seconds: Double
    /// Peak resident set size of the child, in megabytes.
    var peakMegabytes: Double
    var output: String
}

enum Child {
    /// Runs a program to completion (stdout to a file we read back) and reports its peak memory.
    static func run(_ argv: [String], environment: [String: String]) throws -> ChildRun {
        let outputPath = FileManager.default.temporaryDirectory.appending(path: "bench-\(UUID().uuidString).out").path
        defer { try? FileManager.default.removeItem(atPath: outputPath) }
        let started = Date()
        let exit = try Subprocess.run(argv, outputPath: outputPath, environment: environment)
        let seconds = Date().timeIntervalSince(started)
        let output = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        // The child reports its own peak (getrusage would count the memory it shared with this
        // process between fork and exec).
        let reported = output.split(separator: "\n").last { $0.hasPrefix("dossier-peak-memory-kb: ") }
            .flatMap { Double($0.split(separator: " ")[1]) }
        return ChildRun(
            status: exit.status, seconds: seconds, peakMegabytes: (reported ?? Double(exit.peakKilobytes)) / 1024, output: output)
    }
}

struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// One line of the results table.
struct Figure {
    var name: String
    var dossier: Double
    var baseline: Double?
    var unit: String
    /// Whether larger is better (rates) or smaller (latencies, memory).
    var higherIsBetter: Bool
    var target: String
    var note: String = ""

    /// Dossier relative to the baseline, so that 1.0 means as good as raw PostgreSQL.
    var ratio: Double? {
        guard let baseline, baseline > 0, dossier > 0 else { return nil }
        return higherIsBetter ? dossier / baseline : baseline / dossier
    }

    var json: [String: Any] {
        var object: [String: Any] = ["name": name, "dossier": dossier, "unit": unit, "target": target]
        if let baseline { object["baseline"] = baseline }
        if let ratio { object["ratio"] = ratio }
        if !note.isEmpty { object["note"] = note }
        return object
    }
}

func format(_ value: Double) -> String {
    if value >= 100 { return String(Int(value.rounded())) }
    if value >= 10 { return String(format: "%.1f", value) }
    return String(format: "%.2f", value)
}

func table(_ figures: [Figure]) -> String {
    let header = ["figure", "Dossier", "baseline", "ratio", "unit", "target"]
    let rows = figures.map { figure in
        [figure.name, format(figure.dossier), figure.baseline.map(format) ?? "—", figure.ratio.map { String(format: "%.2f", $0) } ?? "—",
         figure.unit, figure.target]
    }
    let widths = (0..<header.count).map { column in ([header] + rows).map { $0[column].count }.max() ?? 0 }
    func line(_ row: [String]) -> String {
        "| " + row.enumerated().map { $0.element.padding(toLength: widths[$0.offset], withPad: " ", startingAt: 0) }.joined(separator: " | ") + " |"
    }
    return ([line(header), "|" + widths.map { String(repeating: "-", count: $0 + 2) }.joined(separator: "|") + "|"] + rows.map(line))
        .joined(separator: "\n")
}
