import Crypto
import Foundation

/// A signed tree head in the checkpoint format of transparency logs (a signed note):
///
///     <origin>
///     <tree size, decimal>
///     <root hash, base64>
///     heads <number of streams, decimal> <root of the stream-heads tree, base64>
///     time <ISO 8601 UTC, six fraction digits>
///
///     — <key name> <base64(key id (4 bytes) || Ed25519 signature (64 bytes))>
///
/// The signature covers the text up to and including the newline before the blank line. The key
/// id is the first 4 bytes of SHA-256(key name || 0x0A || 0x01 || public key), as in the signed
/// note format. The `heads` line (see `StreamHead`) is absent from checkpoints signed before
/// version 0.9 of Dossier; nothing else may differ from this layout.
public struct Checkpoint: Sendable, Equatable {
    public var origin: String
    public var size: Int
    public var root: MerkleHash
    /// The number of streams and the root of the tree of their heads; nil in older checkpoints.
    public var heads: Heads?
    public var time: Timestamp

    public struct Heads: Sendable, Equatable {
        public var count: Int
        public var root: MerkleHash

        public init(count: Int, root: MerkleHash) {
            self.count = count
            self.root = root
        }
    }

    public init(origin: String, size: Int, root: MerkleHash, heads: Heads? = nil, time: Timestamp) {
        self.origin = origin
        self.size = size
        self.root = root
        self.heads = heads
        self.time = time
    }

    /// The signed body.
    public var body: String {
        "\(origin)\n\(size)\n\(root.base64)\n" + (heads.map { "heads \($0.count) \($0.root.base64)\n" } ?? "") + "time \(time)\n"
    }

    /// The note with one signature line.
    public func signed(with key: SigningKey) throws -> String {
        let signature = try key.privateKey.signature(for: Data(body.utf8))
        return body + "\n— \(key.name) " + Data(key.keyID + [UInt8](signature)).base64EncodedString() + "\n"
    }

    /// Why a checkpoint note was refused.
    public struct Invalid: Error, Sendable, Equatable, CustomStringConvertible {
        public var description: String
        /// The note is well formed but carries no signature by the key it was checked with: a
        /// question of which key to trust, not a sign of tampering.
        public var notSignedByKey = false
        init(_ description: String, notSignedByKey: Bool = false) {
            self.description = description
            self.notSignedByKey = notSignedByKey
        }
    }

    /// Parses a signed checkpoint and checks its signature by `key`.
    ///
    /// Strict: exactly the layout above (each line ending in a newline, the note too; no blank
    /// line among the signatures; canonical decimal and base64; the time as `Timestamp` writes
    /// it). Refuses anything else with a clear reason; never traps on hostile input.
    public static func verify(_ text: String, key: VerifyingKey) throws(Invalid) -> Checkpoint {
        guard text.utf8.count <= 64 * 1024 else { throw Invalid("the checkpoint is too large") }
        guard let separator = text.range(of: "\n\n") else { throw Invalid("the checkpoint has no signature block") }
        let body = String(text[..<separator.lowerBound]) + "\n"
        let lines = body.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init)
        guard lines.count == 4 || lines.count == 5 else {
            throw Invalid("the checkpoint must have an origin, a size, a root, optionally a heads line, and a time line")
        }
        guard !lines[0].isEmpty else { throw Invalid("the checkpoint's origin is empty") }
        guard let size = Int(lines[1]), size >= 0, String(size) == lines[1] else {
            throw Invalid("the checkpoint's size is not a decimal number")
        }
        guard let root = MerkleHash(base64: lines[2]) else { throw Invalid("the checkpoint's root is not a base64 SHA-256 hash") }
        var heads: Heads?
        if lines.count == 5 {
            let parts = lines[3].split(separator: " ", omittingEmptySubsequences: false)
            guard parts.count == 3, parts[0] == "heads", let count = Int(parts[1]), count >= 1, String(count) == parts[1],
                let headsRoot = MerkleHash(base64: String(parts[2]))
            else { throw Invalid("the checkpoint's heads line must be \"heads <count> <base64 root>\"") }
            heads = Heads(count: count, root: headsRoot)
        }
        let timeLine = lines[lines.count - 1]
        guard timeLine.hasPrefix("time "), let time = Timestamp(exactly: String(timeLine.dropFirst(5))) else {
            throw Invalid("the checkpoint's last line must be \"time YYYY-MM-DDTHH:MM:SS.ffffffZ\"")
        }
        let signatures = text[separator.upperBound...]
        guard signatures.hasSuffix("\n") else { throw Invalid("the checkpoint must end with a newline") }
        var verified = false
        for line in signatures.dropLast().split(separator: "\n", omittingEmptySubsequences: false) {
            guard line.hasPrefix("— ") else { throw Invalid("a signature line must start with an em dash (no blank lines among signatures)") }
            let parts = line.dropFirst(2).split(separator: " ", omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty else { throw Invalid("a signature line is malformed") }
            // Another signer's line (a witness's cosignature, say) is not ours to read.
            guard String(parts[0]) == key.name else { continue }
            guard let blob = Data(canonicalBase64: String(parts[1])), blob.count == 68 else {
                throw Invalid("the signature line of \(JSONValue.quotedExcerpt(key.name)) is not base64 of a key id and an Ed25519 signature")
            }
            guard Array(blob.prefix(4)) == key.keyID else { continue }
            guard key.publicKey.isValidSignature(blob.suffix(64), for: Data(body.utf8)) else {
                throw Invalid("the signature of \(JSONValue.quotedExcerpt(key.name)) does not match the checkpoint")
            }
            verified = true
        }
        guard verified else {
            throw Invalid("the checkpoint carries no signature by the key \(JSONValue.quotedExcerpt(key.name))", notSignedByKey: true)
        }
        return Checkpoint(origin: lines[0], size: size, root: root, heads: heads, time: time)
    }
}

/// The key that signs checkpoints: a name and an Ed25519 private key.
public struct SigningKey: Sendable {
    public var name: String
    /// The raw 32-byte Ed25519 private key.
    let raw: [UInt8]

    public init(name: String, privateKey: Curve25519.Signing.PrivateKey = .init()) {
        self.name = name
        self.raw = [UInt8](privateKey.rawRepresentation)
    }

    public var privateKey: Curve25519.Signing.PrivateKey {
        // Checked when the key was made.
        try! Curve25519.Signing.PrivateKey(rawRepresentation: raw)
    }

    public var verifying: VerifyingKey { VerifyingKey(name: name, publicKey: privateKey.publicKey) }
    var keyID: [UInt8] { verifying.keyID }

    /// The private key file: `PRIVATE+KEY+<name>+<base64 raw key>` on one line.
    public var fileText: String { "PRIVATE+KEY+\(name)+\(privateKey.rawRepresentation.base64EncodedString())\n" }

    public init?(fileText: String) {
        let parts = fileText.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "+", maxSplits: 3)
        guard parts.count == 4, parts[0] == "PRIVATE", parts[1] == "KEY", let raw = Data(base64Encoded: String(parts[3])),
            let key = try? Curve25519.Signing.PrivateKey(rawRepresentation: raw)
        else { return nil }
        self.init(name: String(parts[2]), privateKey: key)
    }
}

/// The key that checks checkpoints: a name and an Ed25519 public key.
public struct VerifyingKey: Sendable, Equatable {
    public var name: String
    /// The raw 32-byte Ed25519 public key.
    let raw: [UInt8]

    public init(name: String, publicKey: Curve25519.Signing.PublicKey) {
        self.name = name
        self.raw = [UInt8](publicKey.rawRepresentation)
    }

    public var publicKey: Curve25519.Signing.PublicKey {
        // Checked when the key was made.
        try! Curve25519.Signing.PublicKey(rawRepresentation: raw)
    }

    /// The first 4 bytes of SHA-256(name || 0x0A || 0x01 || public key).
    public var keyID: [UInt8] {
        var input = Array(name.utf8)
        input.append(0x0A)
        input.append(0x01)
        input.append(contentsOf: publicKey.rawRepresentation)
        return Array(SHA256.hash(data: input).prefix(4))
    }

    /// The verifier key text: `<name>+<key id hex>+<base64(0x01 || public key)>`.
    public var text: String {
        "\(name)+\(keyID.hexString)+" + Data([0x01] + [UInt8](publicKey.rawRepresentation)).base64EncodedString()
    }

    public init?(text: String) {
        let parts = text.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "+", maxSplits: 2)
        guard parts.count == 3, let blob = Data(canonicalBase64: String(parts[2])), blob.count == 33, blob.first == 0x01,
            let key = try? Curve25519.Signing.PublicKey(rawRepresentation: blob.dropFirst())
        else { return nil }
        self.init(name: String(parts[0]), publicKey: key)
        guard keyID.hexString == parts[1] else { return nil }
    }
}
