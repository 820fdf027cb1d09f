import DossierDomain
import PostgresClient

/// The event log, for async callers: each `EventStore` owns one connection, on a thread of its
/// own. Use several for concurrent work.
public final class EventStore: Sendable {
    public let session: PostgresSession
    public let configuration: DatabaseConfiguration
    /// The channel appends notify after they commit: a wake-up for subscribers, never the truth.
    public static let notificationChannel = "dossier_events"

    public init(_ configuration: DatabaseConfiguration, role: AccessRole = .person) {
        self.configuration = configuration
        self.session = PostgresSession.open(configuration, role: role, label: "dossier.store")
    }

    /// Appends events to one stream atomically.
    ///
    /// - Throws: `StoreError.wrongExpectedVersion` (naming the actual version) when the stream is
    ///   not at `expected`; `StoreError.idempotencyConflict` when a different decision holds one of
    ///   the idempotency keys. Nothing is written when it throws.
    public func append(
        to stream: StreamID, expected: ExpectedVersion, events: [NewEvent], onBehalfOf: String? = nil
    ) async throws -> EventLog.AppendOutcome {
        guard !events.isEmpty else { throw StoreError.invalidArgument("an append needs at least one event") }
        return try await session.run { connection in
            do {
                // The append commits on its own; the notification follows in a transaction of its
                // own, so waiting subscribers never hold up concurrent commits.
                let results = try connection.pipeline(
                    [
                        EventLog.appendStatement(
                            stream: stream, expected: expected, events: events, onBehalfOf: onBehalfOf),
                        "SELECT pg_notify(\(Self.notificationChannel), '')",
                    ], separateTransactions: true)
                return try EventLog.decodeAppend(results[0])
            } catch let error as PostgresError {
                throw StoreError.from(error, stream: stream, expected: expected)
            }
        }
    }

    /// Reads one stream from a version on.
    public func readStream(_ stream: StreamID, fromVersion: Int = 1) async throws -> [RecordedEvent] {
        try await session.run { try EventLog.readStream($0, stream, fromVersion: fromVersion) }
    }

    /// Reads up to `limit` events after `position` in global order.
    public func readAll(after position: Int64, limit: Int = 1000) async throws -> [RecordedEvent] {
        try await session.run { try EventLog.readAll($0, after: position, limit: limit) }
    }

    /// Appends events across many streams in one transaction (imports).
    public func appendBatch(_ events: [EventLog.StagedEvent], onBehalfOf: String? = nil) async throws
        -> EventLog.BatchOutcome
    {
        try await session.run { connection in
            let outcome = try connection.transaction { connection in
                try EventLog.appendBatch(connection, events, onBehalfOf: onBehalfOf)
            }
            try connection.notify(Self.notificationChannel)
            return outcome
        }
    }

    /// Every event after `position`, in global order: first those already in the log, then each
    /// new one as it commits. Reads in batches, so memory stays flat; never skips an event.
    public func subscribe(after position: Int64 = 0, batchSize: Int = 500) -> EventSubscription {
        EventSubscription(configuration: configuration, after: position, batchSize: batchSize)
    }
}

/// A live, ordered sequence of the log's events (see `EventStore.subscribe`).
///
/// NOTIFY only wakes it; it always reads the table, in position order, which is commit order.
public struct EventSubscription: AsyncSequence, Sendable {
    public typealias Element = RecordedEvent
    let configuration: DatabaseConfiguration
    let after: Int64
    let batchSize: Int
    /// How long to wait for a notification before looking again anyway.
    var pollMilliseconds = 250

    public func makeAsyncIterator() -> Iterator {
        Iterator(
            session: PostgresSession(
                connectionString: configuration.connectionString, label: "dossier.subscription"
            ) { connection in
                try AccessRole.person.apply(to: connection)
                try connection.listen(EventStore.notificationChannel)
            },
            last: after, batchSize: batchSize, pollMilliseconds: pollMilliseconds)
    }

    public struct Iterator: AsyncIteratorProtocol {
        let session: PostgresSession
        var last: Int64
        let batchSize: Int
        let pollMilliseconds: Int
        var buffer: [RecordedEvent] = []
        var bufferIndex = 0

        public mutating func next() async throws -> RecordedEvent? {
            while bufferIndex >= buffer.count {
                try Task.checkCancellation()
                let after = last
                let limit = batchSize
                let wait = pollMilliseconds
                buffer = try await session.run { connection in
                    let batch = try EventLog.readAll(connection, after: after, limit: limit)
                    if batch.isEmpty {
                        _ = try connection.waitForNotifications(timeoutMilliseconds: wait)
                    }
                    return batch
                }
                bufferIndex = 0
            }
            let event = buffer[bufferIndex]
            bufferIndex += 1
            last = event.position
            return event
        }
    }
}
