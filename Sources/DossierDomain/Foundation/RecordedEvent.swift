import Foundation

/// The name of a stream of the log: one per worker, temporary-post holder, jurisdiction, and
/// one for policy. The prefix says which kind.
public struct StreamID: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let rawValue: String

    public init(rawValue: String) { self.rawValue = rawValue }

    public static func worker(_ id: String) -> StreamID { StreamID(rawValue: "worker/" + id) }
    public static func cadre(_ id: String) -> StreamID { StreamID(rawValue: "cadre/" + id) }
    public static func jurisdiction(_ id: String) -> StreamID { StreamID(rawValue: "jurisdiction/" + id) }
    public static let policy = StreamID(rawValue: "policy")

    /// The kind prefix (`worker`, `cadre`, `jurisdiction`, `policy`).
    public var kind: String { rawValue.split(separator: "/", maxSplits: 1).first.map(String.init) ?? rawValue }

    /// The id after the prefix.
    public var subject: String {
        guard let slash = rawValue.firstIndex(of: "/") else { return rawValue }
        return String(rawValue[rawValue.index(after: slash)...])
    }

    public var description: String { rawValue }

    public static func < (lhs: StreamID, rhs: StreamID) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// An event to append: what the caller decides. Position, version and recording time are the
/// log's to assign.
public struct NewEvent: Sendable, Equatable {
    public var eventID: UUID
    public var type: String
    public var schemaVersion: Int
    public var payload: JSONObject
    public var effective: CalendarDate
    public var authority: String
    public var reference: String

    public init(
        eventID: UUID = UUID(), type: String, schemaVersion: Int = 1, payload: JSONObject,
        effective: CalendarDate, authority: String, reference: String
    ) {
        self.eventID = eventID
        self.type = type
        self.schemaVersion = schemaVersion
        self.payload = payload
        self.effective = effective
        self.authority = authority
        self.reference = reference
    }
}

/// An event as the log holds it.
public struct RecordedEvent: Sendable, Equatable {
    /// The global position: strictly increasing in the order readers see events.
    public var position: Int64
    public var stream: StreamID
    /// 1 for the first event of the stream, then 2, 3, ...
    public var version: Int
    public var eventID: UUID
    public var type: String
    public var schemaVersion: Int
    public var payload: JSONObject
    /// Valid time: when the decision takes effect.
    public var effective: CalendarDate
    /// Transaction time: when the log learned of it (database clock).
    public var recordedAt: Timestamp
    /// Who recorded it (the caller's identity, never the decision body).
    public var recordedBy: String
    public var authority: String
    public var reference: String
    /// A note the recorder gave of whom they recorded for; not an identity, and not part of the
    /// canonical encoding (the recorder, `recordedBy`, is).
    public var onBehalfOf: String?
    /// When the system a legacy import came from first recorded the decision, as the import
    /// claimed it (the payload's `knownSince`), or nil.
    public var knownSince: Timestamp?
    /// Knowledge time: when the ledger takes the event as known for "as known at" questions —
    /// `knownSince` where the import gave one, else `recordedAt`.
    public var knownFrom: Timestamp { knownSince ?? recordedAt }

    public init(
        position: Int64, stream: StreamID, version: Int, eventID: UUID, type: String, schemaVersion: Int,
        payload: JSONObject, effective: CalendarDate, recordedAt: Timestamp, recordedBy: String,
        authority: String, reference: String
    ) {
        self.position = position
        self.stream = stream
        self.version = version
        self.eventID = eventID
        self.type = type
        self.schemaVersion = schemaVersion
        self.payload = payload
        self.effective = effective
        self.recordedAt = recordedAt
        self.recordedBy = recordedBy
        self.authority = authority
        self.reference = reference
        self.knownSince = payload["knownSince"]?.stringValue.flatMap { Timestamp(exactly: $0) }
    }
}
