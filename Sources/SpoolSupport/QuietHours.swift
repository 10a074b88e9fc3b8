/// When texts may go out in the recipient's local time: by default 08:00 to 21:00. Outside it, a send
/// waits for the next allowed minute. Time zones come from the system's zoneinfo (tzdata), so
/// daylight saving time and the date line are the operating system's, not ours.
public struct QuietHours: Sendable, Equatable {
    /// Minutes after local midnight: sending is allowed from `start` up to, not including, `end`.
    public var start: Int
    public var end: Int

    public init(start: Int = 8 * 60, end: Int = 21 * 60) {
        self.start = start
        self.end = end
    }

    /// nil when a text may go out at `nowMs` in `zone`; otherwise the unix ms of the next allowed minute.
    public func nextAllowed(nowMs: Int64, zone: ZoneInfo) -> Int64? {
        let local = localMinute(nowMs, zone)
        if local >= start && local < end { return nil }
        let wait = local < start ? start - local : 24 * 60 - local + start
        let minuteStart = nowMs / 60_000 * 60_000
        var candidate = minuteStart + Int64(wait) * 60_000
        // Across a daylight-saving change the offset moves by up to an hour: step to the window's start.
        for _ in 0..<4 {
            let minute = localMinute(candidate, zone)
            if minute >= start && minute < end { break }
            let shift = minute < start ? start - minute : -(minute - start)
            candidate += Int64(shift == 0 ? 60 : shift) * 60_000
        }
        return candidate
    }

    /// Minutes after local midnight at `ms` in `zone`.
    public func localMinute(_ ms: Int64, _ zone: ZoneInfo) -> Int {
        let localSeconds = ms / 1000 + Int64(zone.offset(at: ms / 1000))
        return Int(((localSeconds % 86_400) + 86_400) % 86_400 / 60)
    }
}
