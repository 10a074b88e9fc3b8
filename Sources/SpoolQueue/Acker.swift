import Logging
import SpoolRedis
import SpoolSupport

/// 5. Settle: turns a job's outcome into its next state, each with one atomic script that only the
/// lease holder may run: `ack.lua`, `retry.lua`, `snooze.lua`, `kill.lua`, `requeue.lua`.
///
/// Concurrent settles from many slots share round trips through the client's pipelining.
/// A settle that fails because Redis is away is tried again until it lands or the lease runs out;
/// after that the Recoverer owns the job, so nothing is lost either way.
public final class Acker: Sendable {
    private let redis: RedisClient
    private let keys: KeySpace
    private let catalog: JobKindCatalog
    private let clock: any WallClock
    private let completedTTL: Duration
    private let lease: Duration
    private let logger: Logger

    public init(redis: RedisClient, keys: KeySpace, catalog: JobKindCatalog, clock: any WallClock,
                completedTTL: Duration, lease: Duration, logger: Logger) {
        self.redis = redis
        self.keys = keys
        self.catalog = catalog
        self.clock = clock
        self.completedTTL = completedTTL
        self.lease = lease
        self.logger = logger
    }

    /// Settles one job. Returns false when the lease was lost (the job was recovered elsewhere).
    @discardableResult
    public func settle(_ job: Job, _ outcome: JobOutcome, duration: Duration) async -> Bool {
        let now = clock.nowMillis()
        let (call, final) = callFor(job, outcome, now: now)
        let settled = await run(call, job: job)
        log(job, final, duration: duration, settled: settled)
        return settled
    }

    /// Hands leased jobs back to pending without using an attempt (shutdown).
    public func requeue(_ jobs: [Job]) async {
        for job in jobs {
            let call = ScriptCall(Scripts.requeue, keys: [keys.active(job.queue), keys.job(job.queue, job.id), keys.pending(job.queue)],
                                  arguments: [job.id, job.leaseToken])
            _ = await run(call, job: job)
        }
    }

    /// The script for an outcome; a retry with no attempts left becomes a kill.
    func callFor(_ job: Job, _ outcome: JobOutcome, now: Int64) -> (ScriptCall, JobOutcome) {
        let q = job.queue
        switch outcome {
        case .completed(let result):
            return (ScriptCall(Scripts.ack, keys: [keys.active(q), keys.job(q, job.id), keys.stats(q)],
                               arguments: [job.id, job.leaseToken, String(now), String(completedTTL.milliseconds / 1000), result ?? ""]), outcome)
        case .retry(let error, let delay):
            let attemptsMade = job.attempt + 1
            if attemptsMade >= job.maxAttempts {
                let reason = "attempts exhausted (\(attemptsMade)/\(job.maxAttempts)): \(error)"
                return callFor(job, .dead(reason: reason), now: now)
            }
            let backoff = delay ?? (catalog[job.kind]?.backoff ?? .polynomial).delay(afterAttempt: attemptsMade)
            return (ScriptCall(Scripts.retry, keys: [keys.active(q), keys.job(q, job.id), keys.retry(q), keys.stats(q)],
                               arguments: [job.id, job.leaseToken, String(now + backoff.milliseconds), String(error.prefix(2000))]), outcome)
        case .snooze(let until, let reason):
            return (ScriptCall(Scripts.snooze, keys: [keys.active(q), keys.job(q, job.id), keys.scheduled(q)],
                               arguments: [job.id, job.leaseToken, String(max(until, now)), reason]), outcome)
        case .dead(let reason):
            return (ScriptCall(Scripts.kill, keys: [keys.active(q), keys.job(q, job.id), keys.dead(q), keys.stats(q)],
                               arguments: [job.id, job.leaseToken, String(now), String(reason.prefix(2000)), ""]), outcome)
        }
    }

    private func run(_ call: ScriptCall, job: Job) async -> Bool {
        let giveUp = monotonicNow() + lease
        while true {
            do {
                let reply = try await redis.run([call])[0].checked("EVALSHA \(call.script.name)")
                if reply.int == 1 { return true }
                logger.warning("lease lost before settling; the job was handed on", metadata: ["job_id": "\(job.id)", "kind": "\(job.kind)", "queue": "\(job.queue)"])
                return false
            } catch let error as RedisError where error.isConnectionError {
                // The client logs the outage once; retry quietly until the lease would be gone anyway.
                if monotonicNow() > giveUp { return false }
                try? await Task.sleep(for: redis.retryDelay)
            } catch {
                logger.error("settle failed", metadata: ["job_id": "\(job.id)", "kind": "\(job.kind)", "error": "\(error)"])
                return false
            }
        }
    }

    private func log(_ job: Job, _ outcome: JobOutcome, duration: Duration, settled: Bool) {
        var metadata: Logger.Metadata = [
            "job_id": "\(job.id)", "kind": "\(job.kind)", "queue": "\(job.queue)", "attempt": "\(job.attempt + 1)",
            "duration_ms": "\((duration.secondsDouble * 1_000_000).rounded() / 1000)",
            "outcome": "\(outcome.label)",
        ]
        if !settled { metadata["settled"] = "false" }
        switch outcome {
        case .completed:
            logger.debug("job done", metadata: metadata)
        case .retry(let error, _):
            metadata["error"] = "\(error)"
            logger.info("job failed; will retry", metadata: metadata)
        case .snooze(let until, let reason):
            metadata["until"] = "\(until)"
            metadata["reason"] = "\(reason)"
            logger.debug("job postponed", metadata: metadata)
        case .dead(let reason):
            metadata["reason"] = "\(reason)"
            logger.warning("job dead", metadata: metadata)
        }
    }
}
