/// Canonical JSON (docs/INTEGRITY.md §1) written straight from a JSON text, without building a
/// `JSONValue` tree: what `verify` and `checkpoint` use on the payload text PostgreSQL returns for
/// each event.
///
/// It is a fast path, never a second definition: it takes on only texts whose canonical form it
/// can write by copying the bytes of scalars as they are, and sorting object members by the bytes
/// of their keys. For anything else it answers false, and the caller encodes the event the one
/// defined way (`JSONParser` then `JSONValue.writeCanonical`), which also throws where that way
/// throws. It answers false for:
///
/// - a top-level value that is not an object, text after it, or nesting deeper than 64 (the
///   parser's limit);
/// - a member name with a backslash or a byte outside ASCII (names canonically equivalent as
///   Swift strings are duplicates to the parser, and only ASCII names are equivalent exactly
///   when their bytes are equal), or two names with the same bytes;
/// - a string with an escape that the canonical form does not write the same way (`\/`,
///   `\u00e9`, `\u000a` for `\n`, upper-case hex digits, `\u0000`), a raw control character,
///   or bytes that are not well-formed UTF-8;
/// - a number with a fraction or an exponent, a leading zero, `-0`, or more than 18 digits.
///
/// PostgreSQL writes a `jsonb` value's strings with exactly the canonical escapes (`escape_json`:
/// `\"`, `\\`, `\b \f \n \r \t`, `\u00xx` in lower case for the other control characters), so
/// stored payloads take the fast path; only the member order (jsonb sorts names by length first)
/// and the spaces after `:` and `,` change.
public struct CanonicalJSONText {
    private struct Member {
        var keyStart: Int
        var keyEnd: Int
        var valueStart: Int
        var valueEnd: Int
    }

    /// Members of the objects being written, innermost last (reused from event to event).
    private var members: [Member] = []
    private static let maximumDepth = 64

    public init() {}

    /// Appends the canonical JSON of `text`, which must hold one JSON object, to `output`.
    /// Returns false when the text is not one this fast path takes on (see above); `output` may
    /// then hold part of an encoding after its original end, which the caller cuts off.
    public mutating func appendObject(_ text: UnsafeBufferPointer<UInt8>, to output: inout [UInt8]) -> Bool {
        members.removeAll(keepingCapacity: true)
        var index = skipWhitespace(text, 0)
        guard index < text.count, text[index] == UInt8(ascii: "{") else { return false }
        guard let end = skipValue(text, index, depth: 0) else { return false }
        index = skipWhitespace(text, end)
        guard index == text.count else { return false }
        return write(text, skipWhitespace(text, 0), depth: 0, to: &output)
    }

    /// Convenience for tests and small texts.
    public mutating func canonical(_ text: [UInt8]) -> [UInt8]? {
        var output: [UInt8] = []
        let ok = text.withUnsafeBufferPointer { appendObject($0, to: &output) }
        return ok ? output : nil
    }

    @inline(__always)
    private func skipWhitespace(_ text: UnsafeBufferPointer<UInt8>, _ start: Int) -> Int {
        var index = start
        while index < text.count {
            switch text[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return index
            }
        }
        return index
    }

    /// Checks the value starting at `start` (no whitespace before it) and returns the index just
    /// after it; nil when the fast path does not take it on.
    private func skipValue(_ text: UnsafeBufferPointer<UInt8>, _ start: Int, depth: Int) -> Int? {
        guard start < text.count else { return nil }
        switch text[start] {
        case UInt8(ascii: "\""):
            return skipString(text, start)
        case UInt8(ascii: "{"):
            guard depth < Self.maximumDepth else { return nil }
            var index = skipWhitespace(text, start + 1)
            guard index < text.count else { return nil }
            if text[index] == UInt8(ascii: "}") { return index + 1 }
            while true {
                guard index < text.count, text[index] == UInt8(ascii: "\""), let keyEnd = skipKey(text, index) else { return nil }
                index = skipWhitespace(text, keyEnd)
                guard index < text.count, text[index] == UInt8(ascii: ":") else { return nil }
                index = skipWhitespace(text, index + 1)
                guard let valueEnd = skipValue(text, index, depth: depth + 1) else { return nil }
                index = skipWhitespace(text, valueEnd)
                guard index < text.count else { return nil }
                if text[index] == UInt8(ascii: ",") {
                    index = skipWhitespace(text, index + 1)
                    continue
                }
                return text[index] == UInt8(ascii: "}") ? index + 1 : nil
            }
        case UInt8(ascii: "["):
            guard depth < Self.maximumDepth else { return nil }
            var index = skipWhitespace(text, start + 1)
            guard index < text.count else { return nil }
            if text[index] == UInt8(ascii: "]") { return index + 1 }
            while true {
                guard let valueEnd = skipValue(text, index, depth: depth + 1) else { return nil }
                index = skipWhitespace(text, valueEnd)
                guard index < text.count else { return nil }
                if text[index] == UInt8(ascii: ",") {
                    index = skipWhitespace(text, index + 1)
                    continue
                }
                return text[index] == UInt8(ascii: "]") ? index + 1 : nil
            }
        case UInt8(ascii: "t"): return literal(text, start, "true")
        case UInt8(ascii: "f"): return literal(text, start, "false")
        case UInt8(ascii: "n"): return literal(text, start, "null")
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return skipInteger(text, start)
        default:
            return nil
        }
    }

    private func literal(_ text: UnsafeBufferPointer<UInt8>, _ start: Int, _ word: StaticString) -> Int? {
        let count = word.utf8CodeUnitCount
        guard start + count <= text.count else { return nil }
        let bytes = word.utf8Start
        for offset in 0..<count where text[start + offset] != bytes[offset] { return nil }
        return start + count
    }

    /// A whole number the canonical form writes with the same bytes.
    private func skipInteger(_ text: UnsafeBufferPointer<UInt8>, _ start: Int) -> Int? {
        var index = start
        let negative = text[index] == UInt8(ascii: "-")
        if negative { index += 1 }
        let digitsStart = index
        while index < text.count, text[index] >= UInt8(ascii: "0"), text[index] <= UInt8(ascii: "9") { index += 1 }
        let digits = index - digitsStart
        guard digits >= 1, digits <= 18 else { return nil }
        if text[digitsStart] == UInt8(ascii: "0") {
            // "0" alone; "-0" is written "0", "01" is refused by the parser.
            guard digits == 1, !negative else { return nil }
        }
        if index < text.count {
            switch text[index] {
            case UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E"): return nil
            default: break
            }
        }
        return index
    }

    /// A member name: ASCII without escapes or control characters.
    private func skipKey(_ text: UnsafeBufferPointer<UInt8>, _ start: Int) -> Int? {
        var index = start + 1
        while index < text.count {
            let byte = text[index]
            if byte == UInt8(ascii: "\"") { return index + 1 }
            guard byte >= 0x20, byte < 0x80, byte != UInt8(ascii: "\\") else { return nil }
            index += 1
        }
        return nil
    }

    /// A string whose bytes, quotes included, are its canonical form.
    private func skipString(_ text: UnsafeBufferPointer<UInt8>, _ start: Int) -> Int? {
        var index = start + 1
        let count = text.count
        while index < count {
            let byte = text[index]
            if byte >= 0x20, byte < 0x80, byte != UInt8(ascii: "\""), byte != UInt8(ascii: "\\") {
                index += 1
                continue
            }
            if byte == UInt8(ascii: "\"") { return index + 1 }
            if byte == UInt8(ascii: "\\") {
                guard index + 1 < count else { return nil }
                switch text[index + 1] {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "b"), UInt8(ascii: "f"), UInt8(ascii: "n"),
                    UInt8(ascii: "r"), UInt8(ascii: "t"):
                    index += 2
                case UInt8(ascii: "u"):
                    // Only \u00xx, lower-case hex, for a control character without a short escape.
                    guard index + 6 <= count, text[index + 2] == UInt8(ascii: "0"), text[index + 3] == UInt8(ascii: "0")
                    else { return nil }
                    let high = text[index + 4]
                    let low = text[index + 5]
                    guard high == UInt8(ascii: "0") || high == UInt8(ascii: "1") else { return nil }
                    let lowValue: UInt8
                    switch low {
                    case UInt8(ascii: "0")...UInt8(ascii: "9"): lowValue = low - UInt8(ascii: "0")
                    case UInt8(ascii: "a")...UInt8(ascii: "f"): lowValue = low - UInt8(ascii: "a") + 10
                    default: return nil
                    }
                    let value = (high - UInt8(ascii: "0")) << 4 | lowValue
                    switch value {
                    case 0x00, 0x08, 0x09, 0x0A, 0x0C, 0x0D: return nil
                    default: break
                    }
                    index += 6
                default:
                    return nil
                }
                continue
            }
            if byte < 0x20 { return nil }
            guard let length = UTF8Check.sequenceLength(text, at: index) else { return nil }
            index += length
        }
        return nil
    }

    /// Writes the checked value at `start` canonically.
    private mutating func write(_ text: UnsafeBufferPointer<UInt8>, _ start: Int, depth: Int, to output: inout [UInt8]) -> Bool {
        switch text[start] {
        case UInt8(ascii: "{"):
            let base = members.count
            defer { members.removeSubrange(base...) }
            var index = skipWhitespace(text, start + 1)
            if text[index] != UInt8(ascii: "}") {
                while true {
                    let keyEnd = skipKey(text, index)!
                    var valueStart = skipWhitespace(text, keyEnd)
                    valueStart = skipWhitespace(text, valueStart + 1)
                    let valueEnd = skipValue(text, valueStart, depth: depth + 1)!
                    members.append(Member(keyStart: index + 1, keyEnd: keyEnd - 1, valueStart: valueStart, valueEnd: valueEnd))
                    index = skipWhitespace(text, valueEnd)
                    if text[index] == UInt8(ascii: "}") { break }
                    index = skipWhitespace(text, index + 1)
                }
            }
            let end = members.count
            sortMembers(text, base, end)
            for position in base..<end where position > base {
                if Self.keyOrder(text, members[position - 1], members[position]) == 0 { return false }
            }
            output.append(UInt8(ascii: "{"))
            for position in base..<end {
                let member = members[position]
                if position > base { output.append(UInt8(ascii: ",")) }
                output.append(UInt8(ascii: "\""))
                output.append(contentsOf: UnsafeBufferPointer(rebasing: text[member.keyStart..<member.keyEnd]))
                output.append(UInt8(ascii: "\""))
                output.append(UInt8(ascii: ":"))
                guard write(text, member.valueStart, depth: depth + 1, to: &output) else { return false }
            }
            output.append(UInt8(ascii: "}"))
            return true
        case UInt8(ascii: "["):
            output.append(UInt8(ascii: "["))
            var index = skipWhitespace(text, start + 1)
            if text[index] != UInt8(ascii: "]") {
                var first = true
                while true {
                    if !first { output.append(UInt8(ascii: ",")) }
                    first = false
                    guard write(text, index, depth: depth + 1, to: &output) else { return false }
                    index = skipWhitespace(text, skipValue(text, index, depth: depth + 1)!)
                    if text[index] == UInt8(ascii: "]") { break }
                    index = skipWhitespace(text, index + 1)
                }
            }
            output.append(UInt8(ascii: "]"))
            return true
        default:
            // A string, number or literal checked by skipValue: its bytes are its canonical form.
            guard let end = skipValue(text, start, depth: depth) else { return false }
            output.append(contentsOf: UnsafeBufferPointer(rebasing: text[start..<end]))
            return true
        }
    }

    /// Compares two member names by their bytes (shorter first on a common prefix).
    @inline(__always)
    private static func keyOrder(_ text: UnsafeBufferPointer<UInt8>, _ a: Member, _ b: Member) -> Int {
        let lengthA = a.keyEnd - a.keyStart
        let lengthB = b.keyEnd - b.keyStart
        let common = min(lengthA, lengthB)
        for offset in 0..<common {
            let x = text[a.keyStart + offset]
            let y = text[b.keyStart + offset]
            if x != y { return x < y ? -1 : 1 }
        }
        return lengthA == lengthB ? 0 : (lengthA < lengthB ? -1 : 1)
    }

    /// Insertion sort of `members[base..<end]` by name (objects hold few members).
    private mutating func sortMembers(_ text: UnsafeBufferPointer<UInt8>, _ base: Int, _ end: Int) {
        if end - base > 32 {
            members[base..<end].sort { Self.keyOrder(text, $0, $1) < 0 }
            return
        }
        var position = base + 1
        while position < end {
            let member = members[position]
            var hole = position
            while hole > base, Self.keyOrder(text, members[hole - 1], member) > 0 {
                members[hole] = members[hole - 1]
                hole -= 1
            }
            members[hole] = member
            position += 1
        }
    }
}

/// Well-formed UTF-8 (Unicode Table 3-7: no overlong forms, no surrogates, nothing past
/// U+10FFFF): what `String(validating:)` and `JSONParser` accept, checked without making a String.
public enum UTF8Check {
    /// True when all of `bytes` is well-formed UTF-8.
    public static func isValid(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        var index = 0
        let count = bytes.count
        while index < count {
            // Eight ASCII bytes at a time.
            if index + 8 <= count {
                let word = UnsafeRawPointer(bytes.baseAddress! + index).loadUnaligned(as: UInt64.self)
                if word & 0x8080_8080_8080_8080 == 0 {
                    index += 8
                    continue
                }
            }
            if bytes[index] < 0x80 {
                index += 1
                continue
            }
            guard let length = sequenceLength(bytes, at: index) else { return false }
            index += length
        }
        return true
    }

    /// The length of the well-formed multi-byte sequence at `index` (whose first byte is 0x80 or
    /// more); nil when it is not one.
    @inline(__always)
    static func sequenceLength(_ bytes: UnsafeBufferPointer<UInt8>, at index: Int) -> Int? {
        let lead = bytes[index]
        let count = bytes.count
        @inline(__always) func continuation(_ offset: Int, _ low: UInt8 = 0x80, _ high: UInt8 = 0xBF) -> Bool {
            index + offset < count && bytes[index + offset] >= low && bytes[index + offset] <= high
        }
        switch lead {
        case 0xC2...0xDF:
            return continuation(1) ? 2 : nil
        case 0xE0:
            return continuation(1, 0xA0) && continuation(2) ? 3 : nil
        case 0xE1...0xEC, 0xEE...0xEF:
            return continuation(1) && continuation(2) ? 3 : nil
        case 0xED:
            return continuation(1, 0x80, 0x9F) && continuation(2) ? 3 : nil
        case 0xF0:
            return continuation(1, 0x90) && continuation(2) && continuation(3) ? 4 : nil
        case 0xF1...0xF3:
            return continuation(1) && continuation(2) && continuation(3) ? 4 : nil
        case 0xF4:
            return continuation(1, 0x80, 0x8F) && continuation(2) && continuation(3) ? 4 : nil
        default:
            return nil
        }
    }
}
