import SpoolRedis
import TestSupport
import Testing

@testable import SpoolQueue

/// promote.lua and cancel.lua.
@Suite struct SchedulingScriptTests {
    @Test func promoteMovesOnlyDueJobsInTimeOrder() async throws {
        let f = try QueueFixture()
        let a = try await f.enqueuer.enqueue(EnqueueRequest(kind: "noop", runAt: 4_000_000_000_000)).id
        let b = try await f.enqueuer.enqueue(EnqueueRequest(kind: "noop", runAt: 4_000_000_000_500)).id
        let c = try await f.enqueuer.enqueue(EnqueueRequest(kind: "noop", runAt: 4_000_000_009_000)).id
        let moved = try await f.redis.run(
            f.keys.promoteCall("default", source: f.keys.scheduled("default"), now: 4_000_000_001_000, limit: 100))
        #expect(moved.int == 2)
        #expect(try await f.listItems(f.keys.pending("default")) == [b, a])  // a is popped first
        #expect(try await f.zsetScores(f.keys.scheduled("default")) == [c: 4_000_000_009_000])
        #expect(try await f.fields(a)["state"] == "pending")
    }

    @Test func promoteDropsIdsWhoseJobWasDeleted() async throws {
        let f = try QueueFixture()
        try await f.redis.run("ZADD", f.keys.retry("default"), "10", "01GONEGONEGONEGONEGONEGONE")
        let moved = try await f.redis.run(f.keys.promoteCall("default", source: f.keys.retry("default"), now: 20, limit: 100))
        #expect(moved.int == 0)
        #expect(try await f.listItems(f.keys.pending("default")).isEmpty)
        #expect(try await f.fields("01GONEGONEGONEGONEGONEGONE").isEmpty)
    }

    @Test func cancelTakesPendingAndScheduledJobsOnly() async throws {
        let f = try QueueFixture()
        let pending = try await f.seedPending(2)
        let scheduled = try await f.enqueuer.enqueue(EnqueueRequest(kind: "noop", runAt: 4_000_000_000_000)).id
        #expect(try await f.admin.cancel(pending[0]) == .cancelled)
        #expect(try await f.admin.cancel(scheduled) == .cancelled)
        #expect(try await f.listItems(f.keys.pending("default")) == [pending[1]])
        #expect(try await f.zsetScores(f.keys.scheduled("default")).isEmpty)
        #expect(try await f.fields(pending[0])["state"] == "cancelled")
        #expect(try await f.admin.cancel(pending[0]) == .notCancellable(state: "cancelled"))
        #expect(try await f.admin.cancel("01AAAAAAAAAAAAAAAAAAAAAAAA") == .notFound)
        // A job being run cannot be cancelled from under its worker.
        _ = try await f.redis.run(f.keys.fetchCall("default", limit: 1, deadline: 31000, token: "w.1"))
        #expect(try await f.admin.cancel(pending[1]) == .notCancellable(state: "active"))
    }
}
