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
}
