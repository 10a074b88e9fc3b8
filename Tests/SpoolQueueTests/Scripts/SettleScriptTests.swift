import SpoolRedis
import TestSupport
import Testing

@testable import SpoolQueue

/// ack.lua, retry.lua, snooze.lua, kill.lua and requeue.lua: each moves a leased job out of active,
/// and each refuses a caller whose lease token is not the job's.
@Suite struct SettleScriptTests {
    /// Enqueues one job and leases it with token "w.1" at t=1000.
    func leased(_ f: QueueFixture) async throws -> String {
        let id = try await f.seedPending(1)[0]
        _ = try await f.redis.run(f.keys.fetchCall("default", limit: 1, deadline: 31000, token: "w.1"))
        return id
    }

    func leaseOf(_ f: QueueFixture, _ id: String) async throws -> String? {
        try await f.redis.run("HGET", f.keys.leases("default"), id).string
    }

    func ack(_ f: QueueFixture, keep: Bool = true, _ jobs: [(id: String, token: String)]) async throws -> RedisReply {
        try await f.redis.run(f.keys.ackCall("default", now: 2000, keep: keep, jobs: jobs.map { ($0.id, $0.token, "ok") }))
    }

    @Test func ackCompletesCountsAndRecordsTheFinish() async throws {
        let f = try QueueFixture()
        let id = try await leased(f)
        #expect(try await ack(f, [(id, "other")]) == .array([.integer(0)]))
        #expect(try await ack(f, [(id, "w.1")]) == .array([.integer(1)]))
        #expect(try await f.zsetScores(f.keys.active("default")).isEmpty)
        let job = try await f.record(id)
        #expect(job?.state == .completed && job?.result == "ok" && job?.finishedAt == 2000 && job?.attempt == 1)
        #expect(try await leaseOf(f, id) == nil)
        #expect(try await f.zsetScores(f.keys.completed("default")) == [id: 2000])
        #expect(try await f.redis.run("HGET", f.keys.stats("default"), "processed").int == 1)
        // Settled once: a second ack finds no lease.
        #expect(try await ack(f, [(id, "w.1")]) == .array([.integer(0)]))
        #expect(try await f.redis.run("HGET", f.keys.stats("default"), "processed").int == 1)
    }

    @Test func ackSettlesABatchAndSkipsLostLeases() async throws {
        let f = try QueueFixture()
        let first = try await leased(f)
        let second = try await leased(f)
        #expect(
            try await ack(f, [(first, "w.1"), (second, "stale"), ("01MISSINGMISSINGMISSINGMIS", "w.1")])
                == .array([.integer(1), .integer(0), .integer(0)]))
        #expect(try await f.zsetScores(f.keys.active("default")) == [second: 31000])
        #expect(try await f.redis.run("HGET", f.keys.stats("default"), "processed").int == 1)
    }

    @Test func ackWithNoRetentionDeletesTheJob() async throws {
        let f = try QueueFixture()
        let id = try await leased(f)
        #expect(try await ack(f, keep: false, [(id, "w.1")]) == .array([.integer(1)]))
        #expect(try await f.fields(id).isEmpty)
        #expect(try await f.zsetScores(f.keys.completed("default")).isEmpty)
    }

    @Test func retryUsesAnAttemptAndWaitsInTheRetrySet() async throws {
        let f = try QueueFixture()
        let id = try await leased(f)
        #expect(try await f.redis.run(f.keys.retryCall("default", id: id, token: "nope", at: 5000, error: "boom", now: 3000)).int == 0)
        #expect(try await f.redis.run(f.keys.retryCall("default", id: id, token: "w.1", at: 5000, error: "boom", now: 3000)).int == 1)
        #expect(try await f.zsetScores(f.keys.active("default")).isEmpty)
        #expect(try await f.zsetScores(f.keys.retry("default")) == [id: 5000])
        let job = try await f.fields(id)
        #expect(job["state"] == "retry" && job["attempt"] == "1" && job["last_error"] == "boom" && job["run_at"] == "5000")
        #expect(try await leaseOf(f, id) == nil)
        #expect(try await f.redis.run("HGET", f.keys.stats("default"), "failed").int == 1)
    }

    @Test func snoozeUsesNoAttempt() async throws {
        let f = try QueueFixture()
        let id = try await leased(f)
        #expect(try await f.redis.run(f.keys.snoozeCall("default", id: id, token: "w.1", until: 9000, reason: "quiet hours")).int == 1)
        #expect(try await leaseOf(f, id) == nil)
        #expect(try await f.zsetScores(f.keys.scheduled("default")) == [id: 9000])
        let job = try await f.fields(id)
        #expect(job["state"] == "scheduled" && (job["attempt"] ?? "0") == "0" && job["snoozed"] == "quiet hours" && job["snoozes"] == "1")
    }

    @Test func killKeepsReasonAndLastError() async throws {
        let f = try QueueFixture()
        let id = try await leased(f)
        #expect(try await f.redis.run(f.keys.killCall("default", id: id, token: "stale", now: 3000, reason: "x")).int == 0)
        #expect(
            try await f.redis.run(
                f.keys.killCall("default", id: id, token: "w.1", now: 3000, reason: "permanent error: 21211", error: "HTTP 400")
            ).int == 1)
        #expect(try await f.zsetScores(f.keys.dead("default")) == [id: 3000])
        #expect(try await f.zsetScores(f.keys.active("default")).isEmpty)
        let job = try await f.fields(id)
        #expect(
            job["state"] == "dead" && job["dead_reason"] == "permanent error: 21211" && job["last_error"] == "HTTP 400"
                && job["attempt"] == "1")
    }

    @Test func requeuePutsTheJobFirstInLineUnrun() async throws {
        let f = try QueueFixture()
        let id = try await leased(f)
        let later = try await f.seedPending(1)[0]
        #expect(try await f.redis.run(f.keys.requeueCall("default", id: id, token: "w.1", tenant: nil)).int == 1)
        // Fetch pops from the right: the requeued job comes out before the one enqueued after it.
        #expect(try await f.listItems(f.keys.pending("default")) == [later, id])
        let job = try await f.fields(id)
        #expect(job["state"] == "pending" && (job["attempt"] ?? "0") == "0" && job["started_at"] == nil)
        #expect(try await leaseOf(f, id) == nil)
    }
}
