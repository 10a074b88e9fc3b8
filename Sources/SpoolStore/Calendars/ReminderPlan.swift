import SpoolSMS
import SpoolSupport

/// When an appointment's reminder goes out, and to whom in which zone: pure rules, no I/O.
///
/// A reminder is due `lead` minutes before the start. One due in the recipient's night (21:00 to 08:00
/// local, the window `QuietHours` allows by default) goes out at 20:00 the evening before instead: a
/// 2 h reminder for 07:30 goes at 20:00 the day before, not at 05:30; a 1 h reminder for 22:30 goes at
/// 20:00 that day.
public enum ReminderPlan {
    /// When texts are welcome: 08:00 up to 21:00 local.
    public static let daytime = QuietHours(start: 8 * 60, end: 21 * 60)
    /// Where a reminder due at night goes: 20:00 local, the evening before the night it fell in.
    public static let eveningMinute = 20 * 60

    /// The instant (unix ms) the reminder `leadMinutes` before `startsAtMs` goes out for a recipient in `zone`.
    public static func due(startsAtMs: Int64, leadMinutes: Int, zone: ZoneInfo) -> Int64 {
        let due = startsAtMs - Int64(leadMinutes) * 60_000
        if daytime.allows(due, in: zone) { return due }
        let localMs = due + Int64(zone.offset(at: floorDiv(due, 1000))) * 1000
        var day = floorDiv(localMs, 86_400_000)
        // Past midnight: the night began the evening before.
        if daytime.localMinute(due, zone) < daytime.start { day -= 1 }
        return instant(localMs: day * 86_400_000 + Int64(eveningMinute) * 60_000, zone: zone)
    }

    /// The recipient's zone: the contact's own when it names a known zone; else the one zone its number's
    /// prefix gives (`RecipientZones`); else, when the number's country has several zones (or none is
    /// known), the appointment's start zone, since people are reminded of appointments near home; else
    /// the first of the number's zones, else UTC.
    public static func zone(contactZone: String?, phone: String, startZone: String?) -> ZoneInfo {
        if let contactZone, let zone = ZoneInfo.named(contactZone) { return zone }
        let numberZones = (try? PhoneNumber(e164: phone)).flatMap { RecipientZones.match(digits: $0.e164.dropFirst())?.zones } ?? []
        if numberZones.count == 1, let zone = ZoneInfo.named(numberZones[0]) { return zone }
        if let startZone, numberZones.isEmpty || numberZones.contains(startZone), let zone = ZoneInfo.named(startZone) { return zone }
        for name in numberZones { if let zone = ZoneInfo.named(name) { return zone } }
        if let startZone, let zone = ZoneInfo.named(startZone) { return zone }
        return ZoneInfo.named("UTC")!
    }

    /// The unix ms at which the clocks of `zone` read `localMs` (a local wall time as if it were UTC).
    /// Across a change of offset, the offset in force just after it.
    static func instant(localMs: Int64, zone: ZoneInfo) -> Int64 {
        var guess = localMs - Int64(zone.offset(at: floorDiv(localMs, 1000))) * 1000
        guess = localMs - Int64(zone.offset(at: floorDiv(guess, 1000))) * 1000
        return guess
    }

    static func floorDiv(_ value: Int64, _ divisor: Int64) -> Int64 {
        value >= 0 ? value / divisor : (value - divisor + 1) / divisor
    }
}
