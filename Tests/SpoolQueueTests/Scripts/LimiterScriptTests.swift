import SpoolRedis
import SpoolSupport
import TestSupport
import Testing

@testable import SpoolQueue

/// limit_acquire.lua, limit_refund.lua, limit_release.lua and limit_pause.lua against a real Redis, at
/// fixed times (the scripts take `now` as an argument, so no clock is involved).
@Suite struct LimiterScriptTests {
    private func acquire(
        _ f: QueueFixture, _ key: String, now: Int64, _ spec: LimitSpec, hold: Duration = .seconds(60), _ requests: [(String, Int)]
    ) async throws -> (Int, Int64) {
        let reply = try await f.redis.run(
            f.keys.limitAcquireCall(key, spec: spec, hold: hold, now: now, requests: requests.map { (id: $0.0, cost: $0.1) }))
        return (reply.array?[0].int ?? -1, Int64(reply.array?[1].int ?? -1))
    }

    private static func perSecond(_ units: Int, burst: Int) -> LimitSpec { .rate(units: units, period: .seconds(1), burst: burst) }

    @Test func aRateLimiterAdmitsTheBurstThenOneUnitPerInterval() async throws {
        let f = try QueueFixture()
        // 5 per second (200 ms per unit), burst 2.
        let rate = Self.perSecond(5, burst: 2)
        #expect(try await acquire(f, "s", now: 10_000, rate, [("a", 1), ("b", 1), ("c", 1), ("d", 1)]) == (2, 10_200))
        #expect(try await acquire(f, "s", now: 10_100, rate, [("c", 1)]) == (0, 10_200))
        #expect(try await acquire(f, "s", now: 10_200, rate, [("c", 1), ("d", 1)]) == (1, 10_400))
        // A quiet spell refills the burst, never more.
        #expect(try await acquire(f, "s", now: 20_000, rate, [("e", 1), ("f", 1), ("g", 1)]) == (2, 20_200))
    }

    @Test func aCostAboveOneSpendsThatManyUnitsAndACostAboveTheBurstStillPassesAlone() async throws {
        let f = try QueueFixture()
        let rate = Self.perSecond(10, burst: 3)
        #expect(try await acquire(f, "s", now: 1_000, rate, [("a", 2), ("b", 2)]) == (1, 1_100))
        #expect(try await acquire(f, "big", now: 1_000, rate, [("a", 10)]) == (1, 0))
        #expect(try await acquire(f, "big", now: 1_500, rate, [("b", 1)]) == (0, 1_800))
    }

    @Test func aFastRateKeepsItsFractionsOfAMillisecondBetweenCalls() async throws {
        let f = try QueueFixture()
        // 3,000 per second (1/3 ms per unit), burst 300, asked one request per call at a real unix-ms
        // time: rounded to 0.1 ms between calls (Lua's tostring), each admission would move the
        // limiter 0.3 ms instead of 0.333, and about 333 would pass instead of 300.
        let rate = Self.perSecond(3_000, burst: 300)
        let now = SystemClock().nowMillis()
        let calls = (0..<400).map { n in
            f.keys.limitAcquireCall("fast", spec: rate, hold: .seconds(60), now: now, requests: [(id: "j\(n)", cost: 1)])
        }
        let admitted = try await f.redis.run(calls).filter { $0.array?.first?.int == 1 }.count
        #expect((299...301).contains(admitted), "admitted \(admitted)")
    }

    @Test func aRateChangedAtRunTimeCountsWhatIsOwedAtTheNewRate() async throws {
        let f = try QueueFixture()
        let now = SystemClock().nowMillis()
        // 1 per second books the next second; raised to 1,000 per second (burst 10), the one unit
        // still owed takes 1 ms, not the rest of that second.
        #expect(try await acquire(f, "s", now: now, Self.perSecond(1, burst: 1), [("a", 1)]) == (1, 0))
        let requests = (0..<20).map { ("b\($0)", 1) }
        #expect(try await acquire(f, "s", now: now + 10, Self.perSecond(1_000, burst: 10), requests).0 == 9)
    }

    @Test func aShortHoldNeverShortensTheExpiryOfLongerHeldSlots() async throws {
        let f = try QueueFixture()
        let now = SystemClock().nowMillis()
        #expect(try await acquire(f, "c", now: now, .concurrency(max: 5), hold: .seconds(600), [("long", 1)]).0 == 1)
        #expect(try await acquire(f, "c", now: now, .concurrency(max: 5), hold: .seconds(1), [("short", 1)]).0 == 1)
        let ttl = try await f.redis.run("PTTL", f.keys.limiterKeys("c").holders).int ?? 0
        #expect(ttl > 600_000, "the holders' set expires in \(ttl) ms, before the long hold ends")
    }

    @Test func aConcurrencyLimiterHoldsSlotsUntilReleasedOrExpired() async throws {
        let f = try QueueFixture()
        let two = LimitSpec.concurrency(max: 2)
        let hold = Duration.seconds(5)
        #expect(try await acquire(f, "c", now: 1_000, two, hold: hold, [("a", 1), ("b", 1), ("c", 1)]).0 == 2)
        // A holder asking again (its job was fetched again) keeps its slot.
        #expect(try await acquire(f, "c", now: 1_100, two, hold: hold, [("a", 1)]).0 == 1)
        let release = try await f.redis.run(f.keys.limitReleaseCall("c", ids: ["a"]))
        #expect(release.int == 1)  // "c" was refused: somebody waits
        #expect(try await acquire(f, "c", now: 1_200, two, hold: hold, [("c", 1), ("d", 1)]) == (1, 1_200 + 1000))
        // Holds expire: a crashed worker's slots come back.
        #expect(try await acquire(f, "c", now: 7_000, two, hold: hold, [("d", 1), ("e", 1)]).0 == 2)
    }

    @Test func aQuotaCountsUnitsPerCalendarWindow() async throws {
        let f = try QueueFixture()
        let perMinute = LimitSpec.quota(units: 3, window: .seconds(60))
        // Real times: the window's counter expires (PEXPIREAT) after its window.
        let minute = SystemClock().nowMillis() / 60_000 * 60_000 + 60_000
        #expect(try await acquire(f, "q", now: minute + 500, perMinute, [("a", 2), ("b", 2)]) == (1, minute + 60_000))
        #expect(try await acquire(f, "q", now: minute + 59_999, perMinute, [("b", 1)]) == (1, 0))
        #expect(try await acquire(f, "q", now: minute + 59_999, perMinute, [("c", 1)]) == (0, minute + 60_000))
        #expect(try await acquire(f, "q", now: minute + 60_000, perMinute, [("c", 3)]) == (1, 0))
    }

    @Test func aProviderPauseRefusesEverythingUntilItEndsAndALaterPauseWins() async throws {
        let f = try QueueFixture()
        // Real times: the pause is a key that expires when the pause ends.
        let now = SystemClock().nowMillis()
        let pause = { (until: Int64) in
            try await f.redis.run(f.keys.limitPauseCall("p", now: now, until: until)).int
        }
        #expect(try await pause(now + 50_000) == Int(now + 50_000))
        #expect(try await pause(now + 30_000) == Int(now + 50_000))
        let rate = Self.perSecond(100, burst: 5)
        #expect(try await acquire(f, "p", now: now + 49_999, rate, [("a", 1)]) == (0, now + 50_000))
        #expect(try await acquire(f, "p", now: now + 50_000, rate, [("a", 1)]) == (1, 0))
    }

    @Test func aRefundGivesBackWhatWasGranted() async throws {
        let f = try QueueFixture()
        let rate = Self.perSecond(1, burst: 1)
        #expect(try await acquire(f, "r", now: 1_000, rate, [("a", 1)]) == (1, 0))
        _ = try await f.redis.run(f.keys.limitRefundCall("r", spec: rate, now: 1_000, id: "a", cost: 1))
        #expect(try await acquire(f, "r", now: 1_000, rate, [("b", 1)]) == (1, 0))
        let one = LimitSpec.concurrency(max: 1)
        #expect(try await acquire(f, "c", now: 1_000, one, [("a", 1)]).0 == 1)
        _ = try await f.redis.run(f.keys.limitRefundCall("c", spec: one, now: 1_000, id: "a", cost: 1))
        #expect(try await acquire(f, "c", now: 1_000, one, [("b", 1)]).0 == 1)
        // A quota's refund goes to the window that holds `now`. Real times: a window's counter expires.
        let daily = LimitSpec.quota(units: 2, window: .seconds(86_400))
        let now = SystemClock().nowMillis()
        #expect(try await acquire(f, "d", now: now, daily, [("a", 2)]).0 == 1)
        _ = try await f.redis.run(f.keys.limitRefundCall("d", spec: daily, now: now, id: "a", cost: 2))
        #expect(try await f.redis.run("GET", f.keys.limiterKeys("d").window(containing: now, length: .seconds(86_400))).string == "0")
        #expect(try await acquire(f, "d", now: now, daily, [("b", 2)]).0 == 1)
    }

    /// Each script touches the keys its call declares, and nothing of the limiter outside them: a rate
    /// limiter's call leaves the concurrency and quota keys alone, and every key carries one tag.
    @Test func theScriptsWriteOnlyTheKeysTheirCallsDeclare() async throws {
        let f = try QueueFixture()
        let limiter = f.keys.limiterKeys("k")
        let now = SystemClock().nowMillis()
        let rate = f.keys.limitAcquireCall(
            "k", spec: Self.perSecond(1, burst: 1), hold: .seconds(60), now: now, requests: [(id: "a", cost: 1)])
        #expect(rate.keys == [limiter.paused, limiter.stats, limiter.tat, limiter.interval])
        _ = try await f.redis.run(rate)
        #expect(try await f.redis.run("EXISTS", limiter.tat, limiter.interval, limiter.stats).int == 3)
        #expect(try await f.redis.run("EXISTS", limiter.holders, limiter.waiting, limiter.paused).int == 0)
        let slots = f.keys.limitAcquireCall(
            "k", spec: .concurrency(max: 1), hold: .seconds(60), now: now, requests: [(id: "a", cost: 1), (id: "b", cost: 1)])
        #expect(slots.keys == [limiter.paused, limiter.stats, limiter.holders, limiter.waiting])
        _ = try await f.redis.run(slots)
        #expect(try await f.redis.run("EXISTS", limiter.holders, limiter.waiting).int == 2)
        let window = limiter.window(containing: now, length: .seconds(60))
        let quota = f.keys.limitAcquireCall(
            "k", spec: .quota(units: 5, window: .seconds(60)), hold: .seconds(60), now: now, requests: [(id: "a", cost: 2)])
        #expect(quota.keys == [limiter.paused, limiter.stats, window])
        _ = try await f.redis.run(quota)
        #expect(try await f.redis.run("GET", window).string == "2")
        #expect(f.keys.limitReleaseCall("k", ids: ["a"]).keys == [limiter.holders, limiter.waiting])
        #expect(f.keys.limitPauseCall("k", now: now, until: now + 1).keys == [limiter.paused, limiter.stats])
    }
}
