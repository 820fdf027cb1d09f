import Foundation

/// Where one stream ended at a tree size: its last version and the leaf of that event.
///
/// A checkpoint signs, beside the log's root, the root of a second RFC 6962 tree over the heads of
/// every stream the log holds (docs/INTEGRITY.md §3). A bundle proves its stream's head is in that
/// tree, so a record with any event removed, the last ones included, no longer verifies.
///
/// Canonical encoding (version 1), hashed as a leaf (`SHA-256(0x00 || bytes)`):
///
///     "DOSSIER-HEAD" 0x00 0x01                   magic and version
///     then three fields, each: tag (1 byte) || length (4 bytes, big-endian) || bytes
///       1 stream        UTF-8
///       2 version       4 bytes, big-endian
///       3 leaf index    8 bytes, big-endian
public struct StreamHead: Sendable, Equatable, CustomStringConvertible {
    public static let magic: [UInt8] = Array("DOSSIER-HEAD".utf8) + [0x00, 0x01]

    public var stream: String
    public var version: Int
    public var leafIndex: Int

    public init(stream: String, version: Int, leafIndex: Int) {
        self.stream = stream
        self.version = version
        self.leafIndex = leafIndex
    }

    /// The canonical bytes of the head.
    public var encoded: [UInt8] {
        var out = Self.magic
        func field(_ tag: UInt8, _ bytes: [UInt8]) {
            out.append(tag)
            CanonicalEvent.appendBigEndian(UInt32(bytes.count), into: &out)
            out.append(contentsOf: bytes)
        }
        var version: [UInt8] = []
        CanonicalEvent.appendBigEndian(UInt32(truncatingIfNeeded: self.version), into: &version)
        var leaf: [UInt8] = []
        CanonicalEvent.appendBigEndian(Int64(leafIndex), into: &leaf)
        field(1, Array(stream.utf8))
        field(2, version)
        field(3, leaf)
        return out
    }

    public var leafHash: MerkleHash { Merkle.leafHash(encoded) }

    public var description: String { "\(stream) at version \(version) (leaf \(leafIndex))" }
}

/// The heads of every stream at one tree size, in the order the heads tree takes them: by the
/// bytes of the stream's UTF-8 name.
///
/// Streams are told apart by their bytes, not by Swift's `String` equality (which takes a name
/// written composed and decomposed as one): the log, PostgreSQL and a verifier in another
/// language all compare bytes.
public struct StreamHeads: Sendable {
    /// Version and leaf index of each stream's last event, by the stream name's UTF-8 bytes.
    private var latest: [[UInt8]: (version: Int, leafIndex: Int)] = [:]

    public init() {}

    public var count: Int { latest.count }

    /// The names of the streams, as UTF-8 bytes.
    public var streams: Set<[UInt8]> { Set(latest.keys) }

    /// The head of one stream (named by its exact bytes).
    public func head(of stream: String) -> (version: Int, leafIndex: Int)? { latest[Array(stream.utf8)] }
    public func head(ofBytes stream: [UInt8]) -> (version: Int, leafIndex: Int)? { latest[stream] }

    /// Records the event at `leafIndex` as its stream's head. Returns the version the stream was
    /// at before (0 when the stream is new), so a caller can check versions are dense.
    @discardableResult
    public mutating func advance(stream: String, version: Int, leafIndex: Int) -> Int {
        advance(stream: Array(stream.utf8), version: version, leafIndex: leafIndex)
    }

    /// The same, for a stream named by its UTF-8 bytes (what a caller that keeps them already has).
    @discardableResult
    public mutating func advance(stream: [UInt8], version: Int, leafIndex: Int) -> Int {
        let before = latest[stream]?.version ?? 0
        latest[stream] = (version, leafIndex)
        return before
    }

    /// The heads in tree order.
    public var sorted: [StreamHead] {
        latest.sorted { $0.key.lexicographicallyPrecedes($1.key) }.map {
            StreamHead(stream: String(decoding: $0.key, as: UTF8.self), version: $0.value.version, leafIndex: $0.value.leafIndex)
        }
    }

    /// The root of the heads tree.
    public var root: MerkleHash { Merkle.root(of: sorted.map(\.leafHash)) }

    /// The root of the heads tree and, for `stream`, its index and inclusion proof.
    public func proof(for stream: String) -> (root: MerkleHash, index: Int, proof: [MerkleHash])? {
        let heads = sorted
        let key = Array(stream.utf8)
        guard let index = heads.firstIndex(where: { $0.stream.utf8.elementsEqual(key) }) else { return nil }
        let leaves = heads.map(\.leafHash)
        guard let proof = try? Merkle.inclusionProof(index: index, size: leaves.count, subtree: { Merkle.root(of: Array(leaves[$0])) })
        else { return nil }
        return (Merkle.root(of: leaves), index, proof)
    }
}
