import ArgumentParser
import DossierDomain
import Foundation

/// Writes a realistic, deterministic sample of decisions as JSON Lines.
///
/// Every worker's history is built through the domain's own rules (each decision is applied to
/// a `WorkerState` and dropped if it would break one), so the output imports without refusals.
@main
struct SampleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dossier-sample",
        abstract: "Write a sample city of community workers' careers as JSON Lines (deterministic by seed).")

    @Option(help: "The random seed; the same seed gives the same file.")
    var seed: UInt64 = 2015

    @Option(help: "Districts in the city.")
    var districts = 1

    @Option(help: "Community workers per district (at the start; exits are replaced).")
    var workers = 300

    @Option(help: "The first year of the histories.")
    var from = 2010

    @Option(help: "The last year of the histories.")
    var to = 2025

    @Flag(name: .customLong("no-places"), help: "Leave out the gazetteer (the place decisions written first), as samples before it had none.")
    var noPlaces = false

    @Option(help: "Write to this file instead of standard output.")
    var output: String?

    /// A bad command line exits 2, as `dossier` does (not ArgumentParser's 64).
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            if exitCode(for: error) == .validationFailure {
                FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
                exit(withError: ExitCode(2))
            }
            exit(withError: error)
        }
    }

    func validate() throws {
        guard districts >= 1, districts <= 100 else { throw ValidationError("--districts must be 1 to 100") }
        guard workers >= 5, workers <= 100_000 else { throw ValidationError("--workers must be 5 to 100000") }
        guard from >= 1990, to <= 2100, from + 1 < to else { throw ValidationError("need 1990 <= --from < --to <= 2100") }
    }

    func run() throws {
        let sink: FileHandle
        if let output {
            guard FileManager.default.createFile(atPath: output, contents: nil), let handle = FileHandle(forWritingAtPath: output) else {
                throw ValidationError("cannot write \(output)")
            }
            sink = handle
        } else {
            sink = FileHandle.standardOutput
        }
        var writer = LineWriter(handle: sink)
        var generator = CityGenerator(seed: seed, districts: districts, workersPerDistrict: workers, from: from, to: to)
        generator.places = !noPlaces
        generator.generate { writer.write($0) }
        writer.flush()
        FileHandle.standardError.write(Data("dossier-sample: \(writer.lines) decisions\n".utf8))
    }
}

/// Buffers lines and writes them in large chunks.
struct LineWriter {
    let handle: FileHandle
    var buffer: [UInt8] = []
    var lines = 0

    mutating func write(_ object: JSONObject) {
        JSONValue.object(object).writeCanonical(into: &buffer)
        buffer.append(UInt8(ascii: "\n"))
        lines += 1
        if buffer.count > 1 << 20 { flush() }
    }

    mutating func flush() {
        handle.write(Data(buffer))
        buffer.removeAll(keepingCapacity: true)
    }
}

/// The sample's generator: seeded, the same everywhere.
typealias Random = SplitMix64

extension SplitMix64 {
    mutating func uuid() -> UUID {
        var bytes = [UInt8](repeating: 0, count: 16)
        let a = next(), b = next()
        for i in 0..<8 {
            bytes[i] = UInt8(truncatingIfNeeded: a >> (8 * i))
            bytes[8 + i] = UInt8(truncatingIfNeeded: b >> (8 * i))
        }
        bytes[6] = bytes[6] & 0x0F | 0x40
        bytes[8] = bytes[8] & 0x3F | 0x80
        return UUID(uuid: (bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7], bytes[8],
                           bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]))
    }
}
