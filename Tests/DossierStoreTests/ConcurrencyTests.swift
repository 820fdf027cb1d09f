import DossierDomain
import DossierStore
import DossierTestSupport
import Foundation
import PostgresClient
import Testing

@Suite("Concurrency and global order")
struct ConcurrencyTests {
    @Test("concurrent writers lose nothing; a live subscriber sees exactly the committed order")
    func concurrentWritersAndLiveSubscriber() async throws {
        let configuration = try TestDatabase.create()
        let writers = 8
        let appendsPerWriter = 60
        let total = writers * appendsPerWriter * 2  // each append carries two events

        // The subscriber starts before any writer and follows the log live.
        let progress = SeenCounter()
        let subscriber = Task {
            var seen: [RecordedEvent] = []
            for try await event in EventStore(configuration).subscribe(after: 0, batchSize: 17) {
                seen.append(event)
                await progress.add(event.position)
                if seen.count == total { break }
            }
            return seen
        }

        try await withThrowingTaskGroup(of: Void.self) { group in
            for writer in 0..<writers {
                group.addTask {
                    let store = EventStore(configuration)
                    for index in 0..<appendsPerWriter {
                        // Half to the writer's own stream, half to streams shared by all writers,
                        // retrying on version conflicts like a real client would.
                        let stream: StreamID = index % 2 == 0 ? .worker("own-\(writer)") : .worker("shared-\(index % 5)")
                        while true {
                            do {
                                let version = try await store.readStream(stream).last?.version ?? 0
                                _ = try await store.append(
                                    to: stream, expected: version == 0 ? .noStream : .exactly(version),
                                    events: [event(), event()])
                                break
                            } catch StoreError.wrongExpectedVersion {
                                continue
                            }
                        }
                    }
                }
            }
            try await group.waitForAll()
        }

        for _ in 0..<100 where await progress.count < total {
            try await Task.sleep(for: .milliseconds(100))
        }
        let seenCount = await progress.count
        if seenCount < total {
            let positions = await progress.positions
            let all = try adminConnection(configuration).query("SELECT position FROM dossier.events ORDER BY position").rows.map { try $0.decode(Int64.self, at: 0) }
            let missing = Set(all).subtracting(positions).sorted()
            let around = try adminConnection(configuration).query(
                "SELECT position, txid::text, recorded_at::text, stream FROM dossier.events WHERE position BETWEEN \(missing.first! - 4) AND \(missing.first! + 6) ORDER BY position"
            ).rows.map { "\(try $0.decode(Int64.self, at: 0)):\(try $0.decode(String.self, at: 1)):\(try $0.decode(String.self, at: 2).suffix(9)):\(try $0.decode(String.self, at: 3))" }
            Issue.record("subscriber stuck at \(seenCount) of \(total); missing \(missing.prefix(20)); last seen \(positions.suffix(5)); around: \(around)")
            subscriber.cancel()
            return
        }
        let seen = try await subscriber.value
        let admin = try adminConnection(configuration)
        let committed = try admin.query("SELECT position, event_id FROM dossier.events ORDER BY position").rows.map {
            (try $0.decode(Int64.self, at: 0), try $0.decode(UUID.self, at: 1))
        }
        #expect(committed.count == total)
        #expect(seen.count == total)
        #expect(seen.map(\.position) == committed.map(\.0))
        #expect(seen.map(\.eventID) == committed.map(\.1))
        #expect(Set(seen.map(\.eventID)).count == total)
        // Each stream's versions are gapless.
        let streams = Dictionary(grouping: seen, by: \.stream)
        for (_, events) in streams {
            #expect(events.map(\.version) == Array(1...events.count))
        }
    }

    @Test("a transaction that took an earlier position and commits late is not skipped: later ones wait for it")
    func lateCommitIsNotSkipped() async throws {
        let configuration = try TestDatabase.create()
        let store = EventStore(configuration)
        _ = try await store.append(to: .worker("a"), expected: .any, events: [event()])

        // A slow writer takes position 2 inside an open transaction...
        let slow = try adminConnection(configuration)
        try slow.execute("BEGIN")
        _ = try EventLog.append(slow, to: .worker("slow"), expected: .any, events: [event()])
        // ...a fast writer to another stream has to wait for it to commit.
        let fast = Task { try await EventStore(configuration).append(to: .worker("fast"), expected: .any, events: [event()]) }
        try await Task.sleep(for: .milliseconds(300))
        #expect(try await store.readAll(after: 0, limit: 100).map(\.position) == [1])

        try slow.execute("COMMIT")
        let appended = try await fast.value
        #expect(appended.events.map(\.position) == [3])
        let late = try await store.readAll(after: 1, limit: 100)
        #expect(late.map(\.stream.rawValue) == ["worker/slow", "worker/fast"])
        #expect(late.map(\.position) == [2, 3])
    }

    @Test("16 writers that wait a random while before they commit, a quarter of them rolling back: a live reader sees every committed event once, in position order, none skipped")
    func delayedCommitsAndRollbacks() async throws {
        let configuration = try TestDatabase.create()
        let writers = 16
        let transactionsPerWriter = 25
        // Which appends commit is decided up front, so the reader knows when it has seen them all.
        var random = TestRandom(state: 16)
        let plan = (0..<writers).map { _ in (0..<transactionsPerWriter).map { _ in (random.int(0...3) != 0, random.int(0...8)) } }
        let committed = plan.joined().filter(\.0).count
        let progress = SeenCounter()
        let reader = Task {
            var seen: [RecordedEvent] = []
            for try await event in EventStore(configuration).subscribe(after: 0, batchSize: 5) {
                seen.append(event)
                await progress.add(event.position)
                if seen.count == committed { break }
            }
            return seen
        }
        // Each writer on its own thread (they block in libpq and in their pauses).
        let failures = SeenCounter()
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            let group = DispatchGroup()
            for writer in 0..<writers {
                let steps = plan[writer]
                group.enter()
                Thread {
                    defer { group.leave() }
                    do {
                        let connection = try adminConnection(configuration)
                        for (index, (commits, delay)) in steps.enumerated() {
                            try connection.execute("BEGIN")
                            _ = try EventLog.append(connection, to: .worker("w\(writer)-\(index)"), expected: .noStream, events: [event()])
                            // A slow client between its append and its commit: later appends must
                            // wait for it, or readers must not pass it.
                            if delay > 0 { Thread.sleep(forTimeInterval: Double(delay) / 1000) }
                            try connection.execute(commits ? "COMMIT" : "ROLLBACK")
                        }
                    } catch {
                        Task { await failures.add(Int64(writer)) }
                    }
                }.start()
            }
            group.notify(queue: .global()) { done.resume() }
        }
        let failed = await failures.positions
        #expect(failed.isEmpty, "writers failed: \(failed)")
        for _ in 0..<100 where await progress.count < committed {
            try await Task.sleep(for: .milliseconds(100))
        }
        let positions = await progress.positions
        #expect(positions.count == committed, "the reader saw \(positions.count) of \(committed) committed events")
        reader.cancel()
        let stored = try adminConnection(configuration).query("SELECT position FROM dossier.events ORDER BY position").rows.map {
            try $0.decode(Int64.self, at: 0)
        }
        #expect(stored.count == committed)
        #expect(positions == stored, "the reader's order is not the log's")
        #expect(Set(positions).count == positions.count)
    }

    @Test("concurrent retries of the same decision store it once")
    func concurrentIdempotentRetries() async throws {
        let configuration = try TestDatabase.create()
        let decision = event("assessment", reference: "R-1", payload: JSONObject([("year", .integer(2024)), ("grade", .string("competent"))]))
        let outcomes = try await withThrowingTaskGroup(of: EventLog.AppendOutcome.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    var copy = decision
                    copy.eventID = UUID()
                    return try await EventStore(configuration).append(
                        to: .worker("w"), expected: .any, events: [copy])
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(outcomes.filter { !$0.duplicate }.count == 1)
        #expect(Set(outcomes.map { $0.events[0].eventID }).count == 1)
        #expect(try count(configuration) == 1)
    }
}

actor SeenCounter {
    var positions: [Int64] = []
    var count: Int { positions.count }
    func add(_ position: Int64) { positions.append(position) }
}
