import SpoolRedis
import SpoolSupport

/// Builds each script's call: the KEYS and ARGV its header documents, in one place, so that Swift
/// callers (and tests) never list a script's keys themselves. Every key a script touches is one of its
/// KEYS, or one of them with text appended (the exceptions ScriptKeyContractTests lists).
extension KeySpace {
    func fetchCall(_ q: String, limit: Int, deadline: Int64, token: String, pausedTenants: [String] = []) -> ScriptCall {
        ScriptCall(
            Scripts.fetch, keys: [pending(q), active(q), leases(q), paused(q), jobPrefix(q), lanes(q), parkedTenants(q)],
            arguments: [String(limit), String(deadline), token] + pausedTenants)
    }

    func unparkCall(_ q: String, tenant: String) -> ScriptCall {
        ScriptCall(Scripts.unpark, keys: [lane(q, tenant: tenant), lanes(q), parkedTenants(q)], arguments: [tenant])
    }

    /// One call settles many completed jobs: (id, lease token, result) each.
    func ackCall(_ q: String, now: Int64, keep: Bool, jobs: [(id: String, token: String, result: String)]) -> ScriptCall {
        var arguments = [String(now), keep ? "1" : "0"]
        arguments.reserveCapacity(2 + jobs.count * 3)
        for job in jobs {
            arguments.append(job.id); arguments.append(job.token); arguments.append(job.result)
        }
        return ScriptCall(Scripts.ack, keys: [active(q), leases(q), stats(q), completed(q), jobPrefix(q)], arguments: arguments)
    }

    /// `now` is when the attempt failed, for the job's `errors`.
    func retryCall(_ q: String, id: String, token: String, at: Int64, error: String, now: Int64) -> ScriptCall {
        ScriptCall(
            Scripts.retry, keys: [active(q), leases(q), job(q, id), retry(q), stats(q)],
            arguments: [id, token, String(at), error, String(now)])
    }

    func snoozeCall(_ q: String, id: String, token: String, until: Int64, reason: String) -> ScriptCall {
        ScriptCall(Scripts.snooze, keys: [active(q), leases(q), job(q, id), scheduled(q)], arguments: [id, token, String(until), reason])
    }

    func killCall(_ q: String, id: String, token: String, now: Int64, reason: String, error: String = "") -> ScriptCall {
        ScriptCall(
            Scripts.kill, keys: [active(q), leases(q), job(q, id), dead(q), stats(q)], arguments: [id, token, String(now), reason, error])
    }

    /// `tenant` is the job's, as fetch read it from its hash (`Job.tenant`): its lane is a KEY.
    func requeueCall(_ q: String, id: String, token: String, tenant: String?) -> ScriptCall {
        ScriptCall(
            Scripts.requeue, keys: [active(q), leases(q), job(q, id), lane(q, tenant: tenant), lanes(q), parkedTenants(q)],
            arguments: [id, token, tenant ?? ""])
    }

    func extendCall(_ q: String, deadline: Int64, leases held: [(id: String, token: String)]) -> ScriptCall {
        var arguments = [String(deadline)]
        for lease in held { arguments.append(lease.id); arguments.append(lease.token) }
        return ScriptCall(Scripts.extend, keys: [active(q), leases(q)], arguments: arguments)
    }

    func recoverCall(_ q: String, now: Int64, limit: Int) -> ScriptCall {
        ScriptCall(
            Scripts.recover, keys: [active(q), pending(q), dead(q), stats(q), jobPrefix(q), leases(q), lanes(q), parkedTenants(q)],
            arguments: [String(now), String(limit)])
    }

    /// `source` is the scheduled or the retry set.
    func promoteCall(_ q: String, source: String, now: Int64, limit: Int) -> ScriptCall {
        ScriptCall(
            Scripts.promote, keys: [source, pending(q), jobPrefix(q), lanes(q), parkedTenants(q)], arguments: [String(now), String(limit)])
    }

    func cancelCall(_ q: String, id: String, now: Int64, keepSeconds: Int64) -> ScriptCall {
        ScriptCall(
            Scripts.cancel, keys: [pending(q), scheduled(q), retry(q), job(q, id), active(q), completed(q), limitedPrefix(q)],
            arguments: [id, String(now), String(keepSeconds)])
    }

    func deadRetryCall(_ q: String, now: Int64, ids: [String]) -> ScriptCall {
        ScriptCall(
            Scripts.deadRetry, keys: [dead(q), pending(q), jobPrefix(q), lanes(q), parkedTenants(q)], arguments: [String(now)] + ids)
    }

    func deadDiscardCall(_ q: String, ids: [String]) -> ScriptCall {
        ScriptCall(Scripts.deadDiscard, keys: [dead(q), jobPrefix(q)], arguments: ids)
    }

    func trimCompletedCall(_ q: String, oldestKept: Int64, limit: Int) -> ScriptCall {
        ScriptCall(Scripts.trimCompleted, keys: [completed(q), jobPrefix(q)], arguments: [String(oldestKept), String(limit)])
    }

    func completeCall(
        _ q: String, now: Int64, keep: Bool, id: String, token: String, result: String,
        followUps: [(id: String, json: String)]
    ) -> ScriptCall {
        ScriptCall(
            Scripts.complete, keys: [active(q), leases(q), stats(q), completed(q), jobPrefix(q), outbox(q)],
            arguments: [String(now), keep ? "1" : "0", id, token, result] + followUps.flatMap { [$0.id, $0.json] })
    }

    /// `fieldsPerJob`: 8, or 10 for kinds declared unique (the unique key and its scope follow).
    func enqueueCall(_ q: String, now: Int64, idempotencyTTL: Int64, fieldsPerJob: Int, arguments jobs: [String]) -> ScriptCall {
        ScriptCall(
            Scripts.enqueue,
            keys: [
                pending(q), scheduled(q), jobPrefix(q), idempotencyPrefix(q), stats(q), lanes(q), parkedTenants(q), uniquePrefix(q), active(q),
                completed(q),
            ],
            arguments: [String(now), String(idempotencyTTL), String(fieldsPerJob)] + jobs)
    }

    /// Leased jobs that `limit` refused wait for it; `pace` is how fast to release them (ms per job).
    func waitForLimitCall(
        _ q: String, limit: String, template: String, due: Int64, pace: Double, reason: String,
        jobs: [(id: String, token: String)]
    ) -> ScriptCall {
        var arguments = [limit, String(due), String(pace), reason, template]
        for job in jobs { arguments.append(job.id); arguments.append(job.token) }
        return ScriptCall(
            Scripts.waitForLimit, keys: [active(q), leases(q), jobPrefix(q), limited(q, limit: limit), limitedKeys(q), limitedPace(q)],
            arguments: arguments)
    }

    /// Releases waiting jobs of the limiters that are due; with `only`, that limiter's, due or not.
    func releaseLimitedCall(_ q: String, now: Int64, limits: Int, jobsPerLimit: Int, only: String? = nil) -> ScriptCall {
        ScriptCall(
            Scripts.releaseLimited,
            keys: [limitedKeys(q), limitedPrefix(q), limitedPace(q), pending(q), lanes(q), parkedTenants(q), jobPrefix(q)],
            arguments: [String(now), String(limits), String(jobsPerLimit)] + (only.map { [$0] } ?? []))
    }

    func quotaAlertCall(_ q: String, kind: String, reason: String, now: Int64) -> ScriptCall {
        ScriptCall(Scripts.quotaAlert, keys: [paused(q), alert(q)], arguments: [String(now), kind, reason])
    }

    func trimDeadCall(_ q: String, oldestKept: Int64, maxEntries: Int, limit: Int) -> ScriptCall {
        ScriptCall(Scripts.trimDead, keys: [dead(q), jobPrefix(q)], arguments: [String(oldestKept), String(maxEntries), String(limit)])
    }

    // MARK: - Limiters: keyed by the limit key, not by a queue (LimiterKeys)

    /// One limiter decides `requests` (holder id, cost) in order. The KEYS are its pause, its stats and
    /// the keys of its kind; `hold` is how long a concurrency slot lasts when it is never given back.
    func limitAcquireCall(
        _ limit: String, spec: LimitSpec, hold: Duration, now: Int64, requests: [(id: String, cost: Int)]
    ) -> ScriptCall {
        let limiter = limiterKeys(limit)
        var keys = [limiter.paused, limiter.stats]
        var arguments = [String(now)]
        switch spec {
        case .rate(let units, let period, let burst):
            keys += [limiter.tat, limiter.interval]
            arguments += ["rate", String(Double(period.milliseconds) / Double(units)), String(burst)]
        case .concurrency(let max):
            keys += [limiter.holders, limiter.waiting]
            arguments += ["concurrency", String(max), String(hold.milliseconds)]
        case .quota(let units, let window):
            keys.append(limiter.window(containing: now, length: window))
            arguments += ["quota", String(units), String(window.milliseconds)]
        }
        arguments.reserveCapacity(arguments.count + requests.count * 2)
        for request in requests {
            arguments.append(request.id)
            arguments.append(String(request.cost))
        }
        return ScriptCall(Scripts.limitAcquire, keys: keys, arguments: arguments)
    }

    /// Gives back what `limitAcquireCall` at `now` granted one holder: the KEY is the one its kind changed.
    func limitRefundCall(_ limit: String, spec: LimitSpec, now: Int64, id: String, cost: Int) -> ScriptCall {
        let limiter = limiterKeys(limit)
        let key: String
        var arguments = [String(now)]
        switch spec {
        case .rate(let units, let period, _):
            key = limiter.tat
            arguments += ["rate", String(Double(period.milliseconds) / Double(units))]
        case .concurrency:
            key = limiter.holders
            arguments += ["concurrency", "0"]
        case .quota(_, let window):
            key = limiter.window(containing: now, length: window)
            arguments += ["quota", "0"]
        }
        return ScriptCall(Scripts.limitRefund, keys: [key], arguments: arguments + [id, String(cost)])
    }

    /// Settled jobs give their concurrency slots back.
    func limitReleaseCall(_ limit: String, ids: [String]) -> ScriptCall {
        let limiter = limiterKeys(limit)
        return ScriptCall(Scripts.limitRelease, keys: [limiter.holders, limiter.waiting], arguments: ids)
    }

    /// A provider's "not before `until`": the limiter refuses everything until then.
    func limitPauseCall(_ limit: String, now: Int64, until: Int64) -> ScriptCall {
        let limiter = limiterKeys(limit)
        return ScriptCall(Scripts.limitPause, keys: [limiter.paused, limiter.stats], arguments: [String(now), String(until)])
    }
}

extension RedisClient {
    /// Runs one script call and throws its error reply, naming the script.
    @discardableResult
    func run(_ call: ScriptCall) async throws -> RedisReply {
        try await run([call])[0].checked("EVALSHA \(call.script.name)")
    }
}
