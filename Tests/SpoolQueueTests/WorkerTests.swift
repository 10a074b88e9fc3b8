import SpoolJobs
import SpoolRedis
import SpoolSupport
import TestSupport
import Testing

@testable import SpoolQueue

/// A real WorkerService against real Redis, with the noop kind steered by its args.
@Suite struct WorkerTests {
    @Test func runsJobsToCompletion() async throws {
        let f = try QueueFixture()
        let ids = try await f.seedPending(200, args: #"{"mark":true}"#)
        let worker = RunningWorker(f, handlers: [NoopHandler()], concurrency: 8)
        try await waitUntil("200 jobs processed", timeout: .seconds(60)) { try await f.stats().processed == 200 }
        try await worker.stop()
        let runs = try await f.runCounts()
        #expect(ids.allSatisfy { runs[$0] == 1 })
        #expect(try await f.state(ids[0]) == "completed")
        let stats = try await f.stats()
        #expect(stats.pending == 0 && stats.active == 0 && stats.failed == 0)
    }

    @Test func aRetriedJobGoesDeadAfterItsMaxAttemptsWithTheReason() async throws {
        let f = try QueueFixture()  // noop: 3 attempts, 20 ms constant backoff
        let id = try await f.enqueuer.enqueue(EnqueueRequest(kind: "noop", args: #"{"fail":"retry","mark":true}"#)).id
        let worker = RunningWorker(f, handlers: [NoopHandler()])
        try await waitUntil("the job is dead") { try await f.fields(id)["state"] == "dead" }
        try await worker.stop()
        try await f.assertDead(id, reason: "attempts exhausted (3/3): noop asked to fail (attempt 3)")
        #expect(try await f.runCounts()[id] == 3)
        #expect(try await f.fields(id)["attempt"] == "3")
    }

    @Test func aJobThatFailsThenPassesCompletes() async throws {
        let f = try QueueFixture()
        let id = try await f.enqueuer.enqueue(EnqueueRequest(kind: "noop", args: #"{"fail":"retry","fail_times":2}"#)).id
        let worker = RunningWorker(f, handlers: [NoopHandler()])
        try await waitUntil("the job completes") { try await f.state(id) == "completed" }
        try await worker.stop()
        let job = try await f.record(id)
        #expect(job?.attempt == 3 && job?.lastError == "noop asked to fail (attempt 2)")
    }

    @Test func aPermanentErrorGoesStraightToDead() async throws {
        let f = try QueueFixture()
        let id = try await f.enqueuer.enqueue(EnqueueRequest(kind: "noop", args: #"{"fail":"permanent"}"#)).id
        let worker = RunningWorker(f, handlers: [NoopHandler()])
        try await waitUntil("the job is dead") { try await f.fields(id)["state"] == "dead" }
        try await worker.stop()
        try await f.assertDead(id, reason: "permanent error: noop asked to fail permanently")
        #expect(try await f.fields(id)["attempt"] == "1")
    }

    @Test func aSnoozeUsesNoAttempt() async throws {
        let f = try QueueFixture()
        let id = try await f.enqueuer.enqueue(EnqueueRequest(kind: "noop", args: #"{"fail":"snooze","fail_times":1}"#)).id
        let worker = RunningWorker(f, handlers: [NoopHandler()])
        try await waitUntil("the job completes") { try await f.state(id) == "completed" }
        try await worker.stop()
        let job = try await f.record(id)
        #expect(job?.snoozes == 1)
        // attempt 0 at the snooze stayed 0, so the run after it is the first attempt.
        #expect(job?.attempt == 1)
    }

    @Test func malformedPayloadsGoDeadAndTheWorkerStaysAlive() async throws {
        let f = try QueueFixture(kinds: [QueueFixture.noop, JobKindSpec(kind: "ghost")])
        // Bypass the Enqueuer, as a buggy producer or a hand edit would.
        let badArgs = JobID.make(), noHash = JobID.make(), unknown = JobID.make(), notObject = JobID.make()
        try await f.redis.run(
            RedisCommand(
                "HSET",
                [
                    f.keys.job("default", badArgs), "kind", "noop", "args", #"{"sleep_ms":"x"}"#, "attempt", "0", "max_attempts", "3",
                    "state", "pending",
                ]))
        try await f.redis.run(
            RedisCommand(
                "HSET",
                [f.keys.job("default", unknown), "kind", "teleport", "args", "{}", "attempt", "0", "max_attempts", "3", "state", "pending"])
        )
        try await f.redis.run(
            RedisCommand(
                "HSET",
                [f.keys.job("default", notObject), "kind", "noop", "args", "}{", "attempt", "0", "max_attempts", "3", "state", "pending"]))
        try await f.pushRawPending([badArgs, noHash, unknown, notObject])
        let good = try await f.seedPending(5)
        // "ghost" is declared but this worker has no handler for it.
        let ghost = try await f.enqueuer.enqueue(EnqueueRequest(kind: "ghost")).id
        let worker = RunningWorker(f, handlers: [NoopHandler()])
        try await waitUntil("the good jobs complete and the bad ones are dead") {
            let stats = try await f.stats()
            return stats.processed == 5 && stats.dead == 5
        }
        try await f.assertDead(badArgs, reason: "malformed args")
        try await f.assertDead(notObject, reason: "malformed args")
        try await f.assertDead(noHash, reason: "malformed job: its data is missing")
        try await f.assertDead(unknown, reason: "unknown kind 'teleport'")
        try await f.assertDead(ghost, reason: "unknown kind 'ghost'")
        // Still alive: new work is picked up.
        let later = try await f.seedPending(1)[0]
        try await waitUntil("a later job completes") { try await f.state(later) == "completed" }
        try await worker.stop()
        #expect(good.count == 5)
    }

    @Test func aDelayedJobRunsOnTimeNotBefore() async throws {
        let f = try QueueFixture()
        // The worker's clock moves only when told to: "on time" is judged on it, not on a busy machine's.
        // Due ten minutes ahead: the enqueue, on the real clock, schedules it however busy the machine is.
        let clock = SteppedClock()
        let runAt = clock.nowMillis() + 600_000
        let id = try await f.enqueuer.enqueue(EnqueueRequest(kind: "noop", args: #"{"notify":true}"#, runAt: runAt)).id
        let worker = RunningWorker(f, handlers: [NoopHandler()], clock: clock)
        // A millisecond early, a job due now runs, and the delayed one is still scheduled.
        clock.advance(by: 599_999)
        let probe = try await f.enqueuer.enqueue(EnqueueRequest(kind: "noop")).id
        try await waitUntil("a job due now runs") { try await f.state(probe) == "completed" }
        #expect(try await f.state(id) == "scheduled")
        clock.advance(by: 1)
        // The handler pushes "<id> <unix ms>" when it starts: the worker's own account of when the job ran.
        let listener = RedisClient(url: f.url, name: "listen", logger: TestEnvironment.logger)
        defer { listener.close() }
        let reply = try await listener.run("BLPOP", "\(f.keys.prefix):noop:notify", "30")
        try await worker.stop()
        let parts = reply.array?.last?.string?.split(separator: " ") ?? []
        #expect(parts.first.map(String.init) == id)
        #expect(Int64(parts.last ?? "0") == runAt, "ran at \(parts.last ?? "?"), due at \(runAt)")
    }

    @Test func pauseHoldsJobsAndResumeReleasesThem() async throws {
        let other = JobKindSpec(kind: "other", queue: "other")
        let f = try QueueFixture(kinds: [QueueFixture.noop, other])
        struct Other: JobHandler {
            let kind = "other"
            func perform(_ job: Job, context: JobContext) async throws -> JobOutcome { .completed }
        }
        try await f.admin.pause(queue: "default")
        let worker = RunningWorker(f, handlers: [NoopHandler(), Other()])
        try await f.seedPending(20)
        // Work on another queue completing proves the worker is fetching; the paused queue must be untouched.
        for _ in 0..<5 {
            let probe = try await f.enqueuer.enqueue(EnqueueRequest(kind: "other")).id
            try await waitUntil("a job on an unpaused queue completes") { try await f.state(probe) == "completed" }
        }
        let held = try await f.stats()
        #expect(held.pending == 20 && held.processed == 0 && held.paused)
        try await f.admin.resume(queue: "default")
        try await waitUntil("jobs run after resume") { try await f.stats().processed == 20 }
        try await worker.stop()
    }

    @Test func aJobOverItsTimeoutIsRetriedAndTheSlotReplaced() async throws {
        let slow = JobKindSpec(
            kind: "noop", queue: "default", timeout: .milliseconds(200), maxAttempts: 2, backoff: .constant(.milliseconds(10)),
            arguments: QueueFixture.noop.arguments)
        let f = try QueueFixture(kinds: [slow])
        let id = try await f.enqueuer.enqueue(EnqueueRequest(kind: "noop", args: #"{"sleep_ms":5000}"#)).id
        let worker = RunningWorker(f, handlers: [NoopHandler()], concurrency: 1)
        try await waitUntil("the job dies of timeouts") { try await f.fields(id)["state"] == "dead" }
        try await f.assertDead(id, reason: "attempts exhausted (2/2): timed out after 0.2s")
        // The only slot was replaced: the worker still runs new jobs.
        let next = try await f.seedPending(1)[0]
        try await waitUntil("a job after the timeouts completes") { try await f.state(next) == "completed" }
        try await worker.stop()
    }

    @Test func gracefulShutdownLosesNothingAndRunsNothingTwice() async throws {
        var f = try QueueFixture()
        f.settings.shutdownGrace = .seconds(10)
        let ids = try await f.seedPending(60, args: #"{"mark":true,"sleep_ms":100}"#)
        let first = RunningWorker(f, handlers: [NoopHandler()], concurrency: 5)
        try await waitUntil("some jobs finished") { try await f.stats().processed >= 10 }
        try await first.stop()
        // Stopped cleanly: nothing is left active or leased; unfinished jobs are back in pending.
        let afterStop = try await f.stats()
        #expect(afterStop.active == 0)
        #expect(afterStop.processed + afterStop.pending == 60)
        let second = RunningWorker(f, handlers: [NoopHandler()], concurrency: 5)
        try await waitUntil("all jobs finished") { try await f.stats().processed == 60 }
        try await second.stop()
        let runs = try await f.runCounts()
        #expect(ids.allSatisfy { runs[$0] == 1 }, "runs: \(runs.values.sorted())")
    }

    @Test func stoppingDoesNotWaitOutTheHeartbeatInterval() async throws {
        var f = try QueueFixture()
        f.settings.lease = .seconds(30)  // heartbeat every 10 s
        let worker = RunningWorker(f, handlers: [NoopHandler()])
        try await waitUntil("the worker is up") { try await !f.admin.workers().isEmpty }
        let stopped = Latch()
        Task {
            try await worker.stop(); stopped.fire()
        }
        // The watchers' blocking wait takes up to a second to return; nothing should take longer.
        try await waitUntil("the worker stops", timeout: .seconds(5)) { stopped.isFired }
    }

    @Test func shutdownPastTheGracePeriodHandsRunningJobsBack() async throws {
        var f = try QueueFixture()
        f.settings.shutdownGrace = .milliseconds(100)
        let id = try await f.enqueuer.enqueue(EnqueueRequest(kind: "noop", args: #"{"sleep_ms":3000}"#)).id
        let worker = RunningWorker(f, handlers: [NoopHandler()], concurrency: 1)
        try await waitUntil("the job is running") { try await f.admin.job(id)?.state == .active }
        try await worker.stop()
        let job = try await f.fields(id)
        #expect(job["state"] == "pending" && (job["attempt"] ?? "0") == "0")
        #expect(try await f.admin.job(id)?.state == .pending)
        #expect(try await f.listItems(f.keys.pending("default")) == [id])
    }

    @Test func heavierQueuesComeFirstInStrictOrder() async throws {
        let urgent = JobKindSpec(kind: "urgent", queue: "critical", arguments: QueueFixture.noop.arguments)
        var f = try QueueFixture(kinds: [QueueFixture.noop, urgent])
        f.settings.queueOrder = .strict
        f.settings.queueWeights = ["critical": 10, "default": 1]
        try await f.seedPending(50, args: #"{"mark":true}"#)
        try await f.seedPending(50, kind: "urgent", args: #"{"mark":true}"#)
        struct Urgent: JobHandler {
            let kind = "urgent"
            func perform(_ job: Job, context: JobContext) async throws -> JobOutcome {
                try await context.redis.run("RPUSH", "\(context.keys.prefix):order", "critical")
                return .completed
            }
        }
        struct Ordinary: JobHandler {
            let kind = "noop"
            func perform(_ job: Job, context: JobContext) async throws -> JobOutcome {
                try await context.redis.run("RPUSH", "\(context.keys.prefix):order", "default")
                return .completed
            }
        }
        let worker = RunningWorker(f, handlers: [Urgent(), Ordinary()], concurrency: 1)
        try await waitUntil("all 100 ran", timeout: .seconds(60)) { try await f.redis.run("LLEN", "\(f.keys.prefix):order").int == 100 }
        try await worker.stop()
        let order = try await f.listItems("\(f.keys.prefix):order")
        #expect(order.prefix(50).allSatisfy { $0 == "critical" })
    }
}
