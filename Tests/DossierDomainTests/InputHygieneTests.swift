import DossierDomain
import Foundation
import Testing

/// Input that cannot hurt the ledger (issue 14): every text of a decision in NFC, no invisible
/// or direction-changing characters, limits in UTF-8 bytes.
@Suite("Decision text: NFC, format characters, byte limits")
struct InputHygieneTests {
    /// A training decision (the fewest fields) with `fields` replacing or adding to its own.
    static func training(_ fields: [String: JSONValue] = [:]) -> JSONObject {
        var object = JSONObject([
            ("decision", .string("training")), ("worker", .string("W-001")), ("kind", .string("initial")),
            ("hours", .integer(8)), ("effective", .string("2025-01-01")), ("authority", .string("五里桥街道")),
            ("reference", .string("TR-1")),
        ])
        for (key, value) in fields { object[key] = value }
        return object
    }

    static func hire(_ fields: [String: JSONValue] = [:]) throws -> JSONObject {
        var object = try #require(JSONParser.parse(examples[0]).objectValue)
        for (key, value) in fields { object[key] = value }
        return object
    }

    static func problems(_ object: JSONObject) -> String {
        do {
            _ = try DecisionCodec.decode(.object(object))
            return ""
        } catch {
            return error.description
        }
    }

    // MARK: NFC

    @Test("a text written composed or decomposed is one decision, stored in NFC, with one seal")
    func composedAndDecomposed() throws {
        let composed = "Q-\u{E9}"
        let decomposed = "Q-e\u{301}"
        #expect(Array(composed.utf8) != Array(decomposed.utf8))
        let name = "Zo\u{EB} \u{D6}zt\u{FC}rk"  // Zoë Öztürk
        let nameDecomposed = "Zoe\u{308} O\u{308}ztu\u{308}rk"
        let one = try DecisionCodec.decode(.object(Self.hire(["reference": .string(composed), "name": .string(name), "community": .string("Caf\u{E9}")])))
        let other = try DecisionCodec.decode(.object(Self.hire(["reference": .string(decomposed), "name": .string(nameDecomposed), "community": .string("Cafe\u{301}")])))
        #expect(one == other)
        #expect(Array(other.reference.utf8) == Array(composed.utf8))
        #expect(Array(try #require(other.personal?.name).utf8) == Array(name.utf8))
        // The bytes that are hashed and stored are the same.
        #expect(JSONValue.object(DecisionCodec.payload(of: other)).canonicalText.utf8.elementsEqual(
            JSONValue.object(DecisionCodec.payload(of: one)).canonicalText.utf8))
        let salt = [UInt8](repeating: 7, count: 16)
        let seals = [one, other].map { $0.personal?.seal(salt: salt) }
        #expect(seals[0] != nil && seals[0] == seals[1])
        // Through the JSON text too (the path of record and import).
        let text = examples[0].replacingOccurrences(of: "WLQ-2012-01", with: "WLQ-e\u{301}")
        let decoded = try DecisionCodec.decode(json: text)
        #expect(Array(decoded.reference.utf8) == Array("WLQ-\u{E9}".utf8))
    }

    @Test("nested texts and member names are normalized too: policy parameters, corrected fields")
    func nested() throws {
        let correction = try DecisionCodec.decode(json: #"{"decision":"correction","worker":"W-001","corrects":"0b5f1c7e-1f0a-4c59-9a3e-5d6c2b8e4f10","community":"Cafe\u0301","effective":"2029-03-01","authority":"a","reference":"C-1"}"#)
        guard case .correction(let changes) = correction.body else {
            Issue.record("not a correction")
            return
        }
        #expect(changes.changes["community"]?.stringValue.map { Array($0.utf8) } == Array("Caf\u{E9}".utf8))
        // An unknown member name is reported in NFC.
        let problems = Self.problems(Self.training(["cafe\u{301}": .integer(1)]))
        #expect(problems.contains("field \"caf\u{E9}\": is not a field of a training decision"), "\(problems)")
        #expect(!problems.unicodeScalars.contains("\u{301}"))
        // Hangul typed as jamo (as macOS writes file names) is stored as syllables.
        let jamo = String(repeating: "\u{1112}\u{1161}\u{11AB}", count: 30)  // 한 × 30: 270 bytes as jamo, 90 as syllables
        let hire = try DecisionCodec.decode(.object(Self.hire(["name": .string(jamo)])))
        #expect(hire.personal?.name.map { Array($0.utf8) } == Array(String(repeating: "\u{D55C}", count: 30).utf8))
    }

    // MARK: Format characters

    static let formatCharacters: [Unicode.Scalar] = [
        "\u{200B}", "\u{200C}", "\u{200D}", "\u{200E}", "\u{200F}", "\u{202A}", "\u{202B}", "\u{202C}", "\u{202D}",
        "\u{202E}", "\u{2060}", "\u{2066}", "\u{2067}", "\u{2068}", "\u{2069}", "\u{FEFF}", "\u{00AD}", "\u{061C}",
        "\u{180E}", "\u{E0041}",
    ]

    @Test("every format character (Cf) is refused in an id, with the field and the code point", arguments: formatCharacters)
    func formatInWorker(scalar: Unicode.Scalar) {
        let code = "U+" + String(format: "%04X", scalar.value)
        let problems = Self.problems(Self.training(["worker": .string("W-001" + String(scalar))]))
        #expect(problems == "field \"worker\": must not contain invisible or direction-changing characters (found \(code))")
        #expect(!problems.unicodeScalars.contains(scalar))
    }

    @Test(
        "format characters are refused in every text of a decision: names, places, references, authorities, free text",
        arguments: ["name", "community", "street", "district", "city", "reference", "authority", "override", "idNumber", "phone"])
    func formatEverywhere(field: String) throws {
        for scalar in ["\u{200B}", "\u{202E}", "\u{2066}", "\u{FEFF}"] as [Unicode.Scalar] {
            let code = "U+" + String(format: "%04X", scalar.value)
            let problems = Self.problems(try Self.hire([field: .string("朱" + String(scalar) + "虹")]))
            #expect(problems == "field \"\(field)\": must not contain invisible or direction-changing characters (found \(code))")
        }
    }

    @Test("format characters are refused in free text, corrected fields, policy parameters and member names")
    func formatInOtherPlaces() {
        let cases: [(String, String)] = [
            (#"{"decision":"misconduct","worker":"W-001","description":"台账\u200F填报不实","sanction":"demerit","effective":"2023-05-04","authority":"a","reference":"M-1"}"#,
             #"field "description": must not contain invisible or direction-changing characters (found U+200F)"#),
            (#"{"decision":"dismissal","worker":"W-001","grounds":"年度考核\u00AD不称职","effective":"2024-10-01","authority":"a","reference":"D-1"}"#,
             #"field "grounds": must not contain invisible or direction-changing characters (found U+00AD)"#),
            (#"{"decision":"correction","worker":"W-001","corrects":"0b5f1c7e-1f0a-4c59-9a3e-5d6c2b8e4f10","community":"桥\u2067二","effective":"2029-03-01","authority":"a","reference":"C-1"}"#,
             #"field "community": must not contain invisible or direction-changing characters (found U+2067)"#),
            (#"{"decision":"policy","jurisdiction":"上海","parameters":{"postRoles":{"principal":["staff\u200B"]}},"effective":"2026-01-01","authority":"a","reference":"P-1"}"#,
             #"field "parameters.postRoles.principal[0]": must not contain invisible or direction-changing characters (found U+200B)"#),
            (#"{"decision":"policy","jurisdiction":"上海","parameters":{"max\u200BLevel":3},"effective":"2026-01-01","authority":"a","reference":"P-1"}"#,
             #"field "parameters.max\u200BLevel": must not contain invisible or direction-changing characters (found U+200B)"#),
            (#"{"decision":"training","worker\u202E":"W-001","kind":"initial","hours":8,"effective":"2025-01-01","authority":"a","reference":"r"}"#,
             #"field "worker\u202E": must not contain invisible or direction-changing characters (found U+202E); field "worker": is required"#),
            (#"{"decision":"training\u200B","worker":"W-001"}"#,
             #"field "decision": must not contain invisible or direction-changing characters (found U+200B)"#),
            (#"{"decision":"population","jurisdiction":"上海/黄浦\u200D区","year":2024,"urbanPopulation":1,"effective":"2025-01-01","authority":"a","reference":"r"}"#,
             #"field "jurisdiction": must not contain invisible or direction-changing characters (found U+200D)"#),
        ]
        for (json, expected) in cases {
            let error = #expect(throws: InvalidDecision.self) { try DecisionCodec.decode(json: json) }
            #expect(error?.description == expected)
        }
    }

    @Test("a control character is named by its code point, four digits at least")
    func controlCharacter() {
        let problems = Self.problems(Self.training(["authority": .string("a\u{7}")]))
        #expect(problems == "field \"authority\": must not contain control characters (found U+0007)")
        let newline = Self.problems(Self.training(["reference": .string("R\n1")]))
        #expect(newline == "field \"reference\": must not contain control characters (found U+000A)")
        // Free text may hold line breaks and tabs.
        #expect(Self.problems(Self.training(["override": .string("第一行\n\t第二行"), "overrideApproval": .string("批-1")])) == "")
    }

    // MARK: Limits in bytes

    @Test("an id is at most 64 bytes of UTF-8: a 3,008-byte worker id is refused by its bytes")
    func identifierBytes() {
        #expect(Self.problems(Self.training(["worker": .string(String(repeating: "W", count: 64))])) == "")
        #expect(Self.problems(Self.training(["worker": .string(String(repeating: "W", count: 65))]))
            == "field \"worker\": must be at most 64 bytes of UTF-8, found 65")
        #expect(Self.problems(Self.training(["worker": .string("W-001" + String(repeating: "9", count: 3003))]))
            == "field \"worker\": must be at most 64 bytes of UTF-8, found 3008")
        // Chinese ids: 21 characters are 63 bytes, 22 are 66.
        #expect(Self.problems(Self.training(["worker": .string(String(repeating: "黄", count: 21))])) == "")
        #expect(Self.problems(Self.training(["worker": .string(String(repeating: "黄", count: 22))]))
            == "field \"worker\": must be at most 64 bytes of UTF-8, found 66")
        // One character on screen, 3,008 bytes: combining marks count by their bytes.
        let stacked = "W" + String(repeating: "\u{301}", count: 1_503)
        #expect(stacked.count == 1)
        #expect(Self.problems(Self.training(["worker": .string(stacked)]))
            == "field \"worker\": must be at most 64 bytes of UTF-8, found 3007")
    }

    @Test("a name is at most 300 bytes: 100 Chinese characters pass, one letter with 10,000 accents does not")
    func nameBytes() throws {
        let long = String(repeating: "朱", count: 100)
        let hire = try DecisionCodec.decode(.object(Self.hire(["name": .string(long)])))
        #expect(hire.personal?.name == long)
        #expect(Self.problems(try Self.hire(["name": .string(long + "虹")])) == "field \"name\": must be at most 300 bytes of UTF-8, found 303")
        let accents = "a" + String(repeating: "\u{301}", count: 10_000)
        #expect(Self.problems(try Self.hire(["name": .string(accents)])) == "field \"name\": must be at most 300 bytes of UTF-8, found 20001")
        // A Uyghur name in Arabic script (two bytes a letter).
        let uyghur = "ئابدۇرېھىم ئۆتكۈر"
        #expect(try DecisionCodec.decode(.object(Self.hire(["name": .string(uyghur)]))).personal?.name == uyghur)
    }

    @Test("where the database counts characters, both limits hold: bytes first, then code points")
    func bytesAndCharacters() throws {
        // A reference: 300 bytes, 100 characters (the database's own limit).
        #expect(Self.problems(Self.training(["reference": .string(String(repeating: "号", count: 100))])) == "")
        #expect(Self.problems(Self.training(["reference": .string(String(repeating: "号", count: 101))]))
            == "field \"reference\": must be at most 300 bytes of UTF-8, found 303")
        #expect(Self.problems(Self.training(["reference": .string(String(repeating: "R", count: 101))]))
            == "field \"reference\": must be at most 100 characters (Unicode code points), found 101")
        // Free text: 6,000 bytes, 2,000 characters.
        #expect(Self.problems(Self.training(["override": .string(String(repeating: "理", count: 2_000)), "overrideApproval": .string("批-1")])) == "")
        #expect(Self.problems(Self.training(["override": .string(String(repeating: "理", count: 2_001))]))
            == "field \"override\": must be at most 6000 bytes of UTF-8, found 6003")
        // An authority: 600 bytes, 200 characters.
        #expect(Self.problems(Self.training(["authority": .string(String(repeating: "办", count: 200))])) == "")
        #expect(Self.problems(Self.training(["authority": .string(String(repeating: "办", count: 201))]))
            == "field \"authority\": must be at most 600 bytes of UTF-8, found 603")
        // Places: 300 bytes, 100 characters; each part of a jurisdiction too.
        #expect(Self.problems(try Self.hire(["street": .string(String(repeating: "街", count: 101))]))
            == "field \"street\": must be at most 300 bytes of UTF-8, found 303")
        let population = #"{"decision":"population","jurisdiction":"上海/DISTRICT","year":2024,"urbanPopulation":1,"effective":"2025-01-01","authority":"a","reference":"r"}"#
        #expect(throws: Never.self) { try DecisionCodec.decode(json: population.replacingOccurrences(of: "DISTRICT", with: String(repeating: "区", count: 100))) }
        let error = #expect(throws: InvalidDecision.self) {
            try DecisionCodec.decode(json: population.replacingOccurrences(of: "DISTRICT", with: String(repeating: "区", count: 101)))
        }
        #expect(error?.description.contains("each part at most 300 bytes of UTF-8 and 100 characters") == true)
        // A corrected field obeys the limit of its field.
        let correction = #"{"decision":"correction","worker":"W-001","corrects":"0b5f1c7e-1f0a-4c59-9a3e-5d6c2b8e4f10","street":"STREET","effective":"2029-03-01","authority":"a","reference":"C-1"}"#
        let corrected = #expect(throws: InvalidDecision.self) {
            try DecisionCodec.decode(json: correction.replacingOccurrences(of: "STREET", with: String(repeating: "街", count: 101)))
        }
        #expect(corrected?.description == "field \"street\": must be at most 300 bytes of UTF-8, found 303")
    }

    @Test("the texts of the ledger's limits are documented as the code has them")
    func limitsAreTheDocumentedOnes() {
        #expect(DecisionText.identifier == DecisionText.Limit(bytes: 64))
        #expect(DecisionText.reference == DecisionText.Limit(bytes: 300, characters: 100))
        #expect(DecisionText.authority == DecisionText.Limit(bytes: 600, characters: 200))
        #expect(DecisionText.place == DecisionText.Limit(bytes: 300, characters: 100))
        #expect(DecisionText.name == DecisionText.Limit(bytes: 300))
        #expect(DecisionText.freeText == DecisionText.Limit(bytes: 6000, characters: 2000, multiline: true))
    }

    // MARK: Bounded work and messages

    @Test("member names are at most 64 bytes; a decision with thousands of unknown fields reports a bounded list, fast")
    func manyFields() throws {
        let longName = Self.problems(Self.training([String(repeating: "k", count: 65): .integer(1)]))
        #expect(longName.hasPrefix("a field name must be at most 64 bytes of UTF-8, found one of 65"), "\(longName)")
        #expect(Self.problems(Self.training(["": .integer(1)])) == "a field name must not be empty")
        var text = #"{"decision":"training","worker":"W-001""#
        var count = 0
        while text.utf8.count < 250_000 {
            text += ",\"k\(count)\":0"
            count += 1
        }
        text += "}"
        let started = ContinuousClock.now
        let error = #expect(throws: InvalidDecision.self) { try DecisionCodec.decode(json: text) }
        #expect(ContinuousClock.now - started < .seconds(10))
        #expect(error?.problems.count ?? 0 <= 20)
        #expect(error?.description.contains("more fields that are not fields of a training decision") == true)
        // Duplicates are still found among many members, canonical equivalents included.
        let duplicate = text.dropLast() + #","k7":1}"#
        let syntax = #expect(throws: InvalidDecision.self) { try DecisionCodec.decode(json: String(duplicate)) }
        #expect(syntax?.description.contains("the member \"k7\" appears twice") == true)
        #expect(throws: JSONSyntaxError.self) { try JSONParser.parse(#"{"caf\#u{E9}":1,"cafe\#u{301}":2}"#) }
        let long = String(repeating: "x", count: 2_000)
        #expect(throws: JSONSyntaxError.self) { try JSONParser.parse("{\"\(long)\u{E9}\":1,\"\(long)e\u{301}\":2}") }
        #expect(throws: JSONSyntaxError.self) { try JSONParser.parse("{\"\u{212A}\(long)\":1,\"K\(long)\":2}") }
        // A long name (1,200 bytes) equal to a short one (400 bytes): U+1FEF is "`" canonically.
        let grave = String(repeating: "`", count: 400)
        let graveAccents = String(repeating: "\u{1FEF}", count: 400)
        #expect(throws: JSONSyntaxError.self) { try JSONParser.parse("{\"\(grave)\":1,\"\(graveAccents)\":2}") }
        #expect(throws: JSONSyntaxError.self) { try JSONParser.parse("{\"\(graveAccents)\":1,\"\(grave)\":2}") }
    }

    @Test("messages quote at most a short excerpt of what was sent, invisible and control characters escaped")
    func messagesAreSafe() {
        let kind = Self.problems(Self.training(["decision": .string("promotion" + String(repeating: "x", count: 200))]))
        #expect(kind.contains(#"unknown decision kind "promotion"# + String(repeating: "x", count: 31) + #"…""#), "\(kind)")
        #expect(kind.utf8.count < 1_000)
        let control = Self.problems(Self.training(["decision": .string("promo\u{1B}[31mtion")]))
        #expect(control == "field \"decision\": must not contain control characters (found U+001B)")
        #expect(JSONValue.quotedExcerpt("a\u{1B}\u{202E}\"\\b\u{E0041}") == #""a\u001B\u202E\"\\b\uDB40\uDC41""#)
        #expect(JSONValue.quotedExcerpt("黄浦区", maxBytes: 7) == "\"黄浦…\"")
        let date = Self.problems(Self.training(["effective": .string("2025-01-01" + String(repeating: "9", count: 200))]))
        #expect(date.contains(#""2025-01-01"# + String(repeating: "9", count: 30) + #"…" is not a real calendar date"#), "\(date)")
        let nul = Self.problems(Self.training(["effective": .string("2025\u{0}")]))
        #expect(nul == "field \"effective\": must not contain control characters (found U+0000)")
        let parse = #expect(throws: JSONSyntaxError.self) { try JSONParser.parse("{\"a\u{202E}b\":1,\"a\u{202E}b\":2}") }
        #expect(parse?.reason == #"the member "a\u202Eb" appears twice"#)
    }
}
