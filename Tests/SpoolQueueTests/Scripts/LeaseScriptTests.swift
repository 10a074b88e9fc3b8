import SpoolRedis
import TestSupport
import Testing

@testable import SpoolQueue

/// extend.lua and recover.lua: leases kept alive by heartbeats, and taken back when they expire.
@Suite struct LeaseScriptTests {
    func lease(_ f: QueueFixture, _ count: Int, deadline: Int64, token: String = "w.1") async throws -> [String] {
        let ids = try await f.seedPending(count)
        _ = try await f.redis.run(f.keys.fetchCall("default", limit: count, deadline: deadline, token: token))
        return ids
    }

    @Test func extendMovesOnlyLeasesStillHeld() async throws {
        let f = try QueueFixture()
        let ids = try await lease(f, 2, deadline: 5000)
        let reply = try await f.redis.run(f.keys.extendCall("default", deadline: 9000, leases: [(ids[0], "w.1"), (ids[1], "stolen")]))
        #expect(reply.int == 1)
        #expect(try await f.zsetScores(f.keys.active("default")) == [ids[0]: 9000, ids[1]: 5000])
    }

    @Test func recoverRequeuesExpiredLeasesAndKillsTheLastAttempt() async throws {
        let f = try QueueFixture()
        let ids = try await lease(f, 3, deadline: 5000)
        try await f.redis.run("HSET", f.keys.job("default", ids[2]), "attempt", "2")  // max_attempts is 3
        let fresh = try await lease(f, 1, deadline: 99_000)
        let reply = try await f.redis.run(f.keys.recoverCall("default", now: 6000, limit: 100))
        #expect(reply == .array([.integer(2), .integer(1)]))
        #expect(try await f.zsetScores(f.keys.active("default")) == [fresh[0]: 99_000])
        #expect(Set(try await f.listItems(f.keys.pending("default"))) == [ids[0], ids[1]])
        let requeued = try await f.fields(ids[0])
        #expect(requeued["state"] == "pending" && requeued["attempt"] == "1")
        #expect(try await f.redis.run("HKEYS", f.keys.leases("default")).array?.compactMap(\.string) == [fresh[0]])
        #expect(requeued["last_error"]?.contains("lease expired") == true)
        try await f.assertDead(ids[2], reason: "attempts exhausted (3/3): lease expired")
    }

    @Test func recoverSendsAJobWhoseDataIsGoneToDeadWithAReason() async throws {
        let f = try QueueFixture()
        let ids = try await lease(f, 1, deadline: 5000)
        try await f.redis.run("DEL", f.keys.job("default", ids[0]))
        #expect(try await f.redis.run(f.keys.recoverCall("default", now: 6000, limit: 100)) == .array([.integer(0), .integer(1)]))
        try await f.assertDead(ids[0], reason: "malformed job: its data is missing")
    }
}
