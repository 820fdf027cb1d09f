import DossierDomain
import Testing

@Suite("Strict JSON")
struct JSONTests {
    @Test("canonical text sorts keys, drops whitespace and does not depend on the input's order")
    func canonical() throws {
        let a = try JSONParser.parse(#"{ "b": [1, {"y": true, "x": null}], "a": "张\"三\n" }"#)
        let b = try JSONParser.parse(#"{"a":"张\"三\n","b":[1,{"x":null,"y":true}]}"#)
        #expect(a == b)
        #expect(a.canonicalText == #"{"a":"张\"三\n","b":[1,{"x":null,"y":true}]}"#)
        #expect(a.canonicalText == b.canonicalText)
        #expect(JSONValue.string("\u{1}").canonicalText == #""\u0001""#)
    }

    @Test(
        "malformed input is refused with a line and column",
        arguments: [
            ("{\"a\":1,}", "expected a quoted member name"),
            ("{\"a\":1 \"b\":2}", "expected ',' or '}'"),
            ("{\"a\":1,\"a\":2}", "appears twice"),
            ("[01]", "leading zeros"),
            ("\"\u{1}\"", "control characters"),
            ("\"\\ud800\"", "surrogate"),
            ("\"\\u0000\"", "NUL"),
            ("99999999999999999999", "too large"),
            ("{} x", "after the JSON value"),
            ("", "ends where a value was expected"),
            ("tru", "expected true"),
        ])
    func malformed(text: String, reason: String) {
        let error = #expect(throws: JSONSyntaxError.self) { try JSONParser.parse(text) }
        #expect(error?.reason.contains(reason) == true, "\(String(describing: error))")
    }

    @Test("invalid UTF-8 and overlong encodings are refused")
    func invalidUTF8() throws {
        for bytes: [UInt8] in [[0x22, 0xC0, 0xAF, 0x22], [0x22, 0xED, 0xA0, 0x80, 0x22], [0x22, 0xFF, 0x22], [0x22, 0xE4, 0xB8, 0x22]] {
            #expect(throws: JSONSyntaxError.self) { try JSONParser.parse(bytes) }
        }
        #expect(try JSONParser.parse(Array("\"社区\"".utf8)) == .string("社区"))
        // Plain strings and strings with escapes take different paths: both must agree.
        #expect(try JSONParser.parse(#"["黄浦区 🏠", "黄浦\u533a \ud83c\udfe0", "a\"b", ""]"#)
            == .array([.string("黄浦区 🏠"), .string("黄浦区 🏠"), .string("a\"b"), .string("")]))
        #expect(throws: JSONSyntaxError.self) { try JSONParser.parse(Array("\"社".utf8)) }
        #expect(throws: JSONSyntaxError.self) { try JSONParser.parse([0x22, 0xE4, 0xB8, 0xAD, 0x0A, 0x22]) }
    }

    @Test("nesting is bounded")
    func depth() {
        let deep = String(repeating: "[", count: 65) + String(repeating: "]", count: 65)
        #expect(throws: JSONSyntaxError.self) { try JSONParser.parse(deep) }
        let fine = String(repeating: "[", count: 64) + String(repeating: "]", count: 64)
        #expect(throws: Never.self) { try JSONParser.parse(fine) }
    }

    @Test("errors give the line and column of the problem")
    func position() {
        let error = #expect(throws: JSONSyntaxError.self) { try JSONParser.parse("{\n  \"名\": tru\n}") }
        #expect(error?.line == 2)
        #expect(error?.column == 8)
    }
}

@Suite("Calendar dates and timestamps")
struct CalendarTests {
    @Test("only real dates in the supported years exist")
    func realDates() {
        #expect(CalendarDate("2024-02-29") != nil)
        for bad in ["2025-02-29", "2025-13-01", "2025-00-10", "2025-04-31", "1899-12-31", "2200-01-01", "2025-1-01", "20250101", "2025-01-01 ", "２０２５-01-01"] {
            #expect(CalendarDate(bad) == nil, "\(bad)")
        }
    }

    @Test("full years count anniversaries, 29 February included")
    func fullYears() {
        let start = CalendarDate("2012-02-29")!
        #expect(start.fullYears(until: CalendarDate("2022-02-27")!) == 9)
        #expect(start.fullYears(until: CalendarDate("2022-02-28")!) == 10)
        #expect(CalendarDate("2015-03-01")!.fullYears(until: CalendarDate("2025-03-01")!) == 10)
        #expect(CalendarDate("2015-03-02")!.fullYears(until: CalendarDate("2025-03-01")!) == 9)
    }

    @Test("timestamps parse dates as their end, instants with offsets, and print back exactly")
    func timestamps() {
        let end = Timestamp(parsing: "2026-01-31")!
        #expect(end.description == "2026-01-31T23:59:59.999999Z")
        #expect(Timestamp(parsing: "2026-01-31T08:00:00+08:00")!.description == "2026-01-31T00:00:00.000000Z")
        let exact = Timestamp(microsecondsSinceEpoch: 1_764_441_234_567_891)
        #expect(Timestamp(parsing: exact.description) == exact)
        #expect(Timestamp(parsing: "2026-01-31T25:00:00Z") == nil)
        #expect(Timestamp(parsing: "yesterday") == nil)
    }
}
