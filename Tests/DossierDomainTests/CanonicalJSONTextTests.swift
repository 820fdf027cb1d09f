import DossierDomain
import Testing

/// The canonical JSON written straight from a text must be, byte for byte, what parsing the text
/// and writing the value canonically gives (docs/INTEGRITY.md §1); where it declines, the defined
/// way is used, so declining is always safe, and it must not decline what PostgreSQL writes.
typealias CanonicalRandom = DossierDomain.SplitMix64

@Suite("Canonical JSON from text")
struct CanonicalJSONTextTests {
    /// The defined encoding of an object text; nil where the parser refuses it or it is no object.
    func defined(_ text: String) -> [UInt8]? {
        guard case .object(let object)? = try? JSONParser.parse(text) else { return nil }
        var output: [UInt8] = []
        JSONValue.object(object).writeCanonical(into: &output)
        return output
    }

    func fast(_ text: String) -> [UInt8]? {
        var writer = CanonicalJSONText()
        return writer.canonical(Array(text.utf8))
    }

    @Test("texts as PostgreSQL writes jsonb take the fast path and give the defined bytes")
    func jsonbTexts() {
        let texts = [
            #"{}"#,
            #"{"a": 1}"#,
            #"{"b": 2, "a": 1, "aa": [1, 2, 3], "A": null, "_": true, "z": false}"#,
            #"{"name": "张伟", "district": "黄浦区", "community": "桥二居民区", "level": 8}"#,
            #"{"text": "a\"b\\c\n\t\r\b\f\u0001\u001f/ok", "k": "上海/黄浦区"}"#,
            "{\"del\": \"\u{7F}\"}",
            #"{"n": [0, -1, 9223372036, -123456789012345678, 123456789012345678]}"#,
            #"{"deep": {"y": {"b": [], "a": {}}, "x": [{"d": 1, "c": 2}, [[]]]}, "e": ""}"#,
            #"{"emoji": "😀 𝄞 ﬀ", "nfd": "é", "nfc": "é"}"#,
            "{\"ws\" :\t{ \"b\" :1 ,\n\"a\": 2 }\r\n}",
            #"{"exceptions": ["placement-quota", "training-hours"], "override": "区委批〔2026〕1号", "personal": "ab12"}"#,
        ]
        for text in texts {
            let expected = defined(text)
            #expect(expected != nil, "\(text)")
            #expect(fast(text) == expected, "\(text)")
        }
    }

    @Test("what the fast path declines, and that the defined way still encodes or refuses it")
    func declined() {
        let declined = [
            #"[1]"#, #""a""#, #"{"a": 1} x"#, #"{"a": 1.5}"#, #"{"a": 1e3}"#, #"{"a": -0}"#, #"{"a": 01}"#,
            #"{"a": 1234567890123456789}"#, #"{"a": 99999999999999999999}"#, #"{"a": "\/"}"#, #"{"a": "\u00e9"}"#,
            #"{"a": "\u000a"}"#, #"{"a": "\u001F"}"#, #"{"a": "\u0000"}"#, #"{"a": "\u007f"}"#, #"{"a\"b": 1}"#, #"{"名字": 1}"#,
            #"{"a": 1, "a": 2}"#, "{\"a\": \"\u{01}\"}", #"{"a": tru}"#, #"{"a": 1,}"#, #"{"a" 1}"#, #"{"a": [1 2]}"#,
            String(repeating: "{\"a\":", count: 65) + "1" + String(repeating: "}", count: 65),
            "{\"K\": 1, \"\u{212A}\": 2}",
        ]
        for text in declined {
            #expect(fast(text) == nil, "\(text)")
        }
        // 64 levels is the parser's limit, and the fast path's.
        let deepest = String(repeating: "{\"a\":", count: 64) + "1" + String(repeating: "}", count: 64)
        #expect(defined(deepest) != nil)
        #expect(fast(deepest) == defined(deepest))
        // Bytes that are not UTF-8: declined, and the parser refuses them.
        for bytes: [UInt8] in [[0xC0, 0x80], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xE4, 0xB8], [0xFF]] {
            let text = Array(#"{"a": ""#.utf8) + bytes + Array(#""}"#.utf8)
            var writer = CanonicalJSONText()
            #expect(writer.canonical(text) == nil)
            #expect((try? JSONParser.parse(text)) == nil)
        }
    }

    @Test("random values in jsonb's form and in other forms: the fast path gives the defined bytes or declines")
    func randomValues() {
        var random = CanonicalRandom(state: 2026)
        var taken = 0
        for round in 0..<3000 {
            let value = JSONValue.object(randomObject(&random, depth: 0))
            let jsonbStyle = round % 2 == 0
            var text: [UInt8] = []
            write(value, style: jsonbStyle, random: &random, into: &text)
            let string = String(decoding: text, as: UTF8.self)
            var writer = CanonicalJSONText()
            let result = writer.canonical(text)
            let expected = defined(string)
            if let result {
                #expect(result == expected, "\(string)")
                taken += 1
            } else if jsonbStyle {
                // jsonb's form is declined only for what the fast path never takes on.
                let hasUnusual = string.contains("1.5") || string.contains("\"名\"") || string.contains(String(Int64.max))
                    || string.contains(String(Int64.min))
                #expect(hasUnusual || expected == nil, "\(string)")
            }
        }
        #expect(taken > 1000)
    }

    func randomString(_ random: inout CanonicalRandom) -> String {
        let pieces = ["a", "Z", "张", "伟", "黄浦区", "\"", "\\", "\n", "\t", "\u{01}", "\u{1F}", "\u{7F}", "/", "😀", "é", "e\u{301}", " ", "0"]
        var text = ""
        for _ in 0..<Int(random.next() % 6) { text += pieces[Int(random.next() % UInt64(pieces.count))] }
        return text
    }

    func randomObject(_ random: inout CanonicalRandom, depth: Int) -> JSONObject {
        let keys = ["a", "b", "aa", "ab", "B", "_x", "level", "name", "z9", "名"]
        var object = JSONObject()
        for _ in 0..<Int(random.next() % 6) {
            let key = keys[Int(random.next() % UInt64(keys.count))]
            object[key] = randomValue(&random, depth: depth + 1)
        }
        return object
    }

    func randomValue(_ random: inout CanonicalRandom, depth: Int) -> JSONValue {
        switch random.next() % (depth > 3 ? 5 : 7) {
        case 0: return .null
        case 1: return .bool(random.next() % 2 == 0)
        case 2:
            let choices: [Int64] = [0, 1, -1, 42, -9_999, 123_456_789_012_345_678, Int64.max, Int64.min]
            return .integer(choices[Int(random.next() % UInt64(choices.count))])
        case 3: return .string(randomString(&random))
        case 4: return random.next() % 8 == 0 ? .fraction(1.5) : .integer(Int64(random.next() % 1000))
        case 5: return .array((0..<Int(random.next() % 4)).map { _ in randomValue(&random, depth: depth + 1) })
        default: return .object(randomObject(&random, depth: depth + 1))
        }
    }

    /// Writes a value as jsonb would (members by length then bytes, ", " and ": ", escape_json's
    /// escapes) or in another legal form (members shuffled, odd spacing, other escapes).
    func write(_ value: JSONValue, style jsonb: Bool, random: inout CanonicalRandom, into out: inout [UInt8]) {
        func space() {
            if !jsonb, random.next() % 3 == 0 { out.append(contentsOf: [" ", "\n", "\t", "\r"][Int(random.next() % 4)].utf8) }
        }
        switch value {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let flag): out.append(contentsOf: (flag ? "true" : "false").utf8)
        case .integer(let number): out.append(contentsOf: String(number).utf8)
        case .fraction(let number): out.append(contentsOf: "\(number)".utf8)
        case .string(let text): writeString(text, jsonb: jsonb, random: &random, into: &out)
        case .array(let elements):
            out.append(UInt8(ascii: "["))
            for (offset, element) in elements.enumerated() {
                if offset > 0 { out.append(contentsOf: (jsonb ? ", " : ",").utf8) }
                space()
                write(element, style: jsonb, random: &random, into: &out)
                space()
            }
            out.append(UInt8(ascii: "]"))
        case .object(let object):
            var members = object.members
            if jsonb {
                members.sort { a, b in a.key.utf8.count != b.key.utf8.count ? a.key.utf8.count < b.key.utf8.count : a.key.utf8.lexicographicallyPrecedes(b.key.utf8) }
            } else {
                for index in members.indices.reversed() where index > 0 {
                    members.swapAt(index, Int(random.next() % UInt64(index + 1)))
                }
            }
            out.append(UInt8(ascii: "{"))
            for (offset, member) in members.enumerated() {
                if offset > 0 { out.append(contentsOf: (jsonb ? ", " : ",").utf8) }
                space()
                writeString(member.key, jsonb: jsonb, random: &random, into: &out)
                space()
                out.append(contentsOf: (jsonb ? ": " : ":").utf8)
                space()
                write(member.value, style: jsonb, random: &random, into: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    func writeString(_ text: String, jsonb: Bool, random: inout CanonicalRandom, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for scalar in text.unicodeScalars {
            let value = scalar.value
            if !jsonb, random.next() % 4 == 0, value < 0x10000 {
                // Any character may be written \uXXXX, in either case.
                let hex = String(value, radix: 16, uppercase: random.next() % 2 == 0)
                out.append(contentsOf: ("\\u" + String(repeating: "0", count: 4 - hex.count) + hex).utf8)
                continue
            }
            switch value {
            case 0x22: out.append(contentsOf: "\\\"".utf8)
            case 0x5C: out.append(contentsOf: "\\\\".utf8)
            case 0x08: out.append(contentsOf: "\\b".utf8)
            case 0x0C: out.append(contentsOf: "\\f".utf8)
            case 0x0A: out.append(contentsOf: "\\n".utf8)
            case 0x0D: out.append(contentsOf: "\\r".utf8)
            case 0x09: out.append(contentsOf: "\\t".utf8)
            case 0x2F where !jsonb && random.next() % 2 == 0: out.append(contentsOf: "\\/".utf8)
            case 0..<0x20:
                let hex = String(value, radix: 16)
                out.append(contentsOf: ("\\u" + String(repeating: "0", count: 4 - hex.count) + hex).utf8)
            default: out.append(contentsOf: String(scalar).utf8)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}
