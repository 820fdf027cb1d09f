import DossierDomain
import Foundation
import PostgresClient

/// Tamper evidence: checkpoints, verification, proofs and bundles.
public enum Integrity {
    public typealias Progress = @Sendable (_ phase: String, _ done: Int, _ total: Int?) -> Void

    /// The origin line of this ledger's checkpoints.
    public static func origin(_ connection: PostgresConnection) throws -> String {
        if let origin = ProcessInfo.processInfo.environment["DOSSIER_LOG_ORIGIN"], !origin.isEmpty { return origin }
        return "dossier/" + (try connection.query("SELECT current_database()").scalar(String.self) ?? "ledger")
    }

    // MARK: Checkpoints

    /// Extends the stored tree with the events since the last checkpoint and signs its head.
    ///
    /// Refuses when the stored tree does not match the previous signed checkpoint (its frontier,
    /// or a consistency proof from it, does not give its root).
    /// - Returns: the signed checkpoint text.
    public static func checkpoint(_ connection: PostgresConnection, key: SigningKey, progress: Progress? = nil) throws -> String {
        try connection.transaction { connection in
            try connection.query("SELECT pg_advisory_xact_lock(1153, 0)")
            let previous = try StoredCheckpoint.latest(connection)
            var frontier = MerkleFrontier()
            if let previous {
                guard let restored = MerkleFrontier(size: previous.size, hashes: previous.frontier), restored.root == previous.root else {
                    throw IntegrityError.inconsistent("the stored frontier of checkpoint \(previous.size) does not give its root")
                }
                _ = try Checkpoint.verify(previous.note, key: key.verifying)
                frontier = restored
            }
            // The nodes still waiting for their right sibling, and the leaves of the open block.
            var pendingNodes: [Int: MerkleHash] = [:]
            let blockSize = 1 << TreeReader.nodeLevel
            for row in try connection.query(
                """
                SELECT DISTINCT ON (level) level, node_index, hash FROM dossier.merkle_nodes ORDER BY level, node_index DESC
                """
            ).rows {
                let level = Int(try row.decode(Int32.self, at: 0))
                let index = try row.decode(Int64.self, at: 1)
                if index % 2 == 0, let hash = MerkleHash(bytes: try row.decode(PostgresBytea.self, at: 2).bytes) {
                    pendingNodes[level] = hash
                }
            }
            var block = try TreeReader(connection).leafHashes((frontier.size / blockSize * blockSize)..<frontier.size)
            let lastPosition = try connection.query(
                "SELECT coalesce(max(position), 0) FROM dossier.merkle_leaves"
            ).scalar(Int64.self) ?? 0
            var after = lastPosition == 0 ? Int64.min : lastPosition
            var leaves: [(index: Int, position: Int64, eventID: UUID, hash: MerkleHash)] = []
            var nodes: [(level: Int, index: Int, hash: MerkleHash)] = []
            func addNode(level: Int, index: Int, hash: MerkleHash) {
                nodes.append((level, index, hash))
                if index % 2 == 1, let left = pendingNodes[level] {
                    pendingNodes[level] = nil
                    addNode(level: level + 1, index: index / 2, hash: Merkle.nodeHash(left, hash))
                } else {
                    pendingNodes[level] = hash
                }
            }
            let total = try connection.query(
                "SELECT count(*) FROM dossier.events WHERE position > \(lastPosition)"
            ).scalar(Int64.self) ?? 0
            var done = 0
            while true {
                let events = try EventLog.readAll(connection, after: after, limit: 10_000)
                guard let last = events.last else { break }
                for event in events {
                    let hash = CanonicalEvent.leafHash(event)
                    leaves.append((frontier.size, event.position, event.eventID, hash))
                    frontier.append(hash)
                    block.append(hash)
                    if block.count == blockSize {
                        addNode(level: TreeReader.nodeLevel, index: frontier.size / blockSize - 1, hash: Merkle.root(of: block))
                        block.removeAll(keepingCapacity: true)
                    }
                }
                after = last.position
                try writeTree(connection, leaves: leaves, nodes: nodes)
                done += events.count
                leaves.removeAll(keepingCapacity: true)
                nodes.removeAll(keepingCapacity: true)
                progress?("hashing", done, Int(total))
            }
            guard frontier.size > 0 else { throw IntegrityError.emptyLog }
            // A checkpoint of size 0 (signed by versions before this one) is the empty tree: a
            // prefix of every tree, with no consistency proof to give (RFC 6962 defines none).
            if let previous, previous.size > 0 {
                if previous.size == frontier.size { return previous.note }
                let proof = try Merkle.consistencyProof(from: previous.size, to: frontier.size, subtree: TreeReader(connection).subtree)
                guard Merkle.verifyConsistency(
                    from: previous.size, to: frontier.size, oldRoot: previous.root, newRoot: frontier.root, proof: proof)
                else {
                    throw IntegrityError.inconsistent(
                        "the tree of \(frontier.size) events is not consistent with checkpoint \(previous.size): the stored tree was altered")
                }
            }
            let time = Timestamp(microsecondsSinceEpoch: try connection.query(
                "SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint").scalar(Int64.self) ?? 0)
            let checkpoint = Checkpoint(origin: try origin(connection), size: frontier.size, root: frontier.root, time: time)
            let note = try checkpoint.signed(with: key)
            try connection.query(
                """
                INSERT INTO dossier.checkpoints (tree_size, root, signed_at, key_name, note, frontier)
                VALUES (\(Int64(frontier.size)), \(PostgresBytea(frontier.root.bytes)), \(PostgresTimestamp(time)), \(key.name),
                        \(note), \(PostgresArray(frontier.hashes.map { PostgresBytea($0.bytes) })))
                """)
            try connection.query(
                "INSERT INTO dossier.signing_keys (key_text) VALUES (\(key.verifying.text)) ON CONFLICT DO NOTHING")
            return note
        }
    }

    static func writeTree(
        _ connection: PostgresConnection, leaves: [(index: Int, position: Int64, eventID: UUID, hash: MerkleHash)],
        nodes: [(level: Int, index: Int, hash: MerkleHash)]
    ) throws {
        if !leaves.isEmpty {
            try connection.copyFrom("COPY dossier.merkle_leaves (leaf_index, position, event_id, leaf_hash) FROM STDIN") { writer in
                for leaf in leaves {
                    writer.field(Int64(leaf.index))
                    writer.field(leaf.position)
                    writer.field(leaf.eventID)
                    writer.field(PostgresBytea(leaf.hash.bytes))
                    try writer.endRow()
                }
            }
        }
        if !nodes.isEmpty {
            try connection.copyFrom("COPY dossier.merkle_nodes (level, node_index, hash) FROM STDIN") { writer in
                for node in nodes {
                    writer.field(Int32(node.level))
                    writer.field(Int64(node.index))
                    writer.field(PostgresBytea(node.hash.bytes))
                    try writer.endRow()
                }
            }
        }
    }

    // MARK: Verification

    /// The first place the log does not match what was signed.
    public struct Mismatch: Sendable, CustomStringConvertible {
        public var position: Int64?
        public var eventID: UUID?
        public var message: String

        public var description: String {
            var where_ = ""
            if let position { where_ += "position \(position)" }
            if let eventID { where_ += (where_.isEmpty ? "" : ", ") + "event \(eventID.uuidString.lowercased())" }
            return (where_.isEmpty ? "" : where_ + ": ") + message
        }
    }

    /// What `verify` found.
    public struct Verification: Sendable {
        public var events: Int
        public var checkpoints: Int
        public var externalCheckpoints: Int
        public var personalChecked: Int
        /// False when the connection's role may not read personal data (commitments not checked).
        public var personalReadable = true
        /// Events after the last checkpoint (not yet covered by a signature).
        public var uncovered: Int
        public var mismatch: Mismatch?
        public var seconds: Double
        /// Set when a checkpoint given from outside covers more events than the log holds (and
        /// everything the log holds checked out): events were lost, as in a restore from an older
        /// backup, or removed.
        public var shortfall: Shortfall?
        /// Consistency proofs given (each checked).
        public var consistencyProofs = 0
        /// Whether the connection was to a standby (personal data is then not checked: its read
        /// is logged, and a standby writes nothing).
        public var onStandby = false
    }

    /// A given checkpoint covers events the log does not hold, and what is proven about the rest.
    public struct Shortfall: Sendable {
        /// The largest given checkpoint, and which one it is.
        public var checkpointSize: Int
        public var label: String
        /// The events the log holds.
        public var logSize: Int
        /// The largest checkpoint, stored or given, of at most `logSize` events (its root matched).
        public var latestMatched: Int
        /// The largest size A ≤ `logSize` for which a given consistency proof shows the tree of
        /// `checkpointSize` extends the tree of A (so the log's first A events are the first A of
        /// the checkpoint's), and which proof; nil when no proof given reaches that far.
        public var provenPrefix: Int?
        public var proofLabel: String?
        public var missing: Int { checkpointSize - logSize }
    }

    /// Recomputes every leaf hash and the tree from the rows, in position order and in batches
    /// (memory stays flat), and checks every stored checkpoint and every given one, and every
    /// personal-data commitment. Stops at the first mismatch and names it.
    ///
    /// A checkpoint given in `external` may cover more events than the log holds: if everything
    /// the log holds checks out, the result names the `shortfall` instead of a mismatch (stored
    /// checkpoints beyond the log remain a mismatch: the rows were removed in place). `consistency`
    /// holds proofs as `dossier prove --from A --to N` prints them; each is checked (both notes
    /// signed by `key`, the proof from A's root to N's), its two checkpoints are checked like given
    /// ones, and one ending at the largest given checkpoint proves the log's first A events are the
    /// first A of it.
    public static func verify(
        _ connection: PostgresConnection, key: VerifyingKey, external: [String] = [], consistency: [String] = [],
        progress: Progress? = nil
    ) throws -> Verification {
        let started = Date()
        var checkpoints: [Int: (root: MerkleHash, label: String)] = [:]
        var result = Verification(events: 0, checkpoints: 0, externalCheckpoints: 0, personalChecked: 0, uncovered: 0, mismatch: nil, seconds: 0)
        func fail(_ mismatch: Mismatch) -> Verification {
            var failed = result
            failed.mismatch = mismatch
            failed.seconds = Date().timeIntervalSince(started)
            return failed
        }
        // Sizes of the stored checkpoints, and of those given from outside with their labels.
        var storedSizes: Set<Int> = []
        var given: [Int: String] = [:]
        for stored in try StoredCheckpoint.all(connection) {
            storedSizes.insert(stored.size)
            do {
                let checkpoint = try Checkpoint.verify(stored.note, key: key)
                guard checkpoint.size == stored.size, checkpoint.root == stored.root else {
                    return fail(Mismatch(message: "the stored checkpoint of size \(stored.size) does not match its own signed note"))
                }
            } catch {
                return fail(Mismatch(message: "the stored checkpoint of size \(stored.size) is not validly signed by \(key.name): \(error)"))
            }
            checkpoints[stored.size] = (stored.root, "stored checkpoint \(stored.size)")
        }
        result.checkpoints = checkpoints.count
        for (offset, text) in external.enumerated() {
            do {
                let checkpoint = try Checkpoint.verify(text, key: key)
                if let known = checkpoints[checkpoint.size], known.root != checkpoint.root {
                    return fail(Mismatch(message: "checkpoint file \(offset + 1) has a different root from the stored checkpoint of size \(checkpoint.size)"))
                }
                checkpoints[checkpoint.size] = (checkpoint.root, "checkpoint file \(offset + 1) (size \(checkpoint.size))")
                result.externalCheckpoints += 1
                given[checkpoint.size] = given[checkpoint.size] ?? "checkpoint file \(offset + 1)"
            } catch {
                return fail(Mismatch(message: "checkpoint file \(offset + 1) does not verify: \(error)"))
            }
        }
        var links: [(from: Int, to: Int, label: String)] = []
        for (offset, text) in consistency.enumerated() {
            let label = "consistency proof \(offset + 1)"
            guard let object = (try? JSONParser.parse(text))?.objectValue,
                case .integer(let from)? = object["from"], case .integer(let to)? = object["to"],
                let fromNote = object["fromCheckpoint"]?.stringValue, let toNote = object["toCheckpoint"]?.stringValue,
                case .array(let items)? = object["proof"]
            else {
                return fail(Mismatch(message: "\(label) is not a proof as `dossier prove --from A --to N` prints it"))
            }
            let proof = items.compactMap { $0.stringValue.flatMap(MerkleHash.init(base64:)) }
            let older: Checkpoint
            let newer: Checkpoint
            do {
                older = try Checkpoint.verify(fromNote, key: key)
                newer = try Checkpoint.verify(toNote, key: key)
            } catch {
                return fail(Mismatch(message: "the checkpoints of \(label) do not verify: \(error)"))
            }
            guard proof.count == items.count, older.size == Int(from), newer.size == Int(to),
                Merkle.verifyConsistency(from: older.size, to: newer.size, oldRoot: older.root, newRoot: newer.root, proof: proof)
            else {
                return fail(Mismatch(
                    message: "\(label) does not prove that the tree of \(to) events extends the tree of \(from): "
                        + "its checkpoints are not of one log, or the proof was altered"))
            }
            for checkpoint in [older, newer] {
                if let known = checkpoints[checkpoint.size], known.root != checkpoint.root {
                    return fail(Mismatch(message: "\(label) has a different root of size \(checkpoint.size) from \(known.label)"))
                }
                if checkpoints[checkpoint.size] == nil {
                    checkpoints[checkpoint.size] = (checkpoint.root, "a checkpoint of \(label) (size \(checkpoint.size))")
                }
                given[checkpoint.size] = given[checkpoint.size] ?? "the checkpoint of size \(checkpoint.size) in \(label)"
            }
            links.append((older.size, newer.size, label))
            result.consistencyProofs += 1
        }
        let largestStored = storedSizes.max() ?? 0
        let total = Int(try connection.query("SELECT count(*) FROM dossier.events").scalar(Int64.self) ?? 0)
        var frontier = MerkleFrontier()
        // From the very start: a forged row below the first position must be seen too.
        var after = Int64.min
        var leafIndex = 0
        while true {
            let events = try EventLog.readAll(connection, after: after, limit: 10_000)
            let stored = try connection.query(
                """
                SELECT leaf_index, position, event_id, leaf_hash FROM dossier.merkle_leaves
                 WHERE leaf_index >= \(Int64(leafIndex)) ORDER BY leaf_index LIMIT \(Int64(max(events.count, 1)))
                """
            ).rows
            if events.isEmpty {
                if let row = stored.first {
                    return fail(Mismatch(
                        position: try row.decode(Int64.self, at: 1), eventID: try row.decode(UUID.self, at: 2),
                        message: "leaf \(leafIndex) was checkpointed but the log has no event there any more: it was deleted"))
                }
                break
            }
            for (offset, event) in events.enumerated() {
                let hash = CanonicalEvent.leafHash(event)
                if offset < stored.count {
                    let row = stored[offset]
                    let position = try row.decode(Int64.self, at: 1)
                    let eventID = try row.decode(UUID.self, at: 2)
                    let recorded = MerkleHash(bytes: try row.decode(PostgresBytea.self, at: 3).bytes)
                    if position != event.position || eventID != event.eventID {
                        return fail(Mismatch(
                            position: event.position, eventID: event.eventID,
                            message: "leaf \(leafIndex) was checkpointed as position \(position) (event \(eventID.uuidString.lowercased())); "
                                + "the log now holds another event there: an event was deleted, inserted or moved"))
                    }
                    if recorded != hash {
                        return fail(Mismatch(
                            position: event.position, eventID: event.eventID,
                            message: "the event's content differs from when it was checkpointed (leaf hash was "
                                + "\(recorded?.hex.prefix(16) ?? "?")…, is now \(hash.hex.prefix(16))…)"))
                    }
                }
                frontier.append(hash)
                leafIndex += 1
                if let checkpoint = checkpoints[frontier.size], checkpoint.root != frontier.root {
                    return fail(Mismatch(
                        position: event.position, eventID: event.eventID,
                        message: "the tree of the first \(frontier.size) events does not have the root of \(checkpoint.label): "
                            + "an event up to here was altered, removed or reordered"))
                }
            }
            after = events.last!.position
            result.events += events.count
            progress?("verifying", result.events, total)
        }
        if largestStored > frontier.size {
            return fail(Mismatch(
                message: "the stored checkpoint of size \(largestStored) covers \(largestStored) events but the log holds only "
                    + "\(frontier.size): events were deleted"))
        }
        let latestMatched = checkpoints.keys.filter { $0 <= frontier.size }.max() ?? 0
        if let largestGiven = given.keys.max(), largestGiven > frontier.size {
            // Every checkpoint of at most frontier.size events matched above; the rest are lost.
            let proven = links.filter { $0.to == largestGiven && $0.from <= frontier.size }.max { $0.from < $1.from }
            result.shortfall = Shortfall(
                checkpointSize: largestGiven, label: given[largestGiven]!, logSize: frontier.size, latestMatched: latestMatched,
                provenPrefix: proven?.from, proofLabel: proven?.label)
        }
        result.uncovered = frontier.size - latestMatched
        // Personal data against its commitments (when this role may read it).
        // Only admins read every record's personal data (through the owner's function, which logs it).
        // On a standby the read cannot be logged (nothing is written there): not checked.
        result.onStandby = try ReadReplica.isStandby(connection)
        let mayReadPersonal = !result.onStandby && (try? Ledger.currentActor(connection))?.role == "admin"
        for row in try !mayReadPersonal ? [] : connection.query(
            """
            SELECT e.position, e.event_id, e.payload->>'personal', p.fields, p.salt FROM dossier.personal_commitments() p
              JOIN dossier.events e ON e.event_id = p.event_id WHERE NOT p.erased ORDER BY e.position
            """
        ).rows {
            let seal = try row.decodeIfPresent(String.self, at: 2)
            let fields = try row.decodeIfPresent(PostgresJSONB.self, at: 3).flatMap { try? JSONParser.parse($0.text) }?.objectValue
            let salt = try row.decodeIfPresent(PostgresBytea.self, at: 4)?.bytes
            guard let seal, let fields, let salt, PersonalData(fields: fields).matches(seal: seal, salt: salt) else {
                return fail(Mismatch(
                    position: try row.decode(Int64.self, at: 0), eventID: try row.decode(UUID.self, at: 1),
                    message: "the personal data kept beside the log does not match the event's commitment"))
            }
            result.personalChecked += 1
        }
        result.personalReadable = mayReadPersonal
        result.seconds = Date().timeIntervalSince(started)
        return result
    }

    // MARK: Proofs

    /// An inclusion proof of one event against a checkpoint (the latest when `size` is nil).
    public struct InclusionProof: Sendable {
        public var event: RecordedEvent
        public var leafIndex: Int
        public var treeSize: Int
        public var leafHash: MerkleHash
        public var proof: [MerkleHash]
        public var checkpoint: String

        public var json: JSONObject {
            JSONObject([
                ("eventId", .string(event.eventID.uuidString.lowercased())), ("position", .integer(event.position)),
                ("leafIndex", .integer(Int64(leafIndex))), ("treeSize", .integer(Int64(treeSize))),
                ("leafHash", .string(leafHash.base64)), ("proof", .array(proof.map { .string($0.base64) })),
                ("checkpoint", .string(checkpoint)),
            ])
        }
    }

    public static func inclusionProof(_ connection: PostgresConnection, eventID: UUID, size: Int? = nil) throws -> InclusionProof {
        guard let checkpoint = try size.map({ try StoredCheckpoint.at(connection, size: $0) }) ?? StoredCheckpoint.latest(connection) else {
            throw size == nil ? IntegrityError.noCheckpoint : IntegrityError.notCovered("there is no checkpoint of size \(size!)")
        }
        guard let row = try connection.query(
            "SELECT leaf_index FROM dossier.merkle_leaves WHERE event_id = \(eventID)"
        ).rows.first else {
            throw IntegrityError.notCovered("event \(eventID.uuidString.lowercased()) is not covered by a checkpoint yet: run `dossier checkpoint`")
        }
        let index = Int(try row.decode(Int64.self, at: 0))
        guard index < checkpoint.size else {
            throw IntegrityError.notCovered("event \(eventID.uuidString.lowercased()) came after checkpoint \(checkpoint.size)")
        }
        let events = try connection.query(
            "SELECT \(fragment: EventLog.columns) FROM dossier.events WHERE event_id = \(eventID)").rows.map { try EventLog.decodeEvent($0) }
        guard let event = events.first else { throw IntegrityError.notCovered("no event \(eventID.uuidString.lowercased()) in the log") }
        let proof = try Merkle.inclusionProof(index: index, size: checkpoint.size, subtree: TreeReader(connection).subtree)
        return InclusionProof(
            event: event, leafIndex: index, treeSize: checkpoint.size, leafHash: CanonicalEvent.leafHash(event), proof: proof,
            checkpoint: checkpoint.note)
    }

    /// A consistency proof between two checkpointed sizes.
    public static func consistencyProof(_ connection: PostgresConnection, from old: Int, to new: Int) throws -> JSONObject {
        guard let older = try StoredCheckpoint.at(connection, size: old), let newer = try StoredCheckpoint.at(connection, size: new) else {
            throw IntegrityError.notCovered("both sizes must be checkpoints; run `dossier verify` to list them")
        }
        let proof = try Merkle.consistencyProof(from: old, to: new, subtree: TreeReader(connection).subtree)
        return JSONObject([
            ("from", .integer(Int64(old))), ("to", .integer(Int64(new))), ("fromRoot", .string(older.root.base64)),
            ("toRoot", .string(newer.root.base64)), ("proof", .array(proof.map { .string($0.base64) })),
            ("fromCheckpoint", .string(older.note)), ("toCheckpoint", .string(newer.note)),
        ])
    }

    /// The public key of the latest signing key the ledger used, as stored in the database (to
    /// trust it is to trust the database: an outside copy is the stronger check).
    public static func storedVerifyingKey(_ connection: PostgresConnection) throws -> VerifyingKey? {
        try connection.query("SELECT key_text FROM dossier.signing_keys ORDER BY first_used DESC LIMIT 1")
            .scalar(String.self).flatMap(VerifyingKey.init(text:))
    }

    /// A worker's (or cadre's) whole record as a self-contained bundle.
    public static func exportBundle(_ connection: PostgresConnection, subject: String, key: VerifyingKey) throws -> JSONObject {
        var stream = StreamID.worker(subject)
        var events = try EventLog.readStream(connection, stream)
        if events.isEmpty {
            stream = .cadre(subject)
            events = try EventLog.readStream(connection, stream)
        }
        guard !events.isEmpty else { throw LedgerError.noRecord(subject) }
        guard let checkpoint = try StoredCheckpoint.latest(connection) else { throw IntegrityError.noCheckpoint }
        let reader = TreeReader(connection)
        var proven: [EvidenceBundle.ProvenEvent] = []
        for event in events {
            guard let index = try connection.query(
                "SELECT leaf_index FROM dossier.merkle_leaves WHERE event_id = \(event.eventID)").scalar(Int64.self), index < checkpoint.size
            else {
                throw IntegrityError.notCovered(
                    "the latest checkpoint (\(checkpoint.size) events) does not cover position \(event.position) of this record: run `dossier checkpoint` first")
            }
            proven.append(EvidenceBundle.ProvenEvent(
                event: event, leafIndex: Int(index),
                proof: try Merkle.inclusionProof(index: Int(index), size: checkpoint.size, subtree: reader.subtree)))
        }
        try connection.query("SELECT dossier.request_personal_access(\(PostgresArray([stream.rawValue])), 'export')")
        let openings = try connection.query(
            """
            SELECT event_id, fields, salt FROM dossier.personal_data_of(\(PostgresArray([stream.rawValue])))
             WHERE NOT erased AND NOT withheld
            """
        ).rows.compactMap { row -> EvidenceBundle.Opening? in
            guard let fields = try row.decodeIfPresent(PostgresJSONB.self, at: 1).flatMap({ try? JSONParser.parse($0.text) })?.objectValue,
                let salt = try row.decodeIfPresent(PostgresBytea.self, at: 2)
            else { return nil }
            return EvidenceBundle.Opening(eventID: try row.decode(UUID.self, at: 0), fields: fields, salt: salt.bytes)
        }
        return EvidenceBundle.encode(stream: stream, events: proven, checkpoint: checkpoint.note, key: key, personal: openings)
    }
}
