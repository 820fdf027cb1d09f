import DossierDomain
import Foundation
import Testing

@Suite("RFC 6962 Merkle tree")
struct MerkleTests {
    // MARK: - Reference tree

    /// The leaf inputs (hex) of the 8-leaf reference tree used by the RFC 6962 test vectors.
    static let referenceInputs = [
        "", "00", "10", "2021", "3031", "40414243", "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]

    /// The root (hex) of the first n reference leaves, n = 0...8.
    static let referenceRoots = [
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ]

    static let referenceLeaves: [MerkleHash] = referenceInputs.map { Merkle.leafHash(bytes(hex: $0)) }

    @Test("roots of the reference leaves, n = 0...8")
    func referenceTreeRoots() throws {
        #expect(Merkle.emptyRoot.hex == Self.referenceRoots[0])
        for n in 0...8 {
            let expected = try #require(MerkleHash(hex: Self.referenceRoots[n]))
            let leaves = Array(Self.referenceLeaves.prefix(n))
            #expect(Merkle.root(of: leaves) == expected, "root of the first \(n) reference leaves")

            var frontier = MerkleFrontier()
            leaves.forEach { frontier.append($0) }
            #expect(frontier.root == expected, "frontier root of the first \(n) reference leaves")
        }
    }

    @Test("leaf and node hashes are domain-separated SHA-256")
    func leafAndNodeHashes() throws {
        // SHA-256(0x00) is the one-leaf root; a node hash of two leaves is the two-leaf root.
        #expect(Merkle.leafHash([]).hex == Self.referenceRoots[1])
        #expect(Merkle.nodeHash(Self.referenceLeaves[0], Self.referenceLeaves[1]).hex == Self.referenceRoots[2])
        #expect(Merkle.leafHash([]) != Merkle.emptyRoot)
        #expect(Merkle.nodeHash(Self.referenceLeaves[1], Self.referenceLeaves[0]).hex != Self.referenceRoots[2])
    }

    // MARK: - MerkleHash encodings

    @Test("MerkleHash encodings round-trip and refuse malformed input")
    func hashEncodings() throws {
        let hash = try #require(MerkleHash(hex: Self.referenceRoots[8]))
        #expect(hash.bytes.count == 32)
        #expect(hash.hex == Self.referenceRoots[8])
        #expect(hash.description == hash.hex)
        #expect(hash.base64 == "XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=")
        #expect(MerkleHash(base64: hash.base64) == hash)
        #expect(MerkleHash(bytes: hash.bytes) == hash)
        #expect(MerkleHash(hex: Self.referenceRoots[8].uppercased()) == hash)

        #expect(MerkleHash(bytes: []) == nil)
        #expect(MerkleHash(bytes: [UInt8](repeating: 7, count: 31)) == nil)
        #expect(MerkleHash(bytes: [UInt8](repeating: 7, count: 33)) == nil)
        #expect(MerkleHash(hex: "") == nil)
        #expect(MerkleHash(hex: String(Self.referenceRoots[8].dropLast())) == nil)
        #expect(MerkleHash(hex: Self.referenceRoots[8] + "00") == nil)
        #expect(MerkleHash(hex: "g" + Self.referenceRoots[8].dropFirst()) == nil)
        #expect(MerkleHash(hex: "é" + Self.referenceRoots[8].dropFirst(2)) == nil)
        #expect(MerkleHash(base64: "") == nil)
        #expect(MerkleHash(base64: "ZG9uJ3QgY2FyZSAx") == nil)  // valid base64 of 12 bytes
        #expect(MerkleHash(base64: "not base64!") == nil)
    }

    // MARK: - The transparency-dev test vectors

    @Test("every inclusion vector: happy paths verify, wantErr cases fail")
    func inclusionVectors() throws {
        let cases = try Self.vectorCases(in: "inclusion")
        var (happy, refused, compared) = (0, 0, 0)
        for vector in cases {
            let index = try vector.int("leafIdx")
            let size = try vector.int("treeSize")
            let leaf = try vector.hash("leafHash")
            let root = try vector.hash("root")
            let proof = try vector.proof()
            let verified = Merkle.verifyInclusion(index: index, size: size, leaf: leaf, proof: proof, root: root)
            vector.check(verified: verified, refused: &refused)

            guard !vector.wantErr else { continue }
            happy += 1
            // Happy paths over the reference tree: our generated proof is the vector's proof.
            if (1...8).contains(size), root.hex == Self.referenceRoots[size] {
                let generated = try Merkle.inclusionProof(index: index, size: size) { range in
                    Merkle.root(of: Array(Self.referenceLeaves[range]))
                }
                #expect(generated == proof, "\(vector.name): generated proof differs")
                compared += 1
            }
        }
        #expect(cases.count >= 90, "only \(cases.count) inclusion vectors were found")
        #expect(happy >= 6, "only \(happy) inclusion happy paths were found")
        #expect(compared >= 4, "only \(compared) generated inclusion proofs were compared")
        #expect(refused < cases.count / 4, "\(refused) of \(cases.count) refused for malformed leaf hashes")
    }

    @Test("every consistency vector: happy paths verify, wantErr cases fail")
    func consistencyVectors() throws {
        let cases = try Self.vectorCases(in: "consistency")
        var (happy, refused, compared) = (0, 0, 0)
        for vector in cases {
            let oldSize = try vector.int("size1")
            let newSize = try vector.int("size2")
            let oldRoot = try vector.hash("root1")
            let newRoot = try vector.hash("root2")
            let proof = try vector.proof()
            let verified = Merkle.verifyConsistency(
                from: oldSize, to: newSize, oldRoot: oldRoot, newRoot: newRoot, proof: proof)
            vector.check(verified: verified, refused: &refused)

            guard !vector.wantErr else { continue }
            happy += 1
            if (1...8).contains(newSize), newRoot.hex == Self.referenceRoots[newSize] {
                let generated = try Merkle.consistencyProof(from: oldSize, to: newSize) { range in
                    Merkle.root(of: Array(Self.referenceLeaves[range]))
                }
                #expect(generated == proof, "\(vector.name): generated proof differs")
                compared += 1
            }
        }
        #expect(cases.count >= 90, "only \(cases.count) consistency vectors were found")
        #expect(happy >= 6, "only \(happy) consistency happy paths were found")
        #expect(compared >= 4, "only \(compared) generated consistency proofs were compared")
        #expect(refused == 0, "\(refused) consistency vectors refused for a leaf hash they do not have")
    }

    // MARK: - Generated proofs, sizes 1...70

    @Test("inclusion proofs for every leaf of every size 1...70 verify; corrupted ones fail")
    func generatedInclusionProofs() throws {
        var tree = MemoTree(leaves: randomLeaves(70, seed: 1))
        var wrongSizesChecked = 0
        for size in 1...70 {
            let root = tree.leaves.prefix(size).rootHash
            let otherRoot = tree.leaves.prefix(size - 1).rootHash
            for index in 0..<size {
                let leaf = tree.leaves[index]
                let honest = InclusionClaim(
                    index: index, size: size, leaf: leaf,
                    proof: try tree.inclusionProof(index: index, size: size), root: root)
                #expect(honest.verifies, "index \(index), size \(size)")

                let proof = honest.proof
                var corrupted: [(String, InclusionClaim)] = []
                for position in proof.indices {
                    corrupted.append(("bit flip in hash \(position)",
                                      honest.with(\.proof, proof.flippingBit(in: position, seed: index &+ size))))
                    corrupted.append(("hash \(position) dropped", honest.with(\.proof, proof.removing(at: position))))
                    corrupted.append(("hash inserted at \(position)",
                                      honest.with(\.proof, proof.inserting(otherRoot, at: position))))
                }
                corrupted.append(("root appended", honest.with(\.proof, proof + [root])))
                corrupted.append(("leaf appended", honest.with(\.proof, proof + [leaf])))
                for wrongIndex in [index - 1, index + 1, index ^ 1, size, -1, Int.max, Int.min] where wrongIndex != index {
                    corrupted.append(("index \(wrongIndex)", honest.with(\.index, wrongIndex)))
                }
                // A proof does not commit to the tree size, only to the path's shape (see
                // `sizesComeWithTheirRoots`): every wrong size that changes the proof's length must fail.
                let wrongSizes = Array((size - 8)...(size + 8)) + [size * 2, size / 2, index, 0, -size, Int.max, Int.min]
                for wrongSize in wrongSizes
                where wrongSize != size && inclusionProofLength(index: index, size: wrongSize) != proof.count {
                    corrupted.append(("size \(wrongSize)", honest.with(\.size, wrongSize)))
                    wrongSizesChecked += 1
                }
                corrupted.append(("another leaf", honest.with(\.leaf, tree.leaves[(index + 1) % 70])))
                corrupted.append(("another root", honest.with(\.root, otherRoot)))
                for (what, claim) in corrupted {
                    #expect(!claim.verifies, "index \(index), size \(size): \(what) verified")
                }
            }
        }
        #expect(wrongSizesChecked > 30_000, "only \(wrongSizesChecked) wrong sizes were checked")
    }

    @Test("consistency proofs for every 1 <= m <= n <= 70 verify; corrupted ones fail")
    func generatedConsistencyProofs() throws {
        var tree = MemoTree(leaves: randomLeaves(70, seed: 2))
        var wrongSizesChecked = 0
        let roots = (0...70).map { tree.leaves.prefix($0).rootHash }
        for newSize in 1...70 {
            for oldSize in 1...newSize {
                let honest = ConsistencyClaim(
                    oldSize: oldSize, newSize: newSize, oldRoot: roots[oldSize], newRoot: roots[newSize],
                    proof: try tree.consistencyProof(from: oldSize, to: newSize))
                let label = "from \(oldSize) to \(newSize)"
                #expect(honest.verifies, "\(label)")
                #expect(honest.proof.isEmpty == (oldSize == newSize), "\(label): \(honest.proof.count) hashes")

                let proof = honest.proof
                var corrupted: [(String, ConsistencyClaim)] = []
                for position in proof.indices {
                    corrupted.append(("bit flip in hash \(position)",
                                      honest.with(\.proof, proof.flippingBit(in: position, seed: oldSize &* newSize))))
                    corrupted.append(("hash \(position) dropped", honest.with(\.proof, proof.removing(at: position))))
                    corrupted.append(("hash inserted at \(position)",
                                      honest.with(\.proof, proof.inserting(roots[oldSize], at: position))))
                }
                corrupted.append(("new root appended", honest.with(\.proof, proof + [roots[newSize]])))
                corrupted.append(("old root prepended", honest.with(\.proof, [roots[oldSize]] + proof)))
                // As for inclusion: every wrong size that changes the proof's length must fail.
                let extremes = [0, -1, Int.max, Int.min]
                for wrongOld in Array((oldSize - 8)...(oldSize + 8)) + [oldSize * 2, oldSize / 2] + extremes
                where wrongOld != oldSize && consistencyProofLength(from: wrongOld, to: newSize) != proof.count {
                    corrupted.append(("old size \(wrongOld)", honest.with(\.oldSize, wrongOld)))
                    wrongSizesChecked += 1
                }
                for wrongNew in Array((newSize - 8)...(newSize + 8)) + [newSize * 2, newSize / 2] + extremes
                where wrongNew != newSize && consistencyProofLength(from: oldSize, to: wrongNew) != proof.count {
                    corrupted.append(("new size \(wrongNew)", honest.with(\.newSize, wrongNew)))
                    wrongSizesChecked += 1
                }
                if oldSize != newSize {
                    corrupted.append(("swapped roots",
                                      honest.with(\.oldRoot, roots[newSize]).with(\.newRoot, roots[oldSize])))
                }
                corrupted.append(("the previous old root", honest.with(\.oldRoot, roots[oldSize - 1])))
                corrupted.append(("the previous new root", honest.with(\.newRoot, roots[newSize - 1])))
                for (what, claim) in corrupted {
                    #expect(!claim.verifies, "\(label): \(what) verified")
                }
            }
        }
        #expect(wrongSizesChecked > 50_000, "only \(wrongSizesChecked) wrong sizes were checked")
    }

    @Test("proofs do not commit to tree sizes: sizes must come with their roots")
    func sizesComeWithTheirRoots() throws {
        // RFC 9162 verification takes the sizes on trust, as a signed tree head supplies them along
        // with the roots. A path that turns the same way at every level has the same shape in trees
        // of different sizes: leaf 0 of 3 leaves and leaf 0 of 4 leaves both have two left turns.
        let leaves = randomLeaves(3, seed: 9)
        let subtree = { (range: Range<Int>) in Merkle.root(of: Array(leaves[range])) }
        let root = Merkle.root(of: leaves)
        let inclusion = try Merkle.inclusionProof(index: 0, size: 3, subtree: subtree)
        #expect(Merkle.verifyInclusion(index: 0, size: 3, leaf: leaves[0], proof: inclusion, root: root))
        #expect(Merkle.verifyInclusion(index: 0, size: 4, leaf: leaves[0], proof: inclusion, root: root))

        let oldRoot = Merkle.root(of: Array(leaves.prefix(2)))
        let consistency = try Merkle.consistencyProof(from: 2, to: 3, subtree: subtree)
        #expect(Merkle.verifyConsistency(from: 2, to: 3, oldRoot: oldRoot, newRoot: root, proof: consistency))
        #expect(Merkle.verifyConsistency(from: 2, to: 4, oldRoot: oldRoot, newRoot: root, proof: consistency))
    }

    @Test("proof generation refuses impossible arguments and passes subtree errors on")
    func proofGenerationErrors() throws {
        let tree = randomLeaves(5, seed: 3)
        let subtree = { (range: Range<Int>) in Merkle.root(of: Array(tree[range])) }
        for (index, size) in [(0, 0), (5, 5), (-1, 5), (0, -1), (Int.max, 5), (Int.min, Int.min)] {
            #expect(throws: MerkleError.indexOutOfRange(index: index, size: size)) {
                try Merkle.inclusionProof(index: index, size: size, subtree: subtree)
            }
        }
        for (oldSize, newSize) in [(0, 0), (0, 5), (6, 5), (-1, 5), (Int.max, 5), (Int.min, -1)] {
            #expect(throws: MerkleError.invalidSizes(oldSize: oldSize, newSize: newSize)) {
                try Merkle.consistencyProof(from: oldSize, to: newSize, subtree: subtree)
            }
        }
        #expect(try Merkle.inclusionProof(index: 0, size: 1, subtree: subtree).isEmpty)
        #expect(try Merkle.consistencyProof(from: 3, to: 3, subtree: subtree).isEmpty)

        struct Unavailable: Error, Equatable {}
        #expect(throws: Unavailable()) {
            try Merkle.inclusionProof(index: 1, size: 5) { _ in throw Unavailable() }
        }
        #expect(throws: Unavailable()) {
            try Merkle.consistencyProof(from: 3, to: 5) { _ in throw Unavailable() }
        }
    }

    // MARK: - MerkleFrontier

    @Test("frontier root equals the full root for every prefix 0...100")
    func frontierRoots() throws {
        let leaves = randomLeaves(100, seed: 4)
        var frontier = MerkleFrontier()
        #expect(frontier.size == 0 && frontier.hashes.isEmpty && frontier.root == Merkle.emptyRoot)
        for count in 0...100 {
            if count > 0 { frontier.append(leaves[count - 1]) }
            #expect(frontier.size == count)
            #expect(frontier.hashes.count == count.nonzeroBitCount)
            #expect(frontier.root == Merkle.root(of: Array(leaves.prefix(count))), "prefix of \(count)")

            // The stored hashes are the roots of consecutive complete subtrees, largest first.
            let subtrees = frontier.subtrees
            #expect(subtrees.map { $0.hash } == frontier.hashes)
            var next = 0
            for (range, hash) in subtrees {
                #expect(range.lowerBound == next && range.count.nonzeroBitCount == 1, "prefix of \(count): \(range)")
                #expect(hash == Merkle.root(of: Array(leaves[range])), "prefix of \(count): \(range)")
                next = range.upperBound
            }
            #expect(next == count)
            #expect(zip(subtrees, subtrees.dropFirst()).allSatisfy { pair in pair.0.range.count > pair.1.range.count })
        }
    }

    @Test("a frontier restored from its size and hashes keeps growing identically")
    func frontierRestore() throws {
        let leaves = randomLeaves(100, seed: 5)
        var original = MerkleFrontier()
        for count in 0...100 {
            if count > 0 { original.append(leaves[count - 1]) }
            var restored = try #require(MerkleFrontier(size: original.size, hashes: original.hashes))
            #expect(restored == original)
            var continued = original
            for leaf in leaves[count...] {
                restored.append(leaf)
                continued.append(leaf)
                #expect(restored.root == continued.root, "restored at \(count), grown to \(restored.size)")
            }
            #expect(restored == continued)
            #expect(restored.root == Merkle.root(of: leaves))
        }
    }

    @Test("restoring a frontier refuses the wrong number of hashes")
    func frontierRejectsWrongCounts() throws {
        let hashes = randomLeaves(64, seed: 6)
        for size in [0, 1, 2, 3, 6, 7, 8, 100, 1 << 40, (1 << 40) - 1, Int.max] {
            let count = size.nonzeroBitCount
            #expect(MerkleFrontier(size: size, hashes: Array(hashes.prefix(count))) != nil, "size \(size)")
            #expect(MerkleFrontier(size: size, hashes: Array(hashes.prefix(count + 1))) == nil, "size \(size), one more")
            if count > 0 {
                #expect(MerkleFrontier(size: size, hashes: Array(hashes.prefix(count - 1))) == nil, "size \(size), one fewer")
            }
        }
        #expect(MerkleFrontier(size: -1, hashes: []) == nil)
        #expect(MerkleFrontier(size: Int.min, hashes: [hashes[0]]) == nil)
        #expect(MerkleFrontier(size: 0, hashes: []) == MerkleFrontier())

        // A frontier of a huge tree, resumed from storage, still appends in a few hashes.
        var huge = try #require(MerkleFrontier(size: (1 << 40) - 1, hashes: Array(hashes.prefix(40))))
        huge.append(hashes[40])
        #expect(huge.size == 1 << 40 && huge.hashes.count == 1)
        #expect(huge.subtrees.map { $0.range } == [0..<(1 << 40)])
    }

    // MARK: - Fuzzing the verifiers

    @Test("random sizes, indexes and proofs never trap and never verify")
    func fuzzVerifiers() {
        var random = SplitMix64(seed: 7)
        let pool = randomLeaves(64, seed: 8)
        func anySize() -> Int {
            switch random.next() % 6 {
            case 0: Int.random(in: -3...70, using: &random)
            case 1: Int.random(in: 0...(1 << 20), using: &random)
            case 2: Int.random(in: Int.min...Int.max, using: &random)
            case 3: [Int.max, Int.max - 1, Int.min, Int.min + 1, 1 << 62, (1 << 62) + 1].randomElement(using: &random)!
            case 4: Int.random(in: (Int.max - 100)...Int.max, using: &random)
            default: Int.random(in: 0...7, using: &random)
            }
        }
        for round in 0..<4000 {
            let proof = (0..<Int.random(in: 0...70, using: &random)).map { _ in pool.randomElement(using: &random)! }
            let (a, b) = (anySize(), anySize())
            let (first, second) = (pool.randomElement(using: &random)!, pool.randomElement(using: &random)!)
            if first != second {
                #expect(!Merkle.verifyInclusion(index: a, size: b, leaf: first, proof: proof, root: second),
                        "round \(round): index \(a), size \(b), \(proof.count) hashes")
                #expect(!Merkle.verifyConsistency(from: a, to: b, oldRoot: first, newRoot: second, proof: proof),
                        "round \(round): from \(a) to \(b), \(proof.count) hashes")
            }
        }
        // An enormous proof is rejected after at most 64 levels of work.
        let long = Array(repeating: pool[0], count: 100_000)
        #expect(!Merkle.verifyInclusion(index: 5, size: Int.max, leaf: pool[1], proof: long, root: pool[2]))
        #expect(!Merkle.verifyConsistency(from: 5, to: Int.max, oldRoot: pool[1], newRoot: pool[2], proof: long))
    }
}

// MARK: - Helpers

/// A tree over fixed leaves whose subtree hashes are memoised, so generating every proof of every
/// size stays cheap; `subtree` also checks the generators only ask for ranges inside the tree.
private struct MemoTree {
    let leaves: [MerkleHash]
    private var cache: [Range<Int>: MerkleHash] = [:]

    init(leaves: [MerkleHash]) { self.leaves = leaves }

    mutating func inclusionProof(index: Int, size: Int) throws -> [MerkleHash] {
        try Merkle.inclusionProof(index: index, size: size) { try subtree($0, within: size) }
    }

    mutating func consistencyProof(from oldSize: Int, to newSize: Int) throws -> [MerkleHash] {
        try Merkle.consistencyProof(from: oldSize, to: newSize) { try subtree($0, within: newSize) }
    }

    private mutating func subtree(_ range: Range<Int>, within size: Int) throws -> MerkleHash {
        try #require(!range.isEmpty && range.lowerBound >= 0 && range.upperBound <= size, "asked for \(range) of \(size)")
        if let hash = cache[range] { return hash }
        let hash = Merkle.root(of: Array(leaves[range]))
        cache[range] = hash
        return hash
    }
}

/// The arguments of one `verifyInclusion` call, to corrupt one at a time.
private struct InclusionClaim {
    var index: Int
    var size: Int
    var leaf: MerkleHash
    var proof: [MerkleHash]
    var root: MerkleHash

    var verifies: Bool { Merkle.verifyInclusion(index: index, size: size, leaf: leaf, proof: proof, root: root) }

    func with<Value>(_ field: WritableKeyPath<Self, Value>, _ value: Value) -> Self {
        var copy = self
        copy[keyPath: field] = value
        return copy
    }
}

/// The arguments of one `verifyConsistency` call, to corrupt one at a time.
private struct ConsistencyClaim {
    var oldSize: Int
    var newSize: Int
    var oldRoot: MerkleHash
    var newRoot: MerkleHash
    var proof: [MerkleHash]

    var verifies: Bool {
        Merkle.verifyConsistency(from: oldSize, to: newSize, oldRoot: oldRoot, newRoot: newRoot, proof: proof)
    }

    func with<Value>(_ field: WritableKeyPath<Self, Value>, _ value: Value) -> Self {
        var copy = self
        copy[keyPath: field] = value
        return copy
    }
}

/// One JSON test case, with the path it came from.
///
/// The vectors also hold malformed hashes (empty, 9 or 12 bytes): the Go original takes byte strings,
/// checks the length of the leaf hash only, and compares or hashes the others as they are. `MerkleHash`
/// holds exactly 32 bytes and refuses the others. So the verifiers get 32-byte stand-ins for malformed
/// values (SHA-256 of a tag and the raw bytes: equal values stay equal, and no stand-in equals a hash
/// of the vectors' trees) and must still answer as `wantErr` says, except for a malformed leaf hash:
/// that case is refused for its length alone, as `MerkleHash(base64:)` refuses it.
private struct VectorCase {
    let name: String
    let fields: [String: Any]

    var desc: String { fields["desc"] as? String ?? "(no desc)" }
    var wantErr: Bool { fields["wantErr"] as? Bool ?? false }

    /// Whether the case has a leaf hash that is not 32 bytes, which `MerkleHash` refuses.
    var hasMalformedLeaf: Bool {
        guard let leaf = fields["leafHash"] as? String else { return false }
        return MerkleHash(base64: leaf) == nil
    }

    /// Checks the verifier's answer against `wantErr`; a case with a malformed leaf hash must be a
    /// `wantErr` case, refused before verification.
    func check(verified: Bool, refused: inout Int) {
        if hasMalformedLeaf {
            #expect(wantErr, "\(name): \(desc) has a malformed leaf hash but should verify")
            refused += 1
        } else {
            #expect(verified == !wantErr, "\(name): \(desc)")
        }
    }

    /// An integer field. The vectors hold Go `uint64`s, and "sub @1" of 0 wrapped to 2^64 - 1; its bit
    /// pattern as an `Int` is -1, the same corruption expressed in `Int`.
    func int(_ key: String) throws -> Int {
        if let value = fields[key] as? Int { return value }
        let value = try #require(fields[key] as? UInt64, "\(name): \(key) is not an integer")
        return Int(truncatingIfNeeded: value)
    }

    /// A hash field, or its stand-in when it is not 32 bytes.
    func hash(_ key: String) throws -> MerkleHash {
        let text = try #require(fields[key] as? String, "\(name): \(key) is not a string")
        return try Self.hash(base64: text, in: "\(name): \(key)")
    }

    /// The proof field, with stand-ins for hashes that are not 32 bytes; JSON null is an empty proof.
    func proof() throws -> [MerkleHash] {
        if fields["proof"] is NSNull { return [] }
        let texts = try #require(fields["proof"] as? [String], "\(name): proof is not a list of strings")
        return try texts.enumerated().map { try Self.hash(base64: $1, in: "\(name): proof[\($0)]") }
    }

    private static func hash(base64 text: String, in context: String) throws -> MerkleHash {
        let raw = try #require(Data(base64Encoded: text), "\(context): not base64")
        if let hash = MerkleHash(base64: text) { return hash }
        #expect(raw.count != 32, "\(context): MerkleHash refused 32 bytes")
        return Merkle.leafHash(Array("not a 32-byte hash:".utf8) + Array(raw))
    }
}

extension MerkleTests {
    /// The vector directory: `Tests/Vectors/rfc6962` of this repository (a copy of the RFC 6962
    /// vectors with their licence and source), found from this file's path.
    private static var vectorDirectory: URL {
        URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent()  // Tests/DossierDomainTests
            .deletingLastPathComponent()  // Tests
            .appendingPathComponent("Vectors/rfc6962")
            .standardizedFileURL
    }

    /// Every JSON case under `kind` (recursively), sorted by path; fails when the directory is missing.
    private static func vectorCases(in kind: String) throws -> [VectorCase] {
        let directory = vectorDirectory.appendingPathComponent(kind)
        var isDirectory: ObjCBool = false
        try #require(
            FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory) && isDirectory.boolValue,
            "RFC 6962 test vectors not found at \(directory.path); they belong in Tests/Vectors/rfc6962")
        let enumerator = try #require(FileManager.default.enumerator(at: directory, includingPropertiesForKeys: nil))
        var cases: [VectorCase] = []
        for case let url as URL in enumerator where url.pathExtension == "json" {
            let name = String(url.standardizedFileURL.path.dropFirst(vectorDirectory.path.count + 1))
            let object = try JSONSerialization.jsonObject(with: Data(contentsOf: url))
            let fields = try #require(object as? [String: Any], "\(name) is not a JSON object")
            try #require(fields["wantErr"] is Bool, "\(name) has no wantErr")
            cases.append(VectorCase(name: name, fields: fields))
        }
        return cases.sorted { $0.name < $1.name }
    }
}

private extension Sequence where Element == MerkleHash {
    /// The Merkle tree hash of these leaves.
    var rootHash: MerkleHash { Merkle.root(of: Array(self)) }
}

private extension Array where Element == MerkleHash {
    func flippingBit(in position: Int, seed: Int) -> [MerkleHash] {
        var bytes = self[position].bytes
        let bit = Int(UInt(bitPattern: seed) % 256)
        bytes[bit / 8] ^= 1 << (bit % 8)
        var copy = self
        copy[position] = MerkleHash(bytes: bytes)!
        return copy
    }

    func removing(at position: Int) -> [MerkleHash] {
        var copy = self
        copy.remove(at: position)
        return copy
    }

    func inserting(_ hash: MerkleHash, at position: Int) -> [MerkleHash] {
        var copy = self
        copy.insert(hash, at: position)
        return copy
    }
}

/// The length of the honest inclusion proof for these arguments; nil when they admit none.
private func inclusionProofLength(index: Int, size: Int) -> Int? {
    try? Merkle.inclusionProof(index: index, size: size) { _ in Merkle.emptyRoot }.count
}

/// The length of the honest consistency proof for these sizes; nil when they admit none.
private func consistencyProofLength(from oldSize: Int, to newSize: Int) -> Int? {
    try? Merkle.consistencyProof(from: oldSize, to: newSize) { _ in Merkle.emptyRoot }.count
}

/// Bytes from hexadecimal digits (test inputs only: traps on malformed hex).
private func bytes(hex: String) -> [UInt8] {
    let digits = Array(hex.utf8)
    return stride(from: 0, to: digits.count, by: 2).map { UInt8(String(decoding: digits[$0...$0 + 1], as: UTF8.self), radix: 16)! }
}

/// `count` pseudo-random leaf hashes, the same for the same seed.
private func randomLeaves(_ count: Int, seed: UInt64) -> [MerkleHash] {
    var random = SplitMix64(seed: seed)
    return (0..<count).map { _ in Merkle.leafHash((0..<16).map { _ in UInt8.random(in: 0...255, using: &random) }) }
}

/// A small seeded generator so every run tests the same cases.
private struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
