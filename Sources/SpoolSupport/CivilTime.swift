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
