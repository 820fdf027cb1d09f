import Foundation

/// The rules every text of a decision obeys, however it was sent (`record`, `import`, the API,
/// the web form): one place, applied before any field is read.
///
/// - Every string and member name is put in Unicode NFC, so that a text typed composed (U+00E9)
///   or decomposed (e + U+0301) is one text: idempotency keys are compared, and hashes computed,
///   on the same bytes, and the stored text is NFC.
/// - No text may hold a character of Unicode category Cf (format: zero-width and direction
///   controls such as U+200B, U+200E, U+202E, U+2066, U+FEFF, U+00AD): they make two different
///   ids, names or references look the same, or reorder what a reader sees. No script this
///   product records (Chinese, Uyghur, Latin) needs them, so free text refuses them too.
/// - Limits are counted in UTF-8 bytes, checked before any work per character, so a text cannot
///   be made long with characters that take no room on screen (combining marks). Where the
///   database counts characters (Unicode code points) itself, that limit is checked too, so no
///   text reaches a limit of the database.
public enum DecisionText {
    /// How long one text field may be.
    public struct Limit: Sendable, Equatable {
        /// UTF-8 bytes.
        public var bytes: Int
        /// Unicode code points, where the database has a limit of its own in characters.
        public var characters: Int?
        /// Whether line breaks and tabs are allowed.
        public var multiline: Bool

        public init(bytes: Int, characters: Int? = nil, multiline: Bool = false) {
            self.bytes = bytes
            self.characters = characters
            self.multiline = multiline
        }
    }

    /// Worker and cadre ids (and every other id a decision names).
    public static let identifier = Limit(bytes: 64)
    /// A jurisdiction, `City/District`: each part is a `place`.
    public static let jurisdiction = Limit(bytes: 603, characters: 201)
    /// The decision document number (with subject and kind, the idempotency key).
    public static let reference = Limit(bytes: 300, characters: 100)
    /// The deciding body.
    public static let authority = Limit(bytes: 600, characters: 200)
    /// community, street, district, city.
    public static let place = Limit(bytes: 300, characters: 100)
    /// A place's path in the gazetteer (`City/District/Street/Community`): four `place`s.
    public static let placePath = Limit(bytes: 1203, characters: 403)
    /// An agency or body named in a decision's fields: `to`, `approval`, `homeAgency`.
    public static let body = Limit(bytes: 600, characters: 200)
    /// A person's name.
    public static let name = Limit(bytes: 300)
    /// An identity number or a phone number.
    public static let code = Limit(bytes: 32)
    /// Justifications: `override`, `description`, `grounds`, `criteria`.
    public static let freeText = Limit(bytes: 6000, characters: 2000, multiline: true)
    /// Any other text: choices, dates, event ids, policy parameters, fields no decision has.
    public static let other = Limit(bytes: 300, characters: 100)
    /// The longest member name (every field name of a decision is far shorter).
    public static let maximumFieldNameBytes = 64

    /// The limit of a field, by its name.
    public static func limit(of field: String) -> Limit {
        switch field {
        case "worker": identifier
        case "jurisdiction": jurisdiction
        case "reference", "overrideApproval": reference
        case "authority": authority
        case "community", "street", "district", "city", "newName": place
        case "within", "into": placePath
        case "to", "approval", "homeAgency": body
        case "name": name
        case "idNumber", "phone": code
        case "override", "description", "grounds", "criteria", "personalCorrection": freeText
        default: other
        }
    }

    // MARK: Checks of one text

    static func tooManyBytes(_ count: Int, _ limit: Limit) -> String {
        "must be at most \(limit.bytes) bytes of UTF-8, found \(count)"
    }

    static let invisible = "must not contain invisible or direction-changing characters"

    /// What is wrong with one text of a field, or nil: the byte limit first (no per-character
    /// work before it), then the character limit, blank, control and format characters.
    static func problem(_ text: String, _ limit: Limit) -> String? {
        let bytes = text.utf8.count
        if bytes > limit.bytes { return tooManyBytes(bytes, limit) }
        if let maximum = limit.characters {
            let characters = text.unicodeScalars.count
            if characters > maximum {
                return "must be at most \(maximum) characters (Unicode code points), found \(characters)"
            }
        }
        if text.allSatisfy({ $0.isWhitespace }) { return "must not be blank" }
        for scalar in text.unicodeScalars {
            if isControl(scalar) && !(limit.multiline && (scalar == "\n" || scalar == "\t")) {
                return "must not contain control characters (found \(codePoint(scalar)))"
            }
            if isFormat(scalar) { return "\(invisible) (found \(codePoint(scalar)))" }
        }
        return nil
    }

    /// C0 and C1 controls, DEL, and the line and paragraph separators.
    static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) || scalar == "\u{2028}" || scalar == "\u{2029}"
    }

    /// Unicode general category Cf: invisible characters that change how text is shown or joined.
    static func isFormat(_ scalar: Unicode.Scalar) -> Bool {
        if scalar.value < 0x300 { return scalar.value == 0xAD }
        if isPlainCJK(scalar.value) { return false }
        return scalar.properties.generalCategory == .format
    }

    /// Ranges of scalars that are NFC whatever surrounds them (canonical combining class 0, no
    /// canonical decomposition, never the second of a composition) and not of category Cf:
    /// Latin-1 and the Latin extensions below the combining marks, CJK punctuation, ideographs
    /// and full-width forms. A text made only of these needs no normalization.
    static func isPlainCJK(_ value: UInt32) -> Bool {
        switch value {
        case 0x2010...0x2027, 0x3000...0x3029, 0x3030...0x303F, 0x3400...0x4DBF, 0x4E00...0x9FFF, 0xFF01...0xFFEF: true
        default: false
        }
    }

    /// `U+200B`: the code point, four hex digits at least.
    static func codePoint(_ scalar: Unicode.Scalar) -> String {
        let hex = String(scalar.value, radix: 16, uppercase: true)
        return "U+" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
    }

    /// The text in NFC, and its first character of category Cf if any.
    static func normalize(_ text: String) -> (text: String, format: Unicode.Scalar?) {
        var plain = true
        for scalar in text.unicodeScalars {
            let value = scalar.value
            if value < 0x300 {
                if value == 0xAD { return (text, scalar) }
                continue
            }
            if isPlainCJK(value) { continue }
            if scalar.properties.generalCategory == .format { return (text, scalar) }
            plain = false
        }
        return (plain ? text : text.precomposedStringWithCanonicalMapping, nil)
    }

    /// One text given outside a decision's JSON (a command-line option such as `erase
    /// --reference`), by the rules of the field it fills: in NFC, or refused naming the field.
    public static func checked(_ text: String, field: String) throws(InvalidDecision) -> String {
        let limit = limit(of: field)
        let bytes = text.utf8.count
        if bytes > limit.bytes { throw InvalidDecision(field: field, tooManyBytes(bytes, limit)) }
        let (normalized, format) = normalize(text)
        if let format { throw InvalidDecision(field: field, "\(invisible) (found \(codePoint(format)))") }
        if let problem = problem(normalized, limit) { throw InvalidDecision(field: field, problem) }
        return normalized
    }

    // MARK: The whole decision

    /// A decision's JSON object made ready to read: every text in NFC, and the problems found
    /// on the way.
    struct Prepared {
        var object: JSONObject
        var problems: [FieldProblem]
        /// Top-level members whose value was refused here: their problem is in `problems`, and
        /// the field reader reports nothing more about them.
        var refused: Set<String>
    }

    /// The most problems one decision reports one by one; the rest are counted.
    static let maximumProblems = 10

    /// Puts every text of a decision sent by a user in NFC and checks, before any field is read:
    /// member names (at most 64 bytes, no control or format characters), the byte limit of
    /// every text by its field (before it is normalized, so normalization never works on more
    /// than a field may hold; the field reader checks it again on the normalized text), and
    /// format and control characters in every text, nested ones too (line breaks and tabs only
    /// in free text).
    static func prepare(_ object: JSONObject) -> Prepared {
        var prepared = Prepared(object: JSONObject(), problems: [], refused: [])
        var members: [(key: String, value: JSONValue)] = []
        members.reserveCapacity(object.count)
        var more = 0
        func report(_ problem: FieldProblem) {
            if prepared.problems.count < maximumProblems { prepared.problems.append(problem) } else { more += 1 }
        }
        for (key, value) in object {
            let name: String
            switch cleanName(key, path: nil) {
            case .refused(let problem):
                report(problem)
                continue  // the member is dropped: a field that needs it is reported missing
            case .name(let clean): name = clean
            }
            var problem: FieldProblem?
            let cleaned = clean(value, path: name, limit: limit(of: name), problem: &problem)
            if let problem {
                report(problem)
                prepared.refused.insert(name)
                members.append((name, value))
            } else {
                members.append((name, cleaned))
            }
        }
        if more > 0 {
            prepared.problems.append(FieldProblem(field: nil, message: "… and \(more) more fields refused for the same reasons"))
        }
        prepared.object = JSONObject(membersWithUniqueKeys: members)
        return prepared
    }

    enum Name {
        case name(String)
        case refused(FieldProblem)
    }

    /// A member name in NFC, or why it is refused.
    static func cleanName(_ key: String, path: String?) -> Name {
        let bytes = key.utf8.count
        if bytes == 0 {
            return .refused(FieldProblem(field: path, message: "a field name must not be empty"))
        }
        if bytes > maximumFieldNameBytes {
            return .refused(FieldProblem(
                field: path,
                message: "a field name must be at most \(maximumFieldNameBytes) bytes of UTF-8, found one of \(bytes) "
                    + "(\(JSONValue.quotedExcerpt(key)))"))
        }
        let shown = (path.map { $0 + "." } ?? "") + JSONValue.quotedExcerpt(key, quotes: false)
        if let control = key.unicodeScalars.first(where: isControl) {
            return .refused(FieldProblem(field: shown, message: "must not contain control characters (found \(codePoint(control)))"))
        }
        let (name, format) = normalize(key)
        if let format {
            return .refused(FieldProblem(field: shown, message: "\(invisible) (found \(codePoint(format)))"))
        }
        return .name(name)
    }

    /// A value with its texts in NFC; sets `problem` to the first problem found.
    static func clean(_ value: JSONValue, path: String, limit: Limit, problem: inout FieldProblem?) -> JSONValue {
        switch value {
        case .string(let text):
            let bytes = text.utf8.count
            if bytes > limit.bytes {
                problem = FieldProblem(field: path, message: tooManyBytes(bytes, limit))
                return value
            }
            let (normalized, format) = normalize(text)
            if let format {
                problem = FieldProblem(field: path, message: "\(invisible) (found \(codePoint(format)))")
                return value
            }
            if let control = normalized.unicodeScalars.first(where: {
                isControl($0) && !(limit.multiline && ($0 == "\n" || $0 == "\t"))
            }) {
                problem = FieldProblem(field: path, message: "must not contain control characters (found \(codePoint(control)))")
                return value
            }
            return .string(normalized)
        case .array(let elements):
            var cleaned: [JSONValue] = []
            cleaned.reserveCapacity(elements.count)
            for (index, element) in elements.enumerated() {
                cleaned.append(clean(element, path: "\(path)[\(index)]", limit: other, problem: &problem))
                if problem != nil { return value }
            }
            return .array(cleaned)
        case .object(let object):
            var members: [(key: String, value: JSONValue)] = []
            members.reserveCapacity(object.count)
            for (key, member) in object {
                switch cleanName(key, path: path) {
                case .refused(let refusal):
                    problem = refusal
                    return value
                case .name(let name):
                    members.append((name, clean(member, path: path + "." + name, limit: other, problem: &problem)))
                    if problem != nil { return value }
                }
            }
            return .object(JSONObject(membersWithUniqueKeys: members))
        case .null, .bool, .integer, .fraction:
            return value
        }
    }
}
