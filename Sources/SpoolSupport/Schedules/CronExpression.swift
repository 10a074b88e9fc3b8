/// A cron expression: when a schedule fires, in local wall-clock time of a time zone.
///
/// Syntax (see docs/schedules.md):
/// - 5 fields, `minute hour day-of-month month day-of-week`, or 6 with a leading `second`;
///   or a macro: `@yearly` (`@annually`), `@monthly`, `@weekly`, `@daily` (`@midnight`), `@hourly`.
/// - Per field: `*`, a number, a range `a-b`, steps `*/n`, `a-b/n` and `a/n` (from `a` to the field's
///   end), and lists of these, `a,b,c`. Months may be named `JAN`-`DEC`, days of the week `SUN`-`SAT`,
///   in any case. Days of the week are 0-7, where 0 and 7 are Sunday.
/// - Day of month and day of week combine as in Vixie cron: when both are restricted (neither starts
///   with `*`), a day matches when either matches; otherwise it must match both.
///
/// Fire times (`next(after:zone:)`) walk local civil time; across daylight-saving changes:
/// - an expression whose hour field takes every hour (`*`, `0-23`) follows real time: in an hour the clocks
///   repeat it fires in both passes, and in an hour they skip it does not fire;
/// - any other expression fires once per matching local time: a time that happens twice fires at its
///   first occurrence, and a time that does not exist fires at the first instant after the gap.
public struct CronExpression: Sendable, Hashable, CustomStringConvertible {
    /// The expression as given, without surrounding whitespace (a macro stays a macro).
    public let source: String
    /// Whether the expression has a seconds field; without one it fires at second 0.
    public let hasSeconds: Bool
    let seconds: CronFieldSet
    let minutes: CronFieldSet
    let hours: CronFieldSet
    let daysOfMonth: CronFieldSet
    let months: CronFieldSet
    /// 0 is Sunday; a 7 in the expression is stored as 0.
    let daysOfWeek: CronFieldSet
    /// Both day fields are restricted: a day matches when either does.
    let eitherDay: Bool

    public var description: String { source }

    /// How far ahead `next(after:zone:)` searches: an expression with no fire time within it answers
    /// nil (`0 0 29 2 *` fires every 4 years, or 8 across a century that is not a leap year).
    public static let horizonSeconds: Int64 = 5 * 366 * 86_400

    static let macros: [String: String] = [
        "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *", "@weekly": "0 0 * * 0",
        "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
    ]

    /// Parses `text`; a `ScheduleError` names the field, the text at fault and its column.
    public init(parsing text: String) throws(ScheduleError) {
        let characters = Array(text)
        // Fields are separated by whitespace; each is kept with its 0-based start in `text`.
        var fields: [(start: Int, text: [Character])] = []
        var index = 0
        while index < characters.count {
            if characters[index].isWhitespace {
                index += 1
                continue
            }
            let start = index
            while index < characters.count, !characters[index].isWhitespace { index += 1 }
            fields.append((start: start, text: Array(characters[start..<index])))
        }
        guard let first = fields.first else {
            throw ScheduleError(
                field: nil, text: text, expression: text,
                problem:
                    "empty expression: write 5 fields (minute hour day-of-month month day-of-week), 6 with a seconds field first, or a macro like @daily"
            )
        }
        if fields.count == 1, first.text.first == "@" {
            let name = String(first.text)
            guard let expansion = Self.macros[name.lowercased()] else {
                throw ScheduleError(
                    field: nil, text: name, column: first.start + 1, expression: text,
                    problem:
                        "unknown macro \"\(name)\"; the macros are @yearly, @annually, @monthly, @weekly, @daily, @midnight and @hourly")
            }
            // A macro's expansion is valid: any error here is a bug in the table, reported against it.
            let expanded = try CronExpression(parsing: expansion)
            self.init(
                source: name, hasSeconds: false, seconds: expanded.seconds, minutes: expanded.minutes, hours: expanded.hours,
                daysOfMonth: expanded.daysOfMonth, months: expanded.months, daysOfWeek: expanded.daysOfWeek, eitherDay: expanded.eitherDay)
            return
        }
        guard fields.count == 5 || fields.count == 6 else {
            throw ScheduleError(
                field: nil, text: text, expression: text,
                problem:
                    "expected 5 fields (minute hour day-of-month month day-of-week) or 6 (a seconds field first), got \(fields.count) in \"\(text)\""
            )
        }
        let kinds: [CronField] =
            fields.count == 6
            ? [.second, .minute, .hour, .dayOfMonth, .month, .dayOfWeek] : [.minute, .hour, .dayOfMonth, .month, .dayOfWeek]
        var sets: [CronFieldSet] = []
        for (kind, field) in zip(kinds, fields) {
            try sets.append(Self.parseField(kind, field.text, start: field.start, expression: text))
        }
        let offset = fields.count - 5
        var daysOfWeek = sets[offset + 4]
        if daysOfWeek.contains(7) {
            daysOfWeek.remove(7)
            daysOfWeek.insert(0)
        }
        let dayOfMonthField = fields[offset + 2], monthField = fields[offset + 3], dayOfWeekField = fields[offset + 4]
        // Vixie cron: a day field is unrestricted when it starts with `*` (`*` or `*/n`).
        let eitherDay = dayOfMonthField.text.first != "*" && dayOfWeekField.text.first != "*"
        let daysOfMonth = sets[offset + 2], months = sets[offset + 3]
        if !eitherDay {
            // Every weekday falls on every date of some year, so only a day of month that no chosen
            // month has (31 in February) can make an expression that never fires.
            let earliestDay = daysOfMonth.next(from: 1) ?? 32
            var occurs = false
            for month in 1...12 where months.contains(month) && earliestDay <= Self.daysIn(month: month, year: 2000) { occurs = true }
            if !occurs {
                throw ScheduleError(
                    field: CronField.dayOfMonth.rawValue, text: String(dayOfMonthField.text), column: dayOfMonthField.start + 1,
                    expression: text,
                    problem:
                        "\(String(dayOfMonthField.text)) never occurs in month \(String(monthField.text)), so the expression never fires")
            }
        }
        self.init(
            source: String(characters[first.start..<(fields[fields.count - 1].start + fields[fields.count - 1].text.count)]),
            hasSeconds: fields.count == 6, seconds: fields.count == 6 ? sets[0] : CronFieldSet(values: [0]), minutes: sets[offset],
            hours: sets[offset + 1], daysOfMonth: daysOfMonth, months: months, daysOfWeek: daysOfWeek, eitherDay: eitherDay)
    }

    init(
        source: String, hasSeconds: Bool, seconds: CronFieldSet, minutes: CronFieldSet, hours: CronFieldSet, daysOfMonth: CronFieldSet,
        months: CronFieldSet, daysOfWeek: CronFieldSet, eitherDay: Bool
    ) {
        self.source = source
        self.hasSeconds = hasSeconds
        self.seconds = seconds
        self.minutes = minutes
        self.hours = hours
        self.daysOfMonth = daysOfMonth
        self.months = months
        self.daysOfWeek = daysOfWeek
        self.eitherDay = eitherDay
    }

    // MARK: Parsing

    /// One field: a comma-separated list of items. `start` is the field's 0-based position in `expression`.
    static func parseField(_ field: CronField, _ text: [Character], start: Int, expression: String) throws(ScheduleError) -> CronFieldSet {
        var set = CronFieldSet()
        var itemStart = 0
        while true {
            var end = itemStart
            while end < text.count, text[end] != "," { end += 1 }
            if end == itemStart {
                throw ScheduleError(
                    field: field.rawValue, text: "", column: start + itemStart + 1, expression: expression,
                    problem: "empty list item in \"\(String(text))\"")
            }
            try Self.parseItem(field, Array(text[itemStart..<end]), start: start + itemStart, expression: expression, into: &set)
            if end == text.count { return set }
            itemStart = end + 1
        }
    }

    /// One list item: `*`, `a`, `a-b`, each optionally followed by `/step`. `start` is its 0-based position.
    static func parseItem(
        _ field: CronField, _ item: [Character], start: Int, expression: String, into set: inout CronFieldSet
    )
        throws(ScheduleError)
    {
        func failure(_ problem: String, _ text: ArraySlice<Character>, at offset: Int) -> ScheduleError {
            ScheduleError(field: field.rawValue, text: String(text), column: start + offset + 1, expression: expression, problem: problem)
        }
        let slash = item.firstIndex(of: "/")
        let base = item[..<(slash ?? item.count)]
        var step = 1
        if let slash {
            let stepText = item[(slash + 1)...]
            if let second = stepText.firstIndex(of: "/") {
                throw failure("\"\(String(item))\" has more than one \"/\"", item[second...], at: second)
            }
            guard !stepText.isEmpty else { throw failure("missing step after \"/\" in \"\(String(item))\"", item[...], at: 0) }
            guard let value = Self.number(stepText) else {
                throw failure("step \"\(String(stepText))\" is not a number", stepText, at: slash + 1)
            }
            guard value > 0 else { throw failure("step 0 in \"\(String(item))\": a step must be 1 or more", item[...], at: 0) }
            step = value
        }
        let low: Int, high: Int
        if base.count == 1 && base.first == "*" {
            low = field.bounds.lowerBound
            high = field.stepEnd
        } else if base.isEmpty {
            throw failure("missing value before \"/\" in \"\(String(item))\"", item[...], at: 0)
        } else if let dash = base.firstIndex(of: "-") {
            let from = base[..<dash], to = base[(dash + 1)...]
            guard !from.isEmpty, !to.isEmpty else { throw failure("range \"\(String(base))\" is missing a number", base, at: 0) }
            low = try Self.value(field, from, at: 0, start: start, expression: expression)
            high = try Self.value(field, to, at: dash + 1, start: start, expression: expression)
            if low > high {
                throw failure("range \(String(base)) is reversed: its start must not be after its end", base, at: 0)
            }
        } else {
            low = try Self.value(field, base, at: 0, start: start, expression: expression)
            high = slash == nil ? low : max(low, field.stepEnd)
        }
        var current = low
        while current <= high {
            set.insert(current)
            current += step
        }
    }

    /// A number or a name within `field`'s bounds; `offset` is `token`'s position in its item.
    static func value(
        _ field: CronField, _ token: ArraySlice<Character>, at offset: Int, start: Int, expression: String
    ) throws(ScheduleError)
        -> Int
    {
        func failure(_ problem: String) -> ScheduleError {
            ScheduleError(field: field.rawValue, text: String(token), column: start + offset + 1, expression: expression, problem: problem)
        }
        let text = String(token)
        if token.isEmpty { throw failure("missing number") }
        if let number = Self.number(token) {
            guard field.bounds.contains(number) else {
                throw failure("\(text) is out of range \(field.bounds.lowerBound)-\(field.bounds.upperBound)")
            }
            return number
        }
        if token.allSatisfy({ $0.isASCII && $0.isLetter }) {
            guard !field.names.isEmpty else { throw failure("\"\(text)\" is not a number") }
            guard let index = field.names.firstIndex(of: text.uppercased()) else {
                throw failure("unknown name \"\(text)\"; the names are \(field.names.joined(separator: ", "))")
            }
            return index + field.bounds.lowerBound
        }
        throw failure("\"\(text)\" is not a number\(field.names.isEmpty ? "" : " or a name")")
    }

    /// Decimal digits only; nil for anything else. Too many digits give Int.max, out of every range.
    static func number(_ token: ArraySlice<Character>) -> Int? {
        guard !token.isEmpty, token.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        guard token.count <= 9 else { return Int.max }
        return Int(String(token))
    }

    // MARK: Matching

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Whether the day fields accept a date (`eitherDay`: either of them; otherwise both).
    func dayMatches(year: Int, month: Int, day: Int) -> Bool {
        let weekday = ((CivilTime.daysFromCivil(year: year, month: month, day: day) + 4) % 7 + 7) % 7
        let byMonth = daysOfMonth.contains(day), byWeek = daysOfWeek.contains(weekday)
        return eitherDay ? byMonth || byWeek : byMonth && byWeek
    }

    /// Whether the expression accepts a local wall-clock time (its fields read as the local time).
    public func matches(_ local: CivilTime) -> Bool {
        seconds.contains(local.second) && minutes.contains(local.minute) && hours.contains(local.hour) && months.contains(local.month)
            && dayMatches(year: local.year, month: local.month, day: local.day)
    }

    /// Every hour of the day matches: fire times follow real time across daylight-saving changes.
    var followsRealTime: Bool { hours.bits == (UInt64(1) << 24) - 1 }

    /// The first matching local time at or after `local` (local wall-clock seconds counted as if
    /// UTC), or nil when there is none up to the end of `lastYear`. Moves a field at a time, so the
    /// work is at most a step per day, never per second.
    func nextLocalMatch(atOrAfter local: Int64, lastYear: Int) -> Int64? {
        let time = CivilTime(unixMillis: local * 1000)
        var year = time.year, month = time.month, day = time.day
        var hour = time.hour, minute = time.minute, second = time.second
        while year <= lastYear {
            guard let nextMonth = months.next(from: month) else {
                year += 1
                month = 1
                day = 1
                hour = 0
                minute = 0
                second = 0
                continue
            }
            if nextMonth != month {
                month = nextMonth
                day = 1
                hour = 0
                minute = 0
                second = 0
            }
            if day > Self.daysIn(month: month, year: year) {
                month += 1  // 13 has no bit: the next pass moves to January
                day = 1
                hour = 0
                minute = 0
                second = 0
                continue
            }
            guard dayMatches(year: year, month: month, day: day), let nextHour = hours.next(from: hour) else {
                day += 1
                hour = 0
                minute = 0
                second = 0
                continue
            }
            if nextHour != hour {
                hour = nextHour
                minute = 0
                second = 0
            }
            guard let nextMinute = minutes.next(from: minute) else {
                hour += 1
                minute = 0
                second = 0
                continue
            }
            if nextMinute != minute {
                minute = nextMinute
                second = 0
            }
            guard let nextSecond = seconds.next(from: second) else {
                minute += 1
                second = 0
                continue
            }
            return Int64(CivilTime.daysFromCivil(year: year, month: month, day: day)) * 86_400
                + Int64(hour * 3600 + minute * 60 + nextSecond)
        }
        return nil
    }

    // MARK: Fire times

    /// The first fire time strictly after `unixMillis`, in unix milliseconds (always whole seconds),
    /// with the fields read in `zone`'s local time; nil when there is none within `horizonSeconds`.
    public func next(after unixMillis: Int64, zone: ZoneInfo) -> Int64? {
        // Years 1 to 9999: beyond them local seconds would overflow in milliseconds.
        guard unixMillis >= -62_135_596_800_000, unixMillis <= 253_402_300_799_000 else { return nil }
        let from = (unixMillis >= 0 ? unixMillis / 1000 : (unixMillis - 999) / 1000) + 1
        let fire = followsRealTime ? nextInRealTime(from: from, zone: zone) : nextOnWallClock(from: from, zone: zone)
        return fire.map { $0 * 1000 }
    }

    /// The next `count` fire times after `unixMillis` (fewer when the horizon ends them).
    public func next(after unixMillis: Int64, count: Int, zone: ZoneInfo) -> [Int64] {
        var times: [Int64] = []
        var after = unixMillis
        while times.count < count, let fire = next(after: after, zone: zone) {
            times.append(fire)
            after = fire
        }
        return times
    }

    /// Fixed hours: each matching local time fires once, at the first instant reading it, or at the
    /// end of the gap when the clocks skip it. That instant never decreases as the local time grows,
    /// so the first matching local time whose instant is at or after `from` is the answer.
    func nextOnWallClock(from: Int64, zone: ZoneInfo) -> Int64? {
        let horizon = from + Self.horizonSeconds
        let lastYear = CivilTime(unixMillis: (horizon + 86_400) * 1000).year
        // No local time before this one maps to `from` or later: it is `from`'s reading, or the start
        // of the gap or of the repeated hour when `from` is the instant the clocks change.
        var local = from + Int64(min(zone.offset(at: from - 1), zone.offset(at: from)))
        for _ in 0..<10_000 {
            guard let match = nextLocalMatch(atOrAfter: local, lastYear: lastYear) else { return nil }
            let fire: Int64
            switch zone.resolve(local: match) {
            case .unique(let instant): fire = instant
            case .skipped(let resume): fire = resume
            case .repeated(let first, let second):
                if first >= from {
                    fire = first
                } else {
                    // `from` is in the second pass of a repeated hour, whose times fired in the first:
                    // go on from the end of the repeated hour (the change, read in the earlier offset).
                    let change = zone.firstChange(after: first, through: second)
                    local = max(match + 1, change + (match - first))
                    continue
                }
            }
            if fire > horizon { return nil }
            if fire >= from { return fire }
            local = match + 1
        }
        return nil
    }

    /// Every hour: fire at each instant whose local reading matches, walking real time in spans of
    /// one offset. A span ends at the next offset change, found by looking at most a day ahead
    /// (zones change offset at most once a day); the next span starts over from its new reading,
    /// an hour back (a repeated hour fires again) or ahead (a skipped hour fires nothing).
    func nextInRealTime(from: Int64, zone: ZoneInfo) -> Int64? {
        let horizon = from + Self.horizonSeconds
        let lastYear = CivilTime(unixMillis: (horizon + 86_400) * 1000).year
        var instant = from
        var offset = Int64(zone.offset(at: instant))
        var match = nextLocalMatch(atOrAfter: instant + offset, lastYear: lastYear)
        while instant <= horizon {
            guard let local = match else { return nil }
            let fire = local - offset
            let probe = min(fire, instant + 86_400)
            if Int64(zone.offset(at: probe)) != offset {
                instant = zone.firstChange(after: instant, through: probe)
                offset = Int64(zone.offset(at: instant))
                match = nextLocalMatch(atOrAfter: instant + offset, lastYear: lastYear)
                continue
            }
            if probe == fire { return fire <= horizon ? fire : nil }
            // No change up to `probe`, and no match before `fire`: `match` is still the next one.
            instant = probe
        }
        return nil
    }
}

/// The fields of a cron expression, named as errors name them.
enum CronField: String, Sendable {
    case second, minute, hour
    case dayOfMonth = "day of month"
    case month
    case dayOfWeek = "day of week"

    var bounds: ClosedRange<Int> {
        switch self {
        case .second, .minute: 0...59
        case .hour: 0...23
        case .dayOfMonth: 1...31
        case .month: 1...12
        case .dayOfWeek: 0...7
        }
    }

    /// Where `*` and `a/n` end: Saturday for days of the week (7 is Sunday again).
    var stepEnd: Int { self == .dayOfWeek ? 6 : bounds.upperBound }

    /// Names in order from the lower bound (JAN is 1, SUN is 0).
    var names: [String] {
        switch self {
        case .month: ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
        case .dayOfWeek: ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]
        default: []
        }
    }
}

/// The values a field accepts, as bits 0 to 63.
struct CronFieldSet: Sendable, Hashable {
    var bits: UInt64 = 0

    init() {}

    init(values: [Int]) {
        for value in values { insert(value) }
    }

    func contains(_ value: Int) -> Bool { value >= 0 && value < 64 && bits & (UInt64(1) << value) != 0 }

    /// The smallest value at or above `value`, or nil.
    func next(from value: Int) -> Int? {
        guard value < 64 else { return nil }
        let above = bits & (UInt64.max << max(value, 0))
        return above == 0 ? nil : above.trailingZeroBitCount
    }

    mutating func insert(_ value: Int) { bits |= UInt64(1) << value }

    mutating func remove(_ value: Int) { bits &= ~(UInt64(1) << value) }
}
