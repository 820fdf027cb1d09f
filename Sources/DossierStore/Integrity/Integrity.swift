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
    ///
    /// Events are hashed on `workers` threads (default: `DOSSIER_WORKERS`, else every core) while
    /// the connection reads the next batch and writes the last one's leaves; the result does not
    /// depend on the number of workers, nor on `batchSize` (rows read at a time).
    public static func checkpoint(
        _ connection: PostgresConnection, key: SigningKey, workers: Int? = nil, batchSize: Int = 10_000, progress: Progress? = nil
    ) throws -> String {
        let workers = IntegrityWorkers.count(workers)
        return try connection.transaction { connection in
            try connection.query("SELECT pg_advisory_xact_lock(1153, 0)")
            let previous = try StoredCheckpoint.latest(connection)
            var frontier = MerkleFrontier()
            // The head of every stream, and the streams whose head this checkpoint moves.
            var heads = StreamHeadTable()
            var previousSignedHeads = false
            if let previous {
                guard let restored = MerkleFrontier(size: previous.size, hashes: previous.frontier), restored.root == previous.root else {
                    throw IntegrityError.inconsistent("the stored frontier of checkpoint \(previous.size) does not give its root")
                }
                let signed = try Checkpoint.verify(previous.note, key: key.verifying)
                frontier = restored
                if let signedHeads = signed.heads {
                    let stored = try HeadsStore.table(connection, atSize: previous.size)
                    let summary = stored.summary
                    guard summary.count == signedHeads.count, summary.root == signedHeads.root else {
                        throw IntegrityError.inconsistent("the stored stream heads of checkpoint \(previous.size) do not give its signed heads root")
                    }
                    heads = stored
                    previousSignedHeads = true
                } else if previous.size > 0 {
                    // Checkpointed before heads were signed: take them from the events, all new here.
                    heads = StreamHeadTable(try HeadsStore.headsFromEvents(connection, atSize: previous.size))
                    heads.markAllMoved()
                }
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
            var builder = StoredNodeBuilder(
                size: frontier.size, block: try TreeReader(connection).leafHashes((frontier.size / blockSize * blockSize)..<frontier.size),
                pending: pendingNodes)
            let lastPosition = try connection.query(
                "SELECT coalesce(max(position), 0) FROM dossier.merkle_leaves"
            ).scalar(Int64.self) ?? 0
            let after = lastPosition == 0 ? Int64.min : lastPosition
            let total = try connection.query(
                "SELECT count(*) FROM dossier.events WHERE position > \(lastPosition)"
            ).scalar(Int64.self) ?? 0
            // From here until the loop ends, the connection belongs to the lane: it reads the next
            // batch, then writes this one's leaves, while the workers hash.
            let lane = ConnectionLane(connection)
            defer { lane.drain() }
            var done = 0
            var nextRows = lane.async { try EventLog.readRows($0, after: after, limit: max(1, batchSize)) }
            var written: Pending<Void>?
            while true {
                let rows = try nextRows.wait()
                guard rows.rowCount > 0 else { break }
                // Read the next batch while this one is hashed (a row that does not decode is
                // thrown by the hashing below, as reading it did before).
                let lastRow = try? rows[rows.rowCount - 1].decode(Int64.self, at: 0)
                if let lastRow { nextRows = lane.async { try EventLog.readRows($0, after: lastRow, limit: max(1, batchSize)) } }
                let hashed = try LeafHashing.hash(rows, workers: workers)
                var leaves: [(index: Int, position: Int64, eventID: UUID, hash: MerkleHash)] = []
                var nodes: [(level: Int, index: Int, hash: MerkleHash)] = []
                leaves.reserveCapacity(hashed.count)
                for (offset, leaf) in hashed.enumerated() {
                    let leafIndex = frontier.size
                    let before = rows[offset].withBytes(1) { stream in
                        heads.advance(stream: stream!, hash: leaf.streamHash, version: leaf.version, leafIndex: leafIndex)
                    }
                    guard leaf.version == before + 1 else {
                        let stream = rows[offset].withBytes(1) { String(decoding: $0!, as: UTF8.self) }
                        throw IntegrityError.inconsistent(
                            "stream \(stream) goes from version \(before) to \(leaf.version) at position \(leaf.position): "
                                + "an event of it is missing")
                    }
                    leaves.append((leafIndex, leaf.position, leaf.eventID, leaf.hash))
                    frontier.append(leaf.hash)
                    nodes.append(contentsOf: builder.append(leaf.hash))
                }
                try written?.wait()
                let batchLeaves = leaves
                let batchNodes = nodes
                written = lane.async { try writeTree($0, leaves: batchLeaves, nodes: batchNodes) }
                done += hashed.count
                progress?("hashing", done, Int(total))
            }
            try written?.wait()
            lane.drain()
            guard frontier.size > 0 else { throw IntegrityError.emptyLog }
            // A checkpoint of size 0 (signed by versions before this one) is the empty tree: a
            // prefix of every tree, with no consistency proof to give (RFC 6962 defines none).
            if let previous, previous.size > 0 {
                // Nothing new, and the stream heads already signed: the latest checkpoint stands.
                if previous.size == frontier.size, previousSignedHeads { return previous.note }
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
            let allHeads = heads.summary
            let checkpoint = Checkpoint(
                origin: try origin(connection), size: frontier.size, root: frontier.root,
                heads: Checkpoint.Heads(count: allHeads.count, root: allHeads.root), time: time)
            let note = try checkpoint.signed(with: key)
            try HeadsStore.write(connection, size: frontier.size, changed: heads.movedHeads)
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
        /// Stored interior nodes recomputed and found equal.
        public var nodesChecked = 0
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
    ///
    /// Events are hashed on `workers` threads (default: `DOSSIER_WORKERS`, else every core) while
    /// the connection reads the next batch; the result does not depend on the number of workers,
    /// nor on `batchSize` (rows read at a time).
    public static func verify(
        _ connection: PostgresConnection, key: VerifyingKey, external: [String] = [], consistency: [String] = [],
        workers: Int? = nil, batchSize: Int = 10_000, progress: Progress? = nil
    ) throws -> Verification {
        let started = Date()
        let workers = IntegrityWorkers.count(workers)
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
        // What each stored checkpoint keeps beside its note: its frontier, and its signed heads.
        var storedAt: [Int: [(frontier: [MerkleHash], heads: Checkpoint.Heads?)]] = [:]
        for stored in try StoredCheckpoint.all(connection) {
            storedSizes.insert(stored.size)
            do {
                let checkpoint = try Checkpoint.verify(stored.note, key: key)
                guard checkpoint.size == stored.size, checkpoint.root == stored.root else {
                    return fail(Mismatch(message: "the stored checkpoint of size \(stored.size) does not match its own signed note"))
                }
                if let known = checkpoints[stored.size], known.root != stored.root {
                    return fail(Mismatch(message: "two stored checkpoints of size \(stored.size) sign different roots"))
                }
                storedAt[stored.size, default: []].append((stored.frontier, checkpoint.heads))
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
        var leafIndex = 0
        // Every stored interior node is recomputed and compared (they make proofs; a damaged one
        // would make a wrong proof). Nodes still waiting for their right sibling, per level:
        var storedNodes: [NodeKey: MerkleHash] = [:]
        for row in try connection.query("SELECT level::int, node_index, hash FROM dossier.merkle_nodes").rows {
            storedNodes[NodeKey(level: Int(try row.decode(Int32.self, at: 0)), index: Int(try row.decode(Int64.self, at: 1)))] =
                MerkleHash(bytes: try row.decode(PostgresBytea.self, at: 2).bytes) ?? Merkle.emptyRoot
        }
        let storedNodeCount = storedNodes.count
        var builder = StoredNodeBuilder()
        // A stored checkpoint of size 0 (earlier versions signed the empty log) is the empty tree.
        if let empty = checkpoints[0], empty.root != Merkle.emptyRoot || (storedAt[0] ?? []).contains(where: { !$0.frontier.isEmpty }) {
            return fail(Mismatch(message: "the checkpoint of size 0 is not the empty tree: it was altered"))
        }
        // The heads of every stream as the events give them, and the streams whose head moved
        // since the last stored checkpoint that signed heads.
        var heads = StreamHeadTable()
        // Whether a stored checkpoint that signs heads was checked yet (before it, every stream
        // counts as moved).
        var headsTracked = false
        // The size of the last stored checkpoint that signed heads, as the pass goes.
        var headsCheckedTo = 0
        // The connection reads the next batch (events and stored leaves) while this one is hashed.
        let lane = ConnectionLane(connection)
        defer { lane.drain() }
        func read(after: Int64, leafIndex: Int) -> Pending<(rows: QueryResult, stored: QueryResult)> {
            lane.async { connection in
                let rows = try EventLog.readRows(connection, after: after, limit: max(1, batchSize))
                let stored = try connection.query(
                    """
                    SELECT leaf_index, position, event_id, leaf_hash FROM dossier.merkle_leaves
                     WHERE leaf_index >= \(Int64(leafIndex)) ORDER BY leaf_index LIMIT \(Int64(max(rows.rowCount, 1)))
                    """)
                return (rows, stored)
            }
        }
        // From the very start: a forged row below the first position must be seen too.
        var next = read(after: Int64.min, leafIndex: 0)
        while true {
            let (rows, storedRows) = try next.wait()
            if rows.rowCount == 0 {
                if storedRows.rowCount > 0 {
                    let row = storedRows[0]
                    return fail(Mismatch(
                        position: try row.decode(Int64.self, at: 1), eventID: try row.decode(UUID.self, at: 2),
                        message: "leaf \(leafIndex) was checkpointed but the log has no event there any more: it was deleted"))
                }
                break
            }
            if let lastRow = try? rows[rows.rowCount - 1].decode(Int64.self, at: 0) {
                next = read(after: lastRow, leafIndex: leafIndex + rows.rowCount)
            }
            let events = try LeafHashing.hash(rows, workers: workers)
            let stored = LeafHashing.decodeStored(storedRows, workers: workers)
            for (offset, event) in events.enumerated() {
                let hash = event.hash
                if offset < stored.count {
                    let leaf = try stored[offset] ?? StoredLeaf(storedRows[offset])
                    if leaf.position != event.position || leaf.eventID != event.eventID {
                        return fail(Mismatch(
                            position: event.position, eventID: event.eventID,
                            message: "leaf \(leafIndex) was checkpointed as position \(leaf.position) (event \(leaf.eventID.uuidString.lowercased())); "
                                + "the log now holds another event there: an event was deleted, inserted or moved"))
                    }
                    if leaf.hash != hash {
                        return fail(Mismatch(
                            position: event.position, eventID: event.eventID,
                            message: "the event's content differs from when it was checkpointed (leaf hash was "
                                + "\(leaf.hash?.hex.prefix(16) ?? "?")…, is now \(hash.hex.prefix(16))…)"))
                    }
                }
                let before = rows[offset].withBytes(1) { stream in
                    heads.advance(stream: stream!, hash: event.streamHash, version: event.version, leafIndex: leafIndex)
                }
                guard event.version == before + 1 else {
                    let stream = rows[offset].withBytes(1) { String(decoding: $0!, as: UTF8.self) }
                    return fail(Mismatch(
                        position: event.position, eventID: event.eventID,
                        message: "stream \(stream) goes from version \(before) to \(event.version) here: an event of it was deleted"))
                }
                frontier.append(hash)
                leafIndex += 1
                for node in builder.append(hash) {
                    if let stored = storedNodes.removeValue(forKey: NodeKey(level: node.level, index: node.index)), stored != node.hash {
                        return fail(Mismatch(
                            position: event.position, eventID: event.eventID,
                            message: "the stored hash of leaves \(node.index << node.level)..<\((node.index + 1) << node.level) "
                                + "(level \(node.level), node \(node.index)) is not the hash of those events: it was altered"))
                    }
                }
                if let checkpoint = checkpoints[frontier.size], checkpoint.root != frontier.root {
                    return fail(Mismatch(
                        position: event.position, eventID: event.eventID,
                        message: "the tree of the first \(frontier.size) events does not have the root of \(checkpoint.label): "
                            + "an event up to here was altered, removed or reordered"))
                }
                if let storedHere = storedAt[frontier.size] {
                    // The lane finishes reading ahead first: the checks below query the connection.
                    lane.drain()
                    for stored in storedHere {
                        if let problem = try checkStored(
                            connection, size: frontier.size, frontier: frontier, storedFrontier: stored.frontier, signedHeads: stored.heads,
                            heads: &heads, tracked: &headsTracked, checkedTo: &headsCheckedTo)
                        {
                            return fail(Mismatch(position: event.position, eventID: event.eventID, message: problem))
                        }
                    }
                }
            }
            result.events += events.count
            progress?("verifying", result.events, total)
        }
        lane.drain()
        if largestStored > frontier.size {
            return fail(Mismatch(
                message: "the stored checkpoint of size \(largestStored) covers \(largestStored) events but the log holds only "
                    + "\(frontier.size): events were deleted"))
        }
        if let extra = storedNodes.keys.min(by: { ($0.level, $0.index) < ($1.level, $1.index) }) {
            return fail(Mismatch(
                message: "the stored tree has a node over leaves \(extra.index << extra.level)..<\((extra.index + 1) << extra.level) "
                    + "(level \(extra.level)) beyond the \(frontier.size) events of the log: it was inserted, or events were deleted"))
        }
        result.nodesChecked = storedNodeCount
        if let stray = try connection.query(
            "SELECT tree_size FROM dossier.merkle_heads WHERE tree_size > \(Int64(headsCheckedTo)) LIMIT 1"
        ).scalar(Int64.self) {
            return fail(Mismatch(message: "stored stream heads of size \(stray) belong to no checkpoint that signs heads: they were inserted"))
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
        if mayReadPersonal, let mismatch = try checkPersonalData(connection, batchSize: batchSize, checked: &result.personalChecked) {
            return fail(mismatch)
        }
        result.personalReadable = mayReadPersonal
        result.seconds = Date().timeIntervalSince(started)
        return result
    }

    /// Checks every record of personal data kept beside the log against its event's commitment.
    ///
    /// The owner's function reads (and logs, once) every record; a cursor hands them over in
    /// batches of `batchSize`, so memory stays flat however many records there are (one result
    /// of all of them took verify from about 100 to 240 MB at 10 million events).
    static func checkPersonalData(_ connection: PostgresConnection, batchSize: Int, checked: inout Int) throws -> Mismatch? {
        var mismatch: Mismatch?
        try connection.forEachBatch(
            """
            SELECT e.position, e.event_id, e.payload->>'personal', p.fields, p.salt FROM dossier.personal_commitments() p
              JOIN dossier.events e ON e.event_id = p.event_id WHERE NOT p.erased ORDER BY e.position
            """, batchSize: batchSize
        ) { batch in
            for row in batch.rows {
                let seal = try row.decodeIfPresent(String.self, at: 2)
                let fields = try row.decodeIfPresent(PostgresJSONB.self, at: 3).flatMap { try? JSONParser.parse($0.text) }?.objectValue
                let salt = try row.decodeIfPresent(PostgresBytea.self, at: 4)?.bytes
                guard let seal, let fields, let salt, PersonalData(fields: fields).matches(seal: seal, salt: salt) else {
                    mismatch = Mismatch(
                        position: try row.decode(Int64.self, at: 0), eventID: try row.decode(UUID.self, at: 1),
                        message: "the personal data kept beside the log does not match the event's commitment")
                    return false
                }
                checked += 1
            }
            return true
        }
        return mismatch
    }

    struct NodeKey: Hashable {
        var level: Int
        var index: Int
    }

    /// Checks what a stored checkpoint of `size` keeps beside its signed note: its frontier (from
    /// which the next checkpoint continues) and, when it signs heads, the heads root and the
    /// stored head rows of that size (exactly the streams that moved since the last such checkpoint).
    ///
    /// `tracked` says whether a checkpoint that signs heads was checked before (else every stream
    /// counts as moved); after this one checks out, the moved marks of `table` are cleared.
    static func checkStored(
        _ connection: PostgresConnection, size: Int, frontier: MerkleFrontier, storedFrontier: [MerkleHash],
        signedHeads: Checkpoint.Heads?, heads table: inout StreamHeadTable, tracked: inout Bool, checkedTo: inout Int
    ) throws -> String? {
        if storedFrontier != frontier.hashes {
            return "the stored frontier of checkpoint \(size) is not the right edge of the tree of the first \(size) events: it was altered"
        }
        guard let signedHeads else { return nil }
        let heads = table.summary
        if signedHeads.count != heads.count || signedHeads.root != heads.root {
            return "the stream heads signed by checkpoint \(size) (\(signedHeads.count) streams) are not where the log's "
                + "\(heads.count) streams end at that size: an event was removed, added or moved"
        }
        // The streams whose rows must be here: those that moved, or every stream the first time.
        let expected = tracked ? table.movedCount : table.count
        var seen = 0
        var problem: String?
        // Every row since the previous heads checkpoint: export reads them all (the row of the
        // largest size up to its own), so a row at any other size than this one is foreign.
        // Read a batch at a time: after an import every stream moved (404,527 rows at 10 M).
        try connection.forEachBatch(
            """
            SELECT stream, version, leaf_index, tree_size FROM dossier.merkle_heads
             WHERE tree_size > \(Int64(checkedTo)) AND tree_size <= \(Int64(size))
            """, batchSize: 10_000
        ) { batch in
            for row in batch.rows {
                let stream = try row.decode(String.self, at: 0)
                let rowSize = try row.decode(Int64.self, at: 3)
                guard rowSize == size else {
                    problem = "a stored head of \(JSONValue.quotedExcerpt(stream, maxBytes: 80)) has size \(rowSize), which no checkpoint "
                        + "that signs heads has: it was inserted"
                    return false
                }
                guard let head = table.head(ofBytes: Array(stream.utf8)), head.moved || !tracked,
                    head.version == Int(try row.decode(Int32.self, at: 1)), head.leafIndex == Int(try row.decode(Int64.self, at: 2))
                else {
                    problem = "the stored head of \(JSONValue.quotedExcerpt(stream, maxBytes: 80)) at checkpoint \(size) is not where that "
                        + "stream ends: it was altered"
                    return false
                }
                seen += 1
            }
            return true
        }
        if let problem { return problem }
        if seen != expected {
            return "checkpoint \(size) stores \(seen) stream heads where \(expected) streams moved: rows were removed"
        }
        table.clearMoved()
        tracked = true
        checkedTo = size
        return nil
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

        /// The proof as `dossier prove` prints it: the event itself (as a bundle writes it), so
        /// its id, position and content are what the proof binds (docs/INTEGRITY.md §5).
        public var json: JSONObject {
            JSONObject([
                ("eventId", .string(event.eventID.uuidString.lowercased())), ("position", .integer(event.position)),
                ("leafIndex", .integer(Int64(leafIndex))), ("treeSize", .integer(Int64(treeSize))),
                ("leafHash", .string(leafHash.base64)), ("proof", .array(proof.map { .string($0.base64) })),
                ("event", .object(JSONObject(EvidenceBundle.eventMembers(event)))),
                ("checkpoint", .string(checkpoint)),
            ])
        }
    }

    /// The stored checkpoint of `size` (the latest when nil), and its note checked with `key`
    /// when given.
    static func signedCheckpoint(_ connection: PostgresConnection, size: Int?, key: VerifyingKey?) throws -> (StoredCheckpoint, Checkpoint?) {
        guard let stored = try size.map({ try StoredCheckpoint.at(connection, size: $0) }) ?? StoredCheckpoint.latest(connection) else {
            throw size == nil ? IntegrityError.noCheckpoint : IntegrityError.notCovered("there is no checkpoint of size \(size!)")
        }
        guard let key else { return (stored, nil) }
        let signed: Checkpoint
        do {
            signed = try Checkpoint.verify(stored.note, key: key)
        } catch where error.notSignedByKey {
            throw IntegrityError.badKey(
                "the latest checkpoint (\(stored.size) events) is not signed by the key \(JSONValue.quotedExcerpt(key.name)) "
                    + "(\(key.keyID.hexString)) this command was given: give the ledger's public key (--public-key FILE, the "
                    + "checkpoint.key.pub kept with the signing key), or run it where the signing key is")
        } catch {
            throw IntegrityError.damaged("the stored checkpoint of size \(stored.size) is not validly signed by \(key.name): \(error)")
        }
        guard signed.size == stored.size, signed.root == stored.root else {
            throw IntegrityError.damaged("the stored checkpoint of size \(stored.size) does not match its own signed note")
        }
        return (stored, signed)
    }

    /// Proves one event is in the tree of a checkpoint. The proof is checked against the signed
    /// root with the event's recomputed leaf hash before it is returned: a damaged stored node is
    /// refused, never printed. The note's signature is checked when `key` is given.
    public static func inclusionProof(
        _ connection: PostgresConnection, eventID: UUID, size: Int? = nil, key: VerifyingKey? = nil
    ) throws -> InclusionProof {
        let (checkpoint, _) = try signedCheckpoint(connection, size: size, key: key)
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
        let leaf = CanonicalEvent.leafHash(event)
        guard Merkle.verifyInclusion(index: index, size: checkpoint.size, leaf: leaf, proof: proof, root: checkpoint.root) else {
            throw IntegrityError.damaged(
                "the proof of event \(eventID.uuidString.lowercased()) (leaf \(index)) does not lead to the root of checkpoint \(checkpoint.size)")
        }
        return InclusionProof(event: event, leafIndex: index, treeSize: checkpoint.size, leafHash: leaf, proof: proof, checkpoint: checkpoint.note)
    }

    /// A consistency proof between two checkpointed sizes, checked against both stored roots
    /// before it is returned.
    public static func consistencyProof(_ connection: PostgresConnection, from old: Int, to new: Int) throws -> JSONObject {
        guard let older = try StoredCheckpoint.at(connection, size: old), let newer = try StoredCheckpoint.at(connection, size: new) else {
            throw IntegrityError.notCovered("both sizes must be checkpoints; run `dossier verify` to list them")
        }
        guard old >= 1, old <= new else {
            throw IntegrityError.notCovered("a consistency proof goes from an older checkpoint (at least 1 event) to a newer one")
        }
        let proof = try Merkle.consistencyProof(from: old, to: new, subtree: TreeReader(connection).subtree)
        guard Merkle.verifyConsistency(from: old, to: new, oldRoot: older.root, newRoot: newer.root, proof: proof) else {
            throw IntegrityError.damaged("the consistency proof from checkpoint \(old) to \(new) does not lead from one stored root to the other")
        }
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

    /// A worker's (or cadre's) whole record as a self-contained bundle (format 2), against the
    /// latest checkpoint, which must be signed by `key`, sign stream heads, and cover every event
    /// of the record (else `IntegrityError.stale`). `since` holds older checkpoint notes (signed by
    /// `key`) to link the bundle to: each gets a consistency proof. Every proof is checked
    /// against the signed roots before the bundle is returned; a damaged stored tree is refused.
    public static func exportBundle(
        _ connection: PostgresConnection, subject: String, key: VerifyingKey, since: [String] = []
    ) throws -> JSONObject {
        var stream = StreamID.worker(subject)
        var events = try EventLog.readStream(connection, stream)
        if events.isEmpty {
            stream = .cadre(subject)
            events = try EventLog.readStream(connection, stream)
        }
        guard !events.isEmpty else { throw LedgerError.noRecord(subject) }
        let (checkpoint, signedOrNil) = try signedCheckpoint(connection, size: nil, key: key)
        guard let signed = signedOrNil, let signedHeads = signed.heads else {
            throw IntegrityError.stale(
                "the latest checkpoint (\(checkpoint.size) events) was signed before checkpoints signed stream heads: run "
                    + "`dossier checkpoint` (or `dossier export --checkpoint`) so the bundle can prove the record complete")
        }
        var indexes: [UUID: Int] = [:]
        for row in try connection.query(
            "SELECT event_id, leaf_index FROM dossier.merkle_leaves WHERE event_id = ANY(\(PostgresArray(events.map(\.eventID))))"
        ).rows {
            indexes[try row.decode(UUID.self, at: 0)] = Int(try row.decode(Int64.self, at: 1))
        }
        let uncovered = events.filter { (indexes[$0.eventID] ?? Int.max) >= checkpoint.size }
        if !uncovered.isEmpty {
            throw IntegrityError.stale(
                "the latest checkpoint (\(checkpoint.size) events) does not cover the last \(uncovered.count) of the \(events.count) "
                    + "events of \(subject) (from position \(uncovered[0].position)): run `dossier checkpoint` first, or "
                    + "`dossier export --checkpoint` to make one (needs the signing key and the admin role)")
        }
        let reader = TreeReader(connection)
        var proven: [EvidenceBundle.ProvenEvent] = []
        for event in events {
            let index = indexes[event.eventID]!
            let proof = try Merkle.inclusionProof(index: index, size: checkpoint.size, subtree: reader.subtree)
            guard Merkle.verifyInclusion(
                index: index, size: checkpoint.size, leaf: CanonicalEvent.leafHash(event), proof: proof, root: checkpoint.root)
            else {
                throw IntegrityError.damaged(
                    "the proof of position \(event.position) (leaf \(index)) does not lead to the root of checkpoint \(checkpoint.size)")
            }
            proven.append(EvidenceBundle.ProvenEvent(event: event, leafIndex: index, proof: proof))
        }
        let heads = try HeadsStore.heads(connection, atSize: checkpoint.size)
        guard heads.count == signedHeads.count, let head = heads.proof(for: stream.rawValue), head.root == signedHeads.root else {
            throw IntegrityError.damaged("the stored stream heads of checkpoint \(checkpoint.size) do not give its signed heads root")
        }
        guard let stored = heads.head(of: stream.rawValue), stored.version == events.count, stored.leafIndex == indexes[events.last!.eventID]!
        else {
            throw IntegrityError.damaged(
                "checkpoint \(checkpoint.size) signs \(stream) as ending elsewhere than its \(events.count) events in the log")
        }
        var links: [EvidenceBundle.Link] = []
        for (offset, note) in since.enumerated() {
            let older: Checkpoint
            do {
                older = try Checkpoint.verify(note, key: key)
            } catch {
                throw IntegrityError.badKey("--since-checkpoint file \(offset + 1) does not verify with \(key.name): \(error)")
            }
            guard older.size >= 1, older.size <= checkpoint.size else {
                throw IntegrityError.badKey(
                    "--since-checkpoint file \(offset + 1) covers \(older.size) events; the bundle's checkpoint covers \(checkpoint.size): "
                        + "a link goes from an older checkpoint to a newer one")
            }
            let proof = try Merkle.consistencyProof(from: older.size, to: checkpoint.size, subtree: reader.subtree)
            guard Merkle.verifyConsistency(from: older.size, to: checkpoint.size, oldRoot: older.root, newRoot: checkpoint.root, proof: proof)
            else {
                throw IntegrityError.damaged(
                    "the tree of this ledger's first \(older.size) events does not have the root of checkpoint file \(offset + 1): "
                        + "that checkpoint is of another log, or this one was altered")
            }
            links.append(EvidenceBundle.Link(checkpoint: note, proof: proof))
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
        return EvidenceBundle.encode(
            stream: stream, events: proven, head: EvidenceBundle.HeadProof(index: head.index, proof: head.proof), links: links,
            checkpoint: checkpoint.note, key: key, personal: openings)
    }
}
