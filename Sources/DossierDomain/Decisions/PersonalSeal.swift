import Crypto

extension PersonalData {
    /// The commitment an event stores for this personal data: hex SHA-256 of the salt followed
    /// by the canonical JSON of the fields. With the salt erased, the data cannot be guessed
    /// back from the commitment; with both kept, anyone can check them against the event.
    public func seal(salt: [UInt8]) -> String {
        var bytes = salt
        JSONValue.object(fields).writeCanonical(into: &bytes)
        return SHA256.hash(data: bytes).hexString
    }

    /// Checks fields and salt against an event's commitment.
    public func matches(seal: String, salt: [UInt8]) -> Bool {
        self.seal(salt: salt) == seal
    }
}

extension Sequence where Element == UInt8 {
    /// Lowercase hex.
    public var hexString: String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        for byte in self {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
