import SpoolRedis
import SpoolSupport
import TestSupport
import Testing

@testable import SpoolQueue

/// Bulk retry, discard and cancel of a filtered set: bounded per call, going on by cursor.
@Suite struct BulkActionTests {
    static let rare = JobKindSpec(kind: "rare", queue: "default", arguments: QueueFixture.noop.arguments)

    /// Jobs of the given kinds, in order, killed one millisecond apart (the first oldest).
    func dead(_ f: QueueFixture, kinds: [String]) async throws -> [String] {
        let ids = try await f.enqueuer.enqueue(batch: kinds.map { EnqueueRequest(kind: $0) }).map { try $0.get().id }
        _ = try await f.redis.run(f.keys.fetchCall("default", limit: kinds.count, deadline: 900_000, token: "w.1"))
        for (index, id) in ids.enumerated() {
            _ = try await f.redis.run(f.keys.killCall("default", id: id, token: "w.1", now: Int64(1000 + index), reason: "r"))
        }
        return ids
    }

    @Test func retryingDeadJobsByKindMovesOnlyThoseAndSaysWhenMoreRemain() async throws {
        let f = try QueueFixture(kinds: [QueueFixture.noop, Self.rare])
        let kinds = ["noop", "rare", "noop", "noop", "rare", "noop", "rare", "noop"]
        let ids = try await dead(f, kinds: kinds)
        let rare = ids.enumerated().filter { kinds[$0.offset] == "rare" }.map(\.element)
        let first = try await f.admin.retryDead(matching: JobFilter(kind: "rare"), limit: 2)
        #expect(first.changed == 2 && first.matched == 2 && first.moreRemain)
        let second = try await f.admin.retryDead(matching: JobFilter(kind: "rare"), limit: 2, after: first.next)
        #expect(second.changed == 1 && !second.moreRemain)
        // Only the rare ones left the dead set, for pending with fresh attempts.
        #expect(Set(try await f.zsetScores(f.keys.dead("default")).keys) == Set(ids).subtracting(rare))
        #expect(Set(try await f.listItems(f.keys.pending("default"))) == Set(rare))
        #expect(try await f.fields(rare[0])["attempt"] == "0")
    }

    @Test func discardingDeadJobsOfOneTenant() async throws {
        let f = try QueueFixture()
        let ids = try await f.enqueuer.enqueue(batch: [EnqueueRequest(kind: "noop", tenant: "acme"), EnqueueRequest(kind: "noop")]).map {
            try $0.get().id
        }
        _ = try await f.redis.run(f.keys.fetchCall("default", limit: 2, deadline: 900_000, token: "w.1"))
        for id in ids { _ = try await f.redis.run(f.keys.killCall("default", id: id, token: "w.1", now: 1000, reason: "r")) }
        let result = try await f.admin.discardDead(matching: JobFilter(tenant: "acme"))
        #expect(result == BulkResult(changed: 1, matched: 1, next: nil))
        #expect(try await f.fields(ids[0]).isEmpty)
        #expect(Array(try await f.zsetScores(f.keys.dead("default")).keys) == [ids[1]])
    }

    /// A lane's cursor names a job that must still be there: when the call cancelled it, the next call
    /// goes on from the last job it left, and skips nothing.
    @Test func cancellingPendingJobsByKindGoesOnPastTheJobsItCancelled() async throws {
        let f = try QueueFixture(kinds: [QueueFixture.noop, Self.rare])
        let kinds = ["noop", "rare", "noop", "rare", "rare", "noop"]
        let ids = try await f.enqueuer.enqueue(batch: kinds.map { EnqueueRequest(kind: $0) }).map { try $0.get().id }
        let first = try await f.admin.cancel(matching: JobFilter(kind: "rare"), state: .pending, limit: 2)
        #expect(first.changed == 2 && first.moreRemain)
        let second = try await f.admin.cancel(matching: JobFilter(kind: "rare"), state: .pending, limit: 2, after: first.next)
        #expect(second.changed == 1 && second.matched == 1 && !second.moreRemain)
        #expect(Array(try await f.listItems(f.keys.pending("default")).reversed()) == [ids[0], ids[2], ids[5]])
        for index in [1, 3, 4] { #expect(try await f.fields(ids[index])["state"] == "cancelled") }
    }

    @Test func cancellingScheduledJobsAndRefusingStatesThatCannotBe() async throws {
        let f = try QueueFixture()
        let later = SystemClock().nowMillis() + 3_600_000
        try await f.enqueuer.enqueue(batch: (0..<5).map { EnqueueRequest(kind: "noop", runAt: later + Int64($0)) }).forEach {
            _ = try $0.get()
        }
        let result = try await f.admin.cancel(matching: JobFilter(), state: .scheduled)
        #expect(result == BulkResult(changed: 5, matched: 5, next: nil))
        #expect(try await f.stats().scheduled == 0)
        let refused = await #expect(throws: JobBrowseError.self) {
            try await f.admin.cancel(matching: JobFilter(), state: .active)
        }
        #expect(refused?.field == "state")
    }
}
