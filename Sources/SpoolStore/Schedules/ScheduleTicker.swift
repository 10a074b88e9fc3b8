import Logging
import ServiceLifecycle
import SpoolPostgres
import SpoolQueue
import SpoolSupport

/// Fires schedules' due ticks. Any number of processes may run one: each tick is enqueued once.
///
/// A pass:
/// 1. **claims** up to `batch` schedules due within `lookahead` in one statement (`FOR UPDATE SKIP
///    LOCKED`, so concurrent schedulers take different ones), marking each claimed until PostgreSQL's
///    clock plus `claim`;
/// 2. works out the ticks to fire from the stored next tick, by the schedule's missed-tick and overlap
///    policies, and **enqueues** them in one batch, each with the idempotency key
///    `schedule:<id>:<tick ms>`: the tick is part of the job's identity;
/// 3. **releases** each schedule with its next tick and counts, only if its claim is still this one's.
///
/// Exactly once by construction: a scheduler that dies between 2 and 3 leaves its claim to lapse; the
/// next one fires the same ticks, and their keys answer with the jobs already enqueued. Every
/// decision reads PostgreSQL's clock and the stored tick, never this process's clock, so schedulers
/// whose clocks are apart agree on which ticks are due. (A Redis failover that loses an
/// acknowledged key could let a tick through twice; see docs/schedules.md.)
public struct ScheduleTicker: Service {
    let pool: PostgresPool
    let enqueuer: Enqueuer
    let admin: QueueAdmin
    let logger: Logger
    /// Schedules claimed per pass.
    public var batch = 500
    /// How long a claim holds a schedule from other schedulers.
    public var claim: Duration = .seconds(10)
    /// A tick later than this when it is fired counts as missed (its schedule's `missed` policy applies).
    public var lateGrace: Duration = .seconds(60)
    /// How often a pass runs.
    public var interval: Duration = .milliseconds(200)
    /// Ticks this close ahead are enqueued now, as jobs scheduled for their time: a burst of schedules
    /// due at the same second (10,000 at the top of the minute) is in Redis before then, and the
    /// scheduler's promotion makes each job runnable at its time. A pause or a delete does not take
    /// back the ticks already enqueued. Schedules with overlap `skip` are not enqueued ahead.
    public var lookahead: Duration = .seconds(5)

    public init(pool: PostgresPool, enqueuer: Enqueuer, admin: QueueAdmin, logger: Logger) {
        self.pool = pool
        self.enqueuer = enqueuer
        self.admin = admin
        self.logger = logger
    }

    /// What one pass did.
    public struct Pass: Sendable, Equatable {
        public var claimed = 0
        public var fired = 0
        public var skipped = 0
        public var failed = 0
        /// Ticks by outcome, for `/metrics` (ScheduleMetrics).
        public var outcomes: [ScheduleMetrics.Outcome: Int] = [:]
        /// Per tick enqueued, how long after its time its job was in Redis (ms; negative: ahead of it).
        public var lateness: [Int64] = []
    }

    /// Passes that run at once in this process, each claiming its own schedules: a pass mostly waits
    /// on PostgreSQL and Redis, so a burst (10,000 schedules due at the same second) drains faster with
    /// a few at once.
    public var concurrentPasses = 4
    /// Told about every pass (for benchmarks and metrics).
    public var onPass: (@Sendable (Pass) -> Void)?

    public func run() async throws {
        try await cancelOnGracefulShutdown {
            await withDiscardingTaskGroup { group in
                for _ in 0..<max(1, concurrentPasses) { group.addTask { await repeatPasses() } }
            }
        }
    }

    private func repeatPasses() async {
        while !Task.isCancelled {
            do {
                // A pass is never cut in half by a stop: once its schedules are claimed, their jobs are
                // enqueued and the claims released, so that nothing waits for a claim to lapse.
                let ticker = self
                let pass = try await withoutCancellation { () -> Result<Pass, any Error> in
                    do { return .success(try await ticker.tick()) } catch { return .failure(error) }
                }.get()
                onPass?(pass)
                // A full batch: more are due, go on at once.
                if pass.claimed >= batch { continue }
            } catch is CancellationError {
                break
            } catch {
                logger.error("schedule pass failed", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: interval)
        }
    }

    /// Adds the pass's counts to the metrics; a failure only costs those counts.
    func record(_ pass: Pass) async {
        do { try await ScheduleMetrics.record(pass, redis: admin.redis, keys: admin.keys) } catch {
            logger.warning("schedule metrics not recorded", metadata: ["error": "\(error)"])
        }
    }

    /// One pass: claim, fire, release.
    public func tick() async throws -> Pass {
        let claimMs = claim.milliseconds
        let lookaheadMs = lookahead.milliseconds
        let started = monotonicNow()
        let claimed: (schedules: [Schedule], nowMs: Int64) = try await pool.withConnection { connection in
            let rows = try connection.query(
                """
                WITH clock AS (SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint AS ms)
                UPDATE schedules SET claimed_until = clock.ms + $2
                FROM clock
                WHERE schedules.id IN (
                    SELECT s.id FROM schedules s, clock c
                    WHERE NOT s.paused AND s.next_run_ms IS NOT NULL
                      AND s.next_run_ms <= c.ms + CASE WHEN s.overlap = 'skip' THEN 0 ELSE $3 END
                      AND (s.claimed_until IS NULL OR s.claimed_until < c.ms)
                    ORDER BY s.next_run_ms LIMIT $1 FOR UPDATE OF s SKIP LOCKED)
                RETURNING \(Schedule.columns), clock.ms AS now_ms
                """, [batch, claimMs, lookaheadMs]
            ).rows
            let now = try rows.first?.int("now_ms").map(Int64.init) ?? 0
            return (try rows.map(Schedule.init), now)
        }
        var pass = Pass()
        pass.claimed = claimed.schedules.count
        guard !claimed.schedules.isEmpty else { return pass }
        let now = claimed.nowMs
        let claimUntil = now + claimMs

        // Overlap: the previous job of each `skip` schedule, in one round trip.
        let overlapping = claimed.schedules.filter { $0.overlap == .skip && $0.lastJobID != nil }
        var busy = Set<String>()
        if !overlapping.isEmpty {
            let states = try await admin.states(of: overlapping.map { ($0.lastJobID!, $0.lastJobQueue ?? "default") })
            for (schedule, state) in zip(overlapping, states)
            where [.pending, .scheduled, .limited, .active, .retry, .parked].contains(state) {
                busy.insert(schedule.id)
            }
        }

        var plans: [Plan] = []
        var requests: [EnqueueRequest] = []
        for schedule in claimed.schedules {
            var plan = Self.plan(
                schedule, nowMs: now, lookaheadMs: lookaheadMs, lateGraceMs: lateGrace.milliseconds, busy: busy.contains(schedule.id))
            plan.firstRequest = requests.count
            for tick in plan.fire {
                var request = EnqueueRequest(
                    kind: schedule.kind, args: schedule.args, queue: schedule.queue,
                    runAt: schedule.jitterMs > 0 ? tick + Int64.random(in: 0...Int64(schedule.jitterMs)) : tick,
                    idempotencyKey: schedule.jobKey(tickMs: tick), tenant: schedule.tenantID)
                request.producer = schedule.producer.enqueueProducer
                requests.append(request)
            }
            plans.append(plan)
        }
        let results = requests.isEmpty ? [] : try await enqueuer.enqueue(batch: requests)
        // When the jobs were in Redis, on PostgreSQL's clock: the claim's time plus what has passed since.
        let enqueuedMs = now + (monotonicNow() - started).milliseconds

        var releases: [Release] = []
        for plan in plans {
            var release = Release(plan: plan)
            for index in plan.firstRequest..<(plan.firstRequest + plan.fire.count) {
                switch results[index] {
                case .success(let result):
                    // Not created: a tick fired before by a scheduler that died before its release. It
                    // counts as a run only if that release never happened (the stored last run is older).
                    let tick = plan.fire[index - plan.firstRequest]
                    if result.created || tick > (plan.schedule.lastRunMs ?? Int64.min) { release.runs += 1 }
                    pass.outcomes[result.created ? .fired : .alreadyFired, default: 0] += 1
                    release.lastJobID = result.id
                    release.lastJobQueue = result.queue
                    pass.lateness.append(enqueuedMs - plan.fire[index - plan.firstRequest])
                case .failure(let error):
                    pass.outcomes[.failed, default: 0] += 1
                    release.error = "tick \(CivilTime(unixMillis: plan.fire[index - plan.firstRequest]).rfc3339): \(error)"
                }
            }
            pass.fired += release.runs
            pass.skipped += plan.skipped
            pass.outcomes[plan.skippedForOverlap ? .skippedOverlap : .skippedMissed, default: 0] += plan.skipped
            if release.error != nil { pass.failed += 1 }
            releases.append(release)
        }
        try await Self.release(releases, claimUntil: claimUntil, pool: pool)
        await record(pass)
        return pass
    }

    /// What to do with one claimed schedule.
    struct Plan: Sendable {
        let schedule: Schedule
        /// The ticks to enqueue, oldest first.
        var fire: [Int64] = []
        var skipped = 0
        /// The ticks were skipped because the previous run was still busy (overlap `skip`).
        var skippedForOverlap = false
        /// The tick to store as next; nil: none again.
        var next: Int64?
        var lastRunMs: Int64?
        var error: String?
        var firstRequest = 0
    }

    /// The ticks due by `nowMs + lookaheadMs` (from the stored next tick), and which of them fire: the
    /// on-time ones (at most `lateGraceMs` old, or ahead) always, the older ones by the missed-tick
    /// policy; with overlap `skip`, the latest only, and none while the previous job is `busy`.
    static func plan(_ schedule: Schedule, nowMs: Int64, lookaheadMs: Int64 = 0, lateGraceMs: Int64, busy: Bool) -> Plan {
        var plan = Plan(schedule: schedule)
        guard let spec = try? schedule.spec(), let zone = ZoneInfo.named(schedule.timezone), var tick = schedule.nextRunMs else {
            plan.error = "the schedule's rule or time zone (\(schedule.timezone)) no longer reads"
            return plan
        }
        // A schedule that must not overlap waits for each tick's time: its previous job must be done
        // then, not merely enqueued ahead.
        let lookaheadMs = schedule.overlap == .skip ? 0 : lookaheadMs
        var due: [Int64] = []
        var beyond = 0
        var next: Int64? = tick
        // At most this many ticks are walked one by one; a longer outage jumps to now.
        let walk = 100_000
        while let current = next, current <= nowMs + lookaheadMs {
            if let ends = schedule.endsMs, current > ends { next = nil; break }
            if due.count < schedule.missedLimit + 1_000 { due.append(current) } else { beyond += 1 }
            tick = current
            if due.count + beyond >= walk {
                next = spec.next(after: nowMs + lookaheadMs, zone: zone)
                break
            }
            next = spec.next(after: current, zone: zone)
        }
        if let ends = schedule.endsMs, let candidate = next, candidate > ends { next = nil }
        plan.next = next
        let onTime = due.filter { nowMs - $0 <= lateGraceMs }
        let missed = due.filter { nowMs - $0 > lateGraceMs }
        var fire: [Int64]
        switch schedule.missed {
        case .skip: fire = onTime
        case .one: fire = (missed.last.map { [$0] } ?? []) + onTime
        case .all: fire = Array(missed.suffix(schedule.missedLimit)) + onTime
        }
        if schedule.overlap == .skip {
            fire = busy ? [] : Array(fire.suffix(1))
            plan.skippedForOverlap = busy
        }
        plan.fire = fire
        plan.skipped = due.count + beyond - fire.count
        plan.lastRunMs = fire.last
        return plan
    }

    /// What a pass writes back for one schedule.
    struct Release: Sendable {
        let plan: Plan
        var runs = 0
        var lastJobID: String?
        var lastJobQueue: String?
        var error: String?

        init(plan: Plan) {
            self.plan = plan
            error = plan.error
        }
    }

    private static func numbers(_ values: [Int64?]) -> PostgresArray { PostgresArray(values.map { $0.map(String.init) }) }

    /// Writes each schedule's next tick and counts, where its claim is still this pass's: one whose
    /// claim lapsed belongs to another scheduler now, which fires the same ticks (no-ops by their keys).
    static func release(_ releases: [Release], claimUntil: Int64, pool: PostgresPool) async throws {
        try await pool.withConnection { connection in
            try connection.query(
                """
                UPDATE schedules s SET next_run_ms = u.next, runs = s.runs + u.runs, skipped = s.skipped + u.skipped,
                       last_run_ms = coalesce(u.last_run, s.last_run_ms), last_job_id = coalesce(u.job, s.last_job_id),
                       last_job_queue = coalesce(u.queue, s.last_job_queue), last_error = u.error, claimed_until = NULL, updated_at = now()
                FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[], $6::text[], $7::text[], $8::text[])
                     AS u(id, next, runs, skipped, last_run, job, queue, error)
                WHERE s.id = u.id AND s.claimed_until = $9
                """,
                [
                    PostgresArray(releases.map(\.plan.schedule.id)), numbers(releases.map(\.plan.next)),
                    numbers(releases.map { Int64($0.runs) }), numbers(releases.map { Int64($0.plan.skipped) }),
                    numbers(releases.map { $0.runs > 0 ? $0.plan.lastRunMs : nil }), PostgresArray(releases.map(\.lastJobID)),
                    PostgresArray(releases.map(\.lastJobQueue)), PostgresArray(releases.map(\.error)), claimUntil,
                ])
        }
    }
}
