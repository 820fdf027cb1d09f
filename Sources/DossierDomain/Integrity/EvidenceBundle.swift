import Foundation

/// A self-contained record of one worker (or cadre) that verifies offline: the events, an
/// inclusion proof for each against a signed checkpoint, the checkpoint, the public key, and
/// the personal data with the salts that open its commitments (unless erased).
///
/// Format `dossier-bundle/1`, a JSON object (see docs/INTEGRITY.md):
///
///     {"format": "dossier-bundle/1", "stream": "worker/W-001",
///      "checkpoint": "<signed note>", "publicKey": "<name>+<key id>+<base64 key>",
///      "events": [{"position", "stream", "version", "eventId", "type", "schemaVersion",
///                  "payload", "effective", "recordedAt", "recordedBy", "authority",
///                  "reference", "leafIndex", "proof": [base64 hashes]}],
///      "personal": [{"eventId", "fields", "salt": base64}]}
public enum EvidenceBundle {
    public static let format = "dossier-bundle/1"
    /// The largest bundle the verifier reads.
    public static let maximumBytes = 256 * 1024 * 1024

    /// One event with its proof.
    public struct ProvenEvent: Sendable {
        public var event: RecordedEvent
        public var leafIndex: Int
        public var proof: [MerkleHash]

        public init(event: RecordedEvent, leafIndex: Int, proof: [MerkleHash]) {
            self.event = event
            self.leafIndex = leafIndex
            self.proof = proof
        }
    }

    /// Personal data and the salt that opens its commitment.
    public struct Opening: Sendable {
        public var eventID: UUID
        public var fields: JSONObject
        public var salt: [UInt8]

        public init(eventID: UUID, fields: JSONObject, salt: [UInt8]) {
            self.eventID = eventID
            self.fields = fields
            self.salt = salt
        }
    }

    /// Writes a bundle.
    public static func encode(
        stream: StreamID, events: [ProvenEvent], checkpoint: String, key: VerifyingKey, personal: [Opening]
    ) -> JSONObject {
        JSONObject([
            ("format", .string(format)), ("stream", .string(stream.rawValue)), ("checkpoint", .string(checkpoint)),
            ("publicKey", .string(key.text)),
            ("events", .array(events.map { proven in
                let event = proven.event
                return .object(JSONObject([
                    ("position", .integer(event.position)), ("stream", .string(event.stream.rawValue)),
                    ("version", .integer(Int64(event.version))), ("eventId", .string(event.eventID.uuidString.lowercased())),
                    ("type", .string(event.type)), ("schemaVersion", .integer(Int64(event.schemaVersion))),
                    ("payload", .object(event.payload)), ("effective", .string(event.effective.description)),
                    ("recordedAt", .string(event.recordedAt.description)), ("recordedBy", .string(event.recordedBy)),
                    ("authority", .string(event.authority)), ("reference", .string(event.reference)),
                    ("leafIndex", .integer(Int64(proven.leafIndex))), ("proof", .array(proven.proof.map { .string($0.base64) })),
                ]))
            })),
            ("personal", .array(personal.map { opening in
                .object(JSONObject([
                    ("eventId", .string(opening.eventID.uuidString.lowercased())), ("fields", .object(opening.fields)),
                    ("salt", .string(Data(opening.salt).base64EncodedString())),
                ]))
            })),
        ])
    }

    /// Why a bundle does not verify.
    public struct Failure: Error, Sendable, Equatable, CustomStringConvertible {
        public var description: String
        init(_ description: String) { self.description = description }
    }

    /// What a verified bundle proves.
    public struct Verified: Sendable {
        public var stream: StreamID
        public var events: [RecordedEvent]
        public var checkpoint: Checkpoint
        public var key: VerifyingKey
        /// Events whose personal data was opened and matched.
        public var personalVerified: Int
    }

    /// Checks a bundle with no database: the checkpoint's signature (by `trustedKey` when given,
    /// else by the key the bundle carries), every event's inclusion in the signed tree, that the
    /// events are the whole record in order, and that the personal data matches its commitments.
    public static func verify(_ bytes: [UInt8], trustedKey: VerifyingKey? = nil) throws(Failure) -> Verified {
        guard bytes.count <= maximumBytes else { throw Failure("the bundle is larger than \(maximumBytes) bytes") }
        let root: JSONValue
        do {
            root = try JSONParser.parse(bytes)
        } catch {
            throw Failure("the bundle is not valid JSON (\(error))")
        }
        guard case .object(let object) = root else { throw Failure("the bundle is not a JSON object") }
        // The format is closed: a renamed or added member is a changed bundle, not an extension.
        try onlyKnown(object, ["format", "stream", "checkpoint", "publicKey", "events", "personal"], label: "the bundle")
        guard object["format"] == .string(format) else { throw Failure("the bundle's format is not \(format)") }
        guard let streamText = object["stream"]?.stringValue, !streamText.isEmpty else { throw Failure("the bundle names no stream") }
        let stream = StreamID(rawValue: streamText)
        guard let keyText = object["publicKey"]?.stringValue, let key = VerifyingKey(text: keyText) else {
            throw Failure("the bundle's public key is missing or malformed")
        }
        if let trustedKey, trustedKey != key {
            throw Failure("the bundle is signed by \(key.name) (\(key.keyID.hexString)), not by the trusted key \(trustedKey.name)")
        }
        guard let checkpointText = object["checkpoint"]?.stringValue else { throw Failure("the bundle has no checkpoint") }
        let checkpoint: Checkpoint
        do {
            checkpoint = try Checkpoint.verify(checkpointText, key: key)
        } catch {
            throw Failure("the checkpoint does not verify: \(error)")
        }
        guard case .array(let items)? = object["events"], !items.isEmpty else { throw Failure("the bundle has no events") }
        var events: [RecordedEvent] = []
        var lastLeaf = -1
        for (offset, item) in items.enumerated() {
            let label = "event \(offset + 1)"
            guard case .object(let fields) = item else { throw Failure("\(label) is not an object") }
            try onlyKnown(
                fields,
                ["position", "stream", "version", "eventId", "type", "schemaVersion", "payload", "effective", "recordedAt",
                 "recordedBy", "authority", "reference", "leafIndex", "proof"], label: label)
            let event = try decodeEvent(fields, label: label)
            guard event.stream == stream else { throw Failure("\(label) belongs to \(event.stream), not \(stream)") }
            guard event.version == offset + 1 else {
                throw Failure("\(label) has version \(event.version): the record must hold versions 1 to \(items.count) in order")
            }
            guard case .integer(let leafValue)? = fields["leafIndex"], let leafIndex = Int(exactly: leafValue), leafIndex > lastLeaf,
                leafIndex < checkpoint.size
            else {
                throw Failure("\(label) has a leaf index that is missing, out of order or beyond the checkpoint's \(checkpoint.size) leaves")
            }
            lastLeaf = leafIndex
            guard case .array(let proofItems)? = fields["proof"], proofItems.count <= 64 else {
                throw Failure("\(label) has no proof, or one longer than any tree needs")
            }
            var proof: [MerkleHash] = []
            for hash in proofItems {
                guard let text = hash.stringValue, let parsed = MerkleHash(base64: text) else {
                    throw Failure("\(label) has a proof hash that is not base64 SHA-256")
                }
                proof.append(parsed)
            }
            let leaf = CanonicalEvent.leafHash(event)
            guard Merkle.verifyInclusion(index: leafIndex, size: checkpoint.size, leaf: leaf, proof: proof, root: checkpoint.root) else {
                throw Failure(
                    "\(label) (position \(event.position), event \(event.eventID.uuidString.lowercased())) is not in the signed tree: "
                        + "its content or its proof was altered")
            }
            events.append(event)
        }
        var personalVerified = 0
        if case .array(let openings)? = object["personal"] {
            for (offset, item) in openings.enumerated() {
                let label = "personal entry \(offset + 1)"
                if case .object(let fields) = item { try onlyKnown(fields, ["eventId", "fields", "salt"], label: label) }
                guard case .object(let fields) = item, let idText = fields["eventId"]?.stringValue, let id = UUID(uuidString: idText),
                    case .object(let data)? = fields["fields"], let saltText = fields["salt"]?.stringValue,
                    let salt = Data(canonicalBase64: saltText), salt.count <= 64
                else { throw Failure("\(label) is malformed") }
                guard let event = events.first(where: { $0.eventID == id }), let seal = event.payload["personal"]?.stringValue else {
                    throw Failure("\(label) opens no commitment of this record")
                }
                guard PersonalData(fields: data).matches(seal: seal, salt: [UInt8](salt)) else {
                    throw Failure("\(label): the personal data does not match the commitment of event \(idText)")
                }
                personalVerified += 1
            }
        } else if object["personal"] != nil {
            throw Failure("the bundle's personal data is not a list")
        }
        return Verified(stream: stream, events: events, checkpoint: checkpoint, key: key, personalVerified: personalVerified)
    }

    static func onlyKnown(_ object: JSONObject, _ keys: Set<String>, label: String) throws(Failure) {
        if let unknown = object.keys.first(where: { !keys.contains($0) }) {
            throw Failure("\(label) has an unknown member \"\(unknown.prefix(40))\"")
        }
    }

    static func decodeEvent(_ fields: JSONObject, label: String) throws(Failure) -> RecordedEvent {
        func text(_ key: String) throws(Failure) -> String {
            guard let value = fields[key]?.stringValue else { throw Failure("\(label) has no text \"\(key)\"") }
            return value
        }
        func integer(_ key: String, _ range: ClosedRange<Int64>) throws(Failure) -> Int64 {
            guard case .integer(let value)? = fields[key], range.contains(value) else {
                throw Failure("\(label) has no valid number \"\(key)\"")
            }
            return value
        }
        guard let eventID = UUID(uuidString: try text("eventId")) else { throw Failure("\(label) has a malformed event id") }
        guard let effective = CalendarDate(try text("effective")) else { throw Failure("\(label) has a malformed effective date") }
        guard let recordedAt = Timestamp(parsing: try text("recordedAt")) else { throw Failure("\(label) has a malformed recording time") }
        guard case .object(let payload)? = fields["payload"] else { throw Failure("\(label) has no payload object") }
        return RecordedEvent(
            position: try integer("position", 1...Int64.max), stream: StreamID(rawValue: try text("stream")),
            version: Int(try integer("version", 1...Int64(Int32.max))), eventID: eventID, type: try text("type"),
            schemaVersion: Int(try integer("schemaVersion", 1...Int64(UInt16.max))), payload: payload, effective: effective,
            recordedAt: recordedAt, recordedBy: try text("recordedBy"), authority: try text("authority"),
            reference: try text("reference"))
    }
}
