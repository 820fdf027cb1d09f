import ArgumentParser
import DossierDomain
import DossierStore
import Foundation
import Histogram
import PostgresClient

/// Measures Dossier against raw PostgreSQL on the same machine, in the same run.
@main
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dossier-bench",
        abstract: "Measure Dossier beside raw PostgreSQL baselines on the same database, in one run (see tools/bench).")

    @Option(help: "A superuser connection string of the PostgreSQL to measure on (tools/bench starts one).")
    var database: String

    @Option(help: "The directory holding the dossier and dossier-sample executables (a release build).")
    var bin: String

    @Option(help: "Scratch directory for the generated city.")
    var work = "/tmp/dossier-bench"

    @Option(help: "Districts of the generated city.")
    var districts = 16

    @Option(help: "Community workers per district.")
    var workers = 2500

    @Option(help: "A named scale, setting --districts and --workers: `10m` is 16 districts × 15,750 workers, about 10 million decisions (about an hour on this machine).")
    var scale: String?

    @Option(help: "Seconds each single-decision measurement runs.")
    var seconds = 10.0

    @Option(help: "Where to write the results as JSON.")
    var output = "bench-results/latest.json"

    @Option(help: "Only measure reads (show and trace) or singles (recording, 1 client) on the ledger --database already holds, for profiling.")
    var only: String?

    func run() async throws {
        if let only {
            let connection = try PostgresConnection(connectionString: database)
            let workers = try connection.query(
                "SELECT DISTINCT substr(stream, 8) FROM dossier.events WHERE stream LIKE 'worker/%'"
            ).rows.map { try $0.decode(String.self, at: 0) }
            switch only {
            case "reads":
                let reads = try await readLatencies(url: database, workers: workers)
                print("show p50 \(reads.show.p50) ms, p99 \(reads.show.p99) ms; trace p50 \(reads.trace.p50) ms, p99 \(reads.trace.p99) ms")
            case "singles":
                let active = try await activeWorkers(url: database, among: workers)
                for clients in [1, 8] {
                    let ours = try singleDecisions(url: database, clients: clients, workers: active)
                    let raw = try rawInserts(url: database, clients: clients)
                    let waits = ours.waits.prefix(5).map { "\($0.0) \(String(format: "%.0f", $0.1)) %" }.joined(separator: ", ")
                    print(
                        "single decisions, \(clients) client(s): \(Int(ours.rate))/s, p50 \(ours.p50) ms, p99 \(ours.p99) ms; raw INSERT \(Int(raw.rate))/s "
                            + "(ratio \(String(format: "%.2f", ours.rate / raw.rate))); server: \(waits)")
                }
            default:
                throw ValidationError("--only takes reads or singles")
            }
            return
        }
        var districts = districts
        var workers = workers
        switch scale {
        case nil, "default": break
        case "10m": (districts, workers) = (16, 15_750)
        case let other?: throw ValidationError("--scale takes default or 10m, not \(other)")
        }
        var figures: [Figure] = []
        let started = Date()
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        let admin = try PostgresConnection(connectionString: database)
        let databaseName = "dossier_bench"
        try admin.executeScript("DROP DATABASE IF EXISTS \(databaseName) WITH (FORCE)")
        try admin.executeScript("CREATE DATABASE \(databaseName)")
        let url = database + " dbname=\(databaseName)"
        var environment = ProcessInfo.processInfo.environment
        environment["DOSSIER_DATABASE_URL"] = url
        environment["DOSSIER_ACTOR"] = "bench"
        environment["DOSSIER_CHECKPOINT_KEY"] = work + "/checkpoint.key"
        environment["DOSSIER_REPORT_PEAK_MEMORY"] = "1"
        try? FileManager.default.removeItem(atPath: work + "/checkpoint.key")
        func dossier(_ arguments: [String]) throws -> ChildRun {
            let run = try Child.run([bin + "/dossier"] + arguments, environment: environment)
            guard run.status == 0 else { throw BenchError("dossier \(arguments.joined(separator: " ")) failed: \(run.output.suffix(2000))") }
            return run
        }
        func say(_ text: String) { FileHandle.standardError.write(Data("bench: \(text)\n".utf8)) }

        // The city.
        let city = "\(work)/city-\(districts)x\(workers).jsonl"
        if !FileManager.default.fileExists(atPath: city) {
            say("generating \(districts) districts × \(workers) workers")
            let generated = try Child.run(
                [bin + "/dossier-sample", "--seed", "2015", "--districts", "\(districts)", "--workers", "\(workers)", "--output", city],
                environment: environment)
            guard generated.status == 0 else { throw BenchError("the sample generator failed: \(generated.output)") }
        }
        let decisions = try countLines(city)
        say("\(decisions) decisions in \(city)")
        _ = try dossier(["init"])

        // 1. Bulk import, then hashing (checkpoint) and projections.
        say("importing")
        let imported = try dossier(["import", city])
        say("checkpointing")
        let hashed = try dossier(["checkpoint"])
        say("projecting")
        let projected = try dossier(["project"])
        let connection = try PostgresConnection(connectionString: url)
        let events = Int(try connection.query("SELECT count(*) FROM dossier.events").scalar(Int64.self) ?? 0)
        say("baseline: raw COPY of the same \(events) rows")
        let rawCopy = try rawCopySeconds(connection)
        let endToEnd = imported.seconds + hashed.seconds + projected.seconds
        figures.append(Figure(
            name: "bulk import: import + checkpoint + project", dossier: Double(events) / endToEnd, baseline: Double(events) / rawCopy,
            unit: "decisions/s", higherIsBetter: true, target: ">= 0.30 of COPY"))
        figures.append(Figure(
            name: "bulk import: dossier import alone", dossier: Double(events) / imported.seconds, baseline: Double(events) / rawCopy,
            unit: "decisions/s", higherIsBetter: true, target: ">= 0.50 of COPY"))
        figures.append(Figure(name: "checkpoint (hashing) alone", dossier: Double(events) / hashed.seconds, baseline: nil, unit: "events/s", higherIsBetter: true, target: "—"))
        figures.append(Figure(name: "projection catch-up alone", dossier: Double(events) / projected.seconds, baseline: nil, unit: "events/s", higherIsBetter: true, target: "—"))

        // 2. Single decisions, 1 and 8 clients, against raw single-row INSERT transactions.
        let roster = try connection.query(
            "SELECT substr(stream, 8) FROM (SELECT DISTINCT stream FROM dossier.events WHERE stream LIKE 'worker/%') s"
        ).rows.map { try $0.decode(String.self, at: 0) }
        let active = try await activeWorkers(url: url, among: roster)
        var rawByClients: [Int: Rate] = [:]
        var waitShares: [Int: [[String: Any]]] = [:]
        // What judging from snapshots saves: one client, every decision judged from its history.
        say("single decisions, 1 client, judged from history (DOSSIER_JUDGE_FROM_HISTORY)")
        setenv("DOSSIER_JUDGE_FROM_HISTORY", "1", 1)
        let fromHistory = try singleDecisions(url: url, clients: 1, workers: active)
        unsetenv("DOSSIER_JUDGE_FROM_HISTORY")
        for clients in [1, 8] {
            say("single decisions, \(clients) client(s), \(Int(seconds)) s each")
            let ours = try singleDecisions(url: url, clients: clients, workers: active)
            let raw = try rawInserts(url: url, clients: clients)
            rawByClients[clients] = raw
            let waits = ours.waits.prefix(6).map { "\($0.0) \(String(format: "%.0f", $0.1)) %" }.joined(separator: ", ")
            say("  where the \(clients) client(s)' server processes were: \(waits)")
            waitShares[clients] = ours.waits.map { ["state": $0.0, "percent": $0.1] }
            figures.append(Figure(
                name: "single decisions, \(clients) client\(clients == 1 ? "" : "s"): throughput", dossier: ours.rate, baseline: raw.rate,
                unit: "decisions/s", higherIsBetter: true, target: clients == 1 ? ">= 0.40 of raw" : ">= 0.30 of raw"))
            figures.append(Figure(
                name: "single decisions, \(clients) client\(clients == 1 ? "" : "s"): p50", dossier: ours.p50, baseline: raw.p50, unit: "ms",
                higherIsBetter: false, target: clients == 1 ? "<= 1 ms" : "—"))
            figures.append(Figure(
                name: "single decisions, \(clients) client\(clients == 1 ? "" : "s"): p99", dossier: ours.p99, baseline: raw.p99, unit: "ms",
                higherIsBetter: false, target: "—"))
            if clients == 1 {
                figures.append(Figure(
                    name: "single decisions, 1 client, judged from history: throughput", dossier: fromHistory.rate, baseline: raw.rate,
                    unit: "decisions/s", higherIsBetter: true, target: "—", note: "DOSSIER_JUDGE_FROM_HISTORY: no snapshots"))
                figures.append(Figure(
                    name: "single decisions, 1 client, judged from history: p50", dossier: fromHistory.p50, baseline: raw.p50, unit: "ms",
                    higherIsBetter: false, target: "—"))
            }
        }
        let gapless = try connection.query(
            "SELECT count(*) = max(position) - min(position) + 1 FROM dossier.events WHERE on_behalf_of = 'bench-single'"
        ).scalar(Bool.self)
        say("global order after concurrent recording: " + (gapless == true ? "gapless" : "has gaps (aborted appends)"))

        // 3. show and trace of one worker.
        let reads = try await readLatencies(url: url, workers: roster)
        figures.append(Figure(name: "show one worker: p50", dossier: reads.show.p50, baseline: nil, unit: "ms", higherIsBetter: false, target: "—"))
        figures.append(Figure(name: "show one worker: p99", dossier: reads.show.p99, baseline: nil, unit: "ms", higherIsBetter: false, target: "—"))
        figures.append(Figure(name: "trace one worker: p50", dossier: reads.trace.p50, baseline: nil, unit: "ms", higherIsBetter: false, target: "—"))
        figures.append(Figure(name: "trace one worker: p99", dossier: reads.trace.p99, baseline: nil, unit: "ms", higherIsBetter: false, target: "—"))
        let warmReads = try await readLatencies(url: url, workers: roster, warm: 200)
        figures.append(Figure(name: "show one worker (warm): p50", dossier: warmReads.show.p50, baseline: nil, unit: "ms", higherIsBetter: false, target: "—"))
        figures.append(Figure(name: "show one worker (warm): p99", dossier: warmReads.show.p99, baseline: nil, unit: "ms", higherIsBetter: false, target: "<= 1 ms"))
        figures.append(Figure(name: "trace one worker (warm): p50", dossier: warmReads.trace.p50, baseline: nil, unit: "ms", higherIsBetter: false, target: "—"))
        figures.append(Figure(name: "trace one worker (warm): p99", dossier: warmReads.trace.p99, baseline: nil, unit: "ms", higherIsBetter: false, target: "<= 1 ms"))

        // 3b. The same through `dossier serve`: POST /api/decisions with a token (one keep-alive
        // connection per client), and GET of a record and its trace; beside raw INSERT.
        say("dossier serve: HTTP figures")
        let server = try startServer(url: url, environment: environment)
        defer {
            server.process.interrupt()
            server.process.waitUntilExit()
        }
        for clients in [1, 8] {
            let http = try httpSingles(port: server.port, token: server.token, clients: clients, workers: active)
            let raw = rawByClients[clients]!
            let label = "HTTP record, \(clients) connection\(clients == 1 ? "" : "s")"
            figures.append(Figure(name: "\(label): throughput", dossier: http.rate, baseline: raw.rate, unit: "decisions/s", higherIsBetter: true, target: "—"))
            figures.append(Figure(name: "\(label): p50", dossier: http.p50, baseline: raw.p50, unit: "ms", higherIsBetter: false, target: "—"))
            figures.append(Figure(name: "\(label): p99", dossier: http.p99, baseline: raw.p99, unit: "ms", higherIsBetter: false, target: "—"))
        }
        let httpReads = try httpReads(port: server.port, token: server.token, workers: roster)
        figures.append(Figure(name: "HTTP GET a worker: p99", dossier: httpReads.show.p99, baseline: reads.show.p99, unit: "ms", higherIsBetter: false,
                              target: "—", note: "baseline: the same show through the library"))
        figures.append(Figure(name: "HTTP GET a trace: p99", dossier: httpReads.trace.p99, baseline: reads.trace.p99, unit: "ms", higherIsBetter: false,
                              target: "—", note: "baseline: the same trace through the library"))

        // 4 and 5. Rebuild and verify, against a raw sequential read of the events table.
        say("raw sequential read")
        let rawRead = try rawReadSeconds(connection)
        let total = Int(try connection.query("SELECT count(*) FROM dossier.events").scalar(Int64.self) ?? 0)
        say("rebuild")
        let rebuilt = try dossier(["rebuild"])
        figures.append(Figure(name: "projection rebuild", dossier: Double(total) / rebuilt.seconds, baseline: Double(total) / rawRead,
                              unit: "events/s", higherIsBetter: true, target: ">= 60000/s"))
        say("checkpoint and verify")
        _ = try dossier(["checkpoint"])
        let verified = try dossier(["verify"])
        figures.append(Figure(name: "verify", dossier: Double(total) / verified.seconds, baseline: Double(total) / rawRead,
                              unit: "events/s", higherIsBetter: true, target: ">= 0.50 of raw read"))

        // 6. Peak memory of each command.
        let someone = roster[roster.count / 2]
        let shown = try dossier(["show", someone])
        let traced = try dossier(["trace", someone])
        for (name, run) in [("import", imported), ("checkpoint", hashed), ("project", projected), ("rebuild", rebuilt),
                            ("verify", verified), ("show", shown), ("trace", traced)] {
            figures.append(Figure(name: "peak memory: dossier \(name)", dossier: run.peakMegabytes, baseline: nil, unit: "MB",
                                  higherIsBetter: false, target: "<= 150 MB"))
        }

        let report = table(figures)
        print(report)
        let version = try admin.query("SHOW server_version").scalar(String.self) ?? "?"
        let json: [String: Any] = [
            "date": ISO8601DateFormatter().string(from: Date()), "events": total, "decisionsImported": events,
            "cpus": ProcessInfo.processInfo.activeProcessorCount,
            "memoryGiB": Double(ProcessInfo.processInfo.physicalMemory) / 1_073_741_824, "postgres": version,
            "secondsTotal": Date().timeIntervalSince(started), "figures": figures.map(\.json),
            "districts": districts, "workersPerDistrict": workers,
            "importCachedStreams": Importer.defaultCachedStreams,
            "singleDecisionServerWaits": Dictionary(uniqueKeysWithValues: waitShares.map { ("\($0.key) clients", $0.value) }), "commit": ProcessInfo.processInfo.environment["DOSSIER_BENCH_COMMIT"] ?? "",
        ]
        let url2 = URL(filePath: output)
        try FileManager.default.createDirectory(at: url2.deletingLastPathComponent(), withIntermediateDirectories: true)
        try JSONSerialization.data(withJSONObject: json, options: [.prettyPrinted, .sortedKeys]).write(to: url2)
        say("results in \(output) (\(Int(Date().timeIntervalSince(started))) s in all)")
    }

    func countLines(_ path: String) throws -> Int {
        let data = try Data(contentsOf: URL(filePath: path))
        return data.reduce(0) { $0 + ($1 == UInt8(ascii: "\n") ? 1 : 0) }
    }
}
