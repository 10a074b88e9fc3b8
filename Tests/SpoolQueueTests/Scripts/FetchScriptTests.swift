import SpoolRedis
import TestSupport
import Testing

@testable import SpoolQueue

@Suite struct FetchScriptTests {
    func fetch(_ f: QueueFixture, _ count: Int, now: Int64 = 1_000, token: String = "w1.1") async throws -> RedisReply {
        try await f.redis.run(f.keys.fetchCall("default", limit: count, deadline: now + 30_000, token: token))
    }

    @Test func movesOldestJobsToActiveWithALease() async throws {
        let f = try QueueFixture()
        let ids = try await f.seedPending(3, args: #"{"mark":true}"#)
        let reply = try await fetch(f, 2)
        let fields = reply.array!.map { $0.string }
        #expect(fields.count == 14)
        #expect(fields[0] == ids[0] && fields[7] == ids[1])
        #expect(fields[1] == "noop" && fields[2] == #"{"mark":true}"# && fields[3] == nil && fields[4] == "3")
        #expect(try await f.listItems(f.keys.pending("default")) == [ids[2]])
        #expect(try await f.zsetScores(f.keys.active("default")) == [ids[0]: 31_000, ids[1]: 31_000])
        #expect(try await f.admin.job(ids[0])?.state == .active)
        #expect(try await f.redis.run("HGETALL", f.keys.leases("default")).array?.count == 4)
        #expect(try await f.redis.run("HGET", f.keys.leases("default"), ids[1]).string == "w1.1")
    }

    @Test func anEmptyQueueGivesNothing() async throws {
        let f = try QueueFixture()
        #expect(try await fetch(f, 5) == .array([]))
    }

    @Test func aPausedQueueGivesNothingAndSaysSo() async throws {
        let f = try QueueFixture()
        try await f.seedPending(2)
        try await f.admin.pause(queue: "default")
        #expect(try await fetch(f, 5) == .integer(-1))
        #expect(try await f.listItems(f.keys.pending("default")).count == 2)
        try await f.admin.resume(queue: "default")
        #expect(try await fetch(f, 5).array?.count == 14)
    }

    @Test func anIdWhoseDataIsGoneIsStillLeasedSoItCanBeKilled() async throws {
        let f = try QueueFixture()
        try await f.pushRawPending(["01STRAYSTRAYSTRAYSTRAYSTRA"])
        let fields = try await fetch(f, 1).array!
        #expect(fields[0].string == "01STRAYSTRAYSTRAYSTRAYSTRA")
        #expect(fields[1] == .null)
        #expect(try await f.zsetScores(f.keys.active("default")).count == 1)
    }
}
