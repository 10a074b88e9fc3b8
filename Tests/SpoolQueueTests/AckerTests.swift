import SpoolRedis
import SpoolSupport
import TestSupport
import Testing

@testable import SpoolQueue

@Suite struct AckerTests {
    @Test func aBatchOfThousandsOfCompletionsLandsInChunks() async throws {
        let f = try QueueFixture()
        try await f.seedPending(5_000)
        var jobs: [Job] = []
        let fetcher = Fetcher(
            redis: f.redis, keys: f.keys, selection: QueueSelection(queues: ["default"], weights: [:], order: .strict),
            lease: .seconds(60), clock: SystemClock(), workerID: "w")
        while jobs.count < 5_000 { jobs += try await fetcher.fetch(limit: 5_000 - jobs.count) }
        let acker = Acker(
            redis: f.redis, keys: f.keys, catalog: f.catalog, clock: SystemClock(), completedTTL: .seconds(60),
            lease: .seconds(60), logger: TestEnvironment.logger)
        // All handed over before the loop runs: one batch of 5,000, beyond what one Lua unpack() takes.
        for job in jobs { acker.submit(job, .completed, duration: .milliseconds(1)) }
        let loop = Task { await acker.run() }
        await acker.flush()
        acker.stop()
        await loop.value
        let stats = try await f.stats()
        #expect(stats.processed == 5_000 && stats.active == 0)
        #expect(try await f.zsetScores(f.keys.completed("default")).count == 5_000)
    }

    @Test func theLeaseTableForgetsOnlyTheLeaseItWasGiven() {
        let table = LeaseTable()
        let first = Job(
            id: "a", queue: "q", kind: "noop", args: "{}", attempt: 0, maxAttempts: 3, enqueuedAt: 0, tenant: nil, leaseToken: "w.1")
        let again = Job(
            id: "a", queue: "q", kind: "noop", args: "{}", attempt: 1, maxAttempts: 3, enqueuedAt: 0, tenant: nil, leaseToken: "w.9")
        table.add([first])
        table.add([again])  // recovered and fetched anew while the first run was still going
        table.remove(first)  // the old run settles late
        #expect(table.all.map(\.leaseToken) == ["w.9"])
        table.remove(again)
        #expect(table.count == 0)
    }
}
