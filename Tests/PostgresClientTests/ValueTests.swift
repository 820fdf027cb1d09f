import Foundation
import PostgresClient
import Testing

@Suite("Text-format values")
struct ValueTests {
    func decode<T: PostgresDecodable>(_ type: T.Type, _ text: String) -> T? {
        Array(text.utf8).withUnsafeBufferPointer { T.decode(postgresText: $0) }
    }

    @Test("integers parse exactly and refuse overflow and junk")
    func integers() {
        #expect(decode(Int64.self, "-9223372036854775808") == Int64.min)
        #expect(decode(Int64.self, "9223372036854775808") == nil)
        #expect(decode(Int32.self, "2147483648") == nil)
        #expect(decode(Int.self, "12a") == nil)
        #expect(decode(Int.self, "-") == nil)
        #expect(decode(Int.self, "") == nil)
    }

    @Test("uuids parse in either case and refuse misplaced dashes and non-hex digits")
    func uuids() {
        let id = UUID()
        #expect(decode(UUID.self, id.uuidString.lowercased()) == id)
        #expect(decode(UUID.self, id.uuidString) == id)
        #expect(decode(UUID.self, "00000000-0000-0000-0000-000000000000") == UUID(uuid: (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)))
        #expect(decode(UUID.self, "ffffffff-ffff-ffff-ffff-fffffffffffg") == nil)
        #expect(decode(UUID.self, "ffffffff-ffff-ffff-ffff0ffffffffffff") == nil)
        #expect(decode(UUID.self, "ffffffffffffffffffffffffffffffffffff") == nil)
        #expect(decode(UUID.self, "ffffffff-ffff-ffff-ffff-fffffffffff") == nil)
        #expect(decode(UUID.self, "") == nil)
    }

    @Test("timestamps: fractions of any length, offsets with and without minutes")
    func timestamps() {
        #expect(decode(PostgresTimestamp.self, "1970-01-01 00:00:00+00")?.microsecondsSinceEpoch == 0)
        #expect(decode(PostgresTimestamp.self, "1970-01-01 00:00:00.1+00")?.microsecondsSinceEpoch == 100_000)
        #expect(decode(PostgresTimestamp.self, "1970-01-01 05:30:00+05:30")?.microsecondsSinceEpoch == 0)
        #expect(decode(PostgresTimestamp.self, "1970-01-01 00:00:00") == nil)
        #expect(decode(PostgresTimestamp.self, "infinity") == nil)
        let stamp = PostgresTimestamp(microsecondsSinceEpoch: 1_700_000_000_000_001)
        #expect(decode(PostgresTimestamp.self, stamp.description) == stamp)
    }

    @Test("dates convert to and from day counts across leap years")
    func dates() {
        for days in stride(from: Int64(-800_000), through: 800_000, by: 997) {
            let date = PostgresDate(daysSinceEpoch: days)
            #expect(date.daysSinceEpoch == days)
        }
        #expect(PostgresDate(year: 2000, month: 3, day: 1).daysSinceEpoch == 11_017)
    }

    @Test("bytea hex round trip; arrays quote every element")
    func byteaAndArrays() {
        let bytes = PostgresBytea(Array(0...255))
        #expect(decode(PostgresBytea.self, bytes.postgresText!) == bytes)
        #expect(decode(PostgresBytea.self, "\\x0") == nil)
        #expect(PostgresArray(["a\"b", "c\\d", "e,f"]).postgresText == #"{"a\"b","c\\d","e,f"}"#)
        #expect(PostgresArray<String?>(["x", nil]).postgresText == #"{"x",NULL}"#)
    }
}
