import Logging
import SpoolRedis
import SpoolSupport
import Synchronization

/// 5. Settle: turns each job's outcome into its next state with one atomic script that only the lease
/// holder may run: `ack.lua` (a batch of completed jobs per call), `retry.lua`, `snooze.lua`, `kill.lua`,
/// and `requeue.lua` at shutdown.
///
/// Slots hand outcomes over and move on to their next job; one loop sends everything handed over since
/// its last round trip as one pipeline. A job stays leased, and counted in flight, until its settle lands.
/// A settle that fails because Redis is away is tried again until it lands or the lease would be gone;
/// after that the Recoverer owns the job, so nothing is lost either way.
public final class Acker: Sendable {
    struct Settlement: Sendable {
        let job: Job
        let outcome: JobOutcome
        let duration: Duration
    }

    private struct State {
        var queue: [Settlement] = []
        var sending = false
        /// The settle loop, parked while there is nothing to send.
        var waiter: UnsafeContinuation<[Settlement], Never>?
        var flushWaiters: [UnsafeContinuation<Void, Never>] = []
        var stopped = false
    }

    private let redis: RedisClient
    private let keys: KeySpace
    private let catalog: JobKindCatalog
    private let clock: any WallClock
    private let completedTTL: Duration
    private let lease: Duration
    private let logger: Logger
    private let onSettled: @Sendable (Job, _ landed: Bool) -> Void
    private let observers: [any SettleObserver]
    private let limiter: RateLimiter?
    /// Where completions with follow-ups put them (complete.lua), and what moves them on.
    private let outbox: Outbox
    private let state = Mutex(State())

    /// - Parameter onSettled: called once per job after its settle landed (true) or did not: the lease
    ///   was lost, or Redis could not be reached in time (false).
    public init(
        redis: RedisClient, keys: KeySpace, catalog: JobKindCatalog, clock: any WallClock,
        completedTTL: Duration, lease: Duration, logger: Logger, observers: [any SettleObserver] = [],
        limiter: RateLimiter? = nil, durability: EnqueueDurability = .primaryOnly,
        onSettled: @escaping @Sendable (Job, _ landed: Bool) -> Void = { _, _ in }
    ) {
        self.limiter = limiter
        self.redis = redis
        self.keys = keys
        self.catalog = catalog
        self.clock = clock
        self.completedTTL = completedTTL
        self.lease = lease
        self.logger = logger
        self.onSettled = onSettled
        self.observers = observers
        self.outbox = Outbox(redis: redis, keys: keys, catalog: catalog, clock: clock, durability: durability)
    }

    /// Hands an outcome over; returns at once.
    public func submit(_ job: Job, _ outcome: JobOutcome, duration: Duration) {
        let wake: (UnsafeContinuation<[Settlement], Never>, [Settlement])? = state.withLock { state in
            state.queue.append(Settlement(job: job, outcome: outcome, duration: duration))
            guard let waiter = state.waiter else { return nil }
            state.waiter = nil
            state.sending = true
            defer { state.queue.removeAll(keepingCapacity: true) }
            return (waiter, state.queue)
        }
        if let (waiter, batch) = wake { waiter.resume(returning: batch) }
    }

    /// The settle loop; runs until `stop()` and nothing is left to send.
    public func run() async {
        while true {
            let batch: [Settlement] = await withUnsafeContinuation { continuation in
                let ready: [Settlement]? = state.withLock { state in
                    if !state.queue.isEmpty || state.stopped {
                        defer { state.queue.removeAll(keepingCapacity: true); state.sending = true }
                        return state.queue
                    }
                    state.sending = false
                    let flushed = state.flushWaiters
                    state.flushWaiters.removeAll()
                    for waiter in flushed { waiter.resume() }
                    state.waiter = continuation
                    return nil
                }
                if let ready { continuation.resume(returning: ready) }
            }
            if batch.isEmpty { break }
            await send(batch)
        }
    }

    /// Ends the settle loop once what was handed over is sent.
    public func stop() {
        let waiter: UnsafeContinuation<[Settlement], Never>? = state.withLock { state in
            state.stopped = true
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: [])
    }

    /// Returns when everything handed over so far has been settled.
    public func flush() async {
        await withUnsafeContinuation { (continuation: UnsafeContinuation<Void, Never>) in
            let done = state.withLock { state in
                if state.queue.isEmpty && !state.sending { return true }
                state.flushWaiters.append(continuation)
                return false
            }
            if done { continuation.resume() }
        }
    }

    /// Hands leased jobs back to pending without using an attempt (shutdown).
    /// Returns, per job, whether the hand-back landed (false: the lease was lost, or Redis could not
    /// be reached in time).
    @discardableResult
    public func requeue(_ jobs: [Job]) async -> [Bool] {
        if jobs.isEmpty { return [] }
        let calls = jobs.map { keys.requeueCall($0.queue, id: $0.id, token: $0.leaseToken, tenant: $0.tenant) }
        guard let replies = await runWithRetry(calls, giveUpAfter: lease) else { return jobs.map { _ in false } }
        return replies.map { $0.int == 1 }
    }

    /// Sends a batch as one pipeline, then logs and reports each settlement.
    private func send(_ batch: [Settlement]) async {
        if batch.isEmpty { return }
        let now = clock.nowMillis()
        var calls: [ScriptCall] = []
        // Which settlements each call answers for.
        var answers: [[Int]] = []
        var completedByQueue: [String: [Int]] = [:]
        var finals = [JobOutcome](repeating: .completed, count: batch.count)
        var outboxQueues: Set<String> = []
        for (index, settlement) in batch.enumerated() {
            // Provider feedback first, in the same pipeline: pause the limiter or the queue.
            for call in feedbackCalls(settlement.job, settlement.outcome, now: now) {
                calls.append(call)
                answers.append([])
            }
            if case .completed(let result, let followUps) = settlement.outcome, !followUps.isEmpty {
                let job = settlement.job
                do {
                    let entries = try outbox.entries(for: job, followUps, now: now)
                    finals[index] = settlement.outcome
                    calls.append(
                        keys.completeCall(
                            job.queue, now: now, keep: completedTTL > .zero, id: job.id, token: job.leaseToken,
                            result: result ?? "", followUps: entries))
                    answers.append([index])
                    outboxQueues.insert(job.queue)
                } catch {
                    // A follow-up that could never be enqueued: the chain is broken, and says where.
                    let (call, final) = callFor(job, .dead(reason: "invalid follow-up: \(error)"), now: now)
                    finals[index] = final
                    calls.append(call!)
                    answers.append([index])
                }
                continue
            }
            let (call, final) = callFor(settlement.job, settlement.outcome, now: now)
            finals[index] = final
            if let call {
                calls.append(call)
                answers.append([index])
            } else {
                completedByQueue[settlement.job.queue, default: []].append(index)
            }
        }
        // Chunks of 500: ack.lua unpacks its ids, and Lua's unpack() has a stack limit.
        for (queue, all) in completedByQueue {
            for start in stride(from: 0, to: all.count, by: 500) {
                let indices = Array(all[start..<min(start + 500, all.count)])
                let jobs = indices.map { index in
                    let job = batch[index].job
                    var result = ""
                    if case .completed(let text?, _) = batch[index].outcome { result = text }
                    return (id: job.id, token: job.leaseToken, result: result)
                }
                calls.append(keys.ackCall(queue, now: now, keep: completedTTL > .zero, jobs: jobs))
                answers.append(indices)
            }
        }
        var landed = [Bool](repeating: false, count: batch.count)
        if let replies = await runWithRetry(calls, giveUpAfter: lease) {
            for (reply, indices) in zip(replies, answers) {
                let flags: [Int] = reply.array?.map { $0.int ?? 0 } ?? [reply.int ?? 0]
                for (offset, index) in indices.enumerated() where offset < flags.count { landed[index] = flags[offset] == 1 }
            }
        }
        // Follow-ups on to their queues now; what a failure here leaves, a scheduler's sweep moves.
        for queue in outboxQueues.sorted() {
            do { try await outbox.move(queue: queue) } catch {
                logger.warning(
                    "could not move follow-up jobs yet; the scheduler will", metadata: ["queue": "\(queue)", "error": "\(error)"])
            }
        }
        for (index, settlement) in batch.enumerated() {
            log(settlement, finals[index], settled: landed[index])
            onSettled(settlement.job, landed[index])
            if landed[index] {
                for observer in observers {
                    observer.settled(settlement.job, outcome: finals[index], duration: settlement.duration, at: now)
                }
            }
        }
    }

    /// The script for an outcome (nil for a completion, which goes into the batched ack);
    /// a retry with no attempts left becomes a kill.
    func callFor(_ job: Job, _ outcome: JobOutcome, now: Int64) -> (ScriptCall?, JobOutcome) {
        let q = job.queue
        switch outcome {
        case .completed:
            return (nil, outcome)
        case .retry(let error, let delay):
            let attemptsMade = job.attempt + 1
            if attemptsMade >= job.maxAttempts {
                return callFor(job, .dead(reason: "attempts exhausted (\(attemptsMade)/\(job.maxAttempts)): \(error)"), now: now)
            }
            let backoff = delay ?? (catalog[job.kind]?.backoff ?? .polynomial).delay(afterAttempt: attemptsMade)
            return (
                keys.retryCall(
                    q, id: job.id, token: job.leaseToken, at: now + backoff.milliseconds, error: String(error.prefix(2000)), now: now),
                outcome
            )
        case .snooze(let until, let reason):
            return (keys.snoozeCall(q, id: job.id, token: job.leaseToken, until: max(until, now), reason: reason), outcome)
        case .dead(let reason):
            return (keys.killCall(q, id: job.id, token: job.leaseToken, now: now, reason: String(reason.prefix(2000))), outcome)
        case .throttled(let until, let reason, let limit):
            guard let claim = throttledClaims(job, limit: limit).first else {
                return callFor(job, .snooze(until: until, reason: reason), now: now)
            }
            return (
                keys.waitForLimitCall(
                    q, limit: claim.key, template: claim.template, due: max(until, now + 1), pace: claim.releasePace,
                    reason: "provider: \(reason)", jobs: [(job.id, job.leaseToken)]), outcome
            )
        case .quotaExhausted:
            return (keys.requeueCall(q, id: job.id, token: job.leaseToken, tenant: job.tenant), outcome)
        }
    }

    /// The limiters a `throttled` outcome pauses: the named one, or all of the job's rate limits.
    private func throttledClaims(_ job: Job, limit: String?) -> [LimitClaim] {
        let claims = limiter?.claims(for: job) ?? []
        if let limit { return claims.filter { $0.name == limit || $0.template == limit || $0.key == limit } }
        return claims.filter {
            if case .rate = $0.spec { return true }; return false
        }
    }

    /// What a provider's answer changes beyond the job itself.
    private func feedbackCalls(_ job: Job, _ outcome: JobOutcome, now: Int64) -> [ScriptCall] {
        switch outcome {
        case .throttled(let until, _, let limit):
            return throttledClaims(job, limit: limit).map { keys.limitPauseCall($0.key, now: now, until: until) }
        case .quotaExhausted(let reason):
            logger.critical(
                "provider quota exhausted: queue paused until an operator resumes it",
                metadata: ["queue": "\(job.queue)", "kind": "\(job.kind)", "reason": "\(reason)"])
            return [keys.quotaAlertCall(job.queue, kind: job.kind, reason: String(reason.prefix(500)), now: now)]
        default:
            return []
        }
    }

    /// Runs calls, retrying quietly while Redis is away (the client logs the outage once) and retrying the
    /// calls answered with a transient error (LOADING, READONLY ...), which did nothing.
    private func runWithRetry(_ calls: [ScriptCall], giveUpAfter limit: Duration) async -> [RedisReply]? {
        let giveUp = monotonicNow() + limit
        var replies = [RedisReply](repeating: .null, count: calls.count)
        var pending = Array(calls.indices)
        while true {
            do {
                let answered = try await redis.run(pending.map { calls[$0] })
                for (index, reply) in zip(pending, answered) { replies[index] = reply }
                pending = pending.filter { replies[$0].isTransientError }
                if pending.isEmpty { return replies }
                if monotonicNow() > giveUp { return replies }
                try? await Task.sleep(for: redis.retryDelay)
            } catch let error as RedisError where error.isConnectionError {
                if monotonicNow() > giveUp {
                    logger.warning(
                        "giving up settling jobs; their leases expire and the recoverer hands them on", metadata: ["jobs": "\(calls.count)"]
                    )
                    return nil
                }
                try? await Task.sleep(for: redis.retryDelay)
            } catch {
                logger.error("settle failed", metadata: ["error": "\(error)"])
                return nil
            }
        }
    }

    private func log(_ settlement: Settlement, _ outcome: JobOutcome, settled: Bool) {
        let level: Logger.Level
        switch outcome {
        case .completed, .snooze: level = .debug
        case .retry, .throttled: level = .info
        case .dead, .quotaExhausted: level = .warning
        }
        // Building metadata costs more than a noop job: only when the line will be written.
        if logger.logLevel > level && settled { return }
        let job = settlement.job
        var metadata: Logger.Metadata = [
            "job_id": "\(job.id)", "kind": "\(job.kind)", "queue": "\(job.queue)", "attempt": "\(job.attempt + 1)",
            "duration_ms": "\((settlement.duration.secondsDouble * 1_000_000).rounded() / 1000)", "outcome": "\(outcome.label)",
        ]
        var message: Logger.Message
        switch outcome {
        case .completed: message = "job done"
        case .retry(let error, _): metadata["error"] = "\(error)"; message = "job failed; will retry"
        case .snooze(let until, let reason): metadata["until"] = "\(until)"; metadata["reason"] = "\(reason)"; message = "job postponed"
        case .dead(let reason): metadata["reason"] = "\(reason)"; message = "job dead"
        case .throttled(let until, let reason, _):
            metadata["until"] = "\(until)"; metadata["reason"] = "\(reason)"; message = "provider throttled; job waits"
        case .quotaExhausted(let reason): metadata["reason"] = "\(reason)"; message = "provider quota exhausted; job handed back"
        }
        if !settled {
            logger.warning("lease lost before settling; the job was handed on", metadata: metadata)
        } else {
            logger.log(level: level, message, metadata: metadata)
        }
    }
}
