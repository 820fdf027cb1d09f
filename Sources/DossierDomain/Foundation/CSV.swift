/// The one CSV writer of Dossier (the CLI's `--format csv` and the server's `format=csv`):
/// RFC 4180, UTF-8, a header row, every record ending in CRLF, a field quoted when it holds a
/// comma, a double quote (doubled inside) or a line break (CR or LF).
///
/// Spreadsheets run a cell that starts with `=`, `+`, `-` or `@` as a formula (and some strip a
/// leading tab or CR and then do), so a text field starting with one of those six characters is
/// written with a single quote `'` in front: `=SUM(A1)` arrives as the text `'=SUM(A1)`. Numbers
/// are written as they are (a negative number keeps its minus sign). Pure: no I/O.
public enum CSV {
    /// One field of a record.
    public enum Field: Sendable, Equatable, ExpressibleByStringLiteral, ExpressibleByIntegerLiteral {
        /// Text, guarded against formulas.
        case text(String)
        /// A whole number, written as its digits.
        case integer(Int64)
        /// Nothing known: the empty field.
        case absent

        public init(stringLiteral value: String) { self = .text(value) }
        public init(integerLiteral value: Int64) { self = .integer(value) }

        /// Text, or the empty field when nil.
        public init(_ text: String?) { self = text.map(Field.text) ?? .absent }

        /// A number, or the empty field when nil.
        public init(_ number: Int?) { self = number.map { .integer(Int64($0)) } ?? .absent }

        /// `true` or `false`, or the empty field when nil.
        public init(_ flag: Bool?) { self = flag.map { .text($0 ? "true" : "false") } ?? .absent }

        /// Several texts in one field, separated by single spaces (for identifiers and rule
        /// names, which hold no spaces); the empty field when there are none.
        public init(list: [String]) { self = list.isEmpty ? .absent : .text(list.joined(separator: " ")) }
    }

    /// The UTF-8 byte order mark (EF BB BF), which makes Excel and WPS read the file as UTF-8.
    public static let byteOrderMark = "\u{FEFF}"

    /// The characters that make a spreadsheet read the rest of a cell as a formula.
    static let formulaStarts: Set<Character> = ["=", "+", "-", "@", "\t", "\r"]

    /// The text of one field as it appears in a record: formula-guarded when it is text, then
    /// quoted when it must be.
    public static func escape(_ field: Field) -> String {
        switch field {
        case .absent:
            return ""
        case .integer(let number):
            return String(number)
        case .text(let text):
            var value = text
            // The first Unicode scalar, not Character: "\r\n" is one Character in Swift.
            if let first = value.unicodeScalars.first, formulaStarts.contains(Character(first)) { value = "'" + value }
            let mustQuote = value.unicodeScalars.contains { $0 == "," || $0 == "\"" || $0 == "\r" || $0 == "\n" }
            return mustQuote ? "\"" + value.replacingAll("\"", with: "\"\"") + "\"" : value
        }
    }

    /// One record: the fields joined by commas, ending in CRLF.
    public static func record(_ fields: [Field]) -> String {
        fields.map(escape).joined(separator: ",") + "\r\n"
    }

    /// A whole file: the header row, then one record per row; with `byteOrderMark`, preceded by
    /// the UTF-8 byte order mark (for Excel and WPS).
    public static func document(header: [String], rows: [[Field]], byteOrderMark: Bool = false) -> String {
        var text = byteOrderMark ? Self.byteOrderMark : ""
        text += record(header.map(Field.text))
        for row in rows { text += record(row) }
        return text
    }
}

extension String {
    /// Every occurrence of the scalar `target` replaced, scalar by scalar (a quote followed by a
    /// combining mark is one Character but still a quote to a CSV reader).
    fileprivate func replacingAll(_ target: Unicode.Scalar, with replacement: String) -> String {
        var result = String.UnicodeScalarView()
        for scalar in unicodeScalars {
            if scalar == target { result.append(contentsOf: replacement.unicodeScalars) } else { result.append(scalar) }
        }
        return String(result)
    }
}
