import SpoolSupport
import Testing

/// Expected instants are literals, computed independently with Python's `zoneinfo` (same tzdata),
/// each with a comment giving it in UTC and in the zone's local time.
@Suite struct CronExpressionTests {
    /// 2026-05-05T10:20:30.500Z, a Tuesday.
    static let tuesdayMorning: Int64 = 1_777_976_430_500

    func zone(_ name: String) throws -> ZoneInfo { try #require(ZoneInfo.named(name)) }

    func fires(_ expression: String, after: Int64, count: Int, in zoneName: String = "UTC") throws -> [Int64] {
        try CronExpression(parsing: expression).next(after: after, count: count, zone: zone(zoneName))
    }

    // MARK: Syntax

    @Test func everyMinute() throws {
        #expect(
            try fires("* * * * *", after: Self.tuesdayMorning, count: 2) == [
                1_777_976_460_000,  // 2026-05-05T10:21:00Z
                1_777_976_520_000,  // 2026-05-05T10:22:00Z
            ])
        // Strictly after: a fire time is not its own next.
        #expect(try fires("* * * * *", after: 1_777_976_460_000, count: 1) == [1_777_976_520_000])  // 10:21:00Z -> 10:22:00Z
    }

    @Test func everyFifteenMinutes() throws {
        #expect(
            try fires("*/15 * * * *", after: Self.tuesdayMorning, count: 3) == [
                1_777_977_000_000,  // 2026-05-05T10:30:00Z
                1_777_977_900_000,  // 2026-05-05T10:45:00Z
                1_777_978_800_000,  // 2026-05-05T11:00:00Z
            ])
    }

    @Test func weekdaysAtNine() throws {
        let expected: [Int64] = [
            1_778_490_000_000,  // 2026-05-11T09:00:00Z, Monday
            1_778_576_400_000,  // 2026-05-12T09:00:00Z, Tuesday
            1_778_662_800_000,  // 2026-05-13T09:00:00Z, Wednesday
        ]
        // After Friday 2026-05-08T10:00:00Z: the weekend is skipped.
        #expect(try fires("0 9 * * 1-5", after: 1_778_234_400_000, count: 3) == expected)
        #expect(try fires("0 9 * * MON-FRI", after: 1_778_234_400_000, count: 3) == expected)
        #expect(try fires("0 9 * * mon-fri", after: 1_778_234_400_000, count: 3) == expected)
        // In New York across the spring change: 09:00 local stays 09:00 local.
        #expect(
            try fires("0 9 * * MON-FRI", after: 1_772_809_200_000, count: 2, in: "America/New_York") == [  // Fri 2026-03-06 10:00 EST
                1_773_061_200_000,  // 2026-03-09T13:00:00Z = Mon 09:00 EDT
                1_773_147_600_000,  // 2026-03-10T13:00:00Z = Tue 09:00 EDT
            ])
    }

    @Test func leapDaysOnly() throws {
        #expect(
            try fires("0 0 29 2 *", after: 1_796_256_000_000, count: 2) == [  // after 2026-12-03T00:00:00Z
                1_835_395_200_000,  // 2028-02-29T00:00:00Z
                1_961_625_600_000,  // 2032-02-29T00:00:00Z
            ])
        // 2096 to 2104 is 8 years (2100 is no leap year): beyond the 5-year search, nil.
        let expression = try CronExpression(parsing: "0 0 29 2 *")
        let utc = try zone("UTC")
        #expect(expression.next(after: 3_981_398_400_000, zone: utc) == nil)  // after 2096-03-01T00:00:00Z
        // After 2099-03-01T00:00:00Z: 2104-02-29T00:00:00Z, just within.
        #expect(expression.next(after: 4_076_006_400_000, zone: utc) == 4_233_686_400_000)
    }

    @Test func thirtyFirstSkipsShortMonths() throws {
        #expect(
            try fires("0 0 31 * *", after: 1_769_817_600_000, count: 4) == [  // after 2026-01-31T00:00:00Z
                1_774_915_200_000,  // 2026-03-31T00:00:00Z
                1_780_185_600_000,  // 2026-05-31T00:00:00Z
                1_785_456_000_000,  // 2026-07-31T00:00:00Z
                1_788_134_400_000,  // 2026-08-31T00:00:00Z
            ])
    }

    @Test func dayOfMonthOrDayOfWeek() throws {
        let newYear: Int64 = 1_767_225_600_000  // 2026-01-01T00:00:00Z, a Thursday
        // Both restricted: the 13th or a Friday.
        #expect(
            try fires("0 12 13 * FRI", after: newYear, count: 6) == [
                1_767_355_200_000,  // 2026-01-02T12:00:00Z, Friday
                1_767_960_000_000,  // 2026-01-09T12:00:00Z, Friday
                1_768_305_600_000,  // 2026-01-13T12:00:00Z, Tuesday the 13th
                1_768_564_800_000,  // 2026-01-16T12:00:00Z, Friday
                1_769_169_600_000,  // 2026-01-23T12:00:00Z, Friday
                1_769_774_400_000,  // 2026-01-30T12:00:00Z, Friday
            ])
        // Day of week `*`: the 13th only.
        #expect(
            try fires("0 12 13 * *", after: newYear, count: 2) == [
                1_768_305_600_000,  // 2026-01-13T12:00:00Z
                1_770_984_000_000,  // 2026-02-13T12:00:00Z
            ])
        // A field starting with `*` counts as unrestricted (Vixie cron): days 1, 11, 21, 31 that are Fridays.
        #expect(
            try fires("0 12 */10 * FRI", after: newYear, count: 3) == [
                1_777_636_800_000,  // 2026-05-01T12:00:00Z, Friday the 1st
                1_785_499_200_000,  // 2026-07-31T12:00:00Z, Friday the 31st
                1_787_313_600_000,  // 2026-08-21T12:00:00Z, Friday the 21st
            ])
    }

    @Test func monthAndDayNames() throws {
        let sundays: [Int64] = [
            1_769_328_000_000,  // 2026-01-25T08:00:00Z, Sunday
            1_783_238_400_000,  // 2026-07-05T08:00:00Z, Sunday
            1_783_843_200_000,  // 2026-07-12T08:00:00Z, Sunday
            1_784_448_000_000,  // 2026-07-19T08:00:00Z, Sunday
        ]
        let after: Int64 = 1_768_867_200_000  // 2026-01-20T00:00:00Z
        #expect(try fires("0 8 * JAN,jul sun", after: after, count: 4) == sundays)
        #expect(try fires("0 8 * 1,7 0", after: after, count: 4) == sundays)
        #expect(try fires("0 8 * Jan,Jul 7", after: after, count: 4) == sundays)  // 7 is Sunday too
    }

    @Test func stepsAndRanges() throws {
        let tenOClock: Int64 = 1_777_975_199_999  // just before 2026-05-05T10:00:00Z
        #expect(
            try fires("10/20 * * * *", after: tenOClock, count: 3) == [  // a/n: from a to the end of the field
                1_777_975_800_000,  // 10:10:00Z
                1_777_977_000_000,  // 10:30:00Z
                1_777_978_200_000,  // 10:50:00Z
            ])
        #expect(
            try fires("0-30/10 * * * *", after: tenOClock, count: 5) == [
                1_777_975_200_000,  // 10:00:00Z
                1_777_975_800_000,  // 10:10:00Z
                1_777_976_400_000,  // 10:20:00Z
                1_777_977_000_000,  // 10:30:00Z
                1_777_978_800_000,  // 11:00:00Z
            ])
        let listed = try fires("0,10,20,30 * * * *", after: tenOClock, count: 5)
        #expect(try fires("0-30/10 * * * *", after: tenOClock, count: 5) == listed)
        let sunday: Int64 = 1_777_809_600_000  // 2026-05-03T12:00:00Z, a Sunday
        #expect(
            try fires("0 0 * * 1/2", after: sunday, count: 4) == [  // Monday, Wednesday, Friday (a/n ends at Saturday)
                1_777_852_800_000,  // 2026-05-04T00:00:00Z, Monday
                1_778_025_600_000,  // 2026-05-06T00:00:00Z, Wednesday
                1_778_198_400_000,  // 2026-05-08T00:00:00Z, Friday
                1_778_457_600_000,  // 2026-05-11T00:00:00Z, Monday
            ])
        #expect(
            try fires("0 0 * * 5-7", after: sunday, count: 4) == [  // Friday to Sunday, 7 being Sunday
                1_778_198_400_000,  // 2026-05-08T00:00:00Z, Friday
                1_778_284_800_000,  // 2026-05-09T00:00:00Z, Saturday
                1_778_371_200_000,  // 2026-05-10T00:00:00Z, Sunday
                1_778_803_200_000,  // 2026-05-15T00:00:00Z, Friday
            ])
    }

    @Test func secondsField() throws {
        let expression = try CronExpression(parsing: "*/20 * * * * *")
        #expect(expression.hasSeconds)
        #expect(
            try fires("*/20 * * * * *", after: Self.tuesdayMorning, count: 3) == [
                1_777_976_440_000,  // 2026-05-05T10:20:40Z
                1_777_976_460_000,  // 2026-05-05T10:21:00Z
                1_777_976_480_000,  // 2026-05-05T10:21:20Z
            ])
        #expect(try fires("30 0 12 * * *", after: Self.tuesdayMorning, count: 1) == [1_777_982_430_000])  // 2026-05-05T12:00:30Z
        let fiveFields = try CronExpression(parsing: "0 12 * * *")
        #expect(!fiveFields.hasSeconds)
    }

    @Test(arguments: [
        ("@hourly", 1_777_978_800_000 as Int64),  // 2026-05-05T11:00:00Z
        ("@daily", 1_778_025_600_000),  // 2026-05-06T00:00:00Z
        ("@midnight", 1_778_025_600_000),  // 2026-05-06T00:00:00Z
        ("@weekly", 1_778_371_200_000),  // 2026-05-10T00:00:00Z, Sunday
        ("@monthly", 1_780_272_000_000),  // 2026-06-01T00:00:00Z
        ("@yearly", 1_798_761_600_000),  // 2027-01-01T00:00:00Z
        ("@annually", 1_798_761_600_000),  // 2027-01-01T00:00:00Z
        ("@DAILY", 1_778_025_600_000),  // 2026-05-06T00:00:00Z
    ])
    func macros(macro: String, next: Int64) throws {
        let expression = try CronExpression(parsing: macro)
        #expect(expression.source == macro)
        let utc = try zone("UTC")
        #expect(expression.next(after: Self.tuesdayMorning, zone: utc) == next)
    }

    @Test func sourceAndMatching() throws {
        let expression = try CronExpression(parsing: "  0 9 * * MON-FRI \t")
        #expect(expression.source == "0 9 * * MON-FRI" && expression.description == "0 9 * * MON-FRI")
        #expect(expression.matches(CivilTime(unixMillis: 1_778_490_000_000)))  // Monday 2026-05-11 09:00:00
        #expect(!expression.matches(CivilTime(unixMillis: 1_778_490_001_000)))  // 09:00:01
        #expect(!expression.matches(CivilTime(unixMillis: 1_778_403_600_000)))  // Sunday 2026-05-10 09:00:00
    }

    // MARK: Errors

    @Test(arguments: [
        ("0 25 * * *", #"hour: 25 is out of range 0-23 (column 3 of "0 25 * * *")"#),
        ("  0 25 * * *", #"hour: 25 is out of range 0-23 (column 5 of "  0 25 * * *")"#),
        ("* 0-24 * * *", #"hour: 24 is out of range 0-23 (column 5 of "* 0-24 * * *")"#),
        ("60 * * * * *", #"second: 60 is out of range 0-59 (column 1 of "60 * * * * *")"#),
        ("0 0 32 * *", #"day of month: 32 is out of range 1-31 (column 5 of "0 0 32 * *")"#),
        ("0 0 * 13 *", #"month: 13 is out of range 1-12 (column 7 of "0 0 * 13 *")"#),
        ("0 0 * * 8", #"day of week: 8 is out of range 0-7 (column 9 of "0 0 * * 8")"#),
        ("* * * *", #"expected 5 fields (minute hour day-of-month month day-of-week) or 6 (a seconds field first), got 4 in "* * * *""#),
        ("1,,2 * * * *", #"minute: empty list item in "1,,2" (column 3 of "1,,2 * * * *")"#),
        ("5, * * * *", #"minute: empty list item in "5," (column 3 of "5, * * * *")"#),
        ("*/0 * * * *", #"minute: step 0 in "*/0": a step must be 1 or more (column 1 of "*/0 * * * *")"#),
        ("*/ * * * *", #"minute: missing step after "/" in "*/" (column 1 of "*/ * * * *")"#),
        ("0 0 * * 1/x", #"day of week: step "x" is not a number (column 11 of "0 0 * * 1/x")"#),
        ("0 0 * * 1/2/3", #"day of week: "1/2/3" has more than one "/" (column 12 of "0 0 * * 1/2/3")"#),
        ("0 0 * * 5-1", #"day of week: range 5-1 is reversed: its start must not be after its end (column 9 of "0 0 * * 5-1")"#),
        ("0 0 -5 * *", #"day of month: range "-5" is missing a number (column 5 of "0 0 -5 * *")"#),
        (
            "0 0 * FOO *",
            #"month: unknown name "FOO"; the names are JAN, FEB, MAR, APR, MAY, JUN, JUL, AUG, SEP, OCT, NOV, DEC (column 7 of "0 0 * FOO *")"#
        ),
        (
            "0 0 * * monday",
            #"day of week: unknown name "monday"; the names are SUN, MON, TUE, WED, THU, FRI, SAT (column 9 of "0 0 * * monday")"#
        ),
        ("5 MON * * *", #"hour: "MON" is not a number (column 3 of "5 MON * * *")"#),
        ("0 0 * * 1?", #"day of week: "1?" is not a number or a name (column 9 of "0 0 * * 1?")"#),
        ("0 0 31 2 *", #"day of month: 31 never occurs in month 2, so the expression never fires (column 5 of "0 0 31 2 *")"#),
        ("0 0 30 2 *", #"day of month: 30 never occurs in month 2, so the expression never fires (column 5 of "0 0 30 2 *")"#),
        (
            "0 0 31 4,6,9,11 *",
            #"day of month: 31 never occurs in month 4,6,9,11, so the expression never fires (column 5 of "0 0 31 4,6,9,11 *")"#
        ),
        (
            "@fortnightly",
            #"unknown macro "@fortnightly"; the macros are @yearly, @annually, @monthly, @weekly, @daily, @midnight and @hourly (column 1 of "@fortnightly")"#
        ),
        (
            "",
            "empty expression: write 5 fields (minute hour day-of-month month day-of-week), 6 with a seconds field first, or a macro like @daily"
        ),
    ])
    func errorsNameFieldTextAndColumn(expression: String, message: String) {
        let error = #expect(throws: ScheduleError.self) { try CronExpression(parsing: expression) }
        #expect(error?.description == message)
    }

    @Test func errorFields() {
        let error = #expect(throws: ScheduleError.self) { try CronExpression(parsing: "0 25 * * *") }
        #expect(error?.field == "hour" && error?.text == "25" && error?.column == 3 && error?.expression == "0 25 * * *")
        #expect(error?.problem == "25 is out of range 0-23")
        let count = #expect(throws: ScheduleError.self) { try CronExpression(parsing: "1 2 3") }
        #expect(count?.field == nil && count?.column == nil)
        // 29 February exists: that one is not refused, nor is the 31st in a list with a long month.
        #expect(throws: Never.self) { try CronExpression(parsing: "0 0 29 2 *") }
        #expect(throws: Never.self) { try CronExpression(parsing: "0 0 31 2,3 *") }
        // Both day fields restricted: day of week can always fire, so no "never fires".
        #expect(throws: Never.self) { try CronExpression(parsing: "0 0 31 2 MON") }
    }

    // MARK: Daylight saving time

    /// A local time the clocks skip fires once, at the first instant after the gap; one they repeat
    /// fires once, at its first occurrence.
    @Test func newYorkTransitions() throws {
        let zone = "America/New_York"  // 2026: 02:00 EST -> 03:00 EDT on 8 March, 02:00 EDT -> 01:00 EST on 1 November
        #expect(
            try fires("30 2 * * *", after: 1_772_884_800_000, count: 3, in: zone) == [  // after 2026-03-07T12:00:00Z
                1_772_953_200_000,  // 2026-03-08T07:00:00Z = 03:00 EDT: 02:30 does not exist
                1_773_037_800_000,  // 2026-03-09T06:30:00Z = 02:30 EDT
                1_773_124_200_000,  // 2026-03-10T06:30:00Z = 02:30 EDT
            ])
        // Just before and at the instant of the change.
        #expect(try fires("30 2 * * *", after: 1_772_953_199_999, count: 1, in: zone) == [1_772_953_200_000])  // 06:59:59.999Z -> 07:00Z
        #expect(try fires("30 2 * * *", after: 1_772_953_200_000, count: 1, in: zone) == [1_773_037_800_000])  // 07:00Z -> 9 March 06:30Z
        // Several skipped times fire once between them.
        #expect(
            try fires("*/20 2 * * *", after: 1_772_946_000_000, count: 3, in: zone) == [  // after 2026-03-08 00:00 EST
                1_772_953_200_000,  // 2026-03-08T07:00:00Z = 03:00 EDT, for 02:00, 02:20 and 02:40
                1_773_036_000_000,  // 2026-03-09T06:00:00Z = 02:00 EDT
                1_773_037_200_000,  // 2026-03-09T06:20:00Z = 02:20 EDT
            ])
        #expect(
            try fires("30 1 * * *", after: 1_793_448_000_000, count: 3, in: zone) == [  // after 2026-10-31T12:00:00Z
                1_793_511_000_000,  // 2026-11-01T05:30:00Z = 01:30 EDT, the first of two
                1_793_601_000_000,  // 2026-11-02T06:30:00Z = 01:30 EST
                1_793_687_400_000,  // 2026-11-03T06:30:00Z = 01:30 EST
            ])
        // Asked during the second 01:00-02:00: 01:30 has fired already today.
        // 2026-11-01T06:10:00Z (01:10 EST) -> 2026-11-02T06:30:00Z (01:30 EST).
        #expect(try fires("30 1 * * *", after: 1_793_513_400_000, count: 1, in: zone) == [1_793_601_000_000])
        #expect(
            try fires("*/20 1 * * *", after: 1_793_505_600_000, count: 4, in: zone) == [  // after 2026-11-01 00:00 EDT
                1_793_509_200_000,  // 2026-11-01T05:00:00Z = 01:00 EDT
                1_793_510_400_000,  // 2026-11-01T05:20:00Z = 01:20 EDT
                1_793_511_600_000,  // 2026-11-01T05:40:00Z = 01:40 EDT
                1_793_599_200_000,  // 2026-11-02T06:00:00Z = 01:00 EST, next day
            ])
        // 02:00 happens once on 1 November: 2026-11-01T07:00:00Z = 02:00 EST.
        #expect(try fires("0 2 * * *", after: 1_793_505_600_000, count: 1, in: zone) == [1_793_516_400_000])
    }

    @Test func londonTransitions() throws {
        let zone = "Europe/London"  // 2026: 01:00 GMT -> 02:00 BST on 29 March, 02:00 BST -> 01:00 GMT on 25 October
        #expect(
            try fires("30 1 * * *", after: 1_774_699_200_000, count: 2, in: zone) == [  // after 2026-03-28T12:00:00Z
                1_774_746_000_000,  // 2026-03-29T01:00:00Z = 02:00 BST: 01:30 does not exist
                1_774_830_600_000,  // 2026-03-30T00:30:00Z = 01:30 BST
            ])
        #expect(
            try fires("30 1 * * *", after: 1_792_843_200_000, count: 2, in: zone) == [  // after 2026-10-24T12:00:00Z
                1_792_888_200_000,  // 2026-10-25T00:30:00Z = 01:30 BST, the first of two
                1_792_978_200_000,  // 2026-10-26T01:30:00Z = 01:30 GMT
            ])
        #expect(
            try fires("0 * * * *", after: 1_792_882_799_999, count: 4, in: zone) == [  // from 2026-10-25 00:00 BST
                1_792_882_800_000,  // 2026-10-24T23:00:00Z = 00:00 BST
                1_792_886_400_000,  // 2026-10-25T00:00:00Z = 01:00 BST
                1_792_890_000_000,  // 2026-10-25T01:00:00Z = 01:00 GMT, again
                1_792_893_600_000,  // 2026-10-25T02:00:00Z = 02:00 GMT
            ])
    }

    @Test func sydneyTransitions() throws {
        let zone = "Australia/Sydney"  // 2026: 03:00 AEDT -> 02:00 AEST on 5 April, 02:00 AEST -> 03:00 AEDT on 4 October
        #expect(
            try fires("30 2 * * *", after: 1_775_260_800_000, count: 2, in: zone) == [  // after 2026-04-04T00:00:00Z
                1_775_316_600_000,  // 2026-04-04T15:30:00Z = 5 April 02:30 AEDT, the first of two
                1_775_406_600_000,  // 2026-04-05T16:30:00Z = 6 April 02:30 AEST
            ])
        #expect(
            try fires("30 2 * * *", after: 1_790_985_600_000, count: 2, in: zone) == [  // after 2026-10-03T00:00:00Z
                1_791_043_200_000,  // 2026-10-03T16:00:00Z = 4 October 03:00 AEDT: 02:30 does not exist
                1_791_127_800_000,  // 2026-10-04T15:30:00Z = 5 October 02:30 AEDT
            ])
        #expect(
            try fires("0 * * * *", after: 1_791_035_999_999, count: 4, in: zone) == [  // from 2026-10-04 00:00 AEST
                1_791_036_000_000,  // 2026-10-03T14:00:00Z = 00:00 AEST
                1_791_039_600_000,  // 2026-10-03T15:00:00Z = 01:00 AEST
                1_791_043_200_000,  // 2026-10-03T16:00:00Z = 03:00 AEDT: no 02:00
                1_791_046_800_000,  // 2026-10-03T17:00:00Z = 04:00 AEDT
            ])
    }

    /// "Every hour stays every real hour": `0 * * * *` fires once per real hour of the local day.
    @Test(arguments: [
        ("America/New_York", 1_772_859_600_000 as Int64, 1_772_946_000_000 as Int64, 24),  // 2026-03-07 00:00 EST to 03-08 00:00 EST
        ("America/New_York", 1_772_946_000_000, 1_773_028_800_000, 23),  // 2026-03-08 00:00 EST to 03-09 00:00 EDT
        ("America/New_York", 1_793_505_600_000, 1_793_595_600_000, 25),  // 2026-11-01 00:00 EDT to 11-02 00:00 EST
        ("Europe/London", 1_774_742_400_000, 1_774_825_200_000, 23),  // 2026-03-29 00:00 GMT to 03-30 00:00 BST
        ("Europe/London", 1_792_882_800_000, 1_792_972_800_000, 25),  // 2026-10-25 00:00 BST to 10-26 00:00 GMT
        ("Australia/Sydney", 1_791_036_000_000, 1_791_118_800_000, 23),  // 2026-10-04 00:00 AEST to 10-05 00:00 AEDT
        ("Australia/Sydney", 1_775_307_600_000, 1_775_397_600_000, 25),  // 2026-04-05 00:00 AEDT to 04-06 00:00 AEST
    ])
    func hourlyFiresOncePerRealHour(zone: String, midnight: Int64, nextMidnight: Int64, hours: Int) throws {
        let times = try fires("0 * * * *", after: midnight - 1, count: 30, in: zone).filter { $0 < nextMidnight }
        #expect(times.count == hours)
        #expect(times.first == midnight)
        #expect(zip(times, times.dropFirst()).allSatisfy { $1 - $0 == 3_600_000 })
    }

    /// Minute-level schedules follow real time too: both passes of a repeated hour, nothing in a skipped one.
    @Test func minutesFollowRealTime() throws {
        let zone = "America/New_York"
        #expect(
            try fires("*/15 * * * *", after: 1_793_509_199_999, count: 9, in: zone) == [  // from 2026-11-01 01:00 EDT
                1_793_509_200_000,  // 05:00Z = 01:00 EDT
                1_793_510_100_000,  // 05:15Z = 01:15 EDT
                1_793_511_000_000,  // 05:30Z = 01:30 EDT
                1_793_511_900_000,  // 05:45Z = 01:45 EDT
                1_793_512_800_000,  // 06:00Z = 01:00 EST
                1_793_513_700_000,  // 06:15Z = 01:15 EST
                1_793_514_600_000,  // 06:30Z = 01:30 EST
                1_793_515_500_000,  // 06:45Z = 01:45 EST
                1_793_516_400_000,  // 07:00Z = 02:00 EST
            ])
        #expect(
            try fires("*/30 * * * *", after: 1_772_949_599_999, count: 4, in: zone) == [  // from 2026-03-08 01:00 EST
                1_772_949_600_000,  // 06:00Z = 01:00 EST
                1_772_951_400_000,  // 06:30Z = 01:30 EST
                1_772_953_200_000,  // 07:00Z = 03:00 EDT
                1_772_955_000_000,  // 07:30Z = 03:30 EDT
            ])
    }

    /// Minute-level schedules over a year are fast: a step per fire, not per second.
    @Test func aYearOfQuarterHours() throws {
        let start: Int64 = 1_767_243_600_000  // 2026-01-01T05:00:00Z = 2026-01-01 00:00 EST
        let times = try fires("*/15 * * * *", after: start - 1, count: 35_041, in: "America/New_York")
        // 365 days of 96 quarter hours, the 4 skipped in March made up in November; then 2027's first.
        #expect(times.count == 35_041)
        #expect(times.last == 1_798_779_600_000)  // 2027-01-01T05:00:00Z = 2027-01-01 00:00 EST
    }
}

@Suite struct ScheduleSpecTests {
    @Test(arguments: [
        ("30s", 30 as Int64, "30s"), ("5m", 300, "5m"), ("1h", 3600, "1h"), ("2h30m", 9000, "2h30m"), ("1d", 86_400, "1d"),
        ("90s", 90, "1m30s"), ("1d12h", 129_600, "1d12h"), (" 1h ", 3600, "1h"), ("366d", 31_622_400, "366d"), ("1s", 1, "1s"),
    ])
    func intervals(text: String, seconds: Int64, canonical: String) throws {
        let interval = try ScheduleInterval(parsing: text)
        #expect(interval.seconds == seconds && interval.milliseconds == seconds * 1000)
        #expect(interval.description == canonical)
    }

    @Test(arguments: [
        ("0s", #"every: "0s" is shorter than 1 second"#),
        ("367d", #"every: "367d" is longer than 366 days"#),
        ("9999999999s", #"every: "9999999999s" is longer than 366 days"#),
        ("5x", #"every: "5x" has an unknown unit "x": use s, m, h or d, like 30s, 5m, 1h, 2h30m or 1d"#),
        ("1.5h", #"every: "1.5h" has an unknown unit ".": use s, m, h or d, like 30s, 5m, 1h, 2h30m or 1d"#),
        ("30", #"every: "30" has no unit after 30: use s, m, h or d, like 30s, 5m, 1h, 2h30m or 1d"#),
        ("h", #"every: "h" is not an interval: expected a number at "h", like 30s, 5m, 1h, 2h30m or 1d"#),
        (
            "30m2h",
            #"every: "30m2h" repeats a unit or puts a smaller one first: write days, hours, minutes, seconds in that order, like 1d12h"#
        ),
        ("", "every: empty interval: write a number and a unit, like 30s, 5m, 1h, 2h30m or 1d"),
    ])
    func intervalErrorsNameTheText(text: String, message: String) {
        let error = #expect(throws: ScheduleError.self) { try ScheduleInterval(parsing: text) }
        #expect(error?.description == message)
    }

    /// `every` counts real time from its anchor: across daylight-saving changes it stays every real interval.
    @Test func intervalsAreAnchoredInRealTime() throws {
        let newYork = try #require(ZoneInfo.named("America/New_York"))
        let hourly = try ScheduleSpec(every: "1h", zoneName: "America/New_York", anchorMs: 1_793_505_600_000)  // 2026-11-01 00:00 EDT
        #expect(
            hourly.next(after: 1_793_505_600_000, count: 4, zone: newYork) == [
                1_793_509_200_000,  // 2026-11-01T05:00:00Z = 01:00 EDT
                1_793_512_800_000,  // 2026-11-01T06:00:00Z = 01:00 EST
                1_793_516_400_000,  // 2026-11-01T07:00:00Z = 02:00 EST
                1_793_520_000_000,  // 2026-11-01T08:00:00Z = 03:00 EST
            ])
        let daily = try ScheduleSpec(every: "1d", zoneName: "America/New_York", anchorMs: 1_772_892_000_000)  // 2026-03-07 09:00 EST
        #expect(
            daily.next(after: 1_772_892_000_000, count: 2, zone: newYork) == [
                1_772_978_400_000,  // 2026-03-08T14:00:00Z = 10:00 EDT: 24 real hours later
                1_773_064_800_000,  // 2026-03-09T14:00:00Z = 10:00 EDT
            ])
        let spaced = try ScheduleSpec(every: "2h30m", zoneName: "America/New_York", anchorMs: 1_772_946_000_000)  // 2026-03-08 00:00 EST
        #expect(
            spaced.next(after: 1_772_946_000_001, count: 3) == [
                1_772_955_000_000,  // 2026-03-08T07:30:00Z = 03:30 EDT
                1_772_964_000_000,  // 2026-03-08T10:00:00Z = 06:00 EDT
                1_772_973_000_000,  // 2026-03-08T12:30:00Z = 08:30 EDT
            ])
        // The anchor is the first fire time; before it, the anchor is next.
        #expect(spaced.next(after: 1_772_000_000_000, zone: newYork) == 1_772_946_000_000)
        #expect(spaced.next(after: 1_772_945_999_999, zone: newYork) == 1_772_946_000_000)
        #expect(spaced.next(after: 1_772_946_000_000, zone: newYork) == 1_772_955_000_000)
    }

    @Test func cronSpecsPreviewInTheirZone() throws {
        let spec = try ScheduleSpec(cron: "0 9 * * *", zoneName: "America/New_York")
        #expect(spec.description == "cron 0 9 * * * (America/New_York)")
        #expect(
            spec.next(after: 1_772_895_600_000, count: 2) == [  // after 2026-03-07 10:00 EST
                1_772_974_800_000,  // 2026-03-08T13:00:00Z = 09:00 EDT
                1_773_061_200_000,  // 2026-03-09T13:00:00Z = 09:00 EDT
            ])
        let newYork = try #require(ZoneInfo.named("America/New_York"))
        #expect(spec.next(after: 1_772_895_600_000, zone: newYork) == 1_772_974_800_000)
        #expect(try ScheduleSpec(every: "2h30m", anchorMs: 0).description == "every 2h30m")
        #expect(try ScheduleSpec(.every(ScheduleInterval(seconds: 90))).description == "every 1m30s")
    }

    @Test func specErrors() {
        let zone = #expect(throws: ScheduleError.self) { try ScheduleSpec(cron: "0 9 * * *", zoneName: "Mars/Olympus_Mons") }
        #expect(zone?.description == #"zone: unknown time zone "Mars/Olympus_Mons""#)
        let cron = #expect(throws: ScheduleError.self) { try ScheduleSpec(cron: "0 9 * *", zoneName: "Europe/London") }
        #expect(cron?.field == nil)
        #expect(throws: ScheduleError.self) { try ScheduleInterval(seconds: 0) }
        #expect(throws: ScheduleError.self) { try ScheduleInterval(seconds: 366 * 86_400 + 1) }
    }
}
