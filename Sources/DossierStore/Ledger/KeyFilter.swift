/// A Bloom filter of strings: "certainly not seen" or "perhaps seen", in a fixed 16 MiB however
/// many strings go in.
///
/// The importer uses it to skip asking the database whether an idempotency key is taken: a key
/// the filter has not seen is not in any stream the import touched. At 1.6 million keys a false
/// "perhaps" comes about once in a million lookups; at 10 million, a few in a thousand (each
/// costs one lookup in the database, never a wrong answer).
struct KeyFilter {
    private static let bitCount = 1 << 27
    private static let probes = 5
    private var words: [UInt64]

    init() {
        words = [UInt64](repeating: 0, count: Self.bitCount / 64)
    }

    /// Two independent 64-bit hashes of the key; probe i is h1 + i·h2 (double hashing).
    private static func hashes(_ key: String) -> (UInt64, UInt64) {
        var first = Hasher()
        first.combine(key)
        var second = Hasher()
        second.combine(0x5DEE_CE66_D1CE_4E5B as UInt64)
        second.combine(key)
        return (UInt64(bitPattern: Int64(first.finalize())), UInt64(bitPattern: Int64(second.finalize())) | 1)
    }

    mutating func insert(_ key: String) {
        let (h1, h2) = Self.hashes(key)
        for probe in 0..<UInt64(Self.probes) {
            let bit = Int((h1 &+ probe &* h2) % UInt64(Self.bitCount))
            words[bit >> 6] |= 1 << UInt64(bit & 63)
        }
    }

    func mayContain(_ key: String) -> Bool {
        let (h1, h2) = Self.hashes(key)
        for probe in 0..<UInt64(Self.probes) {
            let bit = Int((h1 &+ probe &* h2) % UInt64(Self.bitCount))
            if words[bit >> 6] & (1 << UInt64(bit & 63)) == 0 { return false }
        }
        return true
    }
}
