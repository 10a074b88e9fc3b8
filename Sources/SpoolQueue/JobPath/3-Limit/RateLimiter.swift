import Logging
import SpoolRedis
import SpoolSupport
import Synchronization

/// 3. Rate-limit: between fetch and execute, every fetched job whose kind declares limits asks each of
/// its limiters, in order, whether it may run now. The limiters live in Redis (limit_acquire.lua), so
/// a limit holds across every process and machine that shares the Redis.
///
/// - Checks are batched: one script call per distinct limit key per stage (a job's first limits, then
///   its second ...), all pipelined, so a fetched batch costs one round trip per stage.
/// - A refused job is never failed and never spins: it waits in its limiter's list
///   (wait_for_limit.lua) until the limiter is due, then the Promoter hands it back
///   (release_limited.lua). What earlier limits granted it is refunded.
/// - Jobs for other keys keep flowing past: refused jobs leave their lane, so no head-of-line blocking.
public final class RateLimiter: Sendable {
    public struct Admission: Sendable {
        /// May run now.
        public var admitted: [Job] = []
        /// Their limit keys cannot be filled in (a missing argument): dead, with the reason.
        public var malformed: [(job: Job, reason: String)] = []
        /// Now waiting for a limiter, and no longer leased by this worker.
        public var waiting: [Job] = []
        /// Refused by a limiter they should have waited for, with the error: still leased by this
        /// worker, with nothing granted (the worker isolates them).
        public var failed: [(job: Job, error: any Error)] = []
    }

    private let redis: RedisClient
    private let keys: KeySpace
    private let catalog: JobKindCatalog
    private let clock: any WallClock
    public let overrides: LimitOverrides
    private let logger: Logger
    /// Concurrency slots this worker holds, by job id, to give back when the job settles, with how
    /// long each hold lasts (the heartbeat renews it while the job is here) and the lease they were
    /// taken under (a stale run's settle must not drop a newer run's record).
    private let held = Mutex<[String: HeldSlots]>([:])
    private typealias HeldSlots = (keys: [String], holdMs: Int64, token: String)
    /// Heartbeats renew holds every third of this; a hold outlasts at least one whole lease.
    private let lease: Duration
    /// When this process last recorded each limiter in `limits:seen`, for stats.
    private let recorded = Mutex<[String: Int64]>([:])
    static let recordEvery: Int64 = 10_000
    /// Lua's unpack() has a stack limit.
    static let requestsPerCall = 250
    /// Slots to give back, in settle order (see `runReleases`).
    private let releases: AsyncStream<(job: Job, slots: [String])>
    private let releaseSink: AsyncStream<(job: Job, slots: [String])>.Continuation
    private let releasesEnded = Latch()

    public init(
        redis: RedisClient, keys: KeySpace, catalog: JobKindCatalog, clock: any WallClock, lease: Duration,
        overrides: LimitOverrides = LimitOverrides(), logger: Logger
    ) {
        self.lease = lease
        self.redis = redis
        self.keys = keys
        self.catalog = catalog
        self.clock = clock
        self.overrides = overrides
        self.logger = logger
        (releases, releaseSink) = AsyncStream.makeStream()
    }

    /// True when some declared kind has limits: a worker without any skips the limiter altogether.
    public var isNeeded: Bool { catalog.specs.values.contains { !$0.limits.isEmpty } }

    public func admit(_ jobs: [Job]) async throws -> Admission {
        var admission = Admission()
        var candidates: [Job] = []
        var claims: [[LimitClaim]] = []
        for var job in jobs {
            guard let spec = catalog[job.kind], !spec.limits.isEmpty else { admission.admitted.append(job); continue }
            // Parsed once here, when a limit reads the arguments; the handler reads the same value.
            if job.parsedArgs == nil, spec.limits.contains(where: \.needsArguments) { job.parsedArgs = try? JSONValue.parse(job.args) }
            switch spec.claims(for: job, overrides: overrides) {
            case .success(let list):
                candidates.append(job)
                claims.append(list)
            case .failure(let error):
                admission.malformed.append((job, "malformed args: \(error.message)"))
            }
        }
        if candidates.isEmpty { return admission }

        let now = clock.nowMillis()
        var granted = [[LimitClaim]](repeating: [], count: candidates.count)
        var refusedBy: [Int: (claim: LimitClaim, retryAt: Int64)] = [:]
        var active = Array(candidates.indices)
        var stage = 0
        var passed: [Int] = []
        var waitStarted = false
        do {
            while !active.isEmpty {
                var groups: [String: [Int]] = [:]
                var order: [String] = []
                for index in active {
                    guard stage < claims[index].count else { continue }
                    let key = claims[index][stage].key
                    if groups[key] == nil { order.append(key) }
                    groups[key, default: []].append(index)
                }
                if order.isEmpty { break }
                var calls: [ScriptCall] = []
                var members: [[Int]] = []
                for key in order {
                    let group = groups[key]!
                    for start in stride(from: 0, to: group.count, by: Self.requestsPerCall) {
                        let part = Array(group[start..<min(start + Self.requestsPerCall, group.count)])
                        let first = claims[part[0]][stage]
                        // Kinds may share a key: the longest hold among them, so no slot expires under a running job.
                        let longest = part.map { hold(for: candidates[$0]) }.max()!
                        calls.append(
                            keys.limitAcquireCall(
                                key, spec: first.spec, hold: longest, now: now,
                                requests: part.map { (candidates[$0].id, claims[$0][stage].cost) }))
                        members.append(part)
                    }
                }
                let replies = try await redis.run(calls)
                var next: [Int] = []
                // Every grant is read before an error is thrown, so that the refund below covers them all.
                var failure: (any Error)?
                for (reply, part) in zip(replies, members) {
                    let answer: [RedisReply]
                    do { answer = try reply.checked("EVALSHA limit_acquire.lua").array ?? [] } catch {
                        failure = failure ?? error; continue
                    }
                    let admitted = answer.first?.int ?? 0
                    let retryAt = Int64(answer.count > 1 ? answer[1].int ?? 0 : 0)
                    for (offset, index) in part.enumerated() {
                        let claim = claims[index][stage]
                        if offset < admitted {
                            granted[index].append(claim)
                            next.append(index)
                        } else {
                            refusedBy[index] = (claim, max(retryAt, now + 1))
                        }
                    }
                }
                if let failure { throw failure }
                active = next
                stage += 1
            }
            passed = candidates.indices.filter { refusedBy[$0] == nil }
            waitStarted = true
            (admission.waiting, admission.failed) = try await wait(candidates: candidates, refusedBy: refusedBy, granted: granted, now: now)
        } catch {
            // The worker hands every job back, so what any job was granted goes back too, as far as
            // Redis can be reached (a slot it cannot take back lapses with its hold). Once wait() has
            // started, it has refunded the refused jobs' grants itself.
            let refunds = candidates.indices.filter { !waitStarted || refusedBy[$0] == nil }
                .flatMap { index in granted[index].map { refundCall($0, job: candidates[index], now: now) } }
            _ = try? await redis.run(refunds)
            throw error
        }
        admission.admitted += passed.map { candidates[$0] }
        remember(passed.map { (candidates[$0], granted[$0]) })
        do {
            try await record(candidates: candidates, claims: claims, now: now)
        } catch {
            logger.warning("could not record the limiters in use (for stats only)", metadata: ["error": "\(error)"])
        }
        return admission
    }

    private func refundCall(_ claim: LimitClaim, job: Job, now: Int64) -> ScriptCall {
        keys.limitRefundCall(claim.key, spec: claim.spec, now: now, id: job.id, cost: claim.cost)
    }

    /// How long a concurrency slot lasts without a renewal: the kind's timeout plus 5 s, and never
    /// less than a lease, so that heartbeats (three per lease) renew it in time. A dead worker's slot
    /// comes back this long after its last beat.
    private func hold(for job: Job) -> Duration {
        max((catalog[job.kind]?.timeout ?? .seconds(30)) + .seconds(5), lease)
    }

    /// Refused jobs wait in their limiter's list; what other limiters granted them is given back.
    private func wait(
        candidates: [Job], refusedBy: [Int: (claim: LimitClaim, retryAt: Int64)],
        granted: [[LimitClaim]], now: Int64
    ) async throws -> (waiting: [Job], failed: [(job: Job, error: any Error)]) {
        if refusedBy.isEmpty { return ([], []) }
        var calls: [ScriptCall] = []
        var waitCalls: [(call: Int, jobs: [Int])] = []
        var byLimit: [String: [Int]] = [:]
        for index in refusedBy.keys.sorted() {
            byLimit["\(candidates[index].queue)\u{0}\(refusedBy[index]!.claim.key)", default: []].append(index)
            for claim in granted[index] { calls.append(refundCall(claim, job: candidates[index], now: now)) }
        }
        for (_, indices) in byLimit.sorted(by: { $0.key < $1.key }) {
            let (claim, retryAt) = refusedBy[indices[0]]!
            let queue = candidates[indices[0]].queue
            let reason = "waiting for limit \(claim.key) (\(claim.spec.summary))"
            for start in stride(from: 0, to: indices.count, by: Self.requestsPerCall) {
                let part = Array(indices[start..<min(start + Self.requestsPerCall, indices.count)])
                waitCalls.append((calls.count, part))
                calls.append(
                    keys.waitForLimitCall(
                        queue, limit: claim.key, template: claim.template, due: retryAt, pace: claim.releasePace, reason: reason,
                        jobs: part.map { (candidates[$0].id, candidates[$0].leaseToken) }))
            }
        }
        let replies = try await redis.run(calls)
        var waiting: [Job] = []
        var failed: [(job: Job, error: any Error)] = []
        for (call, part) in waitCalls {
            // A call that failed moved none of its jobs (a script is atomic): they stay leased here.
            let flags: [RedisReply]
            do { flags = try replies[call].checked("EVALSHA wait_for_limit.lua").array ?? [] } catch {
                failed += part.map { (candidates[$0], error) }
                continue
            }
            for (offset, index) in part.enumerated() where offset < flags.count {
                // 0: the lease was lost meanwhile (an expired lease, recovered); whoever has the job now runs it.
                if flags[offset].int == 1 { waiting.append(candidates[index]) }
            }
        }
        return (waiting, failed)
    }

    private func remember(_ admitted: [(Job, [LimitClaim])]) {
        let slots = admitted.compactMap { job, claims -> (id: String, entry: HeldSlots)? in
            let keys = claims.filter {
                if case .concurrency = $0.spec { return true }; return false
            }.map(\.key)
            if keys.isEmpty { return nil }
            let entry: HeldSlots = (keys, hold(for: job).milliseconds, job.leaseToken)
            return (job.id, entry)
        }
        if slots.isEmpty { return }
        held.withLock { for slot in slots { $0[slot.id] = slot.entry } }
    }

    /// Called with each heartbeat: the slots of jobs still here (waiting in the buffer or running) are
    /// held for another full hold, so a slow start or a long run never lets a slot lapse while its
    /// holder is alive; a dead worker's slots lapse one hold after its last beat.
    public func renewHolds() async throws {
        let now = clock.nowMillis()
        var byKey: [String: [String]] = [:]
        var longest: [String: Int64] = [:]
        for (id, entry) in held.withLock({ $0 }) {
            for key in entry.keys {
                byKey[key, default: []] += [String(now + entry.holdMs), id]
                longest[key] = max(longest[key] ?? 0, entry.holdMs)
            }
        }
        if byKey.isEmpty { return }
        var commands: [RedisCommand] = []
        for (key, pairs) in byKey {
            let holders = keys.limiterKeys(key).holders
            // XX: a slot this worker gave back, or that lapsed, is not taken again behind the limiter's back.
            commands.append(RedisCommand("ZADD", [holders, "XX"] + pairs))
            commands.append(RedisCommand("PEXPIRE", holders, String(longest[key]! + 60_000), "GT"))
        }
        for reply in try await redis.pipeline(commands) { _ = try reply.checked("renew concurrency holds") }
    }

    /// Records which limiters are in use, with their settings, at most every few seconds per limiter,
    /// for `spool stats`, `/metrics` and `GET /v1/limits`.
    private func record(candidates: [Job], claims: [[LimitClaim]], now: Int64) async throws {
        var fields: [String] = []
        recorded.withLock { recorded in
            for (job, list) in zip(candidates, claims) {
                for claim in list where now - (recorded[claim.key] ?? 0) >= Self.recordEvery {
                    recorded[claim.key] = now
                    let entry: JSONValue = .object([
                        "limit": claim.spec.json, "template": .string(claim.template),
                        "queue": .string(job.queue), "seen_at": .number(Double(now)),
                    ])
                    fields.append(claim.key)
                    fields.append(entry.text)
                }
            }
        }
        if fields.isEmpty { return }
        _ = try await redis.run(RedisCommand("HSET", [keys.limitsSeen] + fields)).checked("HSET")
    }

    /// A job settled or was handed back: its concurrency slots go back, and each slot goes straight to
    /// a job waiting for it (see `runReleases`). When the settle did not land (the lease was lost, and
    /// another worker may run the job now under the same slot, which is keyed by job id), the slot is
    /// left to expire.
    public func settled(_ job: Job, landed: Bool = true) {
        let slots = held.withLock { held -> [String]? in
            guard let entry = held[job.id], entry.token == job.leaseToken else { return nil }
            held[job.id] = nil
            return entry.keys
        }
        guard let slots, landed else { return }
        releaseSink.yield((job, slots))
    }

    /// Gives concurrency slots back as jobs settle, off the settle path, until `finishReleases()`;
    /// the worker runs it as one of its tasks.
    public func runReleases() async {
        defer { releasesEnded.fire() }
        for await (job, slots) in releases {
            do {
                let replies = try await redis.run(slots.map { keys.limitReleaseCall($0, ids: [job.id]) })
                let handoffs = zip(slots, replies).filter { $0.1.int == 1 }.map { slot, _ in
                    keys.releaseLimitedCall(job.queue, now: clock.nowMillis(), limits: 1, jobsPerLimit: 1, only: slot)
                }
                if !handoffs.isEmpty { _ = try await redis.run(handoffs) }
            } catch {
                // The slot comes back by itself when its hold expires.
                logger.warning("could not give a concurrency slot back", metadata: ["job_id": "\(job.id)", "error": "\(error)"])
            }
        }
    }

    /// No more releases: `runReleases` returns once it has given back the slots already queued.
    public func finishReleases() async {
        releaseSink.finish()
        await releasesEnded.wait()
    }

    /// After a run-time change, jobs already waiting are released at the new pace at once: a limit
    /// raised from 1/s to 100/s must not keep draining its waiting jobs at 1/s.
    public func repace(queues: [String]) async throws {
        let now = clock.nowMillis()
        for queue in queues {
            let flat = try await redis.run("HGETALL", keys.limitedPace(queue)).checked("HGETALL").array ?? []
            var commands: [RedisCommand] = []
            for pair in stride(from: 0, to: flat.count - 1, by: 2) {
                guard let key = flat[pair].string, let value = flat[pair + 1].string else { continue }
                let parts = value.split(separator: " ", maxSplits: 1)
                guard parts.count == 2, let old = Double(parts[0]) else { continue }
                let template = String(parts[1])
                guard let declared = catalog.specs.values.lazy.flatMap(\.limits).first(where: { $0.key.text == template }) else { continue }
                let pace = LimitClaim.releasePace(overrides.spec(key: key, template: template, declared: declared.spec))
                if pace == old { continue }
                commands.append(RedisCommand("HSET", keys.limitedPace(queue), key, "\(pace) \(template)"))
                commands.append(RedisCommand("ZADD", keys.limitedKeys(queue), "XX", "LT", String(now), key))
            }
            if !commands.isEmpty { _ = try await redis.pipeline(commands) }
        }
    }

    /// The keys and specs a job's limits resolve to, for provider feedback (`JobOutcome.throttled`).
    func claims(for job: Job) -> [LimitClaim] {
        guard let spec = catalog[job.kind], case .success(let claims) = spec.claims(for: job, overrides: overrides) else { return [] }
        return claims
    }
}
