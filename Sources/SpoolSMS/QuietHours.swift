import SpoolSupport

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
        // When the clocks went forward in between, the estimate lands past the window's start (09:00 PDT
        // for 08:00): walk back to the window's first minute after now.
        var steps = 0
        while steps < 180, localMinute(candidate, zone) != start, candidate - 60_000 > nowMs, allows(candidate - 60_000, in: zone) {
            candidate -= 60_000
            steps += 1
        }
        if candidate > nowMs && allows(candidate, in: zone) { return candidate }
        // A change of offset that skips the window's start that day (Havana goes from 00:00 to 01:00):
        // the first allowed minute, by scanning (bounded: a window that is never open answers in 48 h).
        let horizon = nowMs + 48 * 3_600_000
        candidate = (nowMs / 60_000 + 1) * 60_000
        while candidate < horizon, !allows(candidate, in: zone) { candidate += 60_000 }
        return candidate
    }

    /// Whether a text may go out at `ms` in `zone`.
    public func allows(_ ms: Int64, in zone: ZoneInfo) -> Bool {
        let minute = localMinute(ms, zone)
        return minute >= start && minute < end
    }

    /// For a recipient who may be in any of `zones` (an area code across a zone line, a country with
    /// several zones and no finer data): nil when a text may go out at `nowMs` in every one of them;
    /// otherwise the unix ms of the earliest minute allowed in all of them. No zones means UTC.
    ///
    /// When the zones share no allowed minute in the next 48 hours (with the default 08:00-21:00 two
    /// zones always share one; three zones spread around the globe, or a narrower window, may not),
    /// night somewhere cannot be avoided, and the rule becomes: allowed when allowed in as many of the
    /// zones as any minute of those 48 hours is. So nil when `nowMs` is such a minute, else the earliest
    /// one. Postponing to a common minute that does not exist would hold the text forever.
    public func nextAllowed(nowMs: Int64, zones: [ZoneInfo]) -> Int64? {
        guard !zones.isEmpty else { return nextAllowed(nowMs: nowMs, zone: ZoneInfo.named("UTC")!) }
        if zones.count == 1 { return nextAllowed(nowMs: nowMs, zone: zones[0]) }
        let horizon = nowMs + 48 * 3_600_000
        var candidate = nowMs
        // Each round moves to the latest of the zones' next allowed minutes: no minute before it can be
        // allowed in all of them, so the first candidate every zone allows is the earliest common minute.
        // Each round passes at least one zone's window start, so a few rounds per zone reach the horizon.
        for _ in 0..<(zones.count * 6 + 8) {
            var latest = candidate
            for zone in zones where !allows(candidate, in: zone) {
                let next = nextAllowed(nowMs: candidate, zone: zone) ?? candidate
                // Always move forward, even if a daylight-saving step answered at or before the candidate.
                latest = max(latest, next > candidate ? next : (candidate / 60_000 + 1) * 60_000)
            }
            if latest == candidate { return candidate == nowMs ? nil : candidate }
            if latest > horizon { break }
            candidate = latest
        }
        // No common minute: the earliest minute allowed in the most zones (nowMs itself, then whole minutes).
        var best = (ms: nowMs, count: -1)
        var ms = nowMs
        while ms <= horizon {
            let count = zones.reduce(0) { $0 + (allows(ms, in: $1) ? 1 : 0) }
            if count > best.count { best = (ms, count) }
            if best.count == zones.count { break }
            ms = (ms / 60_000 + 1) * 60_000
        }
        return best.ms == nowMs ? nil : best.ms
    }

    /// Minutes after local midnight at `ms` in `zone`.
    public func localMinute(_ ms: Int64, _ zone: ZoneInfo) -> Int {
        let localSeconds = ms / 1000 + Int64(zone.offset(at: ms / 1000))
        return Int(((localSeconds % 86_400) + 86_400) % 86_400 / 60)
    }
}
