import DossierDomain
import DossierStore
import DossierTestSupport
import Foundation
import PostgresClient
import Testing

@Suite("Appending and reading")
struct AppendTests {
    @Test("expected versions: no stream, exact, any; a wrong one names the actual version")
    func expectedVersions() async throws {
        let configuration = try TestDatabase.create()
        let store = EventStore(configuration)
        let stream = StreamID.worker("张伟-001")
        let first = try await store.append(to: stream, expected: .noStream, events: [event(), event()])
        #expect(first.events.map(\.version) == [1, 2])
        #expect(first.events[1].position == first.events[0].position + 1)
        #expect(!first.duplicate)
        _ = try await store.append(to: stream, expected: .exactly(2), events: [event()])
        _ = try await store.append(to: stream, expected: .any, events: [event()])

        await #expect(throws: StoreError.wrongExpectedVersion(stream: stream, expected: .noStream, actual: 4)) {
            try await store.append(to: stream, expected: .noStream, events: [event()])
        }
        await #expect(throws: StoreError.wrongExpectedVersion(stream: stream, expected: .exactly(2), actual: 4)) {
            try await store.append(to: stream, expected: .exactly(2), events: [event()])
        }
        let other = StreamID.worker("w-new")
        await #expect(throws: StoreError.wrongExpectedVersion(stream: other, expected: .exactly(1), actual: 0)) {
            try await store.append(to: other, expected: .exactly(1), events: [event()])
        }
        #expect(try count(configuration) == 4)
        let read = try await store.readStream(stream)
        #expect(read.map(\.version) == [1, 2, 3, 4])
        #expect(try await store.readStream(stream, fromVersion: 3).map(\.version) == [3, 4])
    }

    @Test("the same decision twice is stored once; a different one under the same key is a conflict")
    func idempotency() async throws {
        let configuration = try TestDatabase.create()
        let store = EventStore(configuration)
        let stream = StreamID.worker("w1")
        let original = event("assessment", reference: "HP-2025-17", payload: JSONObject([("year", .integer(2024)), ("grade", .string("excellent"))]))
        let first = try await store.append(to: stream, expected: .noStream, events: [original])
        // The retry has a new event id and a stale expected version: still the same decision.
        var retry = original
        retry.eventID = UUID()
        let second = try await store.append(to: stream, expected: .noStream, events: [retry])
        #expect(second.duplicate)
        #expect(second.events == first.events)
        #expect(try count(configuration) == 1)

        var different = original
        different.eventID = UUID()
        different.payload["grade"] = .string("competent")
        await #expect(throws: StoreError.idempotencyConflict(stream: stream, existingEventID: first.events[0].eventID)) {
            try await store.append(to: stream, expected: .any, events: [different])
        }
        // Same reference under another kind, or in another stream, is a different key.
        _ = try await store.append(to: stream, expected: .any, events: [event("training", reference: "HP-2025-17")])
        _ = try await store.append(to: .worker("w2"), expected: .any, events: [retry])
        #expect(try count(configuration) == 3)
    }

    @Test("payloads keep Chinese text and injection strings as data; key order does not matter")
    func payloadFidelity() async throws {
        let configuration = try TestDatabase.create()
        let store = EventStore(configuration)
        let nasty = "'); DELETE FROM dossier.events; -- 社区工作者 \u{1F600} \\ \" \t"
        let subject = "注入');DROP-TABLE--\u{1F600}"
        let payload = JSONObject([("override", .string(nasty)), ("overrideApproval", .string(nasty)), ("grounds", .string(nasty))])
        _ = try await store.append(
            to: .worker(subject), expected: .noStream,
            events: [event("dismissal", reference: nasty, payload: payload, authority: nasty)], onBehalfOf: nasty)
        let read = try await store.readStream(.worker(subject))
        #expect(read.count == 1)
        #expect(read[0].payload == payload)
        #expect(read[0].authority == nasty)
        // Who recorded is the session's person, never a value the client passed.
        #expect(read[0].recordedBy == "dossier_super")
        #expect(read[0].reference == nasty)
        #expect(try count(configuration) == 1)
    }

    @Test("a batch across streams is all or nothing and continues each stream exactly")
    func batchAppend() async throws {
        let configuration = try TestDatabase.create()
        let store = EventStore(configuration)
        _ = try await store.append(to: .worker("a"), expected: .noStream, events: [event()])
        let batch = (0..<300).map { index in
            EventLog.StagedEvent(
                stream: .worker(index % 3 == 0 ? "a" : "b\(index % 3)"), version: index / 3 + (index % 3 == 0 ? 2 : 1),
                event: event())
        }
        let outcome = try await store.appendBatch(batch)
        #expect(outcome.count == 300)
        #expect(try count(configuration) == 301)
        #expect(try await store.readStream(.worker("a")).map(\.version) == Array(1...101))

        // A batch that does not continue a stream writes nothing at all.
        let bad = [
            EventLog.StagedEvent(stream: .worker("c"), version: 1, event: event()),
            EventLog.StagedEvent(stream: .worker("a"), version: 101, event: event()),
        ]
        await #expect(throws: StoreError.self) { try await store.appendBatch(bad) }
        // A batch reusing a recorded idempotency key writes nothing either.
        let recorded = try await store.readStream(.worker("a"))[0]
        let duplicate = [
            EventLog.StagedEvent(stream: .worker("c"), version: 1, event: event()),
            EventLog.StagedEvent(
                stream: .worker("a"), version: 102, event: event(recorded.type, reference: recorded.reference)),
        ]
        await #expect(throws: StoreError.self) { try await store.appendBatch(duplicate) }
        #expect(try count(configuration) == 301)
    }

    @Test("reading the whole log in bounded batches returns every event once, in order")
    func readAllBatches() async throws {
        let configuration = try TestDatabase.create()
        let store = EventStore(configuration)
        for index in 0..<25 {
            _ = try await store.append(to: .worker("w\(index % 4)"), expected: .any, events: [event(), event()])
        }
        var positions: [Int64] = []
        var last: Int64 = 0
        while true {
            let batch = try await store.readAll(after: last, limit: 7)
            if batch.isEmpty { break }
            #expect(batch.count <= 7)
            positions += batch.map(\.position)
            last = batch.last!.position
        }
        #expect(positions.count == 50)
        #expect(positions == positions.sorted())
        #expect(Set(positions).count == 50)
    }

    @Test("an empty append and an unreachable database are clear errors")
    func errors() async throws {
        let configuration = try TestDatabase.create()
        await #expect(throws: StoreError.self) {
            try await EventStore(configuration).append(to: .worker("x"), expected: .any, events: [])
        }
        let nowhere = EventStore(DatabaseConfiguration(connectionString: "host=/nonexistent port=1 connect_timeout=1"))
        let error = await #expect(throws: StoreError.self) { try await nowhere.readStream(.worker("x")) }
        guard case .unavailable = error else {
            Issue.record("expected .unavailable, got \(String(describing: error))")
            return
        }
        let bare = try TestDatabase.create(migrated: false)
        await #expect(throws: StoreError.notInitialized) {
            try await EventStore(bare, role: .person).readStream(.worker("x"))
        }
    }
}
