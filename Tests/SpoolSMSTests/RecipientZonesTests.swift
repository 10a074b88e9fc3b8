import Foundation
import SpoolSMS
import SpoolSupport
import Testing

/// Which zones a text's recipient may be in (from `Resources/phone_zones.tsv`), and quiet hours over
/// several zones: only the minutes allowed in all of them. Fixed instants, never the wall clock.
@Suite struct RecipientZonesTests {
    func zones(_ e164: String, contactZone: String? = nil) throws -> [String] {
        RecipientZones.zones(for: try PhoneNumber(e164: e164), contactZone: contactZone)
    }

    @Test func numbersResolveByAreaCodeAndPrefix() throws {
        #expect(try zones("+12125550123") == ["America/New_York"])
        #expect(try zones("+14155550123") == ["America/Los_Angeles"])
        // South Dakota's 605 spans the Mountain and Central zones.
        #expect(try zones("+16055550123") == ["America/Denver", "America/North_Dakota/Center"])
        // Australian mobiles are not tied to a state: every Australian zone.
        let australia = try zones("+61412345678")
        #expect(australia.count > 1 && australia.allSatisfy { $0.hasPrefix("Australia/") || $0.hasPrefix("Indian/") })
        #expect(australia.contains("Australia/Perth") && australia.contains("Australia/Sydney"))
        #expect(try zones("+33612345678") == ["Europe/Paris"])
    }

    @Test func theContactsZoneWinsWhenTheSystemKnowsIt() throws {
        #expect(try zones("+14155550123", contactZone: "Europe/Berlin") == ["Europe/Berlin"])
        #expect(try zones("+14155550123", contactZone: "Mars/Olympus_Mons") == ["America/Los_Angeles"])
    }

    @Test func aNumberNoPrefixMatchesGetsUTC() throws {
        // +800 (international freephone) has no country and no zone in libphonenumber's map.
        #expect(RecipientZones.match(digits: "80012345678") == nil)
        #expect(try zones("+80012345678") == [RecipientZones.unknownZone])
    }

    @Test func everyZoneInTheTableIsInTheSystemsZoneinfo() {
        #expect(RecipientZones.count > 2_000)
        for prefix in ["1", "7", "33", "44", "52", "55", "61", "86"] {
            let match = RecipientZones.match(digits: prefix)
            #expect(match?.prefix == prefix, "+\(prefix) must have a country entry")
            for zone in match?.zones ?? [] { #expect(ZoneInfo.named(zone) != nil, "\(zone) of +\(prefix)") }
        }
    }

    /// The area codes come from the numbering metadata of the NANP regions, not from the zone map
    /// (see the fixture's header), so a code the table lacks shows up here.
    @Test func everyAssignedNANPAreaCodeHasItsOwnZones() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().path + "/Fixtures/nanp_area_codes.txt"
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let areaCodes = text.split(separator: "\n").filter { !$0.hasPrefix("#") }.map(String.init)
        #expect(areaCodes.count > 400)
        for area in areaCodes {
            #expect(area.count == 3 && area.allSatisfy(\.isNumber), "bad line '\(area)'")
            // Every exchange: the match must be the area code's own (or finer), not the whole NANP's.
            for exchange in "23456789" {
                let match = RecipientZones.match(digits: "1\(area)\(exchange)550123")
                #expect(
                    (match?.prefix.count ?? 0) >= 4 && !(match?.zones.isEmpty ?? true), "+1 \(area) \(exchange)xx has no zone of its own")
            }
        }
    }

    // 2026-11-23 is a Monday in standard time: New York UTC-5, Los Angeles UTC-8.
    static let nov23_1330: Int64 = 1_795_440_600_000  // 08:30 New York, 05:30 Los Angeles
    static let nov23_1559: Int64 = 1_795_449_540_000
    static let nov23_1600: Int64 = 1_795_449_600_000  // 08:00 Los Angeles
    static let nov24_0159: Int64 = 1_795_485_540_000  // 20:59 New York
    static let nov24_0200: Int64 = 1_795_485_600_000  // 21:00 New York
    static let nov24_1600: Int64 = 1_795_536_000_000

    @Test func aNewYorkSenderAtHalfPastEightWaitsForEightInCalifornia() throws {
        let hours = QuietHours()
        let recipient = try zones("+14155550123").compactMap(ZoneInfo.named)
        let newYork = try #require(ZoneInfo.named("America/New_York"))
        #expect(hours.nextAllowed(nowMs: Self.nov23_1330, zone: newYork) == nil)  // what the tenant's zone would have said
        let next = hours.nextAllowed(nowMs: Self.nov23_1330, zones: recipient)
        #expect(next == Self.nov23_1600)
        #expect(hours.localMinute(try #require(next), try #require(ZoneInfo.named("America/Los_Angeles"))) == 8 * 60)
    }

    @Test func twoZonesThreeHoursApartAllowOnlyTheirCommonWindow() throws {
        let hours = QuietHours()
        let both = [try #require(ZoneInfo.named("America/New_York")), try #require(ZoneInfo.named("America/Los_Angeles"))]
        // The common window is 08:00 Los Angeles (16:00 UTC) to 21:00 New York (02:00 UTC).
        #expect(hours.nextAllowed(nowMs: Self.nov23_1330, zones: both) == Self.nov23_1600)
        #expect(hours.nextAllowed(nowMs: Self.nov23_1559, zones: both) == Self.nov23_1600)
        #expect(hours.nextAllowed(nowMs: Self.nov23_1600, zones: both) == nil)
        #expect(hours.nextAllowed(nowMs: Self.nov24_0159, zones: both) == nil)
        #expect(hours.nextAllowed(nowMs: Self.nov24_0200, zones: both) == Self.nov24_1600)
        // Order does not matter, and one zone is the single-zone answer.
        #expect(hours.nextAllowed(nowMs: Self.nov24_0200, zones: both.reversed()) == Self.nov24_1600)
        #expect(hours.nextAllowed(nowMs: Self.nov23_1330, zones: [both[1]]) == hours.nextAllowed(nowMs: Self.nov23_1330, zone: both[1]))
    }

    @Test func theCommonWindowFollowsDaylightSavingTime() throws {
        let hours = QuietHours()
        let both = [try #require(ZoneInfo.named("America/New_York")), try #require(ZoneInfo.named("America/Los_Angeles"))]
        // 2026-03-08 06:00 UTC: 22:00 on the 7th in Los Angeles (PST), 01:00 in New York. Clocks go
        // forward that night; 08:00 PDT on the 8th is 15:00 UTC, not 16:00.
        #expect(hours.nextAllowed(nowMs: 1_772_949_600_000, zones: both) == 1_772_982_000_000)
    }

    @Test func zonesWithNoCommonWindowGetTheMinutesAllowedInTheMostZones() throws {
        // 09:00-17:00: Tokyo's window is 00:00-08:00 UTC, New York's 14:00-22:00 UTC. No common minute.
        let hours = QuietHours(start: 9 * 60, end: 17 * 60)
        let tokyo = try #require(ZoneInfo.named("Asia/Tokyo")), seoul = try #require(ZoneInfo.named("Asia/Seoul"))
        let newYork = try #require(ZoneInfo.named("America/New_York"))
        let nov23_1000: Int64 = 1_795_428_000_000, nov23_1400: Int64 = 1_795_442_400_000, nov23_1500: Int64 = 1_795_446_000_000
        let nov24_0000: Int64 = 1_795_478_400_000, nov24_0300: Int64 = 1_795_489_200_000
        // Two zones: a minute allowed in either is as good as it gets; the text is not held forever.
        #expect(hours.nextAllowed(nowMs: nov23_1000, zones: [tokyo, newYork]) == nov23_1400)
        #expect(hours.nextAllowed(nowMs: nov23_1500, zones: [tokyo, newYork]) == nil)
        // Tokyo and Seoul share their window and outnumber New York: only theirs will do.
        #expect(hours.nextAllowed(nowMs: nov23_1500, zones: [tokyo, newYork, seoul]) == nov24_0000)
        #expect(hours.nextAllowed(nowMs: nov24_0300, zones: [tokyo, newYork, seoul]) == nil)
        // With the default 08:00-21:00 window the same three zones do share minutes: 08:00-11:00 in Tokyo
        // and Seoul, 18:00-21:00 in New York (23:00-02:00 UTC).
        #expect(QuietHours().nextAllowed(nowMs: nov23_1000, zones: [tokyo, newYork, seoul]) == 1_795_474_800_000)
    }

    @Test func noZonesMeansUTC() throws {
        let utc = try #require(ZoneInfo.named("UTC"))
        #expect(QuietHours().nextAllowed(nowMs: Self.nov24_0200, zones: []) == QuietHours().nextAllowed(nowMs: Self.nov24_0200, zone: utc))
    }
}
