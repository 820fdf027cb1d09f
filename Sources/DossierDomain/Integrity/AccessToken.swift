import Crypto

/// A credential for scripts: `dsr_` and 43 characters of base64url (32 random bytes). The ledger
/// keeps only its SHA-256, so a copy of the database gives no one a working token.
public struct AccessToken: Sendable, Equatable {
    public let text: String

    /// A new random token.
    public static func generate() -> AccessToken {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        return AccessToken(unchecked: "dsr_" + base64url(bytes))
    }

    private init(unchecked text: String) { self.text = text }

    /// A token as a client sent it, when it has the right form.
    public init?(_ text: String) {
        guard text.utf8.count == 47, text.hasPrefix("dsr_"),
            text.utf8.dropFirst(4).allSatisfy({ Self.alphabet.contains($0) })
        else { return nil }
        self.text = text
    }

    /// What the ledger stores and looks up.
    public var hash: [UInt8] { Array(SHA256.hash(data: Array(text.utf8))) }

    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    private static func base64url(_ bytes: [UInt8]) -> String {
        var output = [UInt8]()
        var index = 0
        while index < bytes.count {
            let chunk = bytes[index..<min(index + 3, bytes.count)]
            var value: UInt32 = 0
            for (offset, byte) in chunk.enumerated() { value |= UInt32(byte) << (16 - 8 * UInt32(offset)) }
            for position in 0...chunk.count {
                output.append(alphabet[Int((value >> (18 - 6 * UInt32(position))) & 63)])
            }
            index += 3
        }
        return String(decoding: output, as: UTF8.self)
    }
}
