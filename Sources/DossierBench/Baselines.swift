import DossierDomain
import DossierStore
import Foundation
import Histogram
import PostgresClient

struct Rate {
    var rate: Double
    var p50: Double
    var p99: Double
    /// What the clients' server processes were doing, sampled every few milliseconds while they
    /// ran (wait event, or "on CPU" when waiting for nothing): the share of each, in percent.
    var waits: [(String, Double)] = []
}

extension Bench {
    /// COPY of the same rows into a bare table with the same indexes (server side, from a file).
    func rawCopySeconds(_ connection: PostgresConnection) throws -> Double {
        let file = "/tmp/dossier-bench-events.tsv"
        try connection.execute("DROP SCHEMA IF EXISTS bench_raw CASCADE")
        try connection.execute("CREATE SCHEMA bench_raw")
        try connection.execute(
            """
            CREATE TABLE bench_raw.events (
                position bigint PRIMARY KEY, stream text NOT NULL, version integer NOT NULL, event_id uuid NOT NULL UNIQUE,
                event_type text NOT NULL, schema_version smallint NOT NULL, payload jsonb NOT NULL, effective date NOT NULL,
                recorded_at timestamptz NOT NULL, recorded_by text NOT NULL, authority text NOT NULL, reference text NOT NULL,
                UNIQUE (stream, version), UNIQUE (stream, event_type, reference))
            """)
        try connection.executeScript(
            """
            COPY (SELECT position, stream, version, event_id, event_type, schema_version, payload, effective, recorded_at,
                         recorded_by, authority, reference FROM dossier.events ORDER BY position) TO '\(file)'
            """)
        let started = Date()
        try connection.executeScript("COPY bench_raw.events FROM '\(file)'")
        let seconds = Date().timeIntervalSince(started)
        try connection.execute("TRUNCATE bench_raw.events")
        return seconds
    }

    /// Workers on the roster today, to record decisions for.
    func activeWorkers(url: String, among all: [String]) async throws -> [String] {
        let reads = ReadModel(DatabaseConfiguration(connectionString: url, label: ConnectionString.redacted(url)))
        let roster = try await reads.roster(place: .init(), asOf: Ledger.today())
        return roster.isEmpty ? all : roster.map(\.worker)
    }

    /// Records training decisions through the same code path as `dossier record`, from
    /// `clients` threads with a connection each.
    func singleDecisions(url: String, clients: Int, workers: [String]) throws -> Rate {
        let sampler = WaitSampler(url: url, application: "dossier-bench-single")
        sampler.start()
        var rate = try threads(clients) { client, deadline, record in
            // As the bench's login, a registered admin of the ledger (the database takes the recorder
            // from the session, as it does for `dossier record`).
            let connection = try PostgresConnection(connectionString: url + " application_name=dossier-bench-single")
            var counter = 0
            var generator = SystemRandomNumberGenerator()
            while Date() < deadline {
                counter += 1
                let worker = workers[Int.random(in: 0..<workers.count, using: &generator)]
                let decision = Decision(
                    kind: .training, subject: worker, effective: CalendarDate(year: 2026, month: 1, day: 15)!, authority: "bench",
                    reference: "B-\(client)-\(counter)-\(UUID().uuidString.prefix(8))", body: .training(kind: .special, hours: 2))
                let start = DispatchTime.now().uptimeNanoseconds
                _ = try Ledger.record(decision, onBehalfOf: "bench-single", on: connection)
                record(DispatchTime.now().uptimeNanoseconds - start)
            }
        }
        rate.waits = sampler.stop()
        return rate
    }

    /// Single-row INSERT transactions of event-shaped rows into a bare table with the same
    /// indexes, at the same concurrency.
    func rawInserts(url: String, clients: Int) throws -> Rate {
        let setup = try PostgresConnection(connectionString: url)
        try setup.execute("DROP TABLE IF EXISTS bench_raw.single")
        try setup.execute(
            """
            CREATE TABLE bench_raw.single (LIKE bench_raw.events INCLUDING ALL);
            CREATE SEQUENCE IF NOT EXISTS bench_raw.single_position
            """)
        return try threads(clients) { client, deadline, record in
            let connection = try PostgresConnection(connectionString: url)
            var counter = 0
            while Date() < deadline {
                counter += 1
                let payload = PostgresJSONB(#"{"hours":2,"kind":"special"}"#)
                let start = DispatchTime.now().uptimeNanoseconds
                try connection.query(
                    """
                    INSERT INTO bench_raw.single VALUES (nextval('bench_raw.single_position'), \("worker/raw-\(client)"), \(Int32(counter)),
                      \(UUID()), 'training', 1, \(payload), '2026-01-15', now(), 'raw', 'bench', \("R-\(client)-\(counter)"))
                    """)
                record(DispatchTime.now().uptimeNanoseconds - start)
            }
        }
    }

    /// Runs `body` on `count` threads for `seconds`, collecting latencies.
    func threads(
        _ count: Int, _ body: @escaping @Sendable (Int, Date, (UInt64) -> Void) throws -> Void
    ) throws -> Rate {
        let lock = NSLock()
        nonisolated(unsafe) var histogram = Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
        nonisolated(unsafe) var failure: Error?
        let deadline = Date().addingTimeInterval(seconds)
        let group = DispatchGroup()
        let started = Date()
        for client in 0..<count {
            group.enter()
            let thread = Thread {
                var local = Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
                do {
                    try body(client, deadline) { _ = local.record($0) }
                } catch {
                    lock.lock()
                    failure = failure ?? error
                    lock.unlock()
                }
                lock.lock()
                histogram.add(local)
                lock.unlock()
                group.leave()
            }
            thread.start()
        }
        group.wait()
        if let failure { throw failure }
        let elapsed = Date().timeIntervalSince(started)
        return Rate(
            rate: Double(histogram.totalCount) / elapsed, p50: Double(histogram.valueAtPercentile(50)) / 1_000_000,
            p99: Double(histogram.valueAtPercentile(99)) / 1_000_000)
    }

    /// Latencies of `show` and `trace` for random workers, through the ledger service.
    ///
    /// Cold: each read picks a worker among all, so this process has almost never read it. Warm
    /// (`warm` workers): the same few workers, each read once before the measurement, as a
    /// caseworker's office reads the records it works on (the server keeps decoded streams and
    /// reads only what came after).
    func readLatencies(url: String, workers all: [String], warm: Int? = nil) async throws -> (show: Rate, trace: Rate) {
        let ledger = Ledger(DatabaseConfiguration(connectionString: url, label: ConnectionString.redacted(url)))
        var show = Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
        var trace = Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
        var workers = all
        if let warm {
            workers = Array(all.shuffled().prefix(warm))
            for worker in workers {
                _ = try await ledger.show(worker: worker)
                _ = try await ledger.trace(subject: worker)
            }
        }
        for _ in 0..<2000 {
            let worker = workers.randomElement()!
            var start = DispatchTime.now().uptimeNanoseconds
            _ = try await ledger.show(worker: worker)
            _ = show.record(DispatchTime.now().uptimeNanoseconds - start)
            start = DispatchTime.now().uptimeNanoseconds
            _ = try await ledger.trace(subject: worker)
            _ = trace.record(DispatchTime.now().uptimeNanoseconds - start)
        }
        return (Rate(latencies: show), Rate(latencies: trace))
    }

    /// Reads every row of the events table in position order, in batches, touching each value.
    func rawReadSeconds(_ connection: PostgresConnection) throws -> Double {
        let started = Date()
        var after = Int64.min
        var bytes = 0
        while true {
            let result = try connection.query(
                "SELECT * FROM dossier.events WHERE position > \(after) ORDER BY position LIMIT 10000")
            guard result.rowCount > 0 else { break }
            for row in result.rows {
                for column in 0..<result.columnCount { row.withBytes(column) { bytes += $0?.count ?? 0 } }
            }
            after = try result[result.rowCount - 1].decode(Int64.self, at: 0)
        }
        precondition(bytes > 0)
        return Date().timeIntervalSince(started)
    }
}

extension Rate {
    /// The median and 99th percentile of latencies recorded in nanoseconds, in milliseconds.
    init(latencies h: Histogram<UInt64>) {
        self.init(rate: 0, p50: Double(h.valueAtPercentile(50)) / 1_000_000, p99: Double(h.valueAtPercentile(99)) / 1_000_000)
    }
}

/// Samples what the server processes of one application are doing (pg_stat_activity), every few
/// milliseconds on its own thread and connection, until stopped.
final class WaitSampler: @unchecked Sendable {
    let url: String
    let application: String
    private let lock = NSLock()
    private var running = true
    private var counts: [String: Int] = [:]
    private let done = DispatchSemaphore(value: 0)

    init(url: String, application: String) {
        self.url = url
        self.application = application
    }

    func start() {
        Thread {
            defer { self.done.signal() }
            guard let connection = try? PostgresConnection(connectionString: self.url) else { return }
            while self.lock.withLock({ self.running }) {
                if let rows = try? connection.query(
                    """
                    SELECT CASE state WHEN 'active' THEN coalesce(wait_event_type || ':' || wait_event, 'on CPU')
                                      WHEN 'idle in transaction' THEN 'waiting for the client, in a transaction'
                                      ELSE 'idle, between decisions' END, count(*)
                      FROM pg_stat_activity WHERE application_name = \(self.application) GROUP BY 1
                    """
                ).rows {
                    self.lock.withLock {
                        for row in rows {
                            if let name = try? row.decode(String.self, at: 0), let count = try? row.decode(Int64.self, at: 1) {
                                self.counts[name, default: 0] += Int(count)
                            }
                        }
                    }
                }
                Thread.sleep(forTimeInterval: 0.005)
            }
        }.start()
    }

    /// Stops sampling; the share of each state, largest first, in percent.
    func stop() -> [(String, Double)] {
        lock.withLock { running = false }
        done.wait()
        let total = Double(max(1, counts.values.reduce(0, +)))
        return counts.sorted { $0.value > $1.value }.map { ($0.key, Double($0.value) * 100 / total) }
    }
}
