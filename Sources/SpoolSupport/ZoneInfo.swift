import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A time zone read from the system's zoneinfo (tzdata's TZif files), for UTC offsets at any instant.
///
/// Spool links FoundationEssentials only, whose TimeZone knows no named zones without ICU; reading
/// the TZif file is small and exact. Transitions come from the file's 64-bit section; instants after
/// the last one follow the POSIX TZ rule in its footer (`EST5EDT,M3.2.0,M11.1.0`), which is how
/// tzdata's compact files describe the future.
public struct ZoneInfo: Sendable {
    public let name: String
    let transitions: [Int64]
    let offsets: [Int]
    let initialOffset: Int
    let rule: PosixZoneRule?

    public static let directory = "/usr/share/zoneinfo"
    private static let cache = Mutex<[String: ZoneInfo]>([:])

    /// The zone named `name` (`America/New_York`), or nil when there is no such zone file.
    public static func named(_ name: String) -> ZoneInfo? {
        if let cached = cache.withLock({ $0[name] }) { return cached }
        if name == "UTC" || name == "Etc/UTC" { return ZoneInfo(name: name, transitions: [], offsets: [], initialOffset: 0, rule: nil) }
        guard !name.isEmpty, name.count <= 64, !name.hasPrefix("/"), !name.contains(".."),
            name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "/_+-".contains($0)) }),
            let bytes = readFile(directory + "/" + name), let zone = parse(name: name, bytes)
        else { return nil }
        cache.withLock { $0[name] = zone }
        return zone
    }

    /// Seconds east of UTC at `unixSeconds`.
    public func offset(at unixSeconds: Int64) -> Int {
        if let last = transitions.last, unixSeconds >= last, let rule { return rule.offset(at: unixSeconds) }
        if transitions.isEmpty { return rule?.offset(at: unixSeconds) ?? initialOffset }
        var low = 0, high = transitions.count
        while low < high {
            let middle = (low + high) / 2
            if transitions[middle] <= unixSeconds { low = middle + 1 } else { high = middle }
        }
        return low == 0 ? initialOffset : offsets[low - 1]
    }

    static func parse(name: String, _ data: [UInt8]) -> ZoneInfo? {
        func count(_ at: Int) -> Int { Int(data[at]) << 24 | Int(data[at + 1]) << 16 | Int(data[at + 2]) << 8 | Int(data[at + 3]) }
        func header(_ at: Int) -> (isut: Int, isstd: Int, leap: Int, time: Int, type: Int, char: Int)? {
            guard data.count >= at + 44, data[at..<at + 4].elementsEqual("TZif".utf8) else { return nil }
            return (count(at + 20), count(at + 24), count(at + 28), count(at + 32), count(at + 36), count(at + 40))
        }
        guard let first = header(0) else { return nil }
        let version = data[4]
        var at = 44
        var timeSize = 4
        var h = first
        if version >= UInt8(ascii: "2") {
            at += first.time * 4 + first.time + first.type * 6 + first.char + first.leap * 8 + first.isstd + first.isut
            guard let second = header(at) else { return nil }
            h = second
            at += 44
            timeSize = 8
        }
        let needed = at + h.time * timeSize + h.time + h.type * 6 + h.char + h.leap * (timeSize + 4) + h.isstd + h.isut
        guard data.count >= needed, h.type > 0 else { return nil }
        var transitions: [Int64] = []
        for index in 0..<h.time {
            var value: Int64 = 0
            for byte in data[(at + index * timeSize)..<(at + (index + 1) * timeSize)] { value = value << 8 | Int64(byte) }
            if timeSize == 4 { value = Int64(Int32(truncatingIfNeeded: value)) }
            transitions.append(value)
        }
        at += h.time * timeSize
        let typeIndexes = data[at..<at + h.time].map(Int.init)
        at += h.time
        var typeOffsets: [Int] = []
        for index in 0..<h.type {
            let base = at + index * 6
            typeOffsets.append(
                Int(
                    Int32(
                        bitPattern: UInt32(data[base]) << 24 | UInt32(data[base + 1]) << 16 | UInt32(data[base + 2]) << 8
                            | UInt32(data[base + 3]))))
        }
        var rule: PosixZoneRule?
        if timeSize == 8, needed < data.count, data[needed] == 10, let end = data[(needed + 1)...].firstIndex(of: 10) {
            rule = PosixZoneRule(String(decoding: data[(needed + 1)..<end], as: UTF8.self))
        }
        guard typeIndexes.allSatisfy({ $0 < typeOffsets.count }) else { return nil }
        return ZoneInfo(
            name: name, transitions: transitions, offsets: typeIndexes.map { typeOffsets[$0] }, initialOffset: typeOffsets[0], rule: rule)
    }

    static func readFile(_ path: String) -> [UInt8]? {
        guard let file = fopen(path, "rb") else { return nil }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 8192)
        while true {
            let read = fread(&buffer, 1, buffer.count, file)
            if read <= 0 { break }
            bytes.append(contentsOf: buffer[0..<read])
            if bytes.count > 1 << 20 { return nil }
        }
        return bytes
    }
}

/// A POSIX TZ rule (`CET-1CEST,M3.5.0,M10.5.0/3`): standard offset, and optionally daylight time
/// between two `Mm.w.d[/time]` dates. Offsets in the string are west of UTC; stored east.
struct PosixZoneRule: Sendable {
    let standard: Int
    let daylight: Int?
    let start: (month: Int, week: Int, day: Int, seconds: Int)?
    let end: (month: Int, week: Int, day: Int, seconds: Int)?

    init?(_ text: String) {
        var rest = Substring(text)
        func name() -> Bool {
            if rest.first == "<" {
                guard let close = rest.firstIndex(of: ">") else { return false }
                rest = rest[rest.index(after: close)...]
                return true
            }
            let letters = rest.prefix { $0.isLetter }
            guard letters.count >= 3 else { return false }
            rest = rest.dropFirst(letters.count)
            return true
        }
        func time() -> Int? {
            var sign = 1
            if rest.first == "+" { rest = rest.dropFirst() } else if rest.first == "-" { sign = -1; rest = rest.dropFirst() }
            var parts: [Int] = []
            while parts.count < 3 {
                let digits = rest.prefix { $0.isNumber }
                guard !digits.isEmpty, let value = Int(digits) else { break }
                parts.append(value)
                rest = rest.dropFirst(digits.count)
                if rest.first == ":" { rest = rest.dropFirst() } else { break }
            }
            guard !parts.isEmpty else { return nil }
            return sign * (parts[0] * 3600 + (parts.count > 1 ? parts[1] * 60 : 0) + (parts.count > 2 ? parts[2] : 0))
        }
        func date() -> (Int, Int, Int, Int)? {
            guard rest.first == "M" else { return nil }
            rest = rest.dropFirst()
            let fields = rest.prefix { $0.isNumber || $0 == "." }.split(separator: ".").compactMap { Int($0) }
            rest = rest.dropFirst(rest.prefix { $0.isNumber || $0 == "." }.count)
            guard fields.count == 3 else { return nil }
            var seconds = 7200
            if rest.first == "/" {
                rest = rest.dropFirst()
                guard let value = time() else { return nil }
                seconds = value
            }
            return (fields[0], fields[1], fields[2], seconds)
        }
        guard name(), let west = time() else { return nil }
        standard = -west
        guard !rest.isEmpty else { daylight = nil; start = nil; end = nil; return }
        guard name() else { return nil }
        if let dstWest = (rest.first == "," ? nil : time()) { daylight = -dstWest } else { daylight = standard + 3600 }
        guard rest.first == "," else { start = nil; end = nil; return }
        rest = rest.dropFirst()
        guard let from = date(), rest.first == "," else { return nil }
        rest = rest.dropFirst()
        guard let to = date() else { return nil }
        start = from
        end = to
    }

    func offset(at unixSeconds: Int64) -> Int {
        guard let daylight, let start, let end else { return standard }
        let year = CivilTime(unixMillis: unixSeconds * 1000).year
        // Transitions are given in local time: the start in standard time, the end in daylight time.
        let begins = Self.instant(year: year, start, offset: standard)
        let ends = Self.instant(year: year, end, offset: daylight)
        let inDaylight = begins < ends ? (unixSeconds >= begins && unixSeconds < ends) : (unixSeconds >= begins || unixSeconds < ends)
        return inDaylight ? daylight : standard
    }

    static func instant(year: Int, _ rule: (month: Int, week: Int, day: Int, seconds: Int), offset: Int) -> Int64 {
        let first = CivilTime.daysFromCivil(year: year, month: rule.month, day: 1)
        let weekday = ((first + 4) % 7 + 7) % 7
        var day = 1 + (rule.day - weekday + 7) % 7 + (rule.week - 1) * 7
        let nextMonth =
            rule.month == 12
            ? CivilTime.daysFromCivil(year: year + 1, month: 1, day: 1) : CivilTime.daysFromCivil(year: year, month: rule.month + 1, day: 1)
        while day > nextMonth - first { day -= 7 }
        return Int64(first + day - 1) * 86_400 + Int64(rule.seconds) - Int64(offset)
    }
}
