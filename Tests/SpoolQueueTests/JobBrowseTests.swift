import SpoolRedis
import SpoolSupport
import TestSupport
import Testing

@testable import SpoolQueue

/// `QueueAdmin.jobs`: pages of jobs by state, by cursor, filtered while paging.
@Suite struct JobBrowseTests {
    static let rare = JobKindSpec(kind: "rare", queue: "default", arguments: QueueFixture.noop.arguments)
    static let urgent = JobKindSpec(kind: "urgent", queue: "critical", arguments: QueueFixture.noop.arguments)

    /// Every page of `state` from the start, following `next`; fails past `maxPages`.
    func allPages(
        _ f: QueueFixture, _ state: JobState, queue: String? = nil, kind: String? = nil, tenant: String? = nil, limit: Int,
        maxPages: Int = 100
    ) async throws -> [JobPage] {
        var pages: [JobPage] = []
        var cursor: JobCursor?
        repeat {
            let page = try await f.admin.jobs(state: state, queue: queue, kind: kind, tenant: tenant, limit: limit, after: cursor)
            pages.append(page)
            // The cursor survives the trip through a link.
            if let next = page.next { #expect(JobCursor(text: next.text) == next) }
            cursor = page.next
        } while cursor != nil && pages.count < maxPages
        #expect(cursor == nil, "still paging after \(maxPages) pages")
        return pages
    }

    /// Leases every pending job of `queue` with token "w.1".
    func leaseAll(_ f: QueueFixture, queue: String = "default") async throws {
        _ = try await f.redis.run(f.keys.fetchCall(queue, limit: 1000, deadline: SystemClock().nowMillis() + 600_000, token: "w.1"))
    }

    @Test func pagesThroughPendingJobsOnceEachInTheOrderTheyRun() async throws {
        let f = try QueueFixture()
        let ids = try await f.seedPending(250)
        let pages = try await allPages(f, .pending, limit: 100)
        #expect(pages.map(\.jobs.count) == [100, 100, 50])
        #expect(pages.flatMap(\.jobs).map(\.id) == ids)
        #expect(pages.flatMap(\.jobs).allSatisfy { $0.state == .pending && $0.kind == "noop" && $0.queue == "default" && $0.attempt == 0 })
        // Unfiltered, a page reads just its own jobs.
        #expect(pages.map(\.examined) == [100, 100, 50])
    }

    @Test func aKindFilterPagesOnWhenMatchesAreSparse() async throws {
        let f = try QueueFixture(kinds: [QueueFixture.noop, Self.rare])
        let results = try await f.enqueuer.enqueue(batch: (0..<400).map { EnqueueRequest(kind: $0 % 50 == 7 ? "rare" : "noop") })
        let ids = try results.map { try $0.get().id }
        let rare = ids.enumerated().filter { $0.offset % 50 == 7 }.map(\.element)
        let pages = try await allPages(f, .pending, kind: "rare", limit: 3)
        // A page reads at most ten times its limit, so most pages here are short; their cursors still move on.
        #expect(pages.allSatisfy { $0.examined <= 30 })
        #expect(pages.count >= 400 / 30)
        #expect(pages.flatMap(\.jobs).map(\.id) == rare)
        #expect(pages.flatMap(\.jobs).allSatisfy { $0.kind == "rare" })
    }

    /// Between two pages, fetch takes jobs from the lane's oldest end and new jobs arrive at the other:
    /// the next page goes on after the last job shown, and when that job was fetched (with every older
    /// one), from the oldest job left.
    @Test func aLaneThatMovedBetweenPagesIsFollowed() async throws {
        let f = try QueueFixture()
        let ids = try await f.seedPending(50)
        let deadline = SystemClock().nowMillis() + 600_000
        let first = try await f.admin.jobs(state: .pending, limit: 10)
        #expect(first.jobs.map(\.id) == Array(ids[0..<10]))
        _ = try await f.redis.run(f.keys.fetchCall("default", limit: 5, deadline: deadline, token: "w.1"))
        try await f.seedPending(7)
        let second = try await f.admin.jobs(state: .pending, limit: 10, after: first.next)
        #expect(second.jobs.map(\.id) == Array(ids[10..<20]))
        _ = try await f.redis.run(f.keys.fetchCall("default", limit: 15, deadline: deadline, token: "w.1"))
        let third = try await f.admin.jobs(state: .pending, limit: 10, after: second.next)
        #expect(third.jobs.map(\.id) == Array(ids[20..<30]))
    }

    @Test func pendingLanesAreReadTenantByTenantAndParkedOnesApart() async throws {
        let f = try QueueFixture()
        func seed(_ count: Int, tenant: String?) async throws -> [String] {
            try await f.enqueuer.enqueue(batch: Array(repeating: EnqueueRequest(kind: "noop", tenant: tenant), count: count)).map {
                try $0.get().id
            }
        }
        let zeta = try await seed(2, tenant: "zeta")
        let plain = try await seed(3, tenant: nil)
        let acme = try await seed(2, tenant: "acme")
        let pages = try await allPages(f, .pending, limit: 2)
        // Lanes in name order: the jobs without a tenant first.
        #expect(pages.flatMap(\.jobs).map(\.id) == plain + acme + zeta)
        #expect(pages.flatMap(\.jobs).map(\.tenant) == [nil, nil, nil, "acme", "acme", "zeta", "zeta"])
        // A tenant's page reads its lane only.
        let own = try await f.admin.jobs(state: .pending, tenant: "zeta", limit: 10)
        #expect(own.jobs.map(\.id) == zeta && own.examined == 2 && own.next == nil)
        // Parked as fetch parks a paused tenant's lane: out of the ring, into the parked set.
        _ = try await f.redis.pipeline([
            RedisCommand("LREM", f.keys.lanes("default"), "0", "zeta"), RedisCommand("SADD", f.keys.parkedTenants("default"), "zeta"),
        ])
        #expect(try await f.admin.jobs(state: .pending, limit: 10).jobs.map(\.id) == plain + acme)
        let parked = try await f.admin.jobs(state: .parked, limit: 10)
        #expect(parked.jobs.map(\.id) == zeta && parked.jobs.allSatisfy { $0.state == .parked })
        #expect(try await f.admin.jobs(state: .parked, tenant: "acme", limit: 10).jobs.isEmpty)
    }

    @Test func scheduledJobsPageSoonestFirstThroughTies() async throws {
        let f = try QueueFixture()
        let base = SystemClock().nowMillis() + 3_600_000
        // Groups of four jobs due at the same millisecond: the id orders them.
        let requests = (0..<25).map { EnqueueRequest(kind: "noop", runAt: base + Int64($0 / 4) * 1000) }
        let ids = try await f.enqueuer.enqueue(batch: requests).map { try $0.get().id }
        let due = Dictionary(uniqueKeysWithValues: zip(ids, requests.map { $0.runAt! }))
        let expected = ids.sorted { (due[$0]!, $0) < (due[$1]!, $1) }
        let pages = try await allPages(f, .scheduled, limit: 6)
        let jobs = pages.flatMap(\.jobs)
        #expect(jobs.map(\.id) == expected)
        #expect(jobs.allSatisfy { $0.state == .scheduled && $0.runAt == due[$0.id] })
        #expect(pages.map(\.jobs.count) == [6, 6, 6, 6, 1])
    }

    @Test func deadJobsPageNewestFirstAcrossQueues() async throws {
        let f = try QueueFixture(kinds: [QueueFixture.noop, Self.urgent])
        let plain = try await f.seedPending(6)
        let urgent = try await f.seedPending(4, kind: "urgent")
        try await leaseAll(f)
        try await leaseAll(f, queue: "critical")
        var diedAt: [String: Int64] = [:]
        for (index, id) in plain.enumerated() {
            diedAt[id] = Int64(2000 + index * 2)
            _ = try await f.redis.run(f.keys.killCall("default", id: id, token: "w.1", now: diedAt[id]!, reason: "r"))
        }
        for (index, id) in urgent.enumerated() {
            diedAt[id] = Int64(2001 + index * 2)
            _ = try await f.redis.run(f.keys.killCall("critical", id: id, token: "w.1", now: diedAt[id]!, reason: "r"))
        }
        let expected = (plain + urgent).sorted { diedAt[$0]! > diedAt[$1]! }
        let pages = try await allPages(f, .dead, limit: 3)
        let jobs = pages.flatMap(\.jobs)
        #expect(jobs.map(\.id) == expected)
        #expect(jobs.allSatisfy { $0.finishedAt == diedAt[$0.id] && $0.deadReason == "r" && $0.attempt == 1 })
        #expect(Set(jobs.map(\.queue)) == ["default", "critical"])
        // One queue, and one kind.
        #expect(try await allPages(f, .dead, queue: "critical", limit: 3).flatMap(\.jobs).map(\.id) == Array(urgent.reversed()))
        #expect(try await allPages(f, .dead, kind: "noop", limit: 2).flatMap(\.jobs).map(\.id) == Array(plain.reversed()))
    }

    /// More jobs died in one millisecond than a page reads: the cursor's id carries the pages through.
    @Test func deadJobsOfOneMillisecondPageByID() async throws {
        let f = try QueueFixture()
        let ids = try await f.seedPending(30)
        try await leaseAll(f)
        for id in ids { _ = try await f.redis.run(f.keys.killCall("default", id: id, token: "w.1", now: 5000, reason: "r")) }
        let pages = try await allPages(f, .dead, limit: 7)
        #expect(pages.flatMap(\.jobs).map(\.id) == ids.sorted(by: >))
        #expect(pages.map(\.jobs.count) == [7, 7, 7, 7, 2])
    }

    @Test func activeAndCompletedJobsAreListedFromTheirSets() async throws {
        let f = try QueueFixture()
        let ids = try await f.seedPending(4)
        let deadline = SystemClock().nowMillis() + 600_000
        _ = try await f.redis.run(f.keys.fetchCall("default", limit: 4, deadline: deadline, token: "w.1"))
        let active = try await f.admin.jobs(state: .active, limit: 10)
        #expect(Set(active.jobs.map(\.id)) == Set(ids) && active.jobs.allSatisfy { $0.state == .active && $0.leaseDeadline == deadline })
        _ = try await f.redis.run(f.keys.ackCall("default", now: 7000, keep: true, jobs: [(ids[0], "w.1", ""), (ids[1], "w.1", "")]))
        let completed = try await f.admin.jobs(state: .completed, limit: 10)
        #expect(completed.jobs.map(\.id) == [ids[0], ids[1]].sorted(by: >))
        // ack.lua leaves the hash alone: the completed set stands for the finish and its attempt.
        #expect(completed.jobs.allSatisfy { $0.finishedAt == 7000 && $0.attempt == 1 && $0.state == .completed })
    }

    @Test func refusesWhatItCannotPage() async throws {
        let f = try QueueFixture()
        try await f.seedPending(3)
        let pending = try #require(try await f.admin.jobs(state: .pending, limit: 1).next)
        let wrongState = await #expect(throws: JobBrowseError.self) { try await f.admin.jobs(state: .dead, after: pending) }
        #expect(wrongState?.field == "after")
        let limit = await #expect(throws: JobBrowseError.self) { try await f.admin.jobs(state: .pending, limit: 0) }
        #expect(limit?.field == "limit" && limit?.message == "expected 1 to 1000, got 0")
        let state = await #expect(throws: JobBrowseError.self) { try await f.admin.jobs(state: .cancelled) }
        #expect(state?.field == "state")
        let queue = await #expect(throws: JobBrowseError.self) { try await f.admin.jobs(state: .pending, queue: "No Such") }
        #expect(queue?.field == "queue")
        #expect(JobCursor(text: "dead.soon.01J") == nil && JobCursor(text: "pending.default.zz.1.01J") == nil)
        #expect(JobCursor(text: "frozen.1.01J") == nil && JobCursor(text: "pending.default..0.") != nil)
    }
}
