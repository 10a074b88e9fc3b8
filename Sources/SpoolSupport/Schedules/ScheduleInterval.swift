/// A fixed interval between fire times (`every`): `30s`, `5m`, `1h`, `2h30m`, `1d`; from 1 second to
/// 366 days. It is real elapsed time: daylight-saving changes do not stretch or shrink it.
public struct ScheduleInterval: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let seconds: Int64

    public static let minimumSeconds: Int64 = 1
    public static let maximumSeconds: Int64 = 366 * 86_400

    static let units: [(letter: Character, seconds: Int64)] = [("d", 86_400), ("h", 3600), ("m", 60), ("s", 1)]
    static let example = "like 30s, 5m, 1h, 2h30m or 1d"

    public init(seconds: Int64) throws(ScheduleError) {
        guard seconds >= Self.minimumSeconds else {
            throw ScheduleError(
                field: "every", text: "\(seconds)s", expression: "\(seconds)s", problem: "\(seconds) seconds is shorter than 1 second")
        }
        guard seconds <= Self.maximumSeconds else {
            throw ScheduleError(
                field: "every", text: "\(seconds)s", expression: "\(seconds)s", problem: "\(seconds) seconds is longer than 366 days")
        }
        self.seconds = seconds
    }

    /// Parses numbers with units, largest unit first, each unit once: `1d12h`, `2h30m`, `90s`.
    public init(parsing text: String) throws(ScheduleError) {
        func failure(_ problem: String) -> ScheduleError { ScheduleError(field: "every", text: text, expression: text, problem: problem) }
        let characters = Array(text.trimmingSpaces)
        guard !characters.isEmpty else { throw failure("empty interval: write a number and a unit, \(Self.example)") }
        var total: Int64 = 0
        var nextUnit = 0  // the units left to use are units[nextUnit...]
        var index = 0
        while index < characters.count {
            let start = index
            while index < characters.count, characters[index].isASCII, characters[index].isNumber { index += 1 }
            guard index > start else {
                throw failure("\"\(text)\" is not an interval: expected a number at \"\(String(characters[index...]))\", \(Self.example)")
            }
            let digits = String(characters[start..<index])
            guard index < characters.count else {
                throw failure("\"\(text)\" has no unit after \(digits): use s, m, h or d, \(Self.example)")
            }
            let letter = characters[index]
            guard let unit = Self.units.firstIndex(where: { $0.letter == letter }) else {
                throw failure("\"\(text)\" has an unknown unit \"\(letter)\": use s, m, h or d, \(Self.example)")
            }
            guard unit >= nextUnit else {
                throw failure(
                    "\"\(text)\" repeats a unit or puts a smaller one first: write days, hours, minutes, seconds in that order, like 1d12h")
            }
            // More than 9 digits is more than 366 days in any unit.
            guard digits.count <= 9, let value = Int64(digits) else { throw failure("\"\(text)\" is longer than 366 days") }
            total += value * Self.units[unit].seconds
            nextUnit = unit + 1
            index += 1
        }
        guard total >= Self.minimumSeconds else { throw failure("\"\(text)\" is shorter than 1 second") }
        guard total <= Self.maximumSeconds else { throw failure("\"\(text)\" is longer than 366 days") }
        seconds = total
    }

    public var milliseconds: Int64 { seconds * 1000 }

    /// The interval in its shortest form: `2h30m`, `1d`, `1m30s` for 90 seconds.
    public var description: String {
        var rest = seconds
        var text = ""
        for unit in Self.units where rest >= unit.seconds {
            text += "\(rest / unit.seconds)\(unit.letter)"
            rest %= unit.seconds
        }
        return text
    }

    public static func < (lhs: ScheduleInterval, rhs: ScheduleInterval) -> Bool { lhs.seconds < rhs.seconds }
}
