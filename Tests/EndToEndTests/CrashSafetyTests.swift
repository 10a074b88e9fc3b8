import Foundation
import SpoolQueue
import SpoolRedis
import TestSupport
import Testing

/// Real worker processes killed in the middle of work. Every job must complete at least once.
@Suite(.serialized) struct CrashSafetyTests {
    @Test func aWorkerKilledMidRunLosesNoJob() async throws {
        let f = try QueueFixture()
        // 3,000 jobs of 20 ms on 20 slots: about three seconds of work, so the kill lands mid-run on any machine.
        let ids = try await f.seedPending(3_000, args: #"{"mark":true,"sleep_ms":20}"#)
        let first = try WorkerProcess(url: f.url, prefix: f.keys.prefix, concurrency: 20, lease: .seconds(2))
        try await waitUntil("the first worker is mid-run", timeout: .seconds(30)) {
            let processed = try await f.stats().processed
            return processed >= 500
        }
        first.kill9()
        let atKill = try await f.stats()
        #expect(atKill.processed < 3_000, "the worker finished everything before it was killed; the test proves nothing")
        // Jobs it held stay leased in `active` until their lease expires, then the next worker's recoverer hands them back.
        let second = try WorkerProcess(url: f.url, prefix: f.keys.prefix, concurrency: 20, lease: .seconds(2))
        try await second.waitUntilRunning(f)
        try await waitUntil("every job completes", timeout: .seconds(60)) { try await f.stats().processed >= 3_000 }
        #expect(second.terminate() == 0)
        let runs = try await f.runCounts()
        let completed = try await f.zsetScores(f.keys.completed("default"))
        #expect(ids.allSatisfy { completed[$0] != nil })
        #expect(ids.allSatisfy { (runs[$0] ?? 0) >= 1 })
        let final = try await f.stats()
        #expect(final.active == 0 && final.pending == 0 && final.dead == 0 && final.processed == 3_000)
        // Only jobs that were in flight at the kill can have run twice (at-least-once, bounded by the in-flight count).
        let twice = runs.values.filter { $0 > 1 }.count
        #expect(twice <= 40, "\(twice) jobs ran more than once; at most concurrency + prefetch (40) were in flight")
    }

    @Test func heartbeatsKeepALongJobFromBeingRecoveredAndRunTwice() async throws {
        let f = try QueueFixture()
        let id = try await f.enqueuer.enqueue(EnqueueRequest(kind: "noop", args: #"{"mark":true,"sleep_ms":6000}"#)).id
        // The job runs three leases long; beats come every lease/3.
        let worker = try WorkerProcess(url: f.url, prefix: f.keys.prefix, concurrency: 1, lease: .seconds(2))
        try await waitUntil("the long job completes", timeout: .seconds(30)) { try await f.state(id) == "completed" }
        #expect(worker.terminate() == 0)
        #expect(try await f.runCounts()[id] == 1)
        #expect(try await f.record(id)?.lastError == nil, "the lease expired and the job was recovered")
    }

    @Test func sigtermDrainsAndANewWorkerRunsTheRestExactlyOnce() async throws {
        let f = try QueueFixture()
        let ids = try await f.seedPending(400, args: #"{"mark":true,"sleep_ms":20}"#)
        let first = try WorkerProcess(url: f.url, prefix: f.keys.prefix, concurrency: 10)
        try await first.waitUntilRunning(f)
        try await waitUntil("the worker is mid-run", timeout: .seconds(30)) { try await f.stats().processed >= 50 }
        #expect(first.terminate() == 0, "worker log:\n\(first.log)")
        let afterStop = try await f.stats()
        #expect(afterStop.active == 0, "a clean stop leaves nothing leased")
        #expect(afterStop.processed + afterStop.pending == 400)
        #expect(first.log.contains("worker stopped"))
        let second = try WorkerProcess(url: f.url, prefix: f.keys.prefix, concurrency: 10)
        try await second.waitUntilRunning(f)
        try await waitUntil("every job completes", timeout: .seconds(30)) { try await f.stats().processed == 400 }
        #expect(second.terminate() == 0)
        let runs = try await f.runCounts()
        #expect(ids.allSatisfy { runs[$0] == 1 }, "counts: \(Dictionary(grouping: runs.values, by: { $0 }).mapValues(\.count))")
    }

    @Test func aWorkerSurvivesARedisRestartAndFinishes() async throws {
        let server = try RedisServer(persistent: true)
        let f = try QueueFixture(url: server.url)
        let ids = try await f.seedPending(2_000, args: #"{"mark":true,"sleep_ms":5}"#)  // about a second of work: the restart lands mid-run
        let worker = try WorkerProcess(url: f.url, prefix: f.keys.prefix, concurrency: 10, lease: .seconds(3))
        try await worker.waitUntilRunning(f)
        try await waitUntil("the worker is mid-run", timeout: .seconds(30)) { (try? await f.stats().processed) ?? 0 >= 200 }
        try server.restart()
        try await waitUntil("every job completes after the restart", timeout: .seconds(60)) {
            (try? await f.stats().processed) ?? 0 >= 2_000
        }
        #expect(worker.terminate() == 0)
        let runs = try await f.runCounts()
        #expect(ids.allSatisfy { (runs[$0] ?? 0) >= 1 })
        // The outage is logged once when it starts, not once per job.
        let lost = worker.log.components(separatedBy: "redis connection lost").count - 1
        #expect(lost >= 1 && lost <= 3 * 6, "logged \(lost) times:\n\(worker.log.suffix(3000))")
        #expect(worker.log.contains("redis connection restored"))
    }
}
