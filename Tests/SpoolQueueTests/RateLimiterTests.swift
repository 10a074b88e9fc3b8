import SpoolRedis
import SpoolSupport
import Synchronization
import TestSupport
import Testing

@testable import SpoolQueue

/// Records when each job of the `limited` kind started, and can answer like a throttling provider.
final class LimitedHandler: JobHandler {
    let kind = "limited"
    private let runs = Mutex<[(job: String, from: String, at: Int64)]>([])
    private let running = Mutex<(now: Int, most: Int)>((0, 0))
    private let answered = Mutex<Set<String>>([])
    let throttleFor: Duration

    init(throttleFor: Duration = .seconds(2)) { self.throttleFor = throttleFor }

    func perform(_ job: Job, context: JobContext) async throws -> JobOutcome {
        let args = try JobArguments(job)
        let from = try args.string("from") ?? "-"
        let now = context.clock.nowMillis()
        runs.withLock { $0.append((job.id, from, now)) }
        running.withLock {
            $0.now += 1; $0.most = max($0.most, $0.now)
        }
        defer { running.withLock { $0.now -= 1 } }
        if let ms = try args.int("sleep_ms") { try await Task.sleep(for: .milliseconds(ms)) }
        // The first run of a job asking for it answers like a provider; later runs succeed.
        if let outcome = try args.string("outcome"), answered.withLock({ $0.insert(job.id).inserted }) {
            switch outcome {
            case "throttle": return .throttled(until: now + throttleFor.milliseconds, reason: "429 Retry-After", limit: "sender:{from}")
            case "quota": return .quotaExhausted(reason: "insufficient_quota")
            default: break
            }
        }
        return .completed
    }

    func starts(from: String? = nil) -> [Int64] { runs.withLock { $0.filter { from == nil || $0.from == from }.map(\.at) } }
    func started(_ job: String) -> Int64? { runs.withLock { $0.first { $0.job == job }?.at } }
    var mostAtOnce: Int { running.withLock { $0.most } }
}


@Suite struct RateLimiterTests {
    static func kind(_ limits: [LimitDeclaration]) -> JobKindSpec {
        JobKindSpec(
            kind: "limited", queue: "default", timeout: .seconds(5), maxAttempts: 3, backoff: .constant(.milliseconds(20)),
            arguments: ArgumentSchema(fields: [
                "from": .init(type: .string, required: false), "sleep_ms": .init(type: .integer, required: false),
                "outcome": .init(type: .string, required: false),
            ]),
            limits: limits)
    }

    static func perSender(_ spec: LimitSpec) throws -> LimitDeclaration {
        LimitDeclaration(key: try LimitKeyTemplate("sender:{from}"), spec: spec)
    }

    private func enqueue(_ f: QueueFixture, _ senders: [String], args extra: String = "", tenant: String? = nil) async throws -> [String] {
        try await f.enqueuer.enqueue(
            batch: senders.map {
                EnqueueRequest(kind: "limited", args: #"{"from":"\#($0)"\#(extra)}"#, tenant: tenant)
            }
        ).map { try $0.get().id }
    }

    private func setLimit(_ f: QueueFixture, _ key: String, _ spec: LimitSpec) async throws {
        try await f.redis.run("HSET", f.keys.limitOverrides, key, spec.json.text)
    }

    @Test func aSlowSenderDoesNotHoldUpTheOthers() async throws {
        let f = try QueueFixture(kinds: [Self.kind([try Self.perSender(.rate(units: 1, period: .seconds(1), burst: 1))])])
        try await setLimit(f, "sender:fast", .rate(units: 1_000_000, period: .seconds(1), burst: 1_000))
        // 1,000 jobs for a sender allowed 1 per second, interleaved with 1,000 for an unlimited one.
        _ = try await enqueue(f, (0..<2_000).map { $0 % 2 == 0 ? "slow" : "fast" })
        let handler = LimitedHandler()
        let started = SystemClock().nowMillis()
        let worker = RunningWorker(f, handlers: [handler], concurrency: 8)
        try await waitUntil("the unlimited sender's 1,000 jobs", timeout: .seconds(60)) { handler.starts(from: "fast").count == 1_000 }
        let seconds = Double(SystemClock().nowMillis() - started) / 1000
        try await worker.stop()
        // The slow sender got its one per second and no more; the rest wait without costing anything.
        #expect(Double(handler.starts(from: "slow").count) <= seconds.rounded(.up) + 1)
        let waiting = try await f.redis.run("LLEN", f.keys.limited("default", limit: "sender:slow")).int ?? 0
        // A job the limiter had just handed back when the worker stopped is pending again (the fast
        // sender's jobs are all done, so any pending job is a slow one).
        let pending = try await f.pendingCount()
        #expect(pending <= 8)
        #expect(waiting + pending + handler.starts(from: "slow").count == 1_000)
        #expect(try await f.state(try await f.listItems(f.keys.limited("default", limit: "sender:slow")).first ?? "") == "limited")
    }

    @Test func refusedJobsRunAtTheLimitersPaceWithoutUsingAttempts() async throws {
        let f = try QueueFixture(kinds: [Self.kind([try Self.perSender(.rate(units: 5, period: .seconds(1), burst: 1))])])
        let ids = try await enqueue(f, Array(repeating: "s", count: 6))
        let handler = LimitedHandler()
        let worker = RunningWorker(f, handlers: [handler], concurrency: 4)
        try await waitUntil("all six ran") { try await f.stats().processed == 6 }
        try await worker.stop()
        let starts = handler.starts().sorted()
        // 200 ms apart as the limiter admits them (a little less between starts: each worker clock reading
        // comes after its admission by a varying amount).
        #expect(starts.last! - starts.first! >= 5 * 200 - 100)
        for id in ids { #expect(try await f.record(id)?.attempt == 1) }
    }

    @Test func aConcurrencyLimitHoldsAndEverySlotGivenBackIsReused() async throws {
        let limit = LimitDeclaration(key: try LimitKeyTemplate("account:{from}"), spec: .concurrency(max: 2))
        let f = try QueueFixture(kinds: [Self.kind([limit])])
        _ = try await enqueue(f, Array(repeating: "acct", count: 12), args: #","sleep_ms":50"#)
        let handler = LimitedHandler()
        let worker = RunningWorker(f, handlers: [handler], concurrency: 8)
        try await waitUntil("all twelve ran") { try await f.stats().processed == 12 }
        try await worker.stop()
        #expect(handler.mostAtOnce == 2)
        #expect(try await f.redis.run("ZCARD", f.keys.limiter("account:acct") + ":holders").int == 0)
    }

    // The next two run the worker on a clock that moves only when the test says so: what they judge is
    // how much limiter time passes, which a busy machine cannot stretch.

    @Test func aChangeAtRunTimeTakesEffectWithoutARestart() async throws {
        let f = try QueueFixture(kinds: [Self.kind([try Self.perSender(.rate(units: 1, period: .seconds(1), burst: 1))])])
        _ = try await enqueue(f, Array(repeating: "s", count: 40))
        let clock = SteppedClock()
        let handler = LimitedHandler()
        let worker = RunningWorker(f, handlers: [handler], concurrency: 4, clock: clock)
        // The clock stands still: one job has the burst, the other 39 wait for the limiter.
        try await waitUntil("the jobs to wait for the limiter") {
            try await f.redis.run("LLEN", f.keys.limited("default", limit: "sender:s")).int ?? 0 == 39
        }
        let raised = LimitSpec.rate(units: 1_000, period: .seconds(1), burst: 10)
        try await setLimit(f, "sender:{from}", raised)
        // The worker sees the change on its own (no restart) and re-paces the waiting jobs.
        try await waitUntil("the worker re-paces the waiting jobs", timeout: .seconds(30)) {
            try await f.redis.run("HGET", f.keys.limitedPace("default"), "sender:s").string?.hasPrefix("\(LimitClaim.releasePace(raised)) ")
                == true
        }
        // One second of limiter time: the old rate allows one more job, the new one a burst of ten.
        let changed = clock.nowMillis()
        clock.advance(by: 1_000)
        try await waitUntil("a burst at the new rate", timeout: .seconds(30)) { handler.starts().count >= 11 }
        try await worker.stop()
        #expect(handler.starts().filter { $0 > changed }.count >= 10)
    }

    @Test func aProviderRetryAfterPausesTheLimiterForEveryJobOfThatKey() async throws {
        let f = try QueueFixture(kinds: [Self.kind([try Self.perSender(.rate(units: 1_000, period: .seconds(1), burst: 100))])])
        let clock = SteppedClock()
        // Redis expires the pause at that time on its own clock too: far enough off that it cannot
        // happen during the test.
        let handler = LimitedHandler(throttleFor: .seconds(600))
        let worker = RunningWorker(f, handlers: [handler], concurrency: 4, clock: clock)
        let first = try await enqueue(f, ["s"], args: #","outcome":"throttle""#)[0]
        // Settled: the throttled job waits for its limiter, now paused until the provider's time.
        try await waitUntil("the provider to throttle") { try await f.record(first)?.state == .limited }
        let pausedUntil = handler.started(first)! + 600_000
        let others = try await enqueue(f, Array(repeating: "s", count: 5))
        let elsewhere = try await enqueue(f, ["other"])[0]
        // Until the Retry-After time, the sender's jobs wait; another sender's job runs.
        try await waitUntil("the other sender's job runs") { try await f.state(elsewhere) == "completed" }
        try await waitUntil("the sender's jobs wait for the pause") {
            try await f.redis.run("LLEN", f.keys.limited("default", limit: "sender:s")).int ?? 0 == 6
        }
        #expect(handler.starts(from: "s").count == 1)
        // From the end of the pause on, the clock moves on a little at every look: waiting jobs are let
        // out at the limiter's pace, which takes limiter time.
        clock.advance(by: 600_000)
        try await waitUntil("every job to finish", timeout: .seconds(30)) {
            clock.advance(by: 20)
            return try await f.stats().processed == 7
        }
        try await worker.stop()
        // The throttled job ran twice (throttled, then done), the others once each, none before the pause ended.
        #expect(handler.starts().count == 8)
        for id in others { #expect(handler.started(id)! >= pausedUntil) }
        #expect(handler.starts(from: "s").sorted().dropFirst().allSatisfy { $0 >= pausedUntil })
        #expect(handler.started(elsewhere)! < pausedUntil)
        #expect(try await f.record(first)?.attempt == 1, "a throttle uses no attempt")
    }

    @Test func anExhaustedQuotaPausesTheQueueWithAnAlertUntilResumed() async throws {
        let f = try QueueFixture(kinds: [Self.kind([])])
        let handler = LimitedHandler()
        let worker = RunningWorker(f, handlers: [handler], concurrency: 2)
        let id = try await enqueue(f, ["s"], args: #","outcome":"quota""#)[0]
        try await waitUntil("the queue to be paused") { try await f.stats().paused }
        #expect(try await f.admin.alerts(queues: ["default"])["default"]?["reason"] == "insufficient_quota")
        #expect(try await f.state(id) == "pending")
        #expect(handler.starts().count == 1)
        try await f.admin.resume(queue: "default")
        try await waitUntil("the job to run again once resumed") { try await f.stats().processed == 1 }
        try await worker.stop()
        #expect(try await f.admin.alerts(queues: ["default"]).isEmpty)
        #expect(try await f.record(id)?.attempt == 1)
    }

    @Test func aJobWhoseLimitKeyCannotBeFilledInIsDeadWithTheReason() async throws {
        let f = try QueueFixture(kinds: [Self.kind([try Self.perSender(.rate(units: 10, period: .seconds(1), burst: 1))])])
        let id = try await f.enqueuer.enqueue(EnqueueRequest(kind: "limited", args: "{}")).id
        let worker = RunningWorker(f, handlers: [LimitedHandler()], concurrency: 2)
        try await waitUntil("the job to be dead") { try await f.state(id) == "dead" }
        try await worker.stop()
        try await f.assertDead(id, reason: "malformed args: limit key 'sender:{from}' needs args.from")
    }

    /// An argument that fills in a limit key may hold braces. Its limiter's keys keep one whole tag,
    /// the braces percent-encoded (KeySpace.limiter), so they share a slot, and the limit holds: such a
    /// job runs under its limit rather than being refused.
    @Test func aLimitKeyWithBracesStillHasALimiterOfItsOwn() async throws {
        let limit = LimitDeclaration(key: try LimitKeyTemplate("account:{from}"), spec: .concurrency(max: 1))
        let f = try QueueFixture(kinds: [Self.kind([limit])])
        let ids = try await enqueue(f, ["}a{", "}a{", "}a{", "}b"], args: #","sleep_ms":30"#)
        let handler = LimitedHandler()
        let worker = RunningWorker(f, handlers: [handler], concurrency: 4)
        try await waitUntil("all four ran") { try await f.stats().processed == 4 }
        try await worker.stop()
        #expect(handler.starts(from: "}a{").count == 3 && handler.starts(from: "}b").count == 1)
        // One at a time: each started after the one before it had run its 30 ms.
        let starts = handler.starts(from: "}a{").sorted()
        #expect(zip(starts, starts.dropFirst()).allSatisfy { $1 - $0 >= 29 }, "\(starts)")
        for id in ids { #expect(try await f.state(id) == "completed") }
        let limiter = f.keys.limiterKeys("account:}a{")
        #expect(limiter.stats == "\(f.keys.prefix):limit:{account:%7Da%7B}:stats")
        let admitted = try await f.redis.run("HGET", limiter.stats, "admitted").string
        #expect(admitted == "3", "admitted \(admitted ?? "none")")
        #expect(try await f.redis.run("ZCARD", limiter.holders).int == 0)
    }

    /// A limiter script that fails for one job's key (here its state has the wrong type) isolates that
    /// job, dead with the reason; the rest of its batch runs, and nothing is fetched again in a loop.
    @Test func aJobWhoseLimiterFailsIsIsolatedAndTheBatchGoesOn() async throws {
        let f = try QueueFixture(kinds: [Self.kind([try Self.perSender(.rate(units: 1_000, period: .seconds(1), burst: 100))])])
        try await f.redis.run("HSET", f.keys.limiter("sender:poison") + ":tat", "not", "a number")
        let good = try await enqueue(f, ["a", "b", "c", "d"])
        let poison = try await enqueue(f, ["poison"])[0]
        let more = try await enqueue(f, ["e", "f"])
        let handler = LimitedHandler()
        let worker = RunningWorker(f, handlers: [handler], concurrency: 4)
        try await waitUntil("the poisoned job to be dead and the others done") {
            try await f.state(poison) == "dead" && handler.starts().count == 6
        }
        try await worker.stop()
        for id in good + more { #expect(try await f.state(id) == "completed") }
        // Dead at once when its batch showed the failure is its own, or after its attempts when it was
        // fetched alone: either way with Redis's reason, and without holding up the others.
        try await f.assertDead(poison, reason: "WRONGTYPE")
    }

    /// A cost beyond the declared maximum (a job stored before the declaration bounded it, or written
    /// to Redis by hand) never reaches the limiter: dead, with the reason.
    @Test func aCostAboveTheDeclaredMaximumIsDeadWithTheReason() async throws {
        var spec = Self.kind([
            LimitDeclaration(
                key: try LimitKeyTemplate("sender:{from}"), spec: .rate(units: 1, period: .seconds(1), burst: 1),
                cost: .argument("segments"))
        ])
        spec.arguments.fields["segments"] = .init(type: .integer, required: true, minimum: 1, maximum: 10)
        let f = try QueueFixture(kinds: [spec])
        // Stored as a producer without the bound would have stored it.
        var unbounded = spec
        unbounded.arguments.fields["segments"]?.maximum = nil
        let old = Enqueuer(redis: f.redis, catalog: JobKindCatalog([unbounded]), keys: f.keys)
        let id = try await old.enqueue(EnqueueRequest(kind: "limited", args: #"{"from":"s","segments":8999999999999999}"#)).id
        let other = try await enqueue(f, ["t"], args: #","segments":1"#)[0]
        let worker = RunningWorker(f, handlers: [LimitedHandler()], concurrency: 2)
        try await waitUntil("the job to be dead") { try await f.state(id) == "dead" }
        try await waitUntil("the other to be done") { try await f.state(other) == "completed" }
        try await worker.stop()
        try await f.assertDead(
            id,
            reason: "malformed args: limit 'sender:{from}' costs args.segments, which must be an integer in 1...10, got 8999999999999999")
    }

    @Test func aJobCostingMoreThanItsQuotaAllowsIsDeadWithTheReason() async throws {
        let quota = LimitDeclaration(
            key: try LimitKeyTemplate("sender:{from}"), spec: .quota(units: 10, window: .seconds(60)), cost: .fixed(25))
        let f = try QueueFixture(kinds: [Self.kind([quota])])
        let id = try await enqueue(f, ["s"])[0]
        let worker = RunningWorker(f, handlers: [LimitedHandler()], concurrency: 2)
        try await waitUntil("the job to be dead") { try await f.state(id) == "dead" }
        try await worker.stop()
        try await f.assertDead(
            id, reason: "malformed args: limit 'sender:s' allows 10 units per window and this job costs 25: it could never run")
    }

    @Test func whileItsJobIsHereASlotIsRenewedButALapsedOneIsNotRetaken() async throws {
        let limit = LimitDeclaration(key: try LimitKeyTemplate("account:{from}"), spec: .concurrency(max: 1))
        let f = try QueueFixture(kinds: [Self.kind([limit])])
        _ = try await enqueue(f, ["acct"])
        let fetcher = Fetcher(
            redis: f.redis, keys: f.keys, selection: QueueSelection(queues: ["default"], weights: [:], order: .strict),
            lease: .seconds(60), clock: SystemClock(), workerID: "w")
        let job = try #require(try await fetcher.fetch(limit: 1).first)
        let clock = SteppedClock()
        let limiter = RateLimiter(
            redis: f.redis, keys: f.keys, catalog: f.catalog, clock: clock, lease: .seconds(2), logger: TestEnvironment.logger)
        #expect(try await limiter.admit([job]).admitted.map(\.id) == [job.id])
        let holders = f.keys.limiter("account:acct") + ":holders"
        let hold: Int64 = 10_000  // the kind's 5 s timeout, plus 5 s
        #expect(try await f.zsetScores(holders)[job.id] == clock.nowMillis() + hold)
        // Still here a minute later (a slow start, a long run): the heartbeat renews the slot, and the
        // set of holders lives on with it.
        clock.advance(by: 60_000)
        _ = try await f.redis.run("PEXPIRE", holders, "1000")
        try await limiter.renewHolds()
        #expect(try await f.zsetScores(holders)[job.id] == clock.nowMillis() + hold)
        #expect(try await f.redis.run("PTTL", holders).int ?? 0 > 60_000)
        // A stale run of the job (an older lease) settling, landed or not, neither gives the slot back
        // nor drops this run's record of it: the next beat still renews it.
        let stale = Job(
            id: job.id, queue: job.queue, kind: job.kind, args: job.args, attempt: job.attempt, maxAttempts: job.maxAttempts,
            enqueuedAt: job.enqueuedAt, tenant: job.tenant, leaseToken: "an-older-lease")
        limiter.settled(stale, landed: true)
        limiter.settled(stale, landed: false)
        clock.advance(by: 1_000)
        try await limiter.renewHolds()
        #expect(try await f.zsetScores(holders)[job.id] == clock.nowMillis() + hold)
        // A slot that lapsed (or was given back) is never taken again by a beat, behind the limiter's back.
        _ = try await f.redis.run("ZREM", holders, job.id)
        try await limiter.renewHolds()
        #expect(try await f.zsetScores(holders).isEmpty)
    }

    @Test func oneTenantsBacklogDoesNotHoldBackAnothersSingleJob() async throws {
        let f = try QueueFixture(kinds: [Self.kind([])])
        _ = try await enqueue(f, Array(repeating: "bulk", count: 5_000), tenant: "a")
        let handler = LimitedHandler()
        let worker = RunningWorker(f, handlers: [handler], concurrency: 4)
        try await waitUntil("tenant a's campaign to start") { handler.starts().count >= 100 }
        let single = try await enqueue(f, ["one"], tenant: "b")[0]
        try await waitUntil("tenant b's job to run") { handler.started(single) != nil }
        let campaignDone = handler.starts(from: "bulk").count
        try await worker.stop()
        // Served in turn: b's job ran in one of the next batches, not after a's 5,000.
        #expect(campaignDone < 2_500)
    }
}
