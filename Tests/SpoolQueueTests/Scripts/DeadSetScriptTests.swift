import SpoolRedis
import TestSupport
import Testing

@testable import SpoolQueue

/// dead_retry.lua, dead_discard.lua and trim_dead.lua.
@Suite struct DeadSetScriptTests {
    /// Puts `count` jobs in the dead set, the i-th with score 1000 + i.
    func dead(_ f: QueueFixture, _ count: Int) async throws -> [String] {
        let ids = try await f.seedPending(count)
        _ = try await f.redis.run(f.keys.fetchCall("default", limit: count, deadline: 31000, token: "w.1"))
        for (index, id) in ids.enumerated() {
            _ = try await f.redis.run(f.keys.killCall("default", id: id, token: "w.1", now: Int64(1000 + index), reason: "reason \(index)"))
        }
        return ids
    }

    @Test func retryGivesFreshAttempts() async throws {
        let f = try QueueFixture()
        let ids = try await dead(f, 3)
        #expect(try await f.admin.retryDead(ids: [ids[1], "01NOTDEADNOTDEADNOTDEADNOT"]) == 1)
        #expect(try await f.listItems(f.keys.pending("default")) == [ids[1]])
        let job = try await f.fields(ids[1])
        #expect(job["state"] == "pending" && job["attempt"] == "0" && job["dead_reason"] == nil)
        #expect(try await f.admin.retryDead(ids: nil) == 2)
        #expect(try await f.zsetScores(f.keys.dead("default")).isEmpty)
    }

    @Test func discardDeletesForGood() async throws {
        let f = try QueueFixture()
        let ids = try await dead(f, 3)
        #expect(try await f.admin.discardDead(ids: [ids[0]]) == 1)
        #expect(try await f.fields(ids[0]).isEmpty)
        #expect(try await f.admin.discardDead(ids: nil) == 2)
        #expect(try await f.zsetScores(f.keys.dead("default")).isEmpty)
    }

    @Test func trimEnforcesAgeThenCount() async throws {
        let f = try QueueFixture()
        let ids = try await dead(f, 6)  // scores 1000...1005
        let dropped = try await f.redis.run(f.keys.trimDeadCall("default", oldestKept: 1002, maxEntries: 2, limit: 100))
        // 1000 and 1001 are too old; of the four left, the two oldest exceed the count of 2.
        #expect(dropped.int == 4)
        #expect(Set(try await f.zsetScores(f.keys.dead("default")).keys) == [ids[4], ids[5]])
        #expect(try await f.fields(ids[0]).isEmpty)
        #expect(try await f.fields(ids[3]).isEmpty)
        #expect(try await f.fields(ids[5])["state"] == "dead")
    }

    @Test func trimCompletedDeletesRecordsPastTheirRetention() async throws {
        let f = try QueueFixture()
        let ids = try await f.seedPending(3)
        _ = try await f.redis.run(f.keys.fetchCall("default", limit: 3, deadline: 31000, token: "w.1"))
        for (index, id) in ids.enumerated() {
            _ = try await f.redis.run(f.keys.ackCall("default", now: Int64(5000 + index), keep: true, jobs: [(id, "w.1", "")]))
        }
        #expect(try await f.redis.run(f.keys.trimCompletedCall("default", oldestKept: 5002, limit: 100)).int == 2)
        #expect(try await f.fields(ids[0]).isEmpty)
        #expect(try await f.fields(ids[1]).isEmpty)
        #expect(try await f.state(ids[2]) == "completed")
        #expect(try await f.zsetScores(f.keys.completed("default")) == [ids[2]: 5002])
    }

    @Test func deadListShowsReasonsNewestFirst() async throws {
        let f = try QueueFixture()
        let ids = try await dead(f, 2)
        let listed = try await f.admin.deadJobs(limit: 10)
        #expect(listed.map(\.id) == [ids[1], ids[0]])
        #expect(listed[0].reason == "reason 1" && listed[0].kind == "noop" && listed[0].attempts == 1)
    }
}
