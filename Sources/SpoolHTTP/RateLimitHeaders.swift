import SpoolSupport

/// The rate-limit headers providers send, read into one answer: when may we send again?
///
/// - `Retry-After`: seconds, or an HTTP date (RFC 9110).
/// - `retry-after-ms`: milliseconds (OpenAI).
/// - `x-ratelimit-remaining-<what>` / `x-ratelimit-reset-<what>`: a Go-style duration such as `1s`,
///   `6m0s` or `20ms` (OpenAI's requests and tokens), or a unix time or seconds (`x-ratelimit-reset`).
public struct RateLimitHeaders: Sendable {
    private let headers: HeaderFields

    public init(_ headers: HeaderFields) { self.headers = headers }

    /// The longest wait any header can ask for; a bigger or nonsensical value ("inf", "1e300") is
    /// clamped to it instead of overflowing.
    public static let maximumWaitMs: Int64 = 24 * 3_600_000

    /// How long Retry-After (or retry-after-ms) asks to wait, when the answer says.
    public func retryAfter(nowMs: Int64) -> Duration? {
        if let text = headers["retry-after-ms"], let ms = Double(text.trimmingSpaces), ms >= 0 { return .milliseconds(Self.clamped(ms)) }
        guard let text = headers["Retry-After"]?.trimmingSpaces else { return nil }
        if let seconds = Double(text), seconds >= 0 { return .milliseconds(Self.clamped(seconds * 1000)) }
        if let dateMs = HTTPDate.parse(text) { return .milliseconds(min(max(0, dateMs - nowMs), Self.maximumWaitMs)) }
        return nil
    }

    /// Milliseconds from a header's number, rounded up, within 0...maximumWaitMs (NaN and inf included).
    static func clamped(_ ms: Double) -> Int64 {
        guard ms.isFinite, ms > 0 else { return ms.isNaN || ms <= 0 ? 0 : maximumWaitMs }
        return min(Int64(min(ms.rounded(.up), Double(maximumWaitMs))), maximumWaitMs)
    }

    /// When sending may resume (unix ms) after a 429: Retry-After first, else the latest reset among
    /// the limits reported as spent, else the latest reset named at all; nil when nothing says.
    public func resumeAtMs(nowMs: Int64) -> Int64? {
        if let wait = retryAfter(nowMs: nowMs) { return nowMs + wait.milliseconds }
        let resets = self.resets(nowMs: nowMs)
        let spent = resets.filter { $0.remaining == 0 }.map(\.atMs)
        return spent.max() ?? resets.map(\.atMs).max()
    }

    /// On a successful answer: when a limit the answer reports as spent (remaining 0) resets.
    /// This lets a limiter pause before the provider has to refuse anything.
    public func exhaustedUntilMs(nowMs: Int64) -> Int64? {
        resets(nowMs: nowMs).filter { $0.remaining == 0 }.map(\.atMs).max()
    }

    private func resets(nowMs: Int64) -> [(remaining: Int?, atMs: Int64)] {
        var found: [(remaining: Int?, atMs: Int64)] = []
        for (name, value) in headers {
            let lower = name.lowercased()
            guard lower.hasPrefix("x-ratelimit-reset") else { continue }
            let suffix = lower.dropFirst("x-ratelimit-reset".count)
            guard let atMs = Self.resetTime(value.trimmingSpaces, nowMs: nowMs) else { continue }
            let remaining = headers["x-ratelimit-remaining" + suffix].flatMap { Int($0.trimmingSpaces) }
            found.append((remaining, atMs))
        }
        return found
    }

    /// A reset value: a Go duration ("6m0s"), a unix time in seconds, or seconds from now.
    static func resetTime(_ text: String, nowMs: Int64) -> Int64? {
        if let seconds = Double(text), seconds.isFinite, seconds >= 0 {
            if seconds > 1_000_000_000 {  // a unix time
                return min(max(Int64(min(seconds, 1e12)) * 1000, nowMs), nowMs + maximumWaitMs)
            }
            return nowMs + clamped(seconds * 1000)
        }
        return GoDuration.milliseconds(text).map { nowMs + clamped(Double($0)) }
    }
}

/// Go's duration syntax, as OpenAI writes its resets: "1h2m3.5s", "20ms", "6m0s".
enum GoDuration {
    static func milliseconds(_ text: String) -> Int64? {
        let units: [(String, Double)] = [("ms", 1), ("h", 3_600_000), ("m", 60_000), ("s", 1000)]
        var rest = Substring(text)
        var total = 0.0
        guard !rest.isEmpty else { return nil }
        while !rest.isEmpty {
            let number = rest.prefix { ($0.isASCII && $0.isNumber) || $0 == "." }
            guard let value = Double(number), value.isFinite else { return nil }
            rest = rest.dropFirst(number.count)
            guard let unit = units.first(where: { rest.hasPrefix($0.0) }) else { return nil }
            total += value * unit.1
            rest = rest.dropFirst(unit.0.count)
        }
        return total.isFinite ? Int64(min(total.rounded(.up), 9e15)) : nil
    }
}

/// The IMF-fixdate form of an HTTP date ("Sun, 06 Nov 1994 08:49:37 GMT"), in unix ms; also the
/// RFC 2822 form with "+0000" that Twilio's resources use.
public enum HTTPDate {
    static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    public static func parse(_ text: String) -> Int64? {
        let parts = text.split(separator: " ")
        guard parts.count == 6, parts[5] == "GMT" || parts[5] == "+0000", let day = Int(parts[1]),
            let monthIndex = months.firstIndex(of: String(parts[2])),
            let year = Int(parts[3]), (1970...9999).contains(year)
        else { return nil }
        let clock = parts[4].split(separator: ":").compactMap { Int($0) }
        guard clock.count == 3, (1...31).contains(day), (0..<24).contains(clock[0]), (0..<60).contains(clock[1]),
            (0...60).contains(clock[2])
        else { return nil }
        let days = CivilTime.daysFromCivil(year: year, month: monthIndex + 1, day: day)
        return (Int64(days) * 86_400 + Int64(clock[0] * 3600 + clock[1] * 60 + clock[2])) * 1000
    }
}
