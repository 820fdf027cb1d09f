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
                Every line is judged in order, as if recorded one by one, inside one transaction. \
                By default one invalid or refused line means nothing is committed, and every such \
                line is reported with its number and reason. With --skip-invalid the valid decisions \
                are written and the refused lines go to --rejects with their reasons. Decisions \
                already recorded with the same content are recognised and not written twice. A \
                decision may carry "eventId" (a UUID) so later lines can point at it. The file is \
                read a chunk at a time, so memory does not grow with its length; single decisions \
                wait while an import runs.
                """)

        @Argument(help: "A JSON Lines file of decisions, or - for standard input.")
        var file: String

        @Flag(name: .customLong("skip-invalid"), help: "Write the valid decisions; put refused lines in --rejects.")
        var skipInvalid = false

        @Option(help: "Where --skip-invalid writes the refused lines, each with its line number and reason (JSON Lines, mode 0600).")
        var rejects: String?

        @Flag(help: "Replace the --rejects file if it exists.")
        var force = false

        @Option(help: "A note of whom you record for (stored apart from the recorder, shown in trace).")
        var onBehalfOf: String?

        @Flag(
            name: .customLong("create-places"),
            help: "For a city with no gazetteer yet, first establish the cities, districts, streets and communities the file's placements name (each effective on its earliest use).")
        var createPlaces = false

        @OptionGroup var database: DatabaseOptions

        func validate() throws {
            if skipInvalid, rejects == nil {
                throw ValidationError("--skip-invalid needs --rejects FILE to keep the refused lines")
            }
            if rejects != nil, !skipInvalid {
                throw ValidationError("--rejects only goes with --skip-invalid")
            }
            if createPlaces, file == "-" {
                throw ValidationError("--create-places reads the file twice (its placements first): give a file, not -")
            }
            if force, rejects == nil {
                throw ValidationError("--force only goes with --rejects FILE (it replaces that file)")
            }
        }

        /// 5,000: up to four chunks are in memory at once (read ahead, decoded, judged, staged), about
        /// 3 KB a line in flight; against 20,000 the peak of a 320,000-line import fell from 399 to
        /// 225 MB and its time did not change (BENCHMARKS.md, "Import memory").
        @Option(help: ArgumentHelp("Lines judged and staged at a time (for tests).", visibility: .hidden))
        var chunkLines = 5_000

        func run() async throws {
            try await CLI.run {
                let onBehalfOf = try CLI.onBehalfOf(onBehalfOf)
                // Before anything is imported: the rejects file must be writable, and new unless --force.
                if let rejects { try OutputFile.check(rejects, force: force) }
                var uses: [Importer.PlaceUse]?
                if createPlaces {
                    // The places the file's placements name, read before anything is judged.
                    let scan = try LineChunks(path: file, linesPerChunk: max(1, chunkLines))
                    var found: [Importer.PlaceUse] = []
                    while let chunk = try scan.next() {
                        for line in chunk { if case .success(let decision) = line.decision { found += Importer.PlaceUse.of(decision) } }
                    }
                    uses = found
                }
                let reader = try LineChunks(path: file, linesPerChunk: max(1, chunkLines))
                // The next chunk is read and decoded on its own thread while this one is judged and staged.
                let ahead = ChunkAhead { try reader.next() }
                let progress = ProgressLine()
                let report = try await Importer(try database.configuration()).run(
                    chunks: { try ahead.next() }, onBehalfOf: onBehalfOf, skipInvalid: skipInvalid,
                    progress: { progress.update($0.phase, done: $0.done, total: $0.total) }, createPlaces: uses)
                progress.finish()
                guard report.lines > 0 else { throw UserError(description: "no decisions in \(file)") }
                if !report.committed {
                    let shown = report.problems.prefix(200).map { "  line \($0.line): \($0.message)" }
                    let more = report.problems.count > 200 ? "\n  … and \(report.problems.count - 200) more" : ""
                    throw UserError(
                        description: "nothing imported: \(report.problems.count) of \(report.lines) lines are invalid or refused\n"
                            + shown.joined(separator: "\n") + more)
                }
                if let rejects, skipInvalid {
                    do {
                        try Self.writeRejects(report.problems, to: rejects, force: force)
                    } catch {
                        throw UserError(
                            description: "imported \(report.written) decisions, but \(CLI.explain(error).0): the refused lines are not kept; "
                                + "run the same import again with another --rejects file (what was imported is recognised, the refused "
                                + "lines are found again)")
                    }
                }
                if !report.createdPlaces.isEmpty {
                    CLI.print("created \(report.createdPlaces.count) places (authority \"\(Importer.createdPlacesAuthority)\"):")
                    for path in report.createdPlaces { CLI.print("  \(path)") }
                }
                CLI.print(
                    "imported \(report.written) decisions"
                        + (report.firstPosition.map { " from position \($0)" } ?? "")
                        + (report.duplicates > 0 ? "; \(report.duplicates) already recorded" : "")
                        + (report.problems.isEmpty ? "" : "; \(report.problems.count) refused, written to \(rejects ?? "-")"))
                if report.warningCount > 0 {
                    // Beside what was imported, as record prints its warnings: on stderr.
                    let shown = report.warnings.map { "warning: line \($0.line): \($0.message)" }
                    let more = report.warningCount > shown.count ? ["… \(report.warningCount) warnings in all"] : []
                    CLI.printError((shown + more).joined(separator: "\n"))
                }
            }
        }

        static func writeRejects(_ problems: [Importer.Problem], to path: String, force: Bool) throws {
            var output = [UInt8]()
            var index = 0
            while index < problems.count {
                // One record per line, its reasons joined.
                var end = index + 1
                while end < problems.count, problems[end].line == problems[index].line { end += 1 }
                let object = JSONObject([
                    ("line", .integer(Int64(problems[index].line))),
                    ("reason", .string(problems[index..<end].map(\.message).joined(separator: "; "))),
                    ("input", .string(problems[index].input ?? "")),
                ])
                JSONValue.object(object).writeCanonical(into: &output)
                output.append(UInt8(ascii: "\n"))
                index = end
            }
            try OutputFile.write(output, to: path, force: force)
        }
    }
}

/// Reads a JSON Lines file (or standard input) a chunk of lines at a time and decodes each chunk
/// on all cores, so an import holds one chunk of the file, not all of it.
final class LineChunks: @unchecked Sendable {
    private let handle: FileHandle
    private let linesPerChunk: Int
    private var buffer: [UInt8] = []
    private var atEnd = false
    private var lineNumber = 0
    private let lock = NSLock()

    init(path: String, linesPerChunk: Int) throws {
        handle = try InputFile.open(path)
        self.linesPerChunk = linesPerChunk
    }

    /// The next chunk of decoded lines (blank lines skipped, numbers kept), or nil at the end.
    func next() throws -> [Importer.Line]? {
        lock.lock()
        defer { lock.unlock() }
        var lines: [(number: Int, bytes: [UInt8])] = []
        var start = 0
        var searchFrom = 0
        func take(_ range: Range<Int>) {
            lineNumber += 1
            var end = range.upperBound
            if end > range.lowerBound, buffer[end - 1] == UInt8(ascii: "\r") { end -= 1 }
            let line = buffer[range.lowerBound..<end]
            if !line.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { lines.append((lineNumber, Array(line))) }
        }
        while lines.count < linesPerChunk {
            if let newline = buffer[searchFrom...].firstIndex(of: UInt8(ascii: "\n")) {
                take(start..<newline)
                start = newline + 1
                searchFrom = start
            } else if !atEnd {
                buffer.removeSubrange(0..<start)
                start = 0
                guard buffer.count <= DecisionInput.maximumDecisionBytes else {
                    // A line this long is no decision (it may be /dev/zero): stop before holding more.
                    throw UserError(
                        description: "line \(lineNumber + 1): the line is longer than \(DecisionInput.maximumDecisionBytes) bytes, "
                            + "the most a decision takes: nothing was imported")
                }
                searchFrom = buffer.count
                let more: Data
                do {
                    more = try handle.read(upToCount: 4 << 20) ?? Data()
                } catch {
                    throw UserError(description: "cannot read the input: \(error.localizedDescription)")
                }
                if more.isEmpty { atEnd = true } else { buffer.append(contentsOf: more) }
            } else {
                if start < buffer.count { take(start..<buffer.count) }
                start = buffer.count
                break
            }
        }
        buffer.removeSubrange(0..<start)
        guard !lines.isEmpty else { return nil }
        let parts = max(1, min(8, lines.count / 1000))
        var results = [[Importer.Line]](repeating: [], count: parts)
        let chunk = lines
        results.withUnsafeMutableBufferPointer { output in
            nonisolated(unsafe) let output = output
            DispatchQueue.concurrentPerform(iterations: parts) { part in
                let slice = chunk[(part * chunk.count / parts)..<((part + 1) * chunk.count / parts)]
                output[part] = slice.map { Importer.Line(number: $0.number, bytes: $0.bytes) }
            }
        }
        return results.flatMap { $0 }
    }
}

/// Reads chunks one ahead of their consumer, on a thread of its own: while the importer judges and
/// stages chunk N, chunk N+1 is read and decoded. At most one chunk waits, so memory holds two.
final class ChunkAhead: @unchecked Sendable {
    private let condition = NSCondition()
    private var waiting: Result<[Importer.Line]?, Error>?
    private var finished = false

    init(_ source: @escaping @Sendable () throws -> [Importer.Line]?) {
        let thread = Thread { [self] in
            while true {
                let next = Result { try source() }
                condition.lock()
                while waiting != nil { condition.wait() }
                waiting = next
                condition.broadcast()
                condition.unlock()
                if case .success(let chunk) = next, chunk != nil { continue }
                return  // the end, or an error: nothing more is read
            }
        }
        thread.stackSize = 8 << 20
        thread.start()
    }

    /// The next chunk, as the source gave it (nil at the end, every time after it too).
    func next() throws -> [Importer.Line]? {
        condition.lock()
        defer { condition.unlock() }
        if finished { return nil }
        while waiting == nil { condition.wait() }
        let next = waiting!
        if case .success(let chunk) = next, chunk != nil {
            waiting = nil
            condition.broadcast()
        } else {
            finished = true
        }
        return try next.get()
    }
}
