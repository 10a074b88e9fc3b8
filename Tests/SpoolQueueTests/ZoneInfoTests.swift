import Foundation
import SpoolSupport
import Testing

/// ZoneInfo against Foundation's ICU time zones (linked in the tests only) as the oracle; phone numbers.
/// Quiet hours over these zones are in SpoolSMSTests.
@Suite struct ZoneInfoTests {
    static let zones = [
        "America/New_York", "America/Los_Angeles", "Europe/Paris", "Europe/London", "Australia/Sydney", "Asia/Kolkata",
        "Pacific/Kiritimati", "Pacific/Pago_Pago", "America/Sao_Paulo", "Pacific/Chatham", "Asia/Tokyo", "UTC",
    ]

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

    @Test func phonesParseToE164WithReasons() throws {
        #expect(try PhoneNumber(parsing: "(415) 555-0123").e164 == "+14155550123")
        #expect(try PhoneNumber(parsing: "1-415-555-0123").e164 == "+14155550123")
        #expect(try PhoneNumber(parsing: "0044 20 7946 0958").e164 == "+442079460958")
        #expect(try PhoneNumber(parsing: "020 7946 0958", defaultRegion: "GB").e164 == "+442079460958")
        #expect(try PhoneNumber(parsing: "+33 6 12 34 56 78").countryZone == "Europe/Paris")
        #expect(try PhoneNumber(parsing: "+14155550123").countryZone == nil)
        #expect(throws: PhoneNumber.ParseError(message: "'555-0123' has 7 digits; a North American number has 10")) {
            try PhoneNumber(parsing: "555-0123")
        }
        #expect(throws: PhoneNumber.ParseError.self) { try PhoneNumber(parsing: "+1 015 555 0123") }
        #expect(throws: PhoneNumber.ParseError(message: "'415x555' has a character that is not part of a phone number: 'x'")) {
            try PhoneNumber(parsing: "415x555")
        }
    }
}
