import Crypto
import Foundation

// The Merkle tree of RFC 6962 (Certificate Transparency), §2.1, with SHA-256:
//
//   MTH({})       = SHA-256()
//   MTH({d(0)})   = SHA-256(0x00 || d(0))
//   MTH(D[n])     = SHA-256(0x01 || MTH(D[0:k]) || MTH(D[k:n])),  k the largest power of two < n
//
// Proofs are generated as RFC 6962 §2.1.1 / §2.1.2 define them and verified with the
// algorithms of RFC 9162 §2.1.3.2 / §2.1.4.2. Everything here is pure: where the hashes of
// earlier leaves come from (stored leaf hashes, a node cache) is the caller's business.

/// A SHA-256 Merkle tree hash: a leaf hash, an interior node hash or a root, always 32 bytes.
public struct MerkleHash: Hashable, Sendable, CustomStringConvertible {
    /// The number of bytes in every hash.
    public static let byteCount = 32

    /// The 32 bytes, in order, kept inline (a hash is made for every leaf and node: no array
    /// allocated for each).
    private var storage: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)

    /// The 32 bytes of the hash.
    public var bytes: [UInt8] { withUnsafeBytes { Array($0) } }

    /// Calls `body` with the 32 bytes of the hash.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try Swift.withUnsafeBytes(of: storage, body)
    }

    /// Wraps 32 bytes; nil when there are not exactly 32.
    public init?(bytes: [UInt8]) {
        guard bytes.count == Self.byteCount else { return nil }
        bytes.withUnsafeBytes { source in
            Swift.withUnsafeMutableBytes(of: &storage) { $0.copyMemory(from: source) }
        }
    }

    /// Wraps 32 raw bytes; nil when there are not exactly 32.
    public init?(rawBytes: UnsafeRawBufferPointer) {
        guard rawBytes.count == Self.byteCount else { return nil }
        Swift.withUnsafeMutableBytes(of: &storage) { $0.copyMemory(from: rawBytes) }
    }

    public static func == (lhs: MerkleHash, rhs: MerkleHash) -> Bool {
        lhs.storage.0 == rhs.storage.0 && lhs.storage.1 == rhs.storage.1 && lhs.storage.2 == rhs.storage.2
            && lhs.storage.3 == rhs.storage.3
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(storage.0)
        hasher.combine(storage.1)
        hasher.combine(storage.2)
        hasher.combine(storage.3)
    }

    /// Parses 64 hexadecimal digits (either case); nil for anything else.
    public init?(hex: String) {
        let digits = Array(hex.utf8)
        guard digits.count == 2 * Self.byteCount else { return nil }
        var bytes = [UInt8]()
        bytes.reserveCapacity(Self.byteCount)
        for index in stride(from: 0, to: digits.count, by: 2) {
            guard let high = Self.hexValue(digits[index]), let low = Self.hexValue(digits[index + 1]) else {
                return nil
            }
            bytes.append(high << 4 | low)
        }
        self.init(bytes: bytes)
    }

    /// Decodes standard padded base64 of 32 bytes; nil when it is not valid base64 or not 32 bytes.
    public init?(base64: String) {
        guard let data = Data(canonicalBase64: base64) else { return nil }
        self.init(bytes: Array(data))
    }

    /// Wraps a SHA-256 digest, which is 32 bytes by construction.
    init(_ digest: SHA256.Digest) {
        digest.withUnsafeBytes { source in
            Swift.withUnsafeMutableBytes(of: &storage) { $0.copyMemory(from: source) }
        }
    }

    /// The hash as 64 lowercase hexadecimal digits.
    public var hex: String { bytes.hexString }

    /// The hash as standard padded base64, the encoding of the RFC 6962 test vectors.
    public var base64: String { Data(bytes).base64EncodedString() }

    /// The hash as lowercase hexadecimal.
    public var description: String { hex }

    private static func hexValue(_ digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): digit - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

/// Why a Merkle proof cannot be generated for the arguments given.
public enum MerkleError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The leaf index is not in `0..<size` (which includes every index of an empty or negative-size tree).
    case indexOutOfRange(index: Int, size: Int)
    /// The sizes are not `0 < oldSize <= newSize`: a consistency proof needs a non-empty earlier tree
    /// that is no larger than the later one.
    case invalidSizes(oldSize: Int, newSize: Int)

    /// A one-line explanation of the error.
    public var description: String {
        switch self {
        case let .indexOutOfRange(index, size):
            "leaf index \(index) is not in a tree of size \(size)"
        case let .invalidSizes(oldSize, newSize):
            "no consistency proof from size \(oldSize) to size \(newSize): requires 0 < old size <= new size"
        }
    }
}

/// The RFC 6962 Merkle tree over SHA-256: hashing, proof generation and proof verification.
public enum Merkle {
    /// The root of the empty tree: SHA-256 of the empty string.
    public static let emptyRoot = MerkleHash(SHA256.hash(data: [UInt8]()))

    /// The hash of one log entry: SHA-256(0x00 || entry).
    public static func leafHash(_ entry: [UInt8]) -> MerkleHash {
        var hasher = SHA256()
        hasher.update(data: [0x00])
        hasher.update(data: entry)
        return MerkleHash(hasher.finalize())
    }

    /// The hash of an interior node: SHA-256(0x01 || left || right).
    public static func nodeHash(_ left: MerkleHash, _ right: MerkleHash) -> MerkleHash {
        // The 65 bytes in one buffer on the stack, hashed in one call.
        var input: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0, 0)
        return Swift.withUnsafeMutableBytes(of: &input) { raw in
            raw[0] = 0x01
            left.withUnsafeBytes { raw.baseAddress!.advanced(by: 1).copyMemory(from: $0.baseAddress!, byteCount: 32) }
            right.withUnsafeBytes { raw.baseAddress!.advanced(by: 33).copyMemory(from: $0.baseAddress!, byteCount: 32) }
            return MerkleHash(SHA256.hash(data: UnsafeRawBufferPointer(rebasing: raw[0..<65])))
        }
    }

    /// The Merkle tree hash (MTH) of a list of leaf hashes; `emptyRoot` for no leaves.
    ///
    /// The left subtree of every node holds the largest power of two of leaves smaller than the
    /// node's leaf count. This computes every node, O(n); `MerkleFrontier` maintains the root of a
    /// growing tree incrementally.
    public static func root(of leaves: [MerkleHash]) -> MerkleHash {
        leaves.isEmpty ? emptyRoot : treeHash(leaves[...])
    }

    /// The inclusion proof (audit path) of leaf `index` in the tree of the first `size` leaves.
    ///
    /// This is RFC 6962 §2.1.1 PATH(m, D[n]): the sibling subtree hashes from the leaf up to the
    /// root, bottom first. `subtree(range)` must return the Merkle tree hash of the leaves in
    /// `range`; it is only asked for non-empty ranges inside `0..<size`, at most one per level.
    ///
    /// - Throws: `MerkleError.indexOutOfRange` unless `0 <= index < size`, or whatever `subtree`
    ///   throws.
    public static func inclusionProof(
        index: Int,
        size: Int,
        subtree: (Range<Int>) throws -> MerkleHash
    ) throws -> [MerkleHash] {
        guard size > 0, index >= 0, index < size else {
            throw MerkleError.indexOutOfRange(index: index, size: size)
        }
        // Walk down from the root to the leaf; each step's sibling joins the path.
        var siblings: [MerkleHash] = []
        var node = 0..<size
        while node.count > 1 {
            let split = node.lowerBound + largestPowerOfTwo(below: node.count)
            if index < split {
                siblings.append(try subtree(split..<node.upperBound))
                node = node.lowerBound..<split
            } else {
                siblings.append(try subtree(node.lowerBound..<split))
                node = split..<node.upperBound
            }
        }
        return siblings.reversed()
    }

    /// The consistency proof that the tree of the first `oldSize` leaves is a prefix of the tree
    /// of the first `newSize` leaves.
    ///
    /// This is RFC 6962 §2.1.2 PROOF(m, D[n]) = SUBPROOF(m, D[n], true); it is empty when the
    /// sizes are equal. `subtree(range)` must return the Merkle tree hash of the leaves in
    /// `range`; it is only asked for non-empty ranges inside `0..<newSize`.
    ///
    /// - Throws: `MerkleError.invalidSizes` unless `0 < oldSize <= newSize` (a proof from the empty
    ///   tree proves nothing and `verifyConsistency` rejects it), or whatever `subtree` throws.
    public static func consistencyProof(
        from oldSize: Int,
        to newSize: Int,
        subtree: (Range<Int>) throws -> MerkleHash
    ) throws -> [MerkleHash] {
        guard oldSize > 0, oldSize <= newSize else {
            throw MerkleError.invalidSizes(oldSize: oldSize, newSize: newSize)
        }
        // Walk down until the old tree's last leaf closes a complete subtree (m == n in SUBPROOF).
        // Invariant: node.lowerBound < oldSize <= node.upperBound.
        var hashes: [MerkleHash] = []
        var node = 0..<newSize
        var onLeftEdge = true  // SUBPROOF's b: the old root itself is known to the verifier
        while oldSize < node.upperBound {
            let split = node.lowerBound + largestPowerOfTwo(below: node.count)
            if oldSize <= split {
                hashes.append(try subtree(split..<node.upperBound))
                node = node.lowerBound..<split
            } else {
                hashes.append(try subtree(node.lowerBound..<split))
                node = split..<node.upperBound
                onLeftEdge = false
            }
        }
        if !onLeftEdge {
            hashes.append(try subtree(node))
        }
        return hashes.reversed()
    }

    /// Checks an inclusion proof: that `leaf` is leaf `index` of the tree of `size` leaves with `root`.
    ///
    /// The algorithm of RFC 9162 §2.1.3.2. Returns false, never traps, for any malformed input:
    /// an index outside `0..<size`, a negative or absurd size, a proof of the wrong length.
    ///
    /// The proof commits to the shape of the path, not to `size`: take `size` and `root` from the
    /// same trusted source (such as a signed checkpoint), never `size` from the prover alone.
    public static func verifyInclusion(
        index: Int,
        size: Int,
        leaf: MerkleHash,
        proof: [MerkleHash],
        root: MerkleHash
    ) -> Bool {
        guard index >= 0, index < size else { return false }
        var fn = index
        var sn = size - 1
        var hash = leaf
        for sibling in proof {
            guard sn != 0 else { return false }  // more hashes than the path has levels
            if fn & 1 == 1 || fn == sn {
                hash = nodeHash(sibling, hash)
                if fn & 1 == 0 {
                    // On the right edge: skip the levels where this node has no sibling.
                    while fn & 1 == 0, fn != 0 {
                        fn >>= 1
                        sn >>= 1
                    }
                }
            } else {
                hash = nodeHash(hash, sibling)
            }
            fn >>= 1
            sn >>= 1
        }
        return sn == 0 && hash == root
    }

    /// Checks a consistency proof: that the tree of `oldSize` leaves with `oldRoot` is a prefix of
    /// the tree of `newSize` leaves with `newRoot`.
    ///
    /// The algorithm of RFC 9162 §2.1.4.2, with these edge cases decided first:
    /// - `oldSize == newSize > 0`: consistent exactly when the proof is empty and the roots are equal;
    /// - `oldSize == 0`: false, even when `newSize` is 0 too; the empty tree is a prefix of every
    ///   tree, so a consistency check from it proves nothing, and `consistencyProof` never makes one;
    /// - `oldSize > newSize`, negative sizes, an empty proof for different sizes: false.
    ///
    /// Never traps: malformed input of any kind yields false. As with inclusion, the proof does not
    /// commit to the sizes: take each size together with its root from a trusted source.
    public static func verifyConsistency(
        from oldSize: Int,
        to newSize: Int,
        oldRoot: MerkleHash,
        newRoot: MerkleHash,
        proof: [MerkleHash]
    ) -> Bool {
        guard oldSize > 0, oldSize <= newSize else { return false }
        if oldSize == newSize {
            return proof.isEmpty && oldRoot == newRoot
        }
        guard let first = proof.first else { return false }

        // When the old tree is a complete subtree, its root is the seed and the proof omits it.
        let oldIsComplete = oldSize & (oldSize - 1) == 0
        let seed = oldIsComplete ? oldRoot : first
        let rest = oldIsComplete ? proof[...] : proof.dropFirst()

        var fn = oldSize - 1
        var sn = newSize - 1
        while fn & 1 == 1 {
            fn >>= 1
            sn >>= 1
        }
        var oldHash = seed
        var newHash = seed
        for sibling in rest {
            guard sn != 0 else { return false }  // more hashes than the path has levels
            if fn & 1 == 1 || fn == sn {
                oldHash = nodeHash(sibling, oldHash)
                newHash = nodeHash(sibling, newHash)
                if fn & 1 == 0 {
                    while fn & 1 == 0, fn != 0 {
                        fn >>= 1
                        sn >>= 1
                    }
                }
            } else {
                newHash = nodeHash(newHash, sibling)
            }
            fn >>= 1
            sn >>= 1
        }
        return sn == 0 && oldHash == oldRoot && newHash == newRoot
    }

    /// The largest power of two strictly smaller than `count`, which must be at least 2.
    static func largestPowerOfTwo(below count: Int) -> Int {
        1 << (Int.bitWidth - 1 - (count - 1).leadingZeroBitCount)
    }

    private static func treeHash(_ leaves: ArraySlice<MerkleHash>) -> MerkleHash {
        if leaves.count == 1 { return leaves[leaves.startIndex] }
        let split = leaves.startIndex + largestPowerOfTwo(below: leaves.count)
        return nodeHash(treeHash(leaves[..<split]), treeHash(leaves[split...]))
    }
}

/// The right edge of a growing Merkle tree: enough to append leaves and compute the root without
/// the earlier leaves.
///
/// For a tree of `size` leaves it keeps one hash per set bit of `size`: the roots of the complete
/// (power-of-two) subtrees that the tree's leaves split into from the left, largest first. A
/// ledger can persist `size` and `hashes` and resume appending from them.
public struct MerkleFrontier: Sendable, Equatable {
    /// The number of leaves appended so far.
    public private(set) var size: Int

    /// The roots of the complete subtrees along the right edge, largest (leftmost) first;
    /// `size.nonzeroBitCount` of them.
    public private(set) var hashes: [MerkleHash]

    /// The frontier of the empty tree.
    public init() {
        size = 0
        hashes = []
    }

    /// Restores a frontier from a stored size and hashes; nil when `size` is negative or the
    /// number of hashes is not the number of set bits in `size`.
    public init?(size: Int, hashes: [MerkleHash]) {
        guard size >= 0, hashes.count == size.nonzeroBitCount else { return nil }
        self.size = size
        self.hashes = hashes
    }

    /// Appends the next leaf hash, in O(log size) hashes.
    ///
    /// Every complete subtree that the new leaf completes is merged into its parent; earlier leaves
    /// are never rehashed. Traps if the tree already has `Int.max` leaves.
    public mutating func append(_ leaf: MerkleHash) {
        precondition(size < Int.max, "MerkleFrontier cannot grow beyond Int.max leaves")
        // Each trailing one bit of `size` is a complete subtree of the same size as the
        // one being carried up; merging them is binary addition of one.
        var carried = leaf
        var remaining = size
        while remaining & 1 == 1 {
            carried = Merkle.nodeHash(hashes.removeLast(), carried)
            remaining >>= 1
        }
        hashes.append(carried)
        size += 1
    }

    /// The root of the tree: the complete subtrees folded from the right; `Merkle.emptyRoot` when empty.
    public var root: MerkleHash {
        guard var result = hashes.last else { return Merkle.emptyRoot }
        for hash in hashes.dropLast().reversed() {
            result = Merkle.nodeHash(hash, result)
        }
        return result
    }

    /// The leaf ranges that `hashes` cover, in the same order: consecutive power-of-two ranges
    /// from leaf 0 to `size`, largest first.
    public var subtrees: [(range: Range<Int>, hash: MerkleHash)] {
        var result: [(range: Range<Int>, hash: MerkleHash)] = []
        var start = 0
        var next = hashes.makeIterator()
        for level in stride(from: Int.bitWidth - 2, through: 0, by: -1) where size & (1 << level) != 0 {
            guard let hash = next.next() else { break }
            let end = start + (1 << level)
            result.append((start..<end, hash))
            start = end
        }
        return result
    }
}
