import SpoolSMS
import SpoolSupport
import Testing

/// Quiet hours in one zone across daylight saving time and the date line. Fixed instants, never the
/// wall clock. Several zones at once are in RecipientZonesTests.
@Suite struct QuietHoursTests {
    @Test func quietHoursPostponeToTheNextAllowedLocalMinute() throws {
        let hours = QuietHours()
        let newYork = try #require(ZoneInfo.named("America/New_York"))
        // 2026-11-22 03:00 UTC is 22:00 in New York (EST): the next allowed minute is 08:00 EST, 13:00 UTC.
        let night: Int64 = 1_795_316_400_000
        #expect(hours.nextAllowed(nowMs: night, zone: newYork) == 1_795_352_400_000)
        // 15:00 UTC is 10:00 in New York: allowed.
        #expect(hours.nextAllowed(nowMs: 1_795_359_600_000, zone: newYork) == nil)
    }

    @Test func theDateLineIsADayApartNotAnHour() throws {
        let hours = QuietHours()
        let kiritimati = try #require(ZoneInfo.named("Pacific/Kiritimati"))  // UTC+14
        let pagoPago = try #require(ZoneInfo.named("Pacific/Pago_Pago"))  // UTC-11
        // 2026-11-22 20:00 UTC: 10:00 on the 23rd in Kiritimati (allowed), 09:00 on the 22nd in Pago Pago (allowed).
        let t: Int64 = 1_795_377_600_000
        #expect(hours.nextAllowed(nowMs: t, zone: kiritimati) == nil && hours.nextAllowed(nowMs: t, zone: pagoPago) == nil)
        // Eight hours later, 18:00 in Kiritimati (allowed) and 17:00 in Pago Pago (allowed); at 2026-11-23 08:00 UTC:
        // 22:00 in Kiritimati (quiet until 08:00 local = 18:00 UTC), 21:00 in Pago Pago (quiet until 08:00 = 19:00 UTC).
        let late: Int64 = 1_795_420_800_000
        #expect(hours.nextAllowed(nowMs: late, zone: kiritimati) == 1_795_456_800_000)
        #expect(hours.nextAllowed(nowMs: late, zone: pagoPago) == 1_795_460_400_000)
    }
}
