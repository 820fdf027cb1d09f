import DossierDomain
import Foundation
import PostgresClient

/// Reads the stored Merkle tree: leaf hashes and the hashes of complete subtrees.
final class TreeReader {
    let connection: PostgresConnection
    static let nodeLevel = 8

    init(_ connection: PostgresConnection) {
        self.connection = connection
    }

    func leafHashes(_ range: Range<Int>) throws -> [MerkleHash] {
        let hashes = try connection.query(
            """
            SELECT leaf_hash FROM dossier.merkle_leaves
             WHERE leaf_index >= \(Int64(range.lowerBound)) AND leaf_index < \(Int64(range.upperBound)) ORDER BY leaf_index
            """
        ).rows.compactMap { MerkleHash(bytes: try $0.decode(PostgresBytea.self, at: 0).bytes) }
        guard hashes.count == range.count else {
            throw IntegrityError.incomplete("the stored tree lacks leaves \(range.lowerBound)..<\(range.upperBound)")
        }
        return hashes
    }

    func node(level: Int, index: Int) throws -> MerkleHash? {
        try connection.query(
            "SELECT hash FROM dossier.merkle_nodes WHERE level = \(Int32(level)) AND node_index = \(Int64(index))"
        ).scalar(PostgresBytea.self).flatMap { MerkleHash(bytes: $0.bytes) }
    }

    /// The hash of the leaves in `range` (RFC 6962 MTH), from stored nodes where it can.
    func subtree(_ range: Range<Int>) throws -> MerkleHash {
        let count = range.count
        if count == 1 { return try leafHashes(range)[0] }
        if count & (count - 1) == 0, range.lowerBound % count == 0 {
            let level = count.trailingZeroBitCount
            if level < Self.nodeLevel { return Merkle.root(of: try leafHashes(range)) }
            if let stored = try node(level: level, index: range.lowerBound / count) { return stored }
            let half = count / 2
            return Merkle.nodeHash(
                try subtree(range.lowerBound..<range.lowerBound + half), try subtree(range.lowerBound + half..<range.upperBound))
        }
        var split = 1
        while split * 2 < count { split *= 2 }
        return Merkle.nodeHash(
            try subtree(range.lowerBound..<range.lowerBound + split), try subtree(range.lowerBound + split..<range.upperBound))
    }
}

/// The complete subtrees of `2^TreeReader.nodeLevel` leaves or more that appended leaves close,
/// in the order they close: what `dossier.merkle_nodes` stores. Checkpoint (which writes them) and
/// verify (which compares the stored ones) both compute them here.
struct StoredNodeBuilder {
    /// Nodes still waiting for their right sibling, per level.
    private var pending: [Int: MerkleHash]
    /// The leaves of the open block.
    private var block: [MerkleHash]
    /// Leaves appended so far, from the first of the tree.
    private var size: Int

    init(size: Int = 0, block: [MerkleHash] = [], pending: [Int: MerkleHash] = [:]) {
        self.size = size
        self.block = block
        self.pending = pending
    }

    /// Appends the next leaf; returns the nodes it closes, lowest level first (usually none).
    mutating func append(_ leaf: MerkleHash) -> [(level: Int, index: Int, hash: MerkleHash)] {
        block.append(leaf)
        size += 1
        guard block.count == 1 << TreeReader.nodeLevel else { return [] }
        var level = TreeReader.nodeLevel
        var index = size / block.count - 1
        var hash = Merkle.root(of: block)
        block.removeAll(keepingCapacity: true)
        var closed = [(level: level, index: index, hash: hash)]
        while index % 2 == 1, let left = pending.removeValue(forKey: level) {
            hash = Merkle.nodeHash(left, hash)
            level += 1
            index /= 2
            closed.append((level, index, hash))
        }
        pending[level] = hash
        return closed
    }
}

/// Why an integrity operation could not be done.
public enum IntegrityError: Error, Sendable, CustomStringConvertible {
    case incomplete(String)
    case noCheckpoint
    case notCovered(String)
    /// The key or a checkpoint given by the user does not fit this ledger: exit 1, not tampering.
    case badKey(String)
    case inconsistent(String)
    /// The log holds no event: there is nothing to checkpoint (a checkpoint of size 0 proves nothing).
    case emptyLog
    /// The latest checkpoint does not cover what was asked for (events were recorded since): the
    /// user runs `dossier checkpoint` (or asks the command to make one).
    case stale(String)
    /// A stored hash does not give what the signed checkpoint says: nothing is emitted.
    case damaged(String)

    public var description: String {
        switch self {
        case .emptyLog: "the log is empty: nothing to checkpoint yet (record or import decisions first)"
        case .incomplete(let what): "the stored Merkle tree is incomplete: \(what)"
        case .noCheckpoint: "no checkpoint yet: run `dossier checkpoint`"
        case .notCovered(let what): what
        case .badKey(let what): what
        case .inconsistent(let what): "refused: \(what)"
        case .stale(let what): what
        case .damaged(let what): "refused: \(what); the stored Merkle tree is damaged or was altered: run `dossier verify` to find where"
        }
    }
}

/// A checkpoint as stored.
public struct StoredCheckpoint: Sendable {
    public var size: Int
    public var root: MerkleHash
    public var note: String
    public var frontier: [MerkleHash]
}

/// Reads the stream heads kept with the checkpoints (`dossier.merkle_heads`, 0009).
enum HeadsStore {
    /// The heads of every stream at a checkpointed size, as stored (not trusted: callers compare
    /// the root with the signed one).
    static func heads(_ connection: PostgresConnection, atSize size: Int) throws -> StreamHeads {
        try fold(connection.query(headsQuery(atSize: size)).rows)
    }

    /// The stored row of (stream, version, leaf index) of every stream's head at `size`.
    static func headsQuery(atSize size: Int) -> PostgresQuery {
        """
        SELECT DISTINCT ON (stream) stream, version, leaf_index FROM dossier.merkle_heads
         WHERE tree_size <= \(Int64(size)) ORDER BY stream, tree_size DESC
        """
    }

    /// The same heads, as a table with none of them moved: read a batch at a time (a checkpoint
    /// after an import restores every stream's head, 404,527 of them at 10 M).
    static func table(_ connection: PostgresConnection, atSize size: Int) throws -> StreamHeadTable {
        var table = StreamHeadTable()
        try connection.forEachBatch(headsQuery(atSize: size), batchSize: 10_000) { batch in
            for row in batch.rows {
                let version = Int(try row.decode(Int32.self, at: 1))
                let leafIndex = Int(try row.decode(Int64.self, at: 2))
                try row.withBytes(0) { name in
                    guard let name else { throw IntegrityError.inconsistent("a stored stream head has no stream") }
                    _ = table.advance(stream: name, hash: StreamHeadTable.hash(name), version: version, leafIndex: leafIndex)
                }
            }
            return true
        }
        table.clearMoved()
        return table
    }

    /// The heads at a checkpointed size, from the events and the stored leaves: for a ledger whose
    /// checkpoints predate signed heads.
    static func headsFromEvents(_ connection: PostgresConnection, atSize size: Int) throws -> StreamHeads {
        try fold(connection.query(
            """
            SELECT DISTINCT ON (e.stream) e.stream, e.version, l.leaf_index
              FROM dossier.merkle_leaves l JOIN dossier.events e ON e.position = l.position
             WHERE l.leaf_index < \(Int64(size)) ORDER BY e.stream, e.version DESC
            """
        ).rows)
    }

    /// Heads from rows of (stream, version, leaf index), one per stream.
    private static func fold(_ rows: [Row]) throws -> StreamHeads {
        var heads = StreamHeads()
        for row in rows {
            heads.advance(
                stream: try row.decode(String.self, at: 0), version: Int(try row.decode(Int32.self, at: 1)),
                leafIndex: Int(try row.decode(Int64.self, at: 2)))
        }
        return heads
    }

    /// Appends the heads that changed at a new checkpoint.
    static func write(_ connection: PostgresConnection, size: Int, changed: some Collection<StreamHead>) throws {
        guard !changed.isEmpty else { return }
        try connection.copyFrom("COPY dossier.merkle_heads (tree_size, stream, version, leaf_index) FROM STDIN") { writer in
            for head in changed {
                writer.field(Int64(size))
                writer.field(head.stream)
                writer.field(Int32(head.version))
                writer.field(Int64(head.leafIndex))
                try writer.endRow()
            }
        }
    }
}

extension StoredCheckpoint {
    static func all(_ connection: PostgresConnection) throws -> [StoredCheckpoint] {
        try connection.query("SELECT tree_size, root, note, frontier FROM dossier.checkpoints ORDER BY tree_size, signed_at").rows.map(Self.init(row:))
    }

    public static func latest(_ connection: PostgresConnection) throws -> StoredCheckpoint? {
        try connection.query(
            "SELECT tree_size, root, note, frontier FROM dossier.checkpoints ORDER BY tree_size DESC, signed_at DESC LIMIT 1"
        ).rows.first.map(Self.init(row:))
    }

    static func at(_ connection: PostgresConnection, size: Int) throws -> StoredCheckpoint? {
        try connection.query(
            "SELECT tree_size, root, note, frontier FROM dossier.checkpoints WHERE tree_size = \(Int64(size)) ORDER BY signed_at DESC LIMIT 1"
        ).rows.first.map(Self.init(row:))
    }

    init(row: Row) throws {
        size = Int(try row.decode(Int64.self, at: 0))
        guard let root = MerkleHash(bytes: try row.decode(PostgresBytea.self, at: 1).bytes) else {
            throw IntegrityError.incomplete("a checkpoint's root is not 32 bytes")
        }
        self.root = root
        note = try row.decode(String.self, at: 2)
        // bytea[] in text form: {"\\x…","\\x…"}
        let text = try row.decode(String.self, at: 3)
        frontier = try text.trimmingCharacters(in: CharacterSet(charactersIn: "{}")).split(separator: ",").map { item in
            let hex = item.trimmingCharacters(in: CharacterSet(charactersIn: "\"\\x"))
            guard let hash = MerkleHash(hex: hex) else { throw IntegrityError.incomplete("a checkpoint's frontier is malformed") }
            return hash
        }
    }
}
