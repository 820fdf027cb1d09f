import Crypto

/// The worker ids of a district's series, from which a hire sent without `worker` gets its id.
///
/// An id is read as a prefix followed by a number (its trailing digits: `D01-00017` is `D01-`
/// and 17, written five digits wide). The district's series is the prefix most of the workers
/// ever placed in the district share (on a tie, the first in byte order); the next id is that
/// prefix with the highest number of the series plus one, as wide as the widest number written
/// (`D01-00017` → `D01-00018`; `HP-9` → `HP-10`). A district with no numbered workers yet starts
/// the series `D` + the first 6 hex digits of SHA-256 of `City/District` + `-00001` (the same
/// district always starts the same series, and two districts almost never share one).
public enum WorkerSeries {
    /// The series of a district: its prefix, the highest number so far (0 for a new series) and
    /// the number's width.
    public struct Series: Sendable, Equatable {
        public var prefix: String
        public var highest: Int
        public var width: Int

        /// The `n`-th id after the highest (`n` from 1).
        public func id(after n: Int) -> String {
            let number = String(highest + n)
            return prefix + String(repeating: "0", count: max(0, width - number.count)) + number
        }
    }

    /// The series of the district `jurisdiction` (`City/District`) among `ids`, the workers
    /// ever placed there.
    public static func series(of jurisdiction: String, ids: [String]) -> Series {
        var byPrefix: [String: (count: Int, highest: Int, width: Int)] = [:]
        for id in ids {
            let digits = id.reversed().prefix { $0.isASCII && $0.isNumber }.count
            guard digits > 0, digits <= 15 else { continue }
            let prefix = String(id.dropLast(digits))
            guard let number = Int(id.suffix(digits)) else { continue }
            let old = byPrefix[prefix] ?? (0, 0, 0)
            byPrefix[prefix] = (old.count + 1, max(old.highest, number), max(old.width, digits))
        }
        let best = byPrefix.sorted { a, b in
            a.value.count != b.value.count ? a.value.count > b.value.count : Array(a.key.utf8).lexicographicallyPrecedes(Array(b.key.utf8))
        }.first
        if let best {
            return Series(prefix: best.key, highest: best.value.highest, width: best.value.width)
        }
        return Series(prefix: defaultPrefix(of: jurisdiction), highest: 0, width: 5)
    }

    /// The prefix a district's first series takes: `D` + 6 hex digits of SHA-256 of `City/District` + `-`.
    public static func defaultPrefix(of jurisdiction: String) -> String {
        "D" + SHA256.hash(data: Array(jurisdiction.utf8)).hexString.prefix(6).uppercased() + "-"
    }
}
