import SpoolSupport
import Testing

@Suite struct CivilTimeTests {
    @Test func matchesKnownDates() {
        let t = CivilTime(unixMillis: 1_795_323_171_187)  // Sun, 22 Nov 2026 04:52:51.187 UTC
        #expect(t.rfc3339 == "2026-11-22T04:52:51.187Z" && t.weekday == 0)
        #expect(CivilTime(unixMillis: 0).rfc3339 == "1970-01-01T00:00:00.000Z" && CivilTime(unixMillis: 0).weekday == 4)
        #expect(CivilTime(unixMillis: 951_782_400_000).rfc3339 == "2000-02-29T00:00:00.000Z")
        #expect(CivilTime.daysFromCivil(year: 2000, month: 2, day: 29) * 86_400_000 == 951_782_400_000)
    }

    @Test(arguments: [
        ("2026-11-22T04:52:51.187Z", Int64(1_795_323_171_187)),
        ("2026-11-22T04:52:51.1879Z", 1_795_323_171_187),
        ("2026-11-22T04:52:51.1Z", 1_795_323_171_100),
        ("2026-11-22t04:52:51z", 1_795_323_171_000),
        ("2026-11-22 04:52Z", 1_795_323_120_000),
        ("2026-11-22T05:52:51.187+01:00", 1_795_323_171_187),
        ("2026-11-21T23:22:51.187-05:30", 1_795_323_171_187),
        ("2000-02-29T00:00:00Z", 951_782_400_000),
        ("1970-01-01T00:00:00Z", 0),
    ])
    func readsISO8601Times(text: String, millis: Int64) throws {
        #expect(try CivilTime.unixMillis(iso8601: text) == millis)
    }

    @Test(arguments: [
        ("", "empty"),
        ("2026-11-22", "expected 'T' between the date and the time"),
        ("2026-11-22T04:52", "has no offset"),
        ("2026-11-22T04:52:51.Z", "expected 1 to 9 digits of a fraction"),
        ("2026-13-01T00:00Z", "month 13 is out of range 1-12"),
        ("2026-02-29T00:00Z", "day 29 is out of range 1-28 in 2026-02"),
        ("2026-11-22T24:00Z", "hour 24 is out of range 0-23"),
        ("2026-11-22T23:60Z", "minute 60 is out of range 0-59"),
        ("2026-11-22T23:59:60Z", "second 60 is out of range 0-59"),
        ("2026-11-22T04:52+2:00", "expected 2 digits of the offset's hours"),
        ("2026-11-22T04:52+24:00", "offset 24:00 is out of range"),
        ("2026-11-22T04:52Z tomorrow", "unexpected text after the offset"),
        ("26-11-22T04:52Z", "expected 4 digits of the year at position 3"),
    ])
    func refusesMalformedISO8601Times(text: String, problem: String) {
        #expect {
            try CivilTime.unixMillis(iso8601: text)
        } throws: { error in
            "\(error)".hasPrefix(problem)
        }
    }
}
