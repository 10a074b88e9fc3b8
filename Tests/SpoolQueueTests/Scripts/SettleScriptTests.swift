@testable import SpoolQueue
import SpoolRedis
import TestSupport
import Testing

/// ack.lua, retry.lua, snooze.lua, kill.lua and requeue.lua: each moves a leased job out of active,
/// and each refuses a caller whose lease token is not the job's.
@Suite struct SettleScriptTests {
    /// Enqueues one job and leases it with token "w.1" at t=1000.
    func leased(_ f: QueueFixture) async throws -> String {
        let id = try await f.seedPending(1)[0]
        _ = try await f.redis.run(Scripts.fetch, keys: [f.keys.pending("default"), f.keys.active("default"), f.keys.paused("default"), f.keys.jobPrefix("default")],
                                  arguments: ["1", "1000", "31000", "w.1"])
        return id
    }

    func base(_ f: QueueFixture, _ id: String) -> [String] { [f.keys.active("default"), f.keys.job("default", id)] }

    @Test func ackCompletesCountsAndExpires() async throws {
        let f = try QueueFixture()
        let id = try await leased(f)
        let keys = base(f, id) + [f.keys.stats("default")]
        #expect(try await f.redis.run(Scripts.ack, keys: keys, arguments: [id, "other", "2000", "60", ""]).int == 0)
        #expect(try await f.redis.run(Scripts.ack, keys: keys, arguments: [id, "w.1", "2000", "60", "ok"]).int == 1)
        #expect(try await f.zsetScores(f.keys.active("default")).isEmpty)
        let job = try await f.fields(id)
        #expect(job["state"] == "completed" && job["result"] == "ok" && job["finished_at"] == "2000" && job["attempt"] == "1")
        #expect(job["lease"] == nil && job["args"] == nil)
        let ttl = try await f.redis.run("TTL", f.keys.job("default", id)).int ?? 0
        #expect(ttl > 0 && ttl <= 60)
        #expect(try await f.redis.run("HGET", f.keys.stats("default"), "processed").int == 1)
        // Settled once: a second ack finds no lease.
        #expect(try await f.redis.run(Scripts.ack, keys: keys, arguments: [id, "w.1", "2000", "60", ""]).int == 0)
    }

    @Test func ackWithNoRetentionDeletesTheJob() async throws {
        let f = try QueueFixture()
        let id = try await leased(f)
        #expect(try await f.redis.run(Scripts.ack, keys: base(f, id) + [f.keys.stats("default")], arguments: [id, "w.1", "2000", "0", ""]).int == 1)
        #expect(try await f.fields(id).isEmpty)
    }

    @Test func retryUsesAnAttemptAndWaitsInTheRetrySet() async throws {
        let f = try QueueFixture()
        let id = try await leased(f)
        let keys = base(f, id) + [f.keys.retry("default"), f.keys.stats("default")]
        #expect(try await f.redis.run(Scripts.retry, keys: keys, arguments: [id, "nope", "5000", "boom"]).int == 0)
        #expect(try await f.redis.run(Scripts.retry, keys: keys, arguments: [id, "w.1", "5000", "boom"]).int == 1)
        #expect(try await f.zsetScores(f.keys.active("default")).isEmpty)
        #expect(try await f.zsetScores(f.keys.retry("default")) == [id: 5000])
        let job = try await f.fields(id)
        #expect(job["state"] == "retry" && job["attempt"] == "1" && job["last_error"] == "boom" && job["run_at"] == "5000" && job["lease"] == nil)
        #expect(try await f.redis.run("HGET", f.keys.stats("default"), "failed").int == 1)
    }

    @Test func snoozeUsesNoAttempt() async throws {
        let f = try QueueFixture()
        let id = try await leased(f)
        let keys = base(f, id) + [f.keys.scheduled("default")]
        #expect(try await f.redis.run(Scripts.snooze, keys: keys, arguments: [id, "w.1", "9000", "quiet hours"]).int == 1)
        #expect(try await f.zsetScores(f.keys.scheduled("default")) == [id: 9000])
        let job = try await f.fields(id)
        #expect(job["state"] == "scheduled" && job["attempt"] == "0" && job["snoozed"] == "quiet hours" && job["snoozes"] == "1")
    }

    @Test func killKeepsReasonAndLastError() async throws {
        let f = try QueueFixture()
        let id = try await leased(f)
        let keys = base(f, id) + [f.keys.dead("default"), f.keys.stats("default")]
        #expect(try await f.redis.run(Scripts.kill, keys: keys, arguments: [id, "w.1", "3000", "permanent error: 21211", "HTTP 400"]).int == 1)
        #expect(try await f.zsetScores(f.keys.dead("default")) == [id: 3000])
        #expect(try await f.zsetScores(f.keys.active("default")).isEmpty)
        let job = try await f.fields(id)
        #expect(job["state"] == "dead" && job["dead_reason"] == "permanent error: 21211" && job["last_error"] == "HTTP 400" && job["attempt"] == "1")
    }

    @Test func requeuePutsTheJobFirstInLineUnrun() async throws {
        let f = try QueueFixture()
        let id = try await leased(f)
        let later = try await f.seedPending(1)[0]
        let keys = base(f, id) + [f.keys.pending("default")]
        #expect(try await f.redis.run(Scripts.requeue, keys: keys, arguments: [id, "w.1"]).int == 1)
        // Fetch pops from the right: the requeued job comes out before the one enqueued after it.
        #expect(try await f.listItems(f.keys.pending("default")) == [later, id])
        let job = try await f.fields(id)
        #expect(job["state"] == "pending" && job["attempt"] == "0" && job["lease"] == nil)
    }
}
