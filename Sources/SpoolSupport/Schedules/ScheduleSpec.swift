/// When a scheduled job fires: a cron expression read in a time zone, or a fixed interval.
///
/// - `.cron`: the expression's local times in `zoneName` (see `CronExpression` for daylight-saving
///   changes). Fire times are whole seconds.
/// - `.every`: `anchorMs + k * interval` for k = 0, 1, 2 ...: real elapsed time, whatever the zone's
///   clocks do. The anchor is the first fire time (usually when the schedule was created); an
///   anchor in the past only sets the phase.
public struct ScheduleSpec: Sendable, Hashable, CustomStringConvertible {
    public enum Rule: Sendable, Hashable {
        case cron(CronExpression)
        case every(ScheduleInterval)
    }

    public let rule: Rule
    /// The IANA zone the cron fields are read in (`Europe/London`); `every` keeps it for display.
    public let zoneName: String
    /// Unix milliseconds that `every` counts from; cron ignores it.
    public let anchorMs: Int64

    /// Refuses a zone that `ZoneInfo.named` does not know.
    public init(_ rule: Rule, zoneName: String = "UTC", anchorMs: Int64 = 0) throws(ScheduleError) {
        guard ZoneInfo.named(zoneName) != nil else {
            throw ScheduleError(field: "zone", text: zoneName, expression: zoneName, problem: "unknown time zone \"\(zoneName)\"")
        }
        self.rule = rule
        self.zoneName = zoneName
        self.anchorMs = anchorMs
    }

    /// A cron schedule from its text (`0 9 * * MON-FRI`) in `zoneName`.
    public init(cron: String, zoneName: String = "UTC", anchorMs: Int64 = 0) throws(ScheduleError) {
        try self.init(.cron(CronExpression(parsing: cron)), zoneName: zoneName, anchorMs: anchorMs)
    }

    /// An interval schedule from its text (`2h30m`), first firing at `anchorMs`.
    public init(every: String, zoneName: String = "UTC", anchorMs: Int64) throws(ScheduleError) {
        try self.init(.every(ScheduleInterval(parsing: every)), zoneName: zoneName, anchorMs: anchorMs)
    }

    /// `cron 0 9 * * MON-FRI (Europe/London)` or `every 2h30m`.
    public var description: String {
        switch rule {
        case .cron(let expression): "cron \(expression.source) (\(zoneName))"
        case .every(let interval): "every \(interval)"
        }
    }

    /// The first fire time strictly after `unixMillis`, in unix milliseconds. `zone` is the zone
    /// named `zoneName` (callers keep it loaded). nil when a cron expression has no fire time within
    /// `CronExpression.horizonSeconds`.
    public func next(after unixMillis: Int64, zone: ZoneInfo) -> Int64? {
        switch rule {
        case .cron(let expression):
            return expression.next(after: unixMillis, zone: zone)
        case .every(let interval):
            if unixMillis < anchorMs { return anchorMs }
            let step = interval.milliseconds
            let (elapsed, overflow) = unixMillis.subtractingReportingOverflow(anchorMs)
            guard !overflow else { return nil }
            let (span, tooFar) = (elapsed / step + 1).multipliedReportingOverflow(by: step)
            let (fire, beyond) = anchorMs.addingReportingOverflow(span)
            return tooFar || beyond ? nil : fire
        }
    }

    /// The next `count` fire times after `unixMillis` (fewer when the search horizon ends them).
    public func next(after unixMillis: Int64, count: Int, zone: ZoneInfo) -> [Int64] {
        var times: [Int64] = []
        var after = unixMillis
        while times.count < count, let fire = next(after: after, zone: zone) {
            times.append(fire)
            after = fire
        }
        return times
    }

    /// The next `count` fire times, in the zone named `zoneName`: a preview. Empty if the zone has
    /// gone from the system since the schedule was made.
    public func next(after unixMillis: Int64, count: Int) -> [Int64] {
        guard let zone = ZoneInfo.named(zoneName) else { return [] }
        return next(after: unixMillis, count: count, zone: zone)
    }
}
