/// A date in the Gregorian calendar, without time or zone: an effective date.
///
/// Only real dates exist: 2025-02-29 and 2025-13-01 cannot be made. Years run from 1900 to
/// 2199, which covers every career a ledger started today can hold and refuses typing slips
/// such as 0225 or 20255.
public struct CalendarDate: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let year: Int
    public let month: Int
    public let day: Int

    public static let supportedYears = 1900...2199

    /// Makes a date, or nil when it is not a real date in the supported years.
    public init?(year: Int, month: Int, day: Int) {
        guard Self.supportedYears.contains(year), (1...12).contains(month),
            day >= 1, day <= Self.daysIn(month: month, year: year)
        else { return nil }
        self.year = year
        self.month = month
        self.day = day
    }

    /// Parses `YYYY-MM-DD` exactly.
    public init?(_ text: String) {
        let bytes = Array(text.utf8)
        guard bytes.count == 10, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-") else { return nil }
        func number(_ range: Range<Int>) -> Int? {
            var value = 0
            for byte in bytes[range] {
                guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
                value = value * 10 + Int(byte - UInt8(ascii: "0"))
            }
            return value
        }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10) else { return nil }
        self.init(year: year, month: month, day: day)
    }

    public static func isLeap(_ year: Int) -> Bool {
        (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
    }

    public static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: isLeap(year) ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    public static func < (lhs: CalendarDate, rhs: CalendarDate) -> Bool {
        (lhs.year, lhs.month, lhs.day) < (rhs.year, rhs.month, rhs.day)
    }

    public var description: String {
        let y = String(year), m = String(month), d = String(day)
        return y + "-" + (m.count == 1 ? "0" + m : m) + "-" + (d.count == 1 ? "0" + d : d)
    }

    /// The same day `years` later (29 February becomes 28 February in a common year).
    /// Clamped to the supported years.
    public func adding(years: Int) -> CalendarDate {
        let target = min(max(year + years, Self.supportedYears.lowerBound), Self.supportedYears.upperBound)
        let clampedDay = min(day, Self.daysIn(month: month, year: target))
        return CalendarDate(year: target, month: month, day: clampedDay)!
    }

    /// Whole years from `self` to `later` (0 when `later` is earlier): full years of service.
    public func fullYears(until later: CalendarDate) -> Int {
        guard later > self else { return 0 }
        var years = later.year - year
        if adding(years: years) > later { years -= 1 }
        return max(0, years)
    }

    /// The last day of the year.
    public static func endOfYear(_ year: Int) -> CalendarDate? {
        CalendarDate(year: year, month: 12, day: 31)
    }

    /// Days since 1970-01-01 (after H. Hinnant's public-domain civil calendar algorithms).
    public var daysSinceEpoch: Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// The civil date of a day count since 1970-01-01, without range checks.
    static func civil(daysSinceEpoch days: Int) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }

    /// The date `days` after this one, or nil when that leaves the supported years.
    public func adding(days: Int) -> CalendarDate? {
        let civil = Self.civil(daysSinceEpoch: daysSinceEpoch + days)
        return CalendarDate(year: civil.year, month: civil.month, day: civil.day)
    }
}

/// An instant as the database clock records it: microseconds since 1970-01-01T00:00:00Z.
public struct Timestamp: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var microsecondsSinceEpoch: Int64

    public init(microsecondsSinceEpoch: Int64) {
        self.microsecondsSinceEpoch = microsecondsSinceEpoch
    }

    public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool {
        lhs.microsecondsSinceEpoch < rhs.microsecondsSinceEpoch
    }

    /// The first instant of a day (UTC).
    public init(startOf date: CalendarDate) {
        microsecondsSinceEpoch = Int64(date.daysSinceEpoch) * 86_400_000_000
    }

    /// The last microsecond of a day (UTC).
    public init(endOf date: CalendarDate) {
        microsecondsSinceEpoch = Int64(date.daysSinceEpoch + 1) * 86_400_000_000 - 1
    }

    /// Reads exactly the form `description` writes (`2026-11-29T18:07:36.123456Z`: UTC, `T`,
    /// six fraction digits, `Z`) and nothing looser: what evidence formats accept.
    public init?(exactly text: String) {
        guard text.utf8.count == 27, let parsed = Timestamp(parsing: text), parsed.description == text else { return nil }
        self = parsed
    }

    /// ISO 8601 in UTC with microseconds: `2026-11-29T18:07:36.123456Z`.
    public var description: String {
        var days = microsecondsSinceEpoch / 86_400_000_000
        var rest = microsecondsSinceEpoch % 86_400_000_000
        if rest < 0 {
            rest += 86_400_000_000
            days -= 1
        }
        let civil = CalendarDate.civil(daysSinceEpoch: Int(days))
        func pad(_ value: Int64, _ width: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        let seconds = rest / 1_000_000
        return "\(pad(Int64(civil.year), 4))-\(pad(Int64(civil.month), 2))-\(pad(Int64(civil.day), 2))"
            + "T\(pad(seconds / 3600, 2)):\(pad(seconds / 60 % 60, 2)):\(pad(seconds % 60, 2))"
            + ".\(pad(rest % 1_000_000, 6))Z"
    }

    /// Parses a date (`2026-01-31`, meaning the end of that day, UTC) or an ISO 8601 instant
    /// (`2026-01-31T12:00:00Z`, `2026-01-31T12:00:00.25+08:00`).
    public init?(parsing text: String) {
        if let date = CalendarDate(text) {
            self.init(endOf: date)
            return
        }
        let bytes = Array(text.utf8)
        guard bytes.count >= 20, let date = CalendarDate(String(decoding: bytes[0..<10], as: UTF8.self)),
            bytes[10] == UInt8(ascii: "T") || bytes[10] == UInt8(ascii: " "),
            bytes[13] == UInt8(ascii: ":"), bytes[16] == UInt8(ascii: ":")
        else { return nil }
        func number(_ range: Range<Int>) -> Int64? {
            guard range.upperBound <= bytes.count else { return nil }
            var value: Int64 = 0
            for byte in bytes[range] {
                guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
                value = value * 10 + Int64(byte - UInt8(ascii: "0"))
            }
            return value
        }
        guard let hour = number(11..<13), hour < 24, let minute = number(14..<16), minute < 60,
            let second = number(17..<19), second < 60
        else { return nil }
        var index = 19
        var fraction: Int64 = 0
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            var digits = 0
            while index < bytes.count, let digit = number(index..<index + 1) {
                if digits < 6 { fraction = fraction * 10 + digit }
                digits += 1
                index += 1
            }
            guard digits > 0 else { return nil }
            if digits < 6 {
                for _ in digits..<6 { fraction *= 10 }
            }
        }
        guard index < bytes.count else { return nil }
        var offset: Int64 = 0
        if bytes[index] == UInt8(ascii: "Z") {
            index += 1
        } else {
            guard bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-"),
                let hours = number(index + 1..<index + 3), bytes.count == index + 6,
                bytes[index + 3] == UInt8(ascii: ":"), let minutes = number(index + 4..<index + 6)
            else { return nil }
            offset = (hours * 3600 + minutes * 60) * (bytes[index] == UInt8(ascii: "-") ? -1 : 1)
            index += 6
        }
        guard index == bytes.count else { return nil }
        let seconds = Int64(date.daysSinceEpoch) * 86_400 + hour * 3600 + minute * 60 + second - offset
        self.init(microsecondsSinceEpoch: seconds * 1_000_000 + fraction)
    }

    /// The calendar date of this instant in UTC.
    public var date: CalendarDate? {
        var days = microsecondsSinceEpoch / 86_400_000_000
        if microsecondsSinceEpoch % 86_400_000_000 < 0 { days -= 1 }
        let civil = CalendarDate.civil(daysSinceEpoch: Int(days))
        return CalendarDate(year: civil.year, month: civil.month, day: civil.day)
    }
}

extension CalendarDate: Codable {
    /// Encoded as its `YYYY-MM-DD` text.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let date = CalendarDate(text) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "not a date (YYYY-MM-DD): \(text.prefix(20))")
        }
        self = date
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
