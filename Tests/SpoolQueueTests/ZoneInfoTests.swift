import Foundation
import SpoolSupport
import Testing

/// ZoneInfo against Foundation's ICU time zones (linked in the tests only) as the oracle, and quiet
/// hours across time zones, daylight saving time and the date line.
@Suite struct ZoneInfoTests {
    static let zones = ["America/New_York", "America/Los_Angeles", "Europe/Paris", "Europe/London", "Australia/Sydney", "Asia/Kolkata",
                        "Pacific/Kiritimati", "Pacific/Pago_Pago", "America/Sao_Paulo", "Pacific/Chatham", "Asia/Tokyo", "UTC"]

    @Test(arguments: zones)
    func offsetsMatchTheSystemsTimeZones(name: String) throws {
        let zone = try #require(ZoneInfo.named(name))
        let oracle = try #require(TimeZone(identifier: name))
        // Every 6 hours 13 minutes from 2000 to 2045: past transitions from the table, future ones from the rule.
        var t: Int64 = 946_684_800
        while t < 2_366_841_600 {
            #expect(zone.offset(at: t) == oracle.secondsFromGMT(for: Date(timeIntervalSince1970: Double(t))), "\(name) at \(t)")
            t += 22_380 * 7
        }
    }

    @Test func unknownZonesAreNil() {
        #expect(ZoneInfo.named("Mars/Olympus_Mons") == nil)
        #expect(ZoneInfo.named("../../etc/passwd") == nil)
    }

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
        let pagoPago = try #require(ZoneInfo.named("Pacific/Pago_Pago"))     // UTC-11
        // 2026-11-22 20:00 UTC: 10:00 on the 23rd in Kiritimati (allowed), 09:00 on the 22nd in Pago Pago (allowed).
        let t: Int64 = 1_795_377_600_000
        #expect(hours.nextAllowed(nowMs: t, zone: kiritimati) == nil && hours.nextAllowed(nowMs: t, zone: pagoPago) == nil)
        // Eight hours later, 18:00 in Kiritimati (allowed) and 17:00 in Pago Pago (allowed); at 2026-11-23 08:00 UTC:
        // 22:00 in Kiritimati (quiet until 08:00 local = 18:00 UTC), 21:00 in Pago Pago (quiet until 08:00 = 19:00 UTC).
        let late: Int64 = 1_795_420_800_000
        #expect(hours.nextAllowed(nowMs: late, zone: kiritimati) == 1_795_456_800_000)
        #expect(hours.nextAllowed(nowMs: late, zone: pagoPago) == 1_795_460_400_000)
    }

    @Test func phonesParseToE164WithReasons() throws {
        #expect(try PhoneNumber(parsing: "(415) 555-0123").e164 == "+14155550123")
        #expect(try PhoneNumber(parsing: "1-415-555-0123").e164 == "+14155550123")
        #expect(try PhoneNumber(parsing: "0044 20 7946 0958").e164 == "+442079460958")
        #expect(try PhoneNumber(parsing: "020 7946 0958", defaultRegion: "GB").e164 == "+442079460958")
        #expect(try PhoneNumber(parsing: "+33 6 12 34 56 78").countryZone == "Europe/Paris")
        #expect(try PhoneNumber(parsing: "+14155550123").countryZone == nil)
        #expect(throws: PhoneNumber.ParseError(message: "'555-0123' has 7 digits; a North American number has 10")) { try PhoneNumber(parsing: "555-0123") }
        #expect(throws: PhoneNumber.ParseError.self) { try PhoneNumber(parsing: "+1 015 555 0123") }
        #expect(throws: PhoneNumber.ParseError(message: "'415x555' has a character that is not part of a phone number: 'x'")) { try PhoneNumber(parsing: "415x555") }
    }
}
