import Foundation

/// A self-contained record of one worker (or cadre) that verifies offline: the events, an
/// inclusion proof for each against a signed checkpoint, the proof that the last of them is the
/// stream's head in that checkpoint (so none is missing), the checkpoint, the public key, the
/// personal data with the salts that open its commitments (unless erased), and consistency proofs
/// from older checkpoints the exporter was given.
///
/// Format `dossier-bundle/2`, a JSON object (see docs/INTEGRITY.md §6):
///
///     {"format": "dossier-bundle/2", "stream": "worker/W-001",
///      "checkpoint": "<signed note>", "publicKey": "<name>+<key id>+<base64 key>",
///      "events": [{"position", "stream", "version", "eventId", "type", "schemaVersion",
///                  "payload", "effective", "recordedAt", "recordedBy", "authority",
///                  "reference", "leafIndex", "proof": [base64 hashes]}],
///      "head": {"index", "proof": [base64 hashes]},
///      "consistency": [{"checkpoint": "<older signed note>", "proof": [base64 hashes]}],
///      "personal": [{"eventId", "fields", "salt": base64}]}
public enum EvidenceBundle {
    public static let format = "dossier-bundle/2"
    /// The format before stream heads were signed: its events verify, its completeness cannot.
    public static let formatWithoutHeads = "dossier-bundle/1"
    /// The largest bundle the verifier reads.
    public static let maximumBytes = 64 * 1024 * 1024

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

    /// The proof that the stream's last event is its head in the checkpoint's heads tree.
    public struct HeadProof: Sendable {
        public var index: Int
        public var proof: [MerkleHash]

        public init(index: Int, proof: [MerkleHash]) {
            self.index = index
            self.proof = proof
        }
    }

    /// A consistency proof from an older checkpoint to the bundle's.
    public struct Link: Sendable {
        public var checkpoint: String
        public var proof: [MerkleHash]

        public init(checkpoint: String, proof: [MerkleHash]) {
            self.checkpoint = checkpoint
            self.proof = proof
        }
    }

    /// One event as bundles and proofs write it (without its leaf index and proof).
    public static func eventMembers(_ event: RecordedEvent) -> [(String, JSONValue)] {
        [
            ("position", .integer(event.position)), ("stream", .string(event.stream.rawValue)),
            ("version", .integer(Int64(event.version))), ("eventId", .string(event.eventID.uuidString.lowercased())),
            ("type", .string(event.type)), ("schemaVersion", .integer(Int64(event.schemaVersion))),
            ("payload", .object(event.payload)), ("effective", .string(event.effective.description)),
            ("recordedAt", .string(event.recordedAt.description)), ("recordedBy", .string(event.recordedBy)),
            ("authority", .string(event.authority)), ("reference", .string(event.reference)),
        ]
    }

    static let eventKeys: Set<String> = [
        "position", "stream", "version", "eventId", "type", "schemaVersion", "payload", "effective", "recordedAt",
        "recordedBy", "authority", "reference",
    ]

    static func hashes(_ proof: [MerkleHash]) -> JSONValue { .array(proof.map { .string($0.base64) }) }

    /// Writes a bundle.
    public static func encode(
        stream: StreamID, events: [ProvenEvent], head: HeadProof, links: [Link], checkpoint: String, key: VerifyingKey,
        personal: [Opening]
    ) -> JSONObject {
        JSONObject([
            ("format", .string(format)), ("stream", .string(stream.rawValue)), ("checkpoint", .string(checkpoint)),
            ("publicKey", .string(key.text)),
            ("events", .array(events.map { proven in
                .object(JSONObject(
                    eventMembers(proven.event) + [("leafIndex", .integer(Int64(proven.leafIndex))), ("proof", hashes(proven.proof))]))
            })),
            ("head", .object(JSONObject([("index", .integer(Int64(head.index))), ("proof", hashes(head.proof))]))),
            ("consistency", .array(links.map { link in
                .object(JSONObject([("checkpoint", .string(link.checkpoint)), ("proof", hashes(link.proof))]))
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
        /// Whether the bundle proves no event of the stream is missing (false only for format 1).
        public var complete: Bool
        /// The older checkpoints the bundle's tree was proven to extend.
        public var linked: [Checkpoint]
    }

    /// Checks a bundle with no database: the checkpoint's signature (by `trustedKey` when given,
    /// else by the key the bundle carries), every event's inclusion in the signed tree, that the
    /// events are the stream's versions 1 to n in order and that version n is the stream's head in
    /// the signed heads tree (none missing, first, middle or last), every consistency proof from an
    /// older checkpoint, and that the personal data matches its commitments.
    ///
    /// Format 1 (no signed heads) is read only when `acceptFormat1`; its result says it is not
    /// proven complete.
    public static func verify(_ bytes: [UInt8], trustedKey: VerifyingKey? = nil, acceptFormat1: Bool = false) throws(Failure) -> Verified {
        guard bytes.count <= maximumBytes else { throw Failure("the bundle is larger than \(maximumBytes) bytes") }
        let root: JSONValue
        do {
            root = try JSONParser.parse(bytes)
        } catch {
            throw Failure("the bundle is not valid JSON (\(error))")
        }
        guard case .object(let object) = root else { throw Failure("the bundle is not a JSON object") }
        let legacy = object["format"] == .string(formatWithoutHeads)
        if legacy, !acceptFormat1 {
            throw Failure(
                "the bundle is of format \(formatWithoutHeads), which does not prove that no event of the record is missing: "
                    + "ask for a new export, or pass --accept-format-1 to check only that its events are genuine")
        }
        guard legacy || object["format"] == .string(format) else { throw Failure("the bundle's format is not \(format)") }
        // The format is closed: a renamed or added member is a changed bundle, not an extension.
        try onlyKnown(
            object,
            legacy ? ["format", "stream", "checkpoint", "publicKey", "events", "personal"]
                : ["format", "stream", "checkpoint", "publicKey", "events", "head", "consistency", "personal"],
            label: "the bundle", required: true)
        guard let streamText = object["stream"]?.stringValue, !streamText.isEmpty else { throw Failure("the bundle names no stream") }
        let stream = StreamID(rawValue: streamText)
        guard let keyText = object["publicKey"]?.stringValue, let key = VerifyingKey(text: keyText), key.text == keyText else {
            throw Failure("the bundle's public key is missing or malformed")
        }
        if let trustedKey, trustedKey != key {
            throw Failure(
                "the bundle is signed by \(JSONValue.quotedExcerpt(key.name)) (\(key.keyID.hexString)), not by the trusted key "
                    + JSONValue.quotedExcerpt(trustedKey.name))
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
            try onlyKnown(fields, eventKeys.union(["leafIndex", "proof"]), label: label, required: true)
            let event = try decodeEvent(fields, label: label)
            guard event.stream.rawValue.utf8.elementsEqual(stream.rawValue.utf8) else {
                throw Failure(
                    "\(label) belongs to \(JSONValue.quotedExcerpt(event.stream.rawValue)), not \(JSONValue.quotedExcerpt(stream.rawValue))")
            }
            guard event.version == offset + 1 else {
                throw Failure("\(label) has version \(event.version): the record must hold versions 1 to \(items.count) in order")
            }
            guard case .integer(let leafValue)? = fields["leafIndex"], let leafIndex = Int(exactly: leafValue), leafIndex > lastLeaf,
                leafIndex < checkpoint.size
            else {
                throw Failure("\(label) has a leaf index that is missing, out of order or beyond the checkpoint's \(checkpoint.size) leaves")
            }
            lastLeaf = leafIndex
            let proof = try hashList(fields["proof"], label: label)
            let leaf = CanonicalEvent.leafHash(event)
            guard Merkle.verifyInclusion(index: leafIndex, size: checkpoint.size, leaf: leaf, proof: proof, root: checkpoint.root) else {
                throw Failure(
                    "\(label) (position \(event.position), event \(event.eventID.uuidString.lowercased())) is not in the signed tree: "
                        + "its content or its proof was altered")
            }
            events.append(event)
        }
        var linked: [Checkpoint] = []
        if !legacy {
            // The last event is the stream's head: nothing after it, and (versions being 1…n) nothing before it, is missing.
            guard let heads = checkpoint.heads else {
                throw Failure("the checkpoint signs no stream heads, so the bundle cannot prove its record complete")
            }
            guard case .object(let headFields)? = object["head"] else { throw Failure("the bundle's head is not an object") }
            try onlyKnown(headFields, ["index", "proof"], label: "the bundle's head", required: true)
            guard case .integer(let indexValue)? = headFields["index"], let index = Int(exactly: indexValue), index >= 0,
                index < heads.count
            else { throw Failure("the bundle's head has an index outside the checkpoint's \(heads.count) stream heads") }
            let proof = try hashList(headFields["proof"], label: "the bundle's head")
            let head = StreamHead(stream: stream.rawValue, version: events.count, leafIndex: lastLeaf)
            guard Merkle.verifyInclusion(index: index, size: heads.count, leaf: head.leafHash, proof: proof, root: heads.root) else {
                throw Failure(
                    "the record is incomplete or its head proof was altered: the checkpoint does not sign \(JSONValue.quotedExcerpt(stream.rawValue)) as ending at "
                        + "version \(events.count) (leaf \(lastLeaf)); an event may have been removed")
            }
            guard case .array(let links)? = object["consistency"] else { throw Failure("the bundle's consistency proofs are not a list") }
            for (offset, item) in links.enumerated() {
                let label = "consistency proof \(offset + 1)"
                guard case .object(let fields) = item else { throw Failure("\(label) is not an object") }
                try onlyKnown(fields, ["checkpoint", "proof"], label: label, required: true)
                guard let note = fields["checkpoint"]?.stringValue else { throw Failure("\(label) has no checkpoint") }
                let older: Checkpoint
                do {
                    older = try Checkpoint.verify(note, key: key)
                } catch {
                    throw Failure("the checkpoint of \(label) does not verify: \(error)")
                }
                let proof = try hashList(fields["proof"], label: label)
                guard older.origin == checkpoint.origin, older.size >= 1, older.size <= checkpoint.size,
                    Merkle.verifyConsistency(from: older.size, to: checkpoint.size, oldRoot: older.root, newRoot: checkpoint.root, proof: proof)
                else {
                    throw Failure(
                        "\(label) does not prove that the bundle's tree of \(checkpoint.size) events extends the checkpoint of "
                            + "\(older.size) events: they are not of one log, or the proof was altered")
                }
                linked.append(older)
            }
        }
        var personalVerified = 0
        guard case .array(let openings)? = object["personal"] else { throw Failure("the bundle's personal data is not a list") }
        var opened: Set<UUID> = []
        for (offset, item) in openings.enumerated() {
            let label = "personal entry \(offset + 1)"
            guard case .object(let fields) = item else { throw Failure("\(label) is not an object") }
            try onlyKnown(fields, ["eventId", "fields", "salt"], label: label, required: true)
            guard let idText = fields["eventId"]?.stringValue, let id = canonicalUUID(idText) else {
                throw Failure("\(label) has a malformed event id (36 lowercase characters)")
            }
            guard case .object(let data)? = fields["fields"], let saltText = fields["salt"]?.stringValue,
                let salt = Data(canonicalBase64: saltText), salt.count == 16
            else { throw Failure("\(label) is malformed (fields must be an object, salt 16 bytes in base64)") }
            guard opened.insert(id).inserted else { throw Failure("\(label) opens event \(idText) a second time") }
            guard let event = events.first(where: { $0.eventID == id }), let seal = event.payload["personal"]?.stringValue else {
                throw Failure("\(label) opens no commitment of this record")
            }
            guard PersonalData(fields: data).matches(seal: seal, salt: [UInt8](salt)) else {
                throw Failure("\(label): the personal data does not match the commitment of event \(idText)")
            }
            personalVerified += 1
        }
        return Verified(
            stream: stream, events: events, checkpoint: checkpoint, key: key, personalVerified: personalVerified, complete: !legacy,
            linked: linked)
    }

    static func hashList(_ value: JSONValue?, label: String) throws(Failure) -> [MerkleHash] {
        guard case .array(let items)? = value, items.count <= 64 else {
            throw Failure("\(label) has no proof, or one longer than any tree needs")
        }
        var proof: [MerkleHash] = []
        for hash in items {
            guard let text = hash.stringValue, let parsed = MerkleHash(base64: text) else {
                throw Failure("\(label) has a proof hash that is not base64 SHA-256")
            }
            proof.append(parsed)
        }
        return proof
    }

    /// A UUID only in its canonical text form: 36 lowercase characters with hyphens.
    static func canonicalUUID(_ text: String) -> UUID? {
        guard let id = UUID(uuidString: text), id.uuidString.lowercased() == text else { return nil }
        return id
    }

    /// Refuses members outside `keys` and, when `required`, a missing one.
    static func onlyKnown(_ object: JSONObject, _ keys: Set<String>, label: String, required: Bool = false) throws(Failure) {
        if let unknown = object.keys.first(where: { !keys.contains($0) }) {
            throw Failure("\(label) has an unknown member \(JSONValue.quotedExcerpt(unknown))")
        }
        if required, let missing = keys.sorted().first(where: { object[$0] == nil }) {
            throw Failure("\(label) has no member \"\(missing)\"")
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
        guard let eventID = canonicalUUID(try text("eventId")) else { throw Failure("\(label) has a malformed event id (36 lowercase characters)") }
        guard let effective = CalendarDate(try text("effective")) else { throw Failure("\(label) has a malformed effective date") }
        guard let recordedAt = Timestamp(exactly: try text("recordedAt")) else {
            throw Failure("\(label) has a malformed recording time (YYYY-MM-DDTHH:MM:SS.ffffffZ, UTC, six fraction digits)")
        }
        guard case .object(let payload)? = fields["payload"] else { throw Failure("\(label) has no payload object") }
        return RecordedEvent(
            position: try integer("position", 1...Int64.max), stream: StreamID(rawValue: try text("stream")),
            version: Int(try integer("version", 1...Int64(Int32.max))), eventID: eventID, type: try text("type"),
            schemaVersion: Int(try integer("schemaVersion", 1...Int64(UInt16.max))), payload: payload, effective: effective,
            recordedAt: recordedAt, recordedBy: try text("recordedBy"), authority: try text("authority"),
            reference: try text("reference"))
    }
}
