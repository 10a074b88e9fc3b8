import Foundation
import SpoolJobs
import SpoolRedis
import SpoolSupport
import TestSupport
import Testing

@testable import SpoolQueue

/// The process registry behind the Workers page: what a heartbeat writes, and when a process drops out.
@Suite struct WorkerRegistryTests {
    @Test func aRunningWorkerShowsTheJobItsSlotRunsAndLeavesWhenItStops() async throws {
        var f = try QueueFixture()
        f.settings.lease = .seconds(6)  // a beat every 2 s
        f.settings.shutdownGrace = .milliseconds(100)
        let id = try await f.enqueuer.enqueue(EnqueueRequest(kind: "noop", args: #"{"sleep_ms":30000}"#, tenant: "acme")).id
        let worker = RunningWorker(f, handlers: [NoopHandler()], concurrency: 3)
        try await waitUntil("the worker reports the job running", timeout: .seconds(20)) {
            try await f.admin.workerProcesses().first?.busy.contains { $0.jobID == id } == true
        }
        let process = try #require(try await f.admin.workerProcesses().first)
        #expect(process.id == worker.service.workerID && process.host == worker.service.host)
        #expect(process.pid == Int(ProcessInfo.processInfo.processIdentifier))
        #expect(process.queues == ["default"] && process.concurrency == 3 && process.leased == 1 && process.beatIntervalMs == 2000)
        let slot = try #require(process.busy.first)
        #expect(process.busy.count == 1 && slot.kind == "noop" && slot.queue == "default" && slot.tenant == "acme")
        let started = try #require(process.startedAt)
        #expect(started <= slot.startedAt + 1 && slot.startedAt <= process.lastBeat)
        try await worker.stop()
        // A worker that stops leaves the registry at once.
        #expect(try await f.admin.workerProcesses().isEmpty)
        #expect(try await f.redis.run("EXISTS", f.keys.worker(process.id)).int == 0)
    }

    /// A process killed, or cut off from Redis, never leaves: it drops out three beat intervals after
    /// its last beat, judged by the admin's clock, and its entry is deleted.
    @Test func aProcessThatStopsBeatingDropsOutAfterThreeIntervals() async throws {
        let f = try QueueFixture()
        let clock = SteppedClock()
        let workerID = "host-a:42:x1"
        let heartbeat = Heartbeat(
            // A long lease: the worker's hash also expires in Redis (PEXPIRE, twice the lease, on Redis's
            // own clock), which must not happen while a busy machine runs this test.
            redis: f.redis, keys: f.keys, clock: clock, lease: .seconds(300), workerID: workerID,
            info: ["host": "host-a", "pid": "42", "queues": "default,sms", "concurrency": "2", "started_at": String(clock.nowMillis())],
            slots: 2)
        let running = Job(
            id: "01JRUNNING0000000000000000", queue: "sms", kind: "send", args: "{}", attempt: 0, maxAttempts: 3, enqueuedAt: 0,
            tenant: nil, leaseToken: "t")
        try await heartbeat.beat([], running: [(job: running, elapsed: .seconds(2))])
        let admin = QueueAdmin(redis: f.redis, keys: f.keys, declaredQueues: ["default"], completedTTL: .seconds(600), clock: clock)
        let seen = try await admin.workerProcesses()
        #expect(seen.map(\.id) == [workerID])
        let process = try #require(seen.first)
        #expect(process.host == "host-a" && process.pid == 42 && process.queues == ["default", "sms"] && process.beatIntervalMs == 100_000)
        #expect(
            process.busy == [
                WorkerProcess.BusySlot(jobID: running.id, kind: "send", queue: "sms", tenant: nil, startedAt: clock.nowMillis() - 2000)
            ])
        clock.advance(by: 300_000)  // three intervals of 100 s: still counts
        #expect(try await admin.workerProcesses().count == 1)
        clock.advance(by: 1)
        #expect(try await admin.workerProcesses().isEmpty)
        #expect(try await f.redis.run("ZSCORE", f.keys.workers, workerID).string == nil)
        #expect(try await f.redis.run("EXISTS", f.keys.worker(workerID)).int == 0)
    }
}
