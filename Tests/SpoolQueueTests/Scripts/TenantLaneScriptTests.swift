import SpoolRedis
import TestSupport
import Testing

@testable import SpoolQueue

@Suite struct TenantLaneScriptTests {
    private func seed(_ f: QueueFixture, tenants: [String]) async throws -> [String] {
        var ids: [String] = []
        for tenant in tenants { ids.append(try await f.enqueuer.enqueue(EnqueueRequest(kind: "noop", tenant: tenant)).id) }
        return ids
    }

    @Test func fetchParksAPausedTenantsJobsAndLeasesTheRest() async throws {
        let f = try QueueFixture()
        let ids = try await seed(f, tenants: ["a", "b", "a", "b"])
        let reply = try await f.redis.run(f.keys.fetchCall("default", limit: 10, deadline: 99_000, token: "w.1", pausedTenants: ["a"]))
        let leased = stride(from: 0, to: reply.array!.count, by: 7).map { reply.array![$0].string! }
        #expect(leased == [ids[1], ids[3]])
        // The lane stays where it is, newest on the left, and leaves the ring.
        #expect(try await f.listItems(f.keys.lane("default", tenant: "a")) == [ids[2], ids[0]])
        #expect(try await f.listItems(f.keys.lanes("default")).isEmpty)
        #expect(try await f.redis.run("SMEMBERS", f.keys.parkedTenants("default")).array?.compactMap(\.string) == ["a"])
        #expect(try await f.admin.job(ids[0])?.state == .parked)
        #expect(try await f.zsetScores(f.keys.active("default")).count == 2)
        #expect(try await f.admin.parkedCount(queue: "default") == 2)
    }

    @Test func resumingHandsParkedJobsBackOldestFirstAheadOfNewerWork() async throws {
        let f = try QueueFixture()
        let parked = try await seed(f, tenants: ["a", "a", "a"])
        try await f.admin.pauseTenant("a")
        _ = try await f.redis.run(f.keys.fetchCall("default", limit: 10, deadline: 99_000, token: "w.1", pausedTenants: ["a"]))
        let newer = try await seed(f, tenants: ["b"])
        #expect(try await f.admin.resumeTenant("a") == 3)
        #expect(try await f.admin.pausedTenants().isEmpty)
        let reply = try await f.redis.run(f.keys.fetchCall("default", limit: 10, deadline: 99_000, token: "w.2"))
        let order = stride(from: 0, to: reply.array!.count, by: 7).map { reply.array![$0].string! }
        #expect(order == parked + newer)
        #expect(try await f.redis.run("EXISTS", f.keys.parkedTenants("default")) == .integer(0))
    }

    @Test func theSchedulerSweepUnparksTenantsNoLongerPaused() async throws {
        let f = try QueueFixture()
        let ids = try await seed(f, tenants: ["a", "c"])
        _ = try await f.redis.run(f.keys.fetchCall("default", limit: 10, deadline: 99_000, token: "w.1", pausedTenants: ["a", "c"]))
        try await f.admin.pauseTenant("c")  // "a" was resumed between the worker's read and the fetch
        #expect(try await TenantParking.unparkResumed(redis: f.redis, keys: f.keys, queues: ["default"]) == 1)
        #expect(try await f.listItems(f.keys.lanes("default")) == ["a"])
        #expect(try await f.listItems(f.keys.lane("default", tenant: "a")) == [ids[0]])
        #expect(try await f.admin.parkedCount(queue: "default") == 1)
    }

    @Test func aParkedJobCanBeCancelled() async throws {
        let f = try QueueFixture()
        let ids = try await seed(f, tenants: ["a", "a"])
        _ = try await f.redis.run(f.keys.fetchCall("default", limit: 10, deadline: 99_000, token: "w.1", pausedTenants: ["a"]))
        #expect(try await f.admin.cancel(ids[0]) == .cancelled)
        #expect(try await f.listItems(f.keys.lane("default", tenant: "a")) == [ids[1]])
        #expect(try await f.admin.job(ids[0])?.state == .cancelled)
    }

    @Test func fetchServesTenantsInTurnSoABigBacklogDoesNotHoldBackASmallOne() async throws {
        let f = try QueueFixture()
        let campaign = try await f.enqueuer.enqueue(batch: (0..<300).map { _ in EnqueueRequest(kind: "noop", tenant: "a") }).map {
            try $0.get().id
        }
        let single = try await seed(f, tenants: ["b"])
        let untenanted = try await f.enqueuer.enqueue(EnqueueRequest(kind: "noop")).id
        let reply = try await f.redis.run(f.keys.fetchCall("default", limit: 9, deadline: 99_000, token: "w.1"))
        let leased = stride(from: 0, to: reply.array!.count, by: 7).map { reply.array![$0].string! }
        // Three lanes, three each: tenant a's oldest, then b's and the untenanted job in the same batch.
        #expect(leased == Array(campaign.prefix(3)) + single + [untenanted])
        #expect(try await f.listItems(f.keys.lanes("default")) == ["a"])
        #expect(try await f.admin.stats().first?.pending == 297)
        let next = try await f.redis.run(f.keys.fetchCall("default", limit: 500, deadline: 99_000, token: "w.2"))
        #expect(next.array?.count == 297 * 7)
        #expect(try await f.redis.run("EXISTS", f.keys.lanes("default")) == .integer(0))
    }

    @Test func aRequeuedJobGoesBackToTheFrontOfItsLane() async throws {
        let f = try QueueFixture()
        let ids = try await seed(f, tenants: ["a", "a"])
        let reply = try await f.redis.run(f.keys.fetchCall("default", limit: 1, deadline: 99_000, token: "w.1"))
        #expect(reply.array?.first?.string == ids[0])
        #expect(try await f.redis.run(f.keys.requeueCall("default", id: ids[0], token: "w.1", tenant: "a")) == .integer(1))
        #expect(try await f.listItems(f.keys.lane("default", tenant: "a")) == [ids[1], ids[0]])
        #expect(try await f.listItems(f.keys.lanes("default")) == ["a"])
    }

    /// requeue.lua gets the job's lane as a KEY; a caller that names another tenant's lane gets an
    /// error before anything is written, so the job is still leased and in the active set, never lost
    /// between structures.
    @Test func aRequeueNamingAnotherTenantsLaneWritesNothing() async throws {
        let f = try QueueFixture()
        let ids = try await seed(f, tenants: ["a"])
        _ = try await f.redis.run(f.keys.fetchCall("default", limit: 1, deadline: 99_000, token: "w.1"))
        for tenant in ["b", nil] as [String?] {
            let reply = try await f.redis.run([f.keys.requeueCall("default", id: ids[0], token: "w.1", tenant: tenant)])[0]
            #expect(reply.errorMessage?.contains("belongs to tenant \"a\"") == true, "\(reply)")
        }
        #expect(try await f.zsetScores(f.keys.active("default")).keys.sorted() == [ids[0]])
        #expect(try await f.redis.run("HGET", f.keys.leases("default"), ids[0]).string == "w.1")
        #expect(try await f.listItems(f.keys.lane("default", tenant: "b")).isEmpty)
        #expect(try await f.listItems(f.keys.pending("default")).isEmpty)
        #expect(try await f.redis.run(f.keys.requeueCall("default", id: ids[0], token: "w.1", tenant: "a")) == .integer(1))
        #expect(try await f.listItems(f.keys.lane("default", tenant: "a")) == [ids[0]])
    }

    /// unpark.lua gets the tenant's lane as a KEY: the call names every key it touches.
    @Test func unparkDeclaresTheTenantsLane() async throws {
        let f = try QueueFixture()
        let ids = try await seed(f, tenants: ["a", "a"])
        _ = try await f.redis.run(f.keys.fetchCall("default", limit: 10, deadline: 99_000, token: "w.1", pausedTenants: ["a"]))
        let call = f.keys.unparkCall("default", tenant: "a")
        #expect(call.keys == [f.keys.lane("default", tenant: "a"), f.keys.lanes("default"), f.keys.parkedTenants("default")])
        #expect(try await f.redis.run(call) == .integer(2))
        #expect(try await f.listItems(f.keys.lanes("default")) == ["a"])
        #expect(try await f.listItems(f.keys.lane("default", tenant: "a")) == [ids[1], ids[0]])
        #expect(try await f.redis.run("SCARD", f.keys.parkedTenants("default")) == .integer(0))
    }
}
