import DossierDomain
import Testing

@Suite("The CSV writer (RFC 4180, formula-safe)")
struct CSVTests {
    @Test("a plain field is written as it is; a number as its digits; nothing as the empty field")
    func plain() {
        #expect(CSV.escape("W-001") == "W-001")
        #expect(CSV.escape(.integer(10)) == "10")
        #expect(CSV.escape(.integer(-3)) == "-3")  // a number keeps its sign: only text is guarded
        #expect(CSV.escape(.absent) == "")
        #expect(CSV.escape(.text("")) == "")
        #expect(CSV.escape(CSV.Field(nil as String?)) == "")
        #expect(CSV.escape(CSV.Field(nil as Int?)) == "")
        #expect(CSV.escape(CSV.Field(true)) == "true")
        #expect(CSV.escape(CSV.Field(list: ["a", "b"])) == "a b")
        #expect(CSV.escape(CSV.Field(list: [])) == "")
    }

    @Test(
        "a field holding a comma, a double quote, CR or LF is quoted, its quotes doubled",
        arguments: [
            ("李,四", "\"李,四\""),
            ("say \"hi\"", "\"say \"\"hi\"\"\""),
            ("\"", "\"\"\"\""),
            ("a\nb", "\"a\nb\""),
            ("a\rb", "\"a\rb\""),
            ("a\r\nb", "\"a\r\nb\""),  // "\r\n" is one Character in Swift: still a line break
            ("\"\u{301}", "\"\"\"\u{301}\""),  // a quote with a combining mark is still a quote
        ])
    func quoting(text: String, written: String) {
        #expect(CSV.escape(.text(text)) == written)
    }

    @Test("Chinese text is written as it is, in UTF-8")
    func chinese() {
        #expect(CSV.escape("朱虹") == "朱虹")
        let document = CSV.document(header: ["name"], rows: [["桥二居民区"]])
        #expect(Array(document.utf8) == Array("name\r\n桥二居民区\r\n".utf8))
    }

    @Test(
        "a text field a spreadsheet would run as a formula gets a leading single quote",
        arguments: [
            ("=SUM(A1:A9)", "'=SUM(A1:A9)"),
            ("+86 21 1234", "'+86 21 1234"),
            ("-1", "'-1"),
            ("@cmd", "'@cmd"),
            ("\tx", "'\tx"),
            ("\rx", "\"'\rx\""),
            ("\r\nx", "\"'\r\nx\""),
            ("=HYPERLINK(\"http://x\",\"y\")", "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\""),
            ("a=b", "a=b"),
            ("'already", "'already"),
        ])
    func formulas(text: String, written: String) {
        #expect(CSV.escape(.text(text)) == written)
    }

    @Test("a document: the header row, one record per row, every record ending in CRLF")
    func document() {
        let text = CSV.document(header: ["worker", "name", "level"], rows: [["W-1", "张,三", 10], ["W-2", .absent, .absent]])
        #expect(text == "worker,name,level\r\nW-1,\"张,三\",10\r\nW-2,,\r\n")
        #expect(CSV.document(header: ["a", "b"], rows: []) == "a,b\r\n")
        #expect(CSV.record(["x", "y"]) == "x,y\r\n")
    }

    @Test("with the byte order mark for Excel and WPS the file starts with EF BB BF, once")
    func byteOrderMark() {
        let text = CSV.document(header: ["name"], rows: [["朱虹"]], byteOrderMark: true)
        #expect(Array(text.utf8.prefix(3)) == [0xEF, 0xBB, 0xBF])
        #expect(Array(text.utf8.dropFirst(3)) == Array("name\r\n朱虹\r\n".utf8))
        #expect(!CSV.document(header: ["name"], rows: [], byteOrderMark: false).utf8.starts(with: [0xEF]))
    }

    @Test("what the writer writes reads back field for field (hostile texts included)")
    func roundTrip() throws {
        let texts = ["", "plain", "李,四", "say \"hi\"", "a\r\nb\nc\rd", "朱虹", " spaced ", ",", "\"\"", "x,\"y\"\r\n"]
        let rows: [[CSV.Field]] = texts.map { [.text($0), .integer(1)] }
        let parsed = try Self.parse(CSV.document(header: ["text", "n"], rows: rows))
        #expect(parsed.count == texts.count + 1)
        #expect(parsed.dropFirst().map { $0[0] } == texts)
        #expect(parsed.dropFirst().allSatisfy { $0[1] == "1" })
    }

    /// A strict RFC 4180 reader: records end in CRLF, a quoted field may hold anything.
    static func parse(_ text: String) throws -> [[String]] {
        struct Malformed: Error {}
        var records: [[String]] = []
        var record: [String] = []
        var field = String.UnicodeScalarView()
        var scalars = Array(text.unicodeScalars)[...]
        var quoted = false
        while let scalar = scalars.popFirst() {
            if quoted {
                if scalar == "\"" {
                    if scalars.first == "\"" {
                        scalars.removeFirst()
                        field.append("\"")
                    } else {
                        quoted = false
                        guard scalars.first == "," || scalars.first == "\r" else { throw Malformed() }
                    }
                } else {
                    field.append(scalar)
                }
            } else if scalar == "\"" {
                guard field.isEmpty else { throw Malformed() }
                quoted = true
            } else if scalar == "," {
                record.append(String(field))
                field = String.UnicodeScalarView()
            } else if scalar == "\r" {
                guard scalars.popFirst() == "\n" else { throw Malformed() }
                record.append(String(field))
                field = String.UnicodeScalarView()
                records.append(record)
                record = []
            } else if scalar == "\n" {
                throw Malformed()
            } else {
                field.append(scalar)
            }
        }
        guard !quoted, field.isEmpty, record.isEmpty else { throw Malformed() }
        return records
    }
}
