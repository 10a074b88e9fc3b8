import SpoolJobs
import SpoolRedis
import SpoolSupport
import TestSupport
import Testing

@testable import SpoolQueue

/// Follow-up jobs: written with the completion that asks for them, moved to their queues exactly once.
@Suite struct FollowUpTests {
    static let chain = #"{"then":[{"kind":"noop","args":{"mark":true}},{"kind":"noop","args":{"mark":true},"delay_seconds":0.2}]}"#

    @Test func aCompletedJobsFollowUpsRunOnceCarryingItsTenantAndId() async throws {
        let f = try QueueFixture()
        let parent = try await f.enqueuer.enqueue(EnqueueRequest(kind: "noop", args: Self.chain, tenant: "acme")).id
        let worker = RunningWorker(f, handlers: [NoopHandler()], concurrency: 4)
        try await waitUntil("both follow-ups to run") { try await f.runCounts().count == 2 }
        try await worker.stop()
        let followUps = try await f.followUps(of: parent)
        #expect(followUps.count == 2)
        for id in followUps {
            let record = try #require(try await f.admin.job(id))
            #expect(record.tenant == "acme" && record.parentID == parent && record.state == .completed)
        }
        #expect(try await f.runCounts().values.allSatisfy { $0 == 1 })
        #expect(try await f.redis.run("HLEN", f.keys.outbox("default")).int == 0)
    }

    /// A follow-up that could never be enqueued breaks the chain where it is: the parent is dead with
    /// the reason, and nothing half-written is left.
    @Test func anInvalidFollowUpFailsItsParent() async throws {
        let f = try QueueFixture()
        let parent = try await f.enqueuer.enqueue(EnqueueRequest(kind: "noop", args: #"{"then":[{"kind":"teleport"}]}"#)).id
        let worker = RunningWorker(f, handlers: [NoopHandler()], concurrency: 2)
        try await waitUntil("the parent to be dead") { try await f.state(parent) == "dead" }
        try await worker.stop()
        try await f.assertDead(parent, reason: "invalid follow-up: follow_ups[0].kind: teleport: unknown kind 'teleport'")
        #expect(try await f.redis.run("HLEN", f.keys.outbox("default")).int == 0)
    }

    /// Moving stops after enqueuing and before clearing the outbox (a crash, Redis gone): the next move
    /// enqueues nothing twice.
    @Test func aMoveCutShortAndDoneAgainEnqueuesEachFollowUpOnce() async throws {
        let f = try QueueFixture()
        let outbox = Outbox(redis: f.redis, keys: f.keys, catalog: f.catalog)
        let parent = Job(
            id: "01PARENT", queue: "default", kind: "noop", args: "{}", attempt: 0, maxAttempts: 3, enqueuedAt: 0,
            tenant: "acme", leaseToken: "t")
        let entries = try outbox.entries(for: parent, [FollowUp(kind: "noop"), FollowUp(kind: "noop", args: #"{"sleep_ms":1}"#)], now: 0)
        _ = try await f.redis.run(RedisCommand("HSET", [f.keys.outbox("default")] + entries.flatMap { [$0.id, $0.json] }))
        // The first move's enqueue landed; its HDEL did not.
        let jobs = try entries.map { try #require(Outbox.prepared(id: $0.id, try JSONValue.parse($0.json))) }
        _ = try await Enqueuer.store(jobs, now: SystemClock().nowMillis(), redis: f.redis, keys: f.keys, durability: .primaryOnly)
        #expect(try await outbox.move(queue: "default") == 2)
        #expect(try await outbox.move(queue: "default") == 0)
        #expect(try await f.pendingCount() == 2)
        #expect(try await f.followUps(of: "01PARENT") == entries.map(\.id).sorted())
    }

    /// complete.lua writes nothing for a lease that is no longer the caller's: a stale run's follow-ups
    /// never appear beside the live run's.
    @Test func aStaleSettleWritesNoFollowUps() async throws {
        let f = try QueueFixture()
        let call = f.keys.completeCall(
            "default", now: 1, keep: true, id: "01GONE", token: "stale", result: "",
            followUps: [(id: "01CHILD", json: "{}")])
        let reply = try await f.redis.run([call])[0]
        #expect(reply.int == 0)
        #expect(try await f.redis.run("HLEN", f.keys.outbox("default")).int == 0)
    }
}
