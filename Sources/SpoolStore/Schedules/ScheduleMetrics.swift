import SpoolPostgres
import SpoolQueue
import SpoolRedis

/// What schedulers did, for `/metrics` and `spool stats`: tick outcomes and how late ticks were
/// enqueued, added to one Redis hash after each pass that did something (so a scrape of any API
/// process covers every scheduler), and each schedule's state read from PostgreSQL.
public enum ScheduleMetrics {
    /// Upper bounds of the lateness buckets, in seconds (Prometheus `le`). A tick enqueued ahead of its
    /// time (the lookahead) counts as 0.
    public static let latenessBuckets: [Double] = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]

    /// How a tick ended (`spool_schedule_ticks_total{outcome}`).
    public enum Outcome: String, CaseIterable, Sendable {
        /// Enqueued by this pass.
        case fired
        /// Already enqueued by a scheduler that died before it wrote its pass back: not fired again.
        case alreadyFired = "already_fired"
        /// Left out by the `missed` policy (older than the late grace), or folded into one by `overlap: skip`.
        case skippedMissed = "skipped_missed"
        /// Left out because the previous run of an `overlap: skip` schedule was still pending or running.
        case skippedOverlap = "skipped_overlap"
        /// The enqueue was refused (the error is on the schedule).
        case failed
    }

    /// Adds one pass's counts to Redis: one pipeline, nothing when the pass fired and skipped nothing.
    public static func record(_ pass: ScheduleTicker.Pass, redis: RedisClient, keys: KeySpace) async throws {
        let key = keys.metricsSchedules
        var commands: [RedisCommand] = []
        for (outcome, count) in pass.outcomes where count > 0 {
            commands.append(RedisCommand("HINCRBY", [key, "ticks:" + outcome.rawValue, String(count)]))
        }
        var buckets: [String: Int] = [:]
        var sumMs: Int64 = 0
        for lateness in pass.lateness {
            let ms = max(0, lateness)
            sumMs += ms
            buckets[bucket(ms), default: 0] += 1
        }
        for (bucket, count) in buckets { commands.append(RedisCommand("HINCRBY", [key, "lateness:" + bucket, String(count)])) }
        if sumMs > 0 { commands.append(RedisCommand("HINCRBY", [key, "lateness:sum_ms", String(sumMs)])) }
        if commands.isEmpty { return }
        _ = try await redis.pipeline(commands)
    }

    static func bucket(_ ms: Int64) -> String {
        latenessBuckets.first { Double(ms) <= $0 * 1000 }.map { label($0) } ?? "+Inf"
    }

    public static func label(_ seconds: Double) -> String {
        seconds == seconds.rounded() ? String(Int(seconds)) : String(seconds)
    }

    /// The totals kept in Redis: tick outcomes, lateness bucket counts (not cumulative) and the sum.
    public struct Totals: Sendable, Equatable {
        public var ticks: [Outcome: Int] = [:]
        public var lateness: [String: Int] = [:]
        public var latenessSumMs: Int64 = 0
    }

    public static func totals(redis: RedisClient, keys: KeySpace) async throws -> Totals {
        let flat = try await redis.run(RedisCommand("HGETALL", keys.metricsSchedules)).array ?? []
        var totals = Totals()
        for index in stride(from: 0, to: flat.count - 1, by: 2) {
            guard let field = flat[index].string, let value = flat[index + 1].string.flatMap({ Int64($0) }) else { continue }
            if field.hasPrefix("ticks:"), let outcome = Outcome(rawValue: String(field.dropFirst(6))) {
                totals.ticks[outcome] = Int(value)
            } else if field == "lateness:sum_ms" {
                totals.latenessSumMs = value
            } else if field.hasPrefix("lateness:") {
                totals.lateness[String(field.dropFirst(9))] = Int(value)
            }
        }
        return totals
    }

    /// The schedules at a glance, from PostgreSQL: one aggregate over the table (schedules are
    /// thousands, not millions).
    public struct Summary: Sendable, Equatable, Encodable {
        public var active = 0
        public var paused = 0
        /// Active schedules whose next tick is more than a minute past: no scheduler is firing them.
        public var overdue = 0
        public var failing = 0
        public var runs = 0
        public var skipped = 0
        /// The next tick of any active schedule (unix ms).
        public var nextRunMs: Int64?

        enum CodingKeys: String, CodingKey {
            case active, paused, overdue, failing, runs, skipped, nextRunMs = "next_run_ms"
        }
    }

    public static func summary(pool: PostgresPool) async throws -> Summary {
        try await pool.withConnection { connection in
            let row = try connection.query(
                """
                WITH clock AS (SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint AS ms)
                SELECT count(*) FILTER (WHERE NOT paused) AS active, count(*) FILTER (WHERE paused) AS paused,
                       count(*) FILTER (WHERE NOT paused AND next_run_ms < clock.ms - 60000) AS overdue,
                       count(*) FILTER (WHERE last_error IS NOT NULL) AS failing,
                       coalesce(sum(runs), 0) AS runs, coalesce(sum(skipped), 0) AS skipped,
                       min(next_run_ms) FILTER (WHERE NOT paused) AS next_run_ms
                FROM schedules, clock GROUP BY clock.ms
                """
            ).first
            guard let row else { return Summary() }
            return Summary(
                active: try row.int("active") ?? 0, paused: try row.int("paused") ?? 0, overdue: try row.int("overdue") ?? 0,
                failing: try row.int("failing") ?? 0, runs: try row.int("runs") ?? 0, skipped: try row.int("skipped") ?? 0,
                nextRunMs: try row.int("next_run_ms").map(Int64.init))
        }
    }

    /// Each schedule's last run, the most recent first, at most `limit` (for `spool_schedule_last_run_seconds`).
    public static func lastRuns(pool: PostgresPool, limit: Int = 2_000) async throws -> [(name: String, tenant: String, lastRunMs: Int64)] {
        try await pool.withConnection { connection in
            try connection.query(
                """
                SELECT name, coalesce(tenant_id, '') AS tenant, last_run_ms FROM schedules
                WHERE last_run_ms IS NOT NULL ORDER BY last_run_ms DESC LIMIT $1
                """, [limit]
            ).rows.map { (try $0.string("name") ?? "", try $0.string("tenant") ?? "", Int64(try $0.int("last_run_ms") ?? 0)) }
        }
    }
}
