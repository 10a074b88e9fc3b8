/// A UTC calendar time from unix milliseconds, and back: the timestamps COPY rows, HTTP dates and JSON
/// APIs write, without a formatter per call (Howard Hinnant's days-from-civil algorithms).
public struct CivilTime: Sendable, Equatable {
    public let year: Int
    public let month: Int
    public let day: Int
    public let hour: Int
    public let minute: Int
    public let second: Int
    public let millisecond: Int
    /// 0 is Sunday.
    public let weekday: Int

    public init(unixMillis: Int64) {
        let ms = Int(unixMillis)
        let seconds = ms >= 0 ? ms / 1000 : (ms - 999) / 1000
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let secondOfDay = seconds - days * 86_400
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        hour = secondOfDay / 3600
        minute = secondOfDay / 60 % 60
        second = secondOfDay % 60
        millisecond = ms - seconds * 1000
        weekday = ((days + 4) % 7 + 7) % 7  // 1970-01-01 was a Thursday
    }

    /// Days since 1970-01-01 in the proleptic Gregorian calendar.
    public static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// "2026-11-22T10:00:00.000Z", as RFC 3339 and JSON APIs write it.
    public var rfc3339: String {
        "\(Self.pad(year, 4))-\(Self.pad(month))-\(Self.pad(day))T\(Self.pad(hour)):\(Self.pad(minute)):\(Self.pad(second)).\(Self.pad(millisecond, 3))Z"
    }

    /// "2026-11-22": the UTC date, as SQL's date type reads it.
    public static func date(_ unixMillis: Int64) -> String {
        let time = CivilTime(unixMillis: unixMillis)
        return "\(pad(time.year, 4))-\(pad(time.month))-\(pad(time.day))"
    }

    /// Zero-padded to `width` digits.
    public static func pad(_ value: Int, _ width: Int = 2) -> String {
        let text = String(value)
        return String(repeating: "0", count: max(0, width - text.count)) + text
    }
}

extension CivilTime {
    /// Why `unixMillis(iso8601:)` refused a time, in words (`month 13 is out of range 1-12`).
    public struct ParseError: Error, Sendable, Equatable, CustomStringConvertible {
        public let problem: String
        public init(_ problem: String) { self.problem = problem }
        public var description: String { problem }
    }

    /// The form `unixMillis(iso8601:)` reads, as error messages name it.
    public static let iso8601Form = "YYYY-MM-DDTHH:MM[:SS][.fff] then Z or ±HH:MM, such as 2026-11-22T09:00:00Z"

    /// Unix milliseconds of an ISO 8601 time with its offset, `YYYY-MM-DDTHH:MM[:SS][.fff](Z|±HH:MM)`:
    /// RFC 3339's form with the seconds optional (`t` or a space for `T`, and `z` for `Z`, as RFC 3339
    /// allows). Digits of a fraction beyond milliseconds are dropped. A time without an offset is refused
    /// rather than guessed: it would be a different instant in every zone.
    public static func unixMillis(iso8601 text: String) throws(ParseError) -> Int64 {
        let bytes = Array(text.utf8)
        var index = 0
        func peek() -> UInt8? { index < bytes.count ? bytes[index] : nil }
        func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }
        func digits(_ width: Int, _ what: String) throws(ParseError) -> Int {
            var value = 0
            for _ in 0..<width {
                guard let byte = peek(), isDigit(byte) else {
                    throw ParseError("expected \(width) digits of the \(what) at position \(index + 1)")
                }
                value = value * 10 + Int(byte - UInt8(ascii: "0"))
                index += 1
            }
            return value
        }
        func separator(_ accepted: [UInt8], _ what: String) throws(ParseError) {
            guard let byte = peek(), accepted.contains(byte) else { throw ParseError("expected \(what) at position \(index + 1)") }
            index += 1
        }
        guard !bytes.isEmpty else { throw ParseError("empty") }
        let year = try digits(4, "year")
        try separator([UInt8(ascii: "-")], "'-' after the year")
        let month = try digits(2, "month")
        try separator([UInt8(ascii: "-")], "'-' after the month")
        let day = try digits(2, "day")
        try separator([UInt8(ascii: "T"), UInt8(ascii: "t"), UInt8(ascii: " ")], "'T' between the date and the time")
        let hour = try digits(2, "hour")
        try separator([UInt8(ascii: ":")], "':' after the hour")
        let minute = try digits(2, "minute")
        var second = 0, millisecond = 0
        if peek() == UInt8(ascii: ":") {
            index += 1
            second = try digits(2, "second")
            if peek() == UInt8(ascii: ".") || peek() == UInt8(ascii: ",") {
                index += 1
                var count = 0
                while let byte = peek(), isDigit(byte) {
                    if count < 3 { millisecond = millisecond * 10 + Int(byte - UInt8(ascii: "0")) }
                    count += 1
                    index += 1
                }
                guard (1...9).contains(count) else {
                    throw ParseError("expected 1 to 9 digits of a fraction of a second at position \(index + 1 - count)")
                }
                var scale = count
                while scale < 3 {
                    millisecond *= 10
                    scale += 1
                }
            }
        }
        guard let designator = peek() else {
            throw ParseError("has no offset: end it with Z (UTC) or an offset such as +02:00")
        }
        var offsetSeconds = 0
        if designator == UInt8(ascii: "Z") || designator == UInt8(ascii: "z") {
            index += 1
        } else if designator == UInt8(ascii: "+") || designator == UInt8(ascii: "-") {
            index += 1
            let hours = try digits(2, "offset's hours")
            try separator([UInt8(ascii: ":")], "':' in the offset")
            let minutes = try digits(2, "offset's minutes")
            guard hours <= 23, minutes <= 59 else {
                throw ParseError("offset \(pad(hours)):\(pad(minutes)) is out of range: at most 23:59")
            }
            offsetSeconds = (hours * 3600 + minutes * 60) * (designator == UInt8(ascii: "-") ? -1 : 1)
        } else {
            throw ParseError("expected Z or an offset such as +02:00 at position \(index + 1)")
        }
        guard index == bytes.count else { throw ParseError("unexpected text after the offset at position \(index + 1)") }
        guard (1...12).contains(month) else { throw ParseError("month \(month) is out of range 1-12") }
        let monthDays = CronExpression.daysIn(month: month, year: year)
        guard (1...monthDays).contains(day) else {
            throw ParseError("day \(day) is out of range 1-\(monthDays) in \(pad(year, 4))-\(pad(month))")
        }
        guard hour <= 23 else { throw ParseError("hour \(hour) is out of range 0-23") }
        guard minute <= 59 else { throw ParseError("minute \(minute) is out of range 0-59") }
        guard second <= 59 else { throw ParseError("second \(second) is out of range 0-59") }
        let days = Int64(daysFromCivil(year: year, month: month, day: day))
        let seconds = days * 86_400 + Int64(hour * 3600 + minute * 60 + second - offsetSeconds)
        return seconds * 1000 + Int64(millisecond)
    }
}
