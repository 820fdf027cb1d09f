import DossierDomain
import Foundation
import PostgresClient

/// The event log's operations on one connection: append, read, batch-append.
///
/// These are blocking calls meant to run inside a `PostgresSession` (see `EventStore`), and to
/// be composed into larger transactions by the ledger.
public enum EventLog {
    /// The columns of `dossier.events` in the order `decodeEvent` reads them.
    static let columnNames = [
        "position", "stream", "version", "event_id", "event_type", "schema_version", "payload", "effective",
        "recorded_at", "recorded_by", "authority", "reference", "on_behalf_of",
    ]

    /// Event types in decision streams that are not decisions: the `access` stream's changes to
    /// people and scopes, and the erasure of a worker's personal data. Folds skip them.
    public static let nonDecisionTypes: Set<String> = [
        "erasure", "person-added", "scope-granted", "scope-revoked", "person-disabled", "token-issued", "tokens-revoked",
    ]
    static let columns = PostgresQuery(unsafeSQL: columnNames.joined(separator: ", "))

    /// The same columns of `dossier.events` aliased as `e`, for joins.
    static let prefixedColumns = PostgresQuery(unsafeSQL: columnNames.map { "e." + $0 }.joined(separator: ", "))

    /// What an append did.
    public struct AppendOutcome: Sendable, Equatable {
        /// The events as stored (for a retry: as stored the first time).
        public var events: [Appended]
        /// True when every event was already recorded with the same content: nothing was written.
        public var duplicate: Bool
    }

    public struct Appended: Sendable, Equatable {
        public var position: Int64
        public var version: Int
        public var eventID: UUID
        public var recordedAt: Timestamp
        /// The person the database recorded as having appended it.
        public var recordedBy: String
    }

    /// The statement that appends `events` to `stream`; for use on its own or in a pipeline.
    ///
    /// The database records who appends from the session; `onBehalfOf` is only a note.
    /// `personal` holds each event's personal data and salt (nil where it has none).
    public static func appendStatement(
        stream: StreamID, expected: ExpectedVersion, events: [NewEvent],
        personal: [(fields: JSONObject, salt: [UInt8])?]? = nil, onBehalfOf: String? = nil
    ) -> PostgresQuery {
        let ids = PostgresArray(events.map(\.eventID))
        let types = PostgresArray(events.map(\.type))
        let schemaVersions = PostgresArray(events.map { Int32($0.schemaVersion) })
        let payloads = PostgresArray(events.map { PostgresJSONB(JSONValue.object($0.payload).canonicalText) })
        let effective = PostgresArray(events.map { PostgresDate($0.effective) })
        let authorities = PostgresArray(events.map(\.authority))
        let references = PostgresArray(events.map(\.reference))
        let fields = personal.map { list in
            PostgresArray(list.map { $0.map { PostgresJSONB(JSONValue.object($0.fields).canonicalText) } })
        }
        let salts = personal.map { list in PostgresArray(list.map { $0.map { PostgresBytea($0.salt) } }) }
        return """
            SELECT o_position, o_version, o_event_id, o_recorded_at, o_duplicate, o_recorded_by
              FROM dossier.append_to_stream(\(stream.rawValue), \(expected.sqlValue), \(ids), \(types), \
            \(schemaVersions)::smallint[], \(payloads), \(effective), \(authorities), \(references), \
            \(fields)::jsonb[], \(salts)::bytea[], \(onBehalfOf)::text)
            """
    }

    /// Reads the rows `appendStatement` returns.
    static func decodeAppend(_ result: QueryResult) throws -> AppendOutcome {
        var appended: [Appended] = []
        var duplicate = false
        for row in result.rows {
            appended.append(
                Appended(
                    position: try row.decode(Int64.self, at: 0),
                    version: Int(try row.decode(Int32.self, at: 1)),
                    eventID: try row.decode(UUID.self, at: 2),
                    recordedAt: Timestamp(try row.decode(PostgresTimestamp.self, at: 3)),
                    recordedBy: try row.decode(String.self, at: 5)))
            duplicate = try row.decode(Bool.self, at: 4)
        }
        return AppendOutcome(events: appended, duplicate: duplicate)
    }

    /// Appends events to one stream atomically, in its own transaction.
    ///
    /// - Throws: `StoreError.wrongExpectedVersion` naming the actual version,
    ///   `StoreError.idempotencyConflict`, or the database's error.
    public static func append(
        _ connection: PostgresConnection, to stream: StreamID, expected: ExpectedVersion,
        events: [NewEvent], onBehalfOf: String? = nil
    ) throws -> AppendOutcome {
        guard !events.isEmpty else { throw StoreError.invalidArgument("an append needs at least one event") }
        do {
            let result = try connection.query(
                appendStatement(stream: stream, expected: expected, events: events, onBehalfOf: onBehalfOf))
            return try decodeAppend(result)
        } catch let error as PostgresError {
            throw StoreError.from(error, stream: stream, expected: expected)
        }
    }

    /// Decodes one `dossier.events` row selected with `columns`.
    public static func decodeEvent(_ row: Row, offset: Int = 0) throws -> RecordedEvent {
        let position = try row.decode(Int64.self, at: offset)
        let payloadText = try row.decode(PostgresJSONB.self, at: offset + 6).text
        guard case .object(let payload) = try? JSONParser.parse(payloadText) else {
            throw StoreError.corruptEvent(position: position, reason: "the payload is not a JSON object")
        }
        let date = try row.decode(PostgresDate.self, at: offset + 7)
        guard let effective = CalendarDate(year: date.year, month: date.month, day: date.day) else {
            throw StoreError.corruptEvent(position: position, reason: "the effective date \(date) is out of range")
        }
        var event = RecordedEvent(
            position: position,
            stream: StreamID(rawValue: try row.decode(String.self, at: offset + 1)),
            version: Int(try row.decode(Int32.self, at: offset + 2)),
            eventID: try row.decode(UUID.self, at: offset + 3),
            type: try row.decode(String.self, at: offset + 4),
            schemaVersion: Int(try row.decode(Int32.self, at: offset + 5)),
            payload: payload,
            effective: effective,
            recordedAt: Timestamp(try row.decode(PostgresTimestamp.self, at: offset + 8)),
            recordedBy: try row.decode(String.self, at: offset + 9),
            authority: try row.decode(String.self, at: offset + 10),
            reference: try row.decode(String.self, at: offset + 11))
        event.onBehalfOf = try row.decodeIfPresent(String.self, at: offset + 12)
        return event
    }

    /// Reads one stream from a version on, in version order.
    public static func readStream(
        _ connection: PostgresConnection, _ stream: StreamID, fromVersion: Int = 1
    ) throws -> [RecordedEvent] {
        do {
            let result = try connection.query(
                """
                SELECT \(fragment: columns) FROM dossier.events
                 WHERE stream = \(stream.rawValue) AND version >= \(Int32(clamping: fromVersion))
                 ORDER BY version
                """)
            return try result.rows.map { try decodeEvent($0) }
        } catch let error as PostgresError {
            throw StoreError.from(error)
        }
    }

    /// Reads up to `limit` events after `position`, in position order, among those committed.
    ///
    /// Appends hold the position lock until they commit, so positions become visible in the
    /// order they were taken: reading batch after batch never skips an event.
    public static func readAll(
        _ connection: PostgresConnection, after position: Int64, limit: Int
    ) throws -> [RecordedEvent] {
        do {
            let result = try connection.query(
                """
                SELECT \(fragment: columns) FROM dossier.events
                 WHERE position > \(position)
                 ORDER BY position
                 LIMIT \(limit)
                """)
            return try result.rows.map { try decodeEvent($0) }
        } catch let error as PostgresError {
            throw StoreError.from(error)
        }
    }

    /// The last committed position (0 for an empty log).
    public static func lastPosition(_ connection: PostgresConnection) throws -> Int64 {
        try connection.query("SELECT coalesce(max(position), 0) FROM dossier.events").scalar(Int64.self) ?? 0
    }

    /// The current version of a stream; 0 when it has no events.
    public static func streamVersion(_ connection: PostgresConnection, _ stream: StreamID) throws -> Int {
        do {
            let result = try connection.query(
                "SELECT coalesce(max(version), 0)::int FROM dossier.events WHERE stream = \(stream.rawValue)")
            return Int(try result.scalar(Int32.self) ?? 0)
        } catch let error as PostgresError {
            throw StoreError.from(error)
        }
    }

    /// An event for a batch append: the stream and version it must take.
    public struct StagedEvent: Sendable {
        public var stream: StreamID
        public var version: Int
        public var event: NewEvent
        /// The event's personal data and salt, kept beside the log.
        public var personal: (fields: JSONObject, salt: [UInt8])?

        public init(stream: StreamID, version: Int, event: NewEvent, personal: (fields: JSONObject, salt: [UInt8])? = nil) {
            self.stream = stream
            self.version = version
            self.event = event
            self.personal = personal
        }
    }

    /// What a batch append did.
    public struct BatchOutcome: Sendable, Equatable {
        public var firstPosition: Int64?
        public var count: Int
        public var recordedAt: Timestamp?
    }

    /// Appends events across many streams in the current transaction (call it inside one):
    /// stages them with COPY and appends them under the import barrier. Versions must continue
    /// each stream exactly; any idempotency key already taken fails the whole batch.
    ///
    /// `events` is consumed in order and can be produced lazily, so memory stays flat.
    /// Several batches in one transaction (an import's chunks) each take their own `chunk` number.
    public static func appendBatch<Events: Sequence<StagedEvent>>(
        _ connection: PostgresConnection, _ events: Events, onBehalfOf: String? = nil, chunk: Int = 0
    ) throws -> BatchOutcome {
        do {
            // Staged rows belong to this transaction (the table's CHECK ties them to it); the
            // append function consumes them.
            try connection.copyFrom(
                """
                COPY dossier.staged_events (chunk, ord, stream, version, event_id, event_type, schema_version, \
                payload, effective, authority, reference, personal, salt) FROM STDIN
                """
            ) { writer in
                var ordinal: Int64 = 0
                for staged in events {
                    ordinal += 1
                    writer.field(Int32(chunk))
                    writer.field(ordinal)
                    writer.field(staged.stream.rawValue)
                    writer.field(Int32(staged.version))
                    writer.field(staged.event.eventID)
                    writer.field(staged.event.type)
                    writer.field(Int32(staged.event.schemaVersion))
                    writer.field(JSONValue.object(staged.event.payload).canonicalText)
                    writer.field(PostgresDate(staged.event.effective))
                    writer.field(staged.event.authority)
                    writer.field(staged.event.reference)
                    writer.field(staged.personal.map { JSONValue.object($0.fields).canonicalText })
                    writer.field(staged.personal.map { PostgresBytea($0.salt) })
                    try writer.endRow()
                }
            }
            let result = try connection.query(
                "SELECT o_first_position, o_count, o_recorded_at FROM dossier.append_batch(\(onBehalfOf)::text, \(Int32(chunk)))")
            let row = result[0]
            return BatchOutcome(
                firstPosition: try row.decodeIfPresent(Int64.self, at: 0),
                count: Int(try row.decode(Int64.self, at: 1)),
                recordedAt: try row.decodeIfPresent(PostgresTimestamp.self, at: 2).map(Timestamp.init))
        } catch let error as PostgresError {
            throw StoreError.from(error)
        }
    }
}

extension PostgresDate {
    init(_ date: CalendarDate) {
        self.init(year: date.year, month: date.month, day: date.day)
    }
}

extension Timestamp {
    init(_ timestamp: PostgresTimestamp) {
        self.init(microsecondsSinceEpoch: timestamp.microsecondsSinceEpoch)
    }
}

extension PostgresTimestamp {
    init(_ timestamp: Timestamp) {
        self.init(microsecondsSinceEpoch: timestamp.microsecondsSinceEpoch)
    }
}
