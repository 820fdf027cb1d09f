import Foundation

/// What is wrong with one field of a decision (or with the decision as a whole).
public struct FieldProblem: Sendable, Equatable, CustomStringConvertible {
    /// The field's name, or nil when the problem is with the whole decision.
    public var field: String?
    public var message: String

    public init(field: String?, message: String) {
        self.field = field
        self.message = message
    }

    public var description: String {
        field.map { "field \"\($0)\": \(message)" } ?? message
    }
}

/// A decision that cannot be read: every problem found, each naming its field.
public struct InvalidDecision: Error, Sendable, Equatable, CustomStringConvertible {
    public var problems: [FieldProblem]

    public init(_ problems: [FieldProblem]) { self.problems = problems }

    public init(field: String?, _ message: String) {
        self.problems = [FieldProblem(field: field, message: message)]
    }

    public var description: String { problems.map(\.description).joined(separator: "; ") }
}

/// Reads typed fields from a JSON object, collecting a problem for each one that is missing,
/// of the wrong type or out of range, and for each field nobody asked for.
struct FieldReader {
    let object: JSONObject
    /// The fields read so far (a handful: a list is cheaper than a set here).
    private(set) var used: [String] = []
    private(set) var problems: [FieldProblem] = []
    /// For events read back from the log: their text was checked when they were recorded, so
    /// the character-by-character checks are skipped (types and vocabularies still are not).
    let trusted: Bool
    /// Fields already refused by `DecisionText.prepare` (their problem is in `problems`).
    let refused: Set<String>

    init(_ object: JSONObject, trusted: Bool = false) {
        self.object = object
        self.trusted = trusted
        self.refused = []
    }

    /// A reader of a decision sent by a user, made ready by `DecisionText.prepare`.
    init(_ prepared: DecisionText.Prepared) {
        self.object = prepared.object
        self.trusted = false
        self.refused = prepared.refused
        self.problems = prepared.problems
    }

    mutating func problem(_ field: String?, _ message: String) {
        problems.append(FieldProblem(field: field, message: message))
    }

    /// The raw value, marking the field as known.
    mutating func value(_ key: String, required: Bool) -> JSONValue? {
        used.append(key)
        if refused.contains(key) { return nil }  // reported already
        guard let value = object[key], value != .null else {
            if required { problem(key, "is required") }
            return nil
        }
        return value
    }

    /// Text within the limit of its field (`DecisionText.limit(of:)`): not blank, no control
    /// characters (line breaks and tabs only where the limit allows them), no format characters.
    mutating func text(_ key: String, required: Bool = true, limit: DecisionText.Limit? = nil) -> String? {
        guard let value = value(key, required: required) else { return nil }
        guard case .string(let text) = value else {
            problem(key, "expected text, found \(value.typeName)")
            return nil
        }
        if !trusted, let reason = DecisionText.problem(text, limit ?? DecisionText.limit(of: key)) {
            problem(key, reason)
            return nil
        }
        return text
    }

    /// An identifier: at most 64 bytes, no spaces, control or format characters, or slashes.
    mutating func identifier(_ key: String, allowSlash: Bool = false) -> String? {
        guard let text = text(key, limit: DecisionText.identifier) else { return nil }
        if !trusted, text.contains(where: { $0.isWhitespace }) || (!allowSlash && text.contains("/")) {
            problem(key, allowSlash ? "must not contain spaces" : "must not contain spaces or slashes")
            return nil
        }
        return text
    }

    mutating func date(_ key: String, required: Bool = true) -> CalendarDate? {
        guard let value = value(key, required: required) else { return nil }
        guard case .string(let text) = value else {
            problem(key, "expected a date as \"YYYY-MM-DD\", found \(value.typeName)")
            return nil
        }
        guard let date = CalendarDate(text) else {
            problem(
                key,
                "\(JSONValue.quotedExcerpt(text)) is not a real calendar date written YYYY-MM-DD "
                    + "(years \(CalendarDate.supportedYears.lowerBound) to \(CalendarDate.supportedYears.upperBound))")
            return nil
        }
        return date
    }

    mutating func integer(_ key: String, in range: ClosedRange<Int>, required: Bool = true) -> Int? {
        guard let value = value(key, required: required) else { return nil }
        let expected = "a whole number from \(range.lowerBound) to \(range.upperBound)"
        switch value {
        case .integer(let number):
            guard let int = Int(exactly: number), range.contains(int) else {
                problem(key, "expected \(expected), found \(number)")
                return nil
            }
            return int
        case .fraction(let number):
            problem(key, "expected \(expected), found \(number)")
        default:
            problem(key, "expected \(expected), found \(value.typeName)")
        }
        return nil
    }

    mutating func choice<E: RawRepresentable & CaseIterable>(_ key: String, _ type: E.Type, required: Bool = true) -> E?
    where E.RawValue == String {
        guard let value = value(key, required: required) else { return nil }
        let options = E.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")
        guard case .string(let text) = value, let choice = E(rawValue: text) else {
            let found = value.stringValue.map { JSONValue.quotedExcerpt($0) } ?? value.typeName
            problem(key, "expected one of \(options), found \(found)")
            return nil
        }
        return choice
    }

    mutating func eventID(_ key: String) -> UUID? {
        guard let value = value(key, required: true) else { return nil }
        guard case .string(let text) = value, text.utf8.count == 36, let id = UUID(uuidString: text) else {
            problem(key, "expected an event id (a UUID such as 0b5f1c7e-1f0a-4c59-9a3e-5d6c2b8e4f10)")
            return nil
        }
        return id
    }

    /// A list of worker ids (each an identifier, as `worker` is), at most `maximum`, none twice.
    mutating func identifierList(_ key: String, maximum: Int) -> [String]? {
        guard let value = value(key, required: true) else { return nil }
        guard case .array(let elements) = value else {
            problem(key, "expected a list of worker ids such as [\"W-1\", \"W-2\"], found \(value.typeName)")
            return nil
        }
        if elements.count > maximum {
            problem(key, "names \(elements.count) workers; a selection names at most \(maximum) in each list (split the round)")
            return nil
        }
        var ids: [String] = []
        for (index, element) in elements.enumerated() {
            guard case .string(let text) = element else {
                problem("\(key)[\(index)]", "expected a worker id, found \(element.typeName)")
                return nil
            }
            if !trusted {
                if let reason = DecisionText.problem(text, DecisionText.identifier) {
                    problem("\(key)[\(index)]", reason)
                    return nil
                }
                if text.contains(where: { $0.isWhitespace }) || text.contains("/") {
                    problem("\(key)[\(index)]", "must not contain spaces or slashes")
                    return nil
                }
            }
            if ids.contains(text) {
                problem(key, "names \(JSONValue.quotedExcerpt(text)) twice")
                return nil
            }
            ids.append(text)
        }
        return ids
    }

    mutating func object(_ key: String) -> JSONObject? {
        guard let value = value(key, required: true) else { return nil }
        guard case .object(let object) = value else {
            problem(key, "expected an object, found \(value.typeName)")
            return nil
        }
        return object
    }

    /// Marks `keys` as known without reading them.
    mutating func allow(_ keys: [String]) {
        used.append(contentsOf: keys)
    }

    /// Adds a problem for each field that was not read: unknown fields are refused, not ignored.
    mutating func refuseUnknown(hint: String) {
        var unknown = 0
        for key in object.keys where !used.contains(key) && !refused.contains(key) {
            unknown += 1
            if unknown <= DecisionText.maximumProblems {
                problem(JSONValue.quotedExcerpt(key, maxBytes: DecisionText.maximumFieldNameBytes, quotes: false), "is not a field of \(hint)")
            }
        }
        if unknown > DecisionText.maximumProblems {
            problem(nil, "… and \(unknown - DecisionText.maximumProblems) more fields that are not fields of \(hint)")
        }
    }
}
