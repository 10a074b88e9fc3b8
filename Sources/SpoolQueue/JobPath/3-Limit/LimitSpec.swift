import SpoolSupport

/// What one limiter allows. Declared per kind in `Jobs/<kind>.json` (`limits`), and replaceable at run
/// time for one limit key or a whole template (`spool limits set`, `PUT /v1/limits`).
///
/// - rate: `units` per `period`, GCRA, with up to `burst` units at once after a quiet spell;
/// - concurrency: at most `max` jobs hold the key at once; a crashed worker's slot comes back after
///   the kind's timeout;
/// - quota: at most `units` per calendar window (minute, hour or UTC day), e.g. a daily send cap.
public enum LimitSpec: Sendable, Equatable {
    case rate(units: Int, period: Duration, burst: Int)
    case concurrency(max: Int)
    case quota(units: Int, window: Duration)

    public static let periods: [(name: String, duration: Duration)] = [
        ("second", .seconds(1)), ("minute", .seconds(60)), ("hour", .seconds(3600)), ("day", .seconds(86_400)),
    ]

    public var kindName: String {
        switch self {
        case .rate: return "rate"
        case .concurrency: return "concurrency"
        case .quota: return "quota"
        }
    }

    /// Milliseconds per unit for a rate (how fast waiting jobs are released); 0 for the others.
    public var pace: Double {
        guard case .rate(let units, let period, _) = self else { return 0 }
        return Double(period.milliseconds) / Double(units)
    }

    /// `5/second burst 2`, `100 at once`, `10000/day`: for logs, stats and the CLI.
    public var summary: String {
        switch self {
        case .rate(let units, let period, let burst): return "\(units)/\(Self.periodName(period)) burst \(burst)"
        case .concurrency(let max): return "\(max) at once"
        case .quota(let units, let window): return "\(units)/\(Self.periodName(window))"
        }
    }

    static func periodName(_ duration: Duration) -> String {
        periods.first { $0.duration == duration }?.name ?? "\(duration.milliseconds)ms"
    }

    /// The JSON form that declarations, overrides and the API share.
    public var json: JSONValue {
        switch self {
        case .rate(let units, let period, let burst):
            return .object(["rate": .number(Double(units)), "per": .string(Self.periodName(period)), "burst": .number(Double(burst))])
        case .concurrency(let max):
            return .object(["concurrency": .number(Double(max))])
        case .quota(let units, let window):
            return .object(["quota": .number(Double(units)), "per": .string(Self.periodName(window))])
        }
    }

    /// Reads `{"rate": 5, "per": "second", "burst": 2}`, `{"concurrency": 100}` or `{"quota": 10000, "per": "day"}`.
    /// Errors name the field and value; `at` says where the object came from. `extra` lists other
    /// fields the caller reads itself (a declaration's `key` and `cost`).
    public static func parse(_ value: JSONValue, at place: String, extra: Set<String> = []) throws -> LimitSpec {
        guard let object = value.objectValue else { throw SpoolConfigError("\(place): expected a JSON object, got \(value.typeName)") }
        for key in object.keys.sorted() where !["rate", "per", "burst", "concurrency", "quota"].contains(key) && !extra.contains(key) {
            throw SpoolConfigError("\(place).\(key): unknown field; a limit has rate/per/burst, concurrency, or quota/per")
        }
        func count(_ key: String, _ range: ClosedRange<Int>) throws -> Int? {
            guard let field = object[key] else { return nil }
            guard let number = field.intValue, range.contains(number) else {
                throw SpoolConfigError(
                    "\(place).\(key): expected an integer in \(range.lowerBound)...\(range.upperBound), got \(field.text)")
            }
            return number
        }
        func period(allowSecond: Bool) throws -> Duration {
            guard let field = object["per"] else { throw SpoolConfigError("\(place).per: is required (second, minute, hour or day)") }
            let names = allowSecond ? periods : Array(periods.dropFirst())
            guard let text = field.stringValue, let found = names.first(where: { $0.name == text }) else {
                throw SpoolConfigError("\(place).per: \(field.text) is not one of \(names.map(\.name).joined(separator: ", "))")
            }
            return found.duration
        }
        let rate = try count("rate", 1...1_000_000_000)
        let concurrency = try count("concurrency", 1...1_000_000)
        let quota = try count("quota", 1...1_000_000_000_000)
        let kinds = [rate, concurrency, quota].compactMap { $0 }.count
        guard kinds == 1 else {
            throw SpoolConfigError("\(place): give exactly one of rate, concurrency or quota (found \(kinds))")
        }
        if let units = rate {
            let burst = try count("burst", 1...1_000_000_000) ?? 1
            return .rate(units: units, period: try period(allowSecond: true), burst: burst)
        }
        if object["burst"] != nil { throw SpoolConfigError("\(place).burst: only a rate limit has a burst") }
        if let max = concurrency {
            if object["per"] != nil { throw SpoolConfigError("\(place).per: a concurrency limit has no period") }
            return .concurrency(max: max)
        }
        return .quota(units: quota!, window: try period(allowSecond: false))
    }

    /// Reads the CLI's short form: `5/s`, `500/min`, `600/minute`, `1/second`.
    public static func parseRate(_ text: String) throws -> (units: Int, period: Duration) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        let aliases: [String: Duration] = [
            "s": .seconds(1), "sec": .seconds(1), "second": .seconds(1), "m": .seconds(60), "min": .seconds(60),
            "minute": .seconds(60), "h": .seconds(3600), "hour": .seconds(3600), "d": .seconds(86_400), "day": .seconds(86_400),
        ]
        guard parts.count == 2, let units = Int(parts[0]), units > 0, let period = aliases[String(parts[1])] else {
            throw SpoolConfigError("'\(text)': expected <count>/<second|minute|hour|day>, e.g. 5/s or 500/min")
        }
        return (units, period)
    }
}
