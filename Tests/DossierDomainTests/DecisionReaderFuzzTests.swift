import DossierDomain
import Foundation
import Testing

/// The fuzzers' seeded generator: the same seed gives the same inputs.
typealias FuzzRandom = SplitMix64

/// A mutation fuzzer for the decision reader (`DecisionCodec.decode` over the JSON parser), the
/// one path `record`, `import` and the API read decisions through: valid decisions of every kind,
/// mutated by byte flips, truncation, splicing, huge numbers, deep nesting, invalid UTF-8, NUL,
/// format and combining characters, and by structure (a member's value replaced, added, removed).
///
/// Every input must either decode, to a decision whose texts are NFC, free of format characters
/// and within their limits, and that decodes again to itself; or be refused with problems that
/// each name a field or the whole decision, in a short message free of control and format
/// characters. A trap ends the test process: the seed and iteration printed first say which
/// input did it. `DOSSIER_FUZZ_ITERATIONS` sets how many inputs (about 20 s by default on a
/// two-core machine, debug build), `DOSSIER_FUZZ_SEED` the seed.
@Suite("Fuzzing the decision reader")
struct DecisionReaderFuzzTests {
    static let defaultIterations = 120_000
    static let defaultSeed: UInt64 = 0x0D05_5123_2026_0014

    /// More valid decisions: every optional field, personal data, override, nested parameters.
    static let corpus: [String] = examples + [
        #"{"decision":"hire","worker":"W-002","name":"阿不都热合曼·买买提","idNumber":"65010219800101123X","birthDate":"1980-01-01","phone":"+86 138 0000 0000","community":"桥二居民区","street":"五里桥街道","district":"黄浦区","city":"上海","post":"staff","role":"staff","level":3,"education":"associate","effective":"2012-03-01","authority":"五里桥街道办事处","reference":"WLQ-2012-02","override":"经区委批准\n特事特办","overrideApproval":"区委〔2012〕2号","eventId":"1b5f1c7e-1f0a-4c59-9a3e-5d6c2b8e4f10"}"#,
        #"{"decision":"correction","worker":"W-001","corrects":"0b5f1c7e-1f0a-4c59-9a3e-5d6c2b8e4f10","name":"朱红","community":"桥一居民区","correctedEffective":"2012-04-01","effective":"2029-03-01","authority":"黄浦区社会工作部","reference":"C-2029-2"}"#,
        #"{"decision":"fault-tolerance","worker":"W-001","misconduct":"0b5f1c7e-1f0a-4c59-9a3e-5d6c2b8e4f10","ruling":"mitigated","sanction":"warning","effective":"2023-08-01","authority":"黄浦区纪委","reference":"FT-2023-3"}"#,
        #"{"decision":"policy","jurisdiction":"*","parameters":{"quotaPerTenThousand":18,"maxLevel":18,"postRoles":{"principal":["party-secretary","secretary-director"],"staff":["staff"]}},"effective":"2026-01-01","authority":"民政部","reference":"MZ-2026-1"}"#,
        #"{"decision":"transfer","worker":"W-001","community":"桥一居民区","street":"五里桥街道","district":"黄浦区","city":"上海","effective":"2019-09-01","authority":"黄浦区社会工作部","reference":"T-2019-5"}"#,
    ]

    /// Fragments inserted at random places.
    static let tokens: [[UInt8]] = {
        var tokens: [String] = [
            "99999999999999999999999", "-9223372036854775809", "9223372036854775807", "1e999", "-0", "0.5",
            "1E+2", "01", "-", "1e", "0.", "null", "true", "false", "[]", "{}", "\"\"", ",", ":", "\"", "\\",
            "\\u0000", "\\uD800", "\\uDC00", "\\uD800\\u0041", "\\u200B", "\\u202E", "\\uFEFF", "\\u00AD", "\\u0301",
            "\\u0007", "\\n", "\\t", "\\x", "\u{200B}", "\u{202E}", "\u{2066}", "\u{FEFF}", "\u{00AD}", "\u{E0041}",
            "\u{301}\u{316}\u{301}\u{316}", "e\u{301}", "\u{E9}", "\u{212A}", "\u{1112}\u{1161}\u{11AB}", "黄浦区", "\r",
            ",\"worker\":\"W-001\"", ",\"decision\":\"hire\"", ",\"name\":\"朱虹\"", ",\"extra\":1", ",\"eventId\":\"x\"",
            ",\"override\":\"因\"", ",\"personal\":{}", ",\"exceptions\":[]",
            String(repeating: "[", count: 70), String(repeating: "{\"a\":", count: 70), String(repeating: "x", count: 5_000),
            String(repeating: "\u{301}", count: 2_000), String(repeating: "号", count: 120), "2025-02-29", "0000-01-01",
            "0b5f1c7e-1f0a-4c59-9a3e-5d6c2b8e4f1", "0B5F1C7E-1F0A-4C59-9A3E-5D6C2B8E4F10",
        ]
        tokens.append(String(repeating: "[", count: 10_000))
        var result = tokens.map { Array($0.utf8) }
        result += [[0x00], [0xC0, 0x80], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xE2, 0x82], [0xFF], [0x80], [0xF0, 0x9F, 0x98]]
        return result
    }()

    /// JSON values a member may be replaced with.
    static func randomValue(_ random: inout FuzzRandom) -> JSONValue {
        switch random.int(0...15) {
        case 0: return .null
        case 1: return .bool(random.percent(50))
        case 2: return .integer(random.pick([0, -1, 1, 18, 19, 2000, Int64.max, Int64.min]))
        case 3: return .fraction(random.pick([0.5, -0.0, 1e300]))
        case 4: return .string(String(repeating: random.pick(["x", "黄", "\u{301}", "W"]), count: random.int(0...700)))
        case 5: return .string("W-001" + String(random.pick(["\u{200B}", "\u{202E}", "\u{FEFF}", "\u{AD}", "\u{2069}", "\u{7}", "\n"]) as Character))
        case 6: return .string(random.pick(["", " ", "\u{3000}", "\t"]))
        case 7: return .string(random.pick(["hire", "transfer", "policy", "2025-01-01", "上海/黄浦区", "*", "0b5f1c7e-1f0a-4c59-9a3e-5d6c2b8e4f10"]))
        case 8: return .string("Cafe\u{301}" + String(repeating: "\u{316}\u{301}", count: random.int(0...100)))
        case 9: return .array((0..<random.int(0...3)).map { _ in .string(random.pick(["staff", "principal", "x\u{200B}"])) })
        case 10: return .object(JSONObject([("a\u{200B}", .integer(1))]))
        case 11: return .object(JSONObject([(random.pick(["maxLevel", "postRoles", "quotaPerTenThousand", "x"]), randomValue(&random))]))
        case 12: return .string(random.pick(["excellent", "staff", "principal", "mitigated", "overturned", "bachelor", "cadre"]))
        case 13: return .string(String(repeating: "a", count: random.pick([63, 64, 65, 100, 101, 300, 301])))
        case 14: return .string(String(repeating: "区", count: random.pick([33, 100, 101, 200, 201, 2000, 2001])))
        default: return .string("\u{1112}\u{1161}\u{11AB}")
        }
    }

    static let memberNames = [
        "decision", "worker", "jurisdiction", "effective", "authority", "reference", "override", "eventId", "name",
        "idNumber", "birthDate", "phone", "community", "street", "district", "city", "post", "role", "level",
        "education", "grounds", "year", "grade", "certificate", "kind", "hours", "to", "toLevel", "until", "approval",
        "homeAgency", "description", "sanction", "misconduct", "ruling", "appealed", "outcome", "corrects",
        "correctedEffective", "rescinds", "urbanPopulation", "parameters", "personal", "exceptions", "worker\u{200B}",
        "cafe\u{301}", "", String(repeating: "k", count: 65),
    ]

    /// One structural mutation of a valid decision: a member replaced, added or removed.
    static func structural(_ random: inout FuzzRandom) -> [UInt8] {
        var object = try! JSONParser.parse(random.pick(corpus)).objectValue!
        for _ in 0..<random.int(1...3) {
            let key = random.percent(60) && !object.isEmpty ? random.pick(object.keys) : random.pick(memberNames)
            object[key] = random.percent(15) ? nil : randomValue(&random)
        }
        return Array(JSONValue.object(object).canonicalText.utf8)
    }

    /// One byte-level mutation.
    static func mutate(_ bytes: inout [UInt8], _ random: inout FuzzRandom) {
        let position = bytes.isEmpty ? 0 : random.int(0...bytes.count - 1)
        switch random.int(0...7) {
        case 0:
            if !bytes.isEmpty { bytes[position] ^= 1 << UInt8(random.int(0...7)) }
        case 1:
            if !bytes.isEmpty { bytes[position] = random.pick([0x00, 0x22, 0x5C, 0x7B, 0x7D, 0x5B, 0x5D, 0x3A, 0x2C, 0x80, 0xC0, 0xFF, 0xED, 0xF4, 0x20, 0x0A, UInt8(random.int(0...255))]) }
        case 2:
            bytes.removeSubrange(position...)
        case 3:
            let end = min(bytes.count, position + random.int(1...20))
            bytes.removeSubrange(position..<end)
        case 4:
            let end = min(bytes.count, position + random.int(1...40))
            bytes.insert(contentsOf: bytes[position..<end], at: position)
        case 5:
            let other = Array(random.pick(corpus).utf8)
            bytes = Array(bytes[..<position]) + other[random.int(0...other.count - 1)...]
        default:
            bytes.insert(contentsOf: random.pick(tokens), at: min(position, bytes.count))
        }
    }

    /// What must hold for one input: a message for each property broken, and whether the input
    /// was accepted.
    static func check(_ bytes: [UInt8]) -> (broken: [String], accepted: Bool) {
        var broken: [String] = []
        guard let text = String(validating: bytes, as: UTF8.self) else {
            // record and import refuse the line before decoding; the parser alone must not trap either.
            _ = try? JSONParser.parse(bytes)
            return ([], false)
        }
        do {
            var decision = try DecisionCodec.decode(json: text)
            let json = DecisionCodec.json(of: decision)
            let canonical = JSONValue.object(json).canonicalText
            if !canonical.utf8.elementsEqual(canonical.precomposedStringWithCanonicalMapping.utf8) {
                broken.append("accepted text is not NFC")
            }
            if let scalar = canonical.unicodeScalars.first(where: { $0.properties.generalCategory == .format }) {
                broken.append("accepted text holds U+\(String(scalar.value, radix: 16))")
            }
            let subjectLimit = decision.kind.subject == .jurisdiction || decision.kind.subject == .policy ? 603 : 64
            if decision.subject.utf8.count > subjectLimit || decision.reference.utf8.count > 300
                || decision.authority.utf8.count > 600 || (decision.override?.utf8.count ?? 0) > 6000
                || (decision.personal?.name?.utf8.count ?? 0) > 300
            {
                broken.append("accepted text over its limit")
            }
            decision.eventID = nil
            var again = try DecisionCodec.decode(.object(json))
            again.eventID = nil
            if again != decision { broken.append("the decision does not decode again to itself") }
            return (broken, true)
        } catch {
            if error.problems.isEmpty { broken.append("refused with no problem") }
            for problem in error.problems {
                if problem.message.isEmpty { broken.append("a problem with no message") }
                if let field = problem.field, field.isEmpty || field.utf8.count > 200 {
                    broken.append("a problem names the field \(JSONValue.quotedExcerpt(field))")
                }
            }
            let description = error.description
            if description.utf8.count > 8_000 { broken.append("a message of \(description.utf8.count) bytes") }
            if let scalar = description.unicodeScalars.first(where: {
                $0.value < 0x20 || (0x7F...0x9F).contains($0.value) || $0.properties.generalCategory == .format
            }) {
                broken.append("the message holds U+\(String(scalar.value, radix: 16)): \(JSONValue.quotedExcerpt(description, maxBytes: 300))")
            }
        }
        return (broken, false)
    }

    @Test("mutated decisions of every kind decode or are refused field by field; nothing traps")
    func fuzz() {
        let environment = ProcessInfo.processInfo.environment
        let seed = environment["DOSSIER_FUZZ_SEED"].flatMap { UInt64($0) } ?? Self.defaultSeed
        let iterations = environment["DOSSIER_FUZZ_ITERATIONS"].flatMap { Int($0) } ?? Self.defaultIterations
        print("decision reader fuzz: seed \(seed), \(iterations) iterations (DOSSIER_FUZZ_SEED, DOSSIER_FUZZ_ITERATIONS)")
        var random = FuzzRandom(state: seed)
        var accepted = 0
        var failures = 0
        let started = ContinuousClock.now
        for iteration in 0..<iterations {
            var input: [UInt8]
            if random.percent(30) {
                input = Self.structural(&random)
            } else {
                input = Array(random.pick(Self.corpus).utf8)
            }
            for _ in 0..<random.int(0...4) { Self.mutate(&input, &random) }
            let (broken, wasAccepted) = Self.check(input)
            if wasAccepted { accepted += 1 }
            if !broken.isEmpty {
                failures += 1
                if failures <= 10 {
                    Issue.record("seed \(seed), iteration \(iteration): \(broken.joined(separator: "; ")); input \(JSONValue.quotedExcerpt(String(decoding: input, as: UTF8.self), maxBytes: 600))")
                }
            }
        }
        print("decision reader fuzz: \(iterations) inputs, \(accepted) accepted, \(failures) broke a property, \(ContinuousClock.now - started)")
        // The generator must reach the decoder's fields, not only the parser's errors.
        #expect(iterations < 1_000 || accepted > iterations / 50)
    }
}
