import SpoolRedis
import SpoolSupport
import TestSupport
import Testing

@testable import SpoolQueue

/// limit_acquire.lua, limit_refund.lua, limit_release.lua and limit_pause.lua against a real Redis, at
/// fixed times (the scripts take `now` as an argument, so no clock is involved).
@Suite struct LimiterScriptTests {
    private func acquire(
        _ f: QueueFixture, _ key: String, now: Int64, _ parameters: [String], _ requests: [(String, Int)]
    ) async throws -> (Int, Int64) {
        let reply = try await f.redis.run(
            ScriptCall(
                Scripts.limitAcquire, keys: [f.keys.limiter(key)],
                arguments: [String(now)] + parameters + requests.flatMap { [$0.0, String($0.1)] }))
        return (reply.array?[0].int ?? -1, Int64(reply.array?[1].int ?? -1))
    }

    @Test func aRateLimiterAdmitsTheBurstThenOneUnitPerInterval() async throws {
        let f = try QueueFixture()
        // 5 per second (200 ms per unit), burst 2.
        let rate = ["rate", "200", "2"]
        #expect(try await acquire(f, "s", now: 10_000, rate, [("a", 1), ("b", 1), ("c", 1), ("d", 1)]) == (2, 10_200))
        #expect(try await acquire(f, "s", now: 10_100, rate, [("c", 1)]) == (0, 10_200))
        #expect(try await acquire(f, "s", now: 10_200, rate, [("c", 1), ("d", 1)]) == (1, 10_400))
        // A quiet spell refills the burst, never more.
        #expect(try await acquire(f, "s", now: 20_000, rate, [("e", 1), ("f", 1), ("g", 1)]) == (2, 20_200))
    }

    @Test func aCostAboveOneSpendsThatManyUnitsAndACostAboveTheBurstStillPassesAlone() async throws {
        let f = try QueueFixture()
        let rate = ["rate", "100", "3"]
        #expect(try await acquire(f, "s", now: 1_000, rate, [("a", 2), ("b", 2)]) == (1, 1_100))
        #expect(try await acquire(f, "big", now: 1_000, rate, [("a", 10)]) == (1, 0))
        #expect(try await acquire(f, "big", now: 1_500, rate, [("b", 1)]) == (0, 1_800))
    }

    @Test func aFastRateKeepsItsFractionsOfAMillisecondBetweenCalls() async throws {
        let f = try QueueFixture()
        // 3,000 per second (1/3 ms per unit), burst 300, asked one request per call at a real unix-ms
        // time: rounded to 0.1 ms between calls (Lua's tostring), each admission would move the
        // limiter 0.3 ms instead of 0.333, and about 333 would pass instead of 300.
        let rate = ["rate", String(1_000.0 / 3_000.0), "300"]
        let now = SystemClock().nowMillis()
        let calls = (0..<400).map { n in
            ScriptCall(Scripts.limitAcquire, keys: [f.keys.limiter("fast")], arguments: [String(now)] + rate + ["j\(n)", "1"])
        }
        let admitted = try await f.redis.run(calls).filter { $0.array?.first?.int == 1 }.count
        #expect((299...301).contains(admitted), "admitted \(admitted)")
    }

    @Test func aRateChangedAtRunTimeCountsWhatIsOwedAtTheNewRate() async throws {
        let f = try QueueFixture()
        let now = SystemClock().nowMillis()
        // 1 per second books the next second; raised to 1,000 per second (burst 10), the one unit
        // still owed takes 1 ms, not the rest of that second.
        #expect(try await acquire(f, "s", now: now, ["rate", "1000", "1"], [("a", 1)]) == (1, 0))
        let requests = (0..<20).map { ("b\($0)", 1) }
        #expect(try await acquire(f, "s", now: now + 10, ["rate", "1", "10"], requests).0 == 9)
    }

    @Test func aShortHoldNeverShortensTheExpiryOfLongerHeldSlots() async throws {
        let f = try QueueFixture()
        let now = SystemClock().nowMillis()
        #expect(try await acquire(f, "c", now: now, ["concurrency", "5", "600000"], [("long", 1)]).0 == 1)
        #expect(try await acquire(f, "c", now: now, ["concurrency", "5", "1000"], [("short", 1)]).0 == 1)
        let ttl = try await f.redis.run("PTTL", f.keys.limiter("c") + ":holders").int ?? 0
        #expect(ttl > 600_000, "the holders' set expires in \(ttl) ms, before the long hold ends")
    }

    @Test func aConcurrencyLimiterHoldsSlotsUntilReleasedOrExpired() async throws {
        let f = try QueueFixture()
        let two = ["concurrency", "2", "5000"]
        #expect(try await acquire(f, "c", now: 1_000, two, [("a", 1), ("b", 1), ("c", 1)]).0 == 2)
        // A holder asking again (its job was fetched again) keeps its slot.
        #expect(try await acquire(f, "c", now: 1_100, two, [("a", 1)]).0 == 1)
        let release = try await f.redis.run(ScriptCall(Scripts.limitRelease, keys: [f.keys.limiter("c")], arguments: ["a"]))
        #expect(release.int == 1)  // "c" was refused: somebody waits
        #expect(try await acquire(f, "c", now: 1_200, two, [("c", 1), ("d", 1)]) == (1, 1_200 + 1000))
        // Holds expire: a crashed worker's slots come back.
        #expect(try await acquire(f, "c", now: 7_000, two, [("d", 1), ("e", 1)]).0 == 2)
    }

    @Test func aQuotaCountsUnitsPerCalendarWindow() async throws {
        let f = try QueueFixture()
        let perMinute = ["quota", "3", "60000"]
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
            try await f.redis.run(ScriptCall(Scripts.limitPause, keys: [f.keys.limiter("p")], arguments: [String(now), String(until)])).int
        }
        #expect(try await pause(now + 50_000) == Int(now + 50_000))
        #expect(try await pause(now + 30_000) == Int(now + 50_000))
        let rate = ["rate", "10", "5"]
        #expect(try await acquire(f, "p", now: now + 49_999, rate, [("a", 1)]) == (0, now + 50_000))
        #expect(try await acquire(f, "p", now: now + 50_000, rate, [("a", 1)]) == (1, 0))
    }

    @Test func aRefundGivesBackWhatWasGranted() async throws {
        let f = try QueueFixture()
        let rate = ["rate", "1000", "1"]
        #expect(try await acquire(f, "r", now: 1_000, rate, [("a", 1)]) == (1, 0))
        _ = try await f.redis.run(
            ScriptCall(Scripts.limitRefund, keys: [f.keys.limiter("r")], arguments: ["1000", "rate", "1000", "0", "a", "1"]))
        #expect(try await acquire(f, "r", now: 1_000, rate, [("b", 1)]) == (1, 0))
        let one = ["concurrency", "1", "60000"]
        #expect(try await acquire(f, "c", now: 1_000, one, [("a", 1)]).0 == 1)
        _ = try await f.redis.run(
            ScriptCall(Scripts.limitRefund, keys: [f.keys.limiter("c")], arguments: ["1000", "concurrency", "0", "0", "a", "1"]))
        #expect(try await acquire(f, "c", now: 1_000, one, [("b", 1)]).0 == 1)
    }
}
