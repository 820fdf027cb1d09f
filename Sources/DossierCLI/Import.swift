import ArgumentParser
import DossierDomain
import DossierStore
import Foundation

extension Dossier {
    /// Bulk-imports decisions: all or nothing by default.
    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Import a JSON Lines file of decisions: all or nothing, every invalid line reported.",
            discussion: """
                Every line is read and judged in order, as if recorded one by one, before anything \
                is written. By default one invalid or refused line means nothing is written, and \
                every such line is reported with its number and reason. With --skip-invalid the \
                valid decisions are written and the refused lines go to --rejects with their reasons. \
                Decisions already recorded with the same content are recognised and not written twice. \
                A decision may carry "eventId" (a UUID) so later lines can point at it.
                """)

        @Argument(help: "A JSON Lines file of decisions, or - for standard input.")
        var file: String

        @Flag(name: .customLong("skip-invalid"), help: "Write the valid decisions; put refused lines in --rejects.")
        var skipInvalid = false

        @Option(help: "Where --skip-invalid writes the refused lines, each with its line number and reason (JSON Lines).")
        var rejects: String?

        @Option(help: "Who records (default: DOSSIER_ACTOR, else the operating-system user).")
        var actor: String?

        @OptionGroup var database: DatabaseOptions

        func validate() throws {
            if skipInvalid, rejects == nil {
                throw ValidationError("--skip-invalid needs --rejects FILE to keep the refused lines")
            }
            if rejects != nil, !skipInvalid {
                throw ValidationError("--rejects only goes with --skip-invalid")
            }
        }

        func run() async throws {
            try await CLI.run {
                let actor = try CLI.actor(actor)
                let data = try CLI.read(file)
                let progress = ProgressLine()
                let lines = Self.decode(data, progress: progress)
                guard !lines.isEmpty else { throw UserError(description: "no decisions in \(file)") }
                let report = try await Importer(try database.configuration()).run(
                    lines, actor: actor, skipInvalid: skipInvalid,
                    progress: { progress.update($0.phase, done: $0.done, total: $0.total) })
                progress.finish()
                if !report.committed {
                    let shown = report.problems.prefix(200).map { "  line \($0.line): \($0.message)" }
                    let more = report.problems.count > 200 ? "\n  … and \(report.problems.count - 200) more" : ""
                    throw UserError(
                        description: "nothing imported: \(report.problems.count) of \(report.lines) lines are invalid or refused\n"
                            + shown.joined(separator: "\n") + more)
                }
                if let rejects, skipInvalid {
                    try Self.writeRejects(report.problems, from: data, to: rejects)
                }
                CLI.print(
                    "imported \(report.written) decisions"
                        + (report.firstPosition.map { " from position \($0)" } ?? "")
                        + (report.duplicates > 0 ? "; \(report.duplicates) already recorded" : "")
                        + (report.problems.isEmpty ? "" : "; \(report.problems.count) refused, written to \(rejects ?? "-")"))
            }
        }

        /// Decodes JSON Lines, on all cores.
        static func decode(_ data: Data, progress: ProgressLine) -> [Importer.Line] {
            var ranges: [(number: Int, range: Range<Int>)] = []
            data.withUnsafeBytes { (bytes: UnsafeRawBufferPointer) in
                var start = 0
                var number = 0
                for index in 0...bytes.count where index == bytes.count || bytes[index] == UInt8(ascii: "\n") {
                    number += 1
                    var end = index
                    if end > start, bytes[end - 1] == UInt8(ascii: "\r") { end -= 1 }
                    let isBlank = bytes[start..<end].allSatisfy { $0 == 0x20 || $0 == 0x09 }
                    if !isBlank { ranges.append((number, start..<end)) }
                    start = index + 1
                }
            }
            let lineRanges = ranges
            let chunk = 20_000
            let chunks = (ranges.count + chunk - 1) / chunk
            var results = [[Importer.Line]](repeating: [], count: chunks)
            let lock = NSLock()
            nonisolated(unsafe) var done = 0
            results.withUnsafeMutableBufferPointer { output in
                nonisolated(unsafe) let output = output
                DispatchQueue.concurrentPerform(iterations: chunks) { part in
                    let slice = lineRanges[(part * chunk)..<min(lineRanges.count, (part + 1) * chunk)]
                    output[part] = slice.map { item in
                        let text = String(decoding: data[item.range], as: UTF8.self)
                        return Importer.Line(
                            number: item.number,
                            decision: Result { () throws(InvalidDecision) in try DecisionCodec.decode(json: text) })
                    }
                    lock.lock()
                    done += slice.count
                    progress.update("reading", done: done, total: lineRanges.count)
                    lock.unlock()
                }
            }
            return results.flatMap { $0 }
        }

        static func writeRejects(_ problems: [Importer.Problem], from data: Data, to path: String) throws {
            let wanted = Dictionary(problems.map { ($0.line, $0.message) }, uniquingKeysWith: { $0 + "; " + $1 })
            var output = [UInt8]()
            var number = 0
            for line in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
                number += 1
                guard let reason = wanted[number] else { continue }
                let object = JSONObject([
                    ("line", .integer(Int64(number))), ("reason", .string(reason)),
                    ("input", .string(String(decoding: line, as: UTF8.self))),
                ])
                JSONValue.object(object).writeCanonical(into: &output)
                output.append(UInt8(ascii: "\n"))
            }
            guard FileManager.default.createFile(atPath: path, contents: Data(output)) else {
                throw UserError(description: "cannot write the rejected lines to \(path)")
            }
        }
    }
}
