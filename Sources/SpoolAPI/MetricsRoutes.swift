import HTTPTypes
import Hummingbird
import Metrics
import NIOCore
import Prometheus
import SpoolQueue
import SpoolRedis
import SpoolStore
import SpoolSupport
import Synchronization

/// `GET /metrics` in Prometheus text format.
///
/// - HTTP request metrics come from Hummingbird's MetricsMiddleware through swift-metrics into the
///   swift-prometheus registry.
/// - Job metrics come from Redis, where every worker adds its counts once a second (JobMetricsPusher)
///   and enqueue.lua counts enqueues: so one scrape of any API process covers every worker.
///   Counters and gauges go through the registry; the duration histograms are written out as the
///   workers' bucket counts, since a registry histogram can only observe values itself.
struct MetricsRoutes: Sendable {
    let services: APIServices
    let registry: PrometheusCollectorRegistry
    let mirror: CounterMirror

    func register(on router: Router<APIContext>) {
        router.get("/metrics") { _, _ in try await scrape() }
    }

    private func scrape() async throws -> Response {
        let keys = services.keys
        let stats = try await services.admin.stats()
        let queues = stats.map(\.queue)
        var commands = [RedisCommand("HGETALL", keys.metricsOutcomes), RedisCommand("HGETALL", keys.metricsDurations)]
        commands += queues.map { RedisCommand("HGETALL", keys.stats($0)) }
        let replies = try await services.redis.pipeline(commands)
        func pairs(_ reply: RedisReply) -> [(String, String)] {
            let flat = reply.array ?? []
            return stride(from: 0, to: flat.count - 1, by: 2).map { (flat[$0].string ?? "", flat[$0 + 1].string ?? "") }
        }
        let separator = JobMetricsPusher.fieldSeparator
        for (field, value) in pairs(replies[0]) {
            let parts = field.split(separator: separator, omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 3, let total = Int(value) else { continue }
            mirror.set(
                registry, "spool_jobs_settled_total", [("kind", parts[0]), ("queue", parts[1]), ("outcome", parts[2])], total,
                help: "Settled job attempts by kind, queue and outcome (completed, retry, snoozed, dead).")
        }
        for (index, queue) in queues.enumerated() {
            for (field, value) in pairs(replies[2 + index]) where field.hasPrefix("enqueued:") {
                guard let total = Int(value) else { continue }
                mirror.set(
                    registry, "spool_jobs_enqueued_total", [("kind", String(field.dropFirst(9))), ("queue", queue)], total,
                    help: "Jobs enqueued by kind and queue.")
            }
        }
        let rates = try await services.admin.throughput(queues: queues)
        for queue in stats {
            for (state, size) in [
                ("pending", queue.pending), ("scheduled", queue.scheduled), ("active", queue.active),
                ("retry", queue.retry), ("dead", queue.dead),
            ] {
                registry.makeGauge(
                    name: "spool_queue_jobs", labels: [("queue", queue.queue), ("state", state)],
                    help: "Jobs in each queue by state."
                ).set(Double(size))
            }
            registry.makeGauge(
                name: "spool_queue_latency_seconds", labels: [("queue", queue.queue)],
                help: "Age of the oldest pending job."
            ).set(queue.oldestPendingAgeSeconds)
            registry.makeGauge(
                name: "spool_queue_throughput_per_second", labels: [("queue", queue.queue)],
                help: "Jobs finished (completed or dead) per second over the last minute."
            )
            .set(rates[queue.queue] ?? 0)
        }
        // Limiters used in the last hour (at most 200, the most recent: keys per sender number add up).
        for limiter in try await services.admin.limiters() {
            let labels = [("limit", limiter.key), ("kind", limiter.kind)]
            registry.makeGauge(name: "spool_limiter_postponed_jobs", labels: labels, help: "Jobs waiting for the limiter.")
                .set(Double(limiter.postponed))
            registry.makeGauge(
                name: "spool_limiter_paused_until_seconds", labels: labels,
                help: "Unix time until which a provider paused the limiter (0 when not paused)."
            )
            .set(Double(limiter.pausedUntil ?? 0) / 1000)
            if let tokens = limiter.tokens {
                registry.makeGauge(name: "spool_limiter_tokens", labels: labels, help: "Units a rate limiter could admit now.").set(tokens)
            }
            if let holders = limiter.holders {
                registry.makeGauge(name: "spool_limiter_holders", labels: labels, help: "Slots held now (concurrency limiters).").set(
                    Double(holders))
            }
            if let used = limiter.used {
                registry.makeGauge(name: "spool_limiter_window_used", labels: labels, help: "Units used in the current window (quotas).")
                    .set(Double(used))
            }
            for (decision, total) in [
                ("admitted", limiter.admitted), ("denied", limiter.denied), ("provider_pause", limiter.providerPauses),
            ] {
                mirror.set(
                    registry, "spool_limiter_decisions_total", labels + [("decision", decision)], total,
                    help: "Limiter decisions: jobs admitted, jobs refused (postponed), pauses set by a provider.")
            }
        }
        let alerts = try await services.admin.alerts(queues: queues)
        for queue in queues {
            registry.makeGauge(
                name: "spool_queue_quota_alert", labels: [("queue", queue)],
                help: "1 while a provider's spent quota keeps the queue paused."
            ).set(alerts[queue] == nil ? 0.0 : 1.0)
        }
        let schedules = try await scheduleMetrics()
        var text = registry.emitToString()
        text += Self.histograms(pairs(replies[1]), separator: separator)
        text += schedules
        var headers = HTTPFields()
        headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    /// Schedules: tick outcomes (counters through the registry), each schedule's last run and the
    /// overdue ones (gauges), and the lateness histogram, written out like the job durations.
    private func scheduleMetrics() async throws -> String {
        let totals = try await ScheduleMetrics.totals(redis: services.redis, keys: services.keys)
        for outcome in ScheduleMetrics.Outcome.allCases {
            mirror.set(
                registry, "spool_schedule_ticks_total", [("outcome", outcome.rawValue)], totals.ticks[outcome] ?? 0,
                help: "Schedule ticks by outcome: fired, already_fired (by a scheduler that died), skipped_missed, skipped_overlap, failed.")
        }
        let summary = try await ScheduleMetrics.summary(pool: services.pool)
        for (state, count) in [("active", summary.active), ("paused", summary.paused), ("overdue", summary.overdue)] {
            registry.makeGauge(
                name: "spool_schedules", labels: [("state", state)],
                help: "Schedules: active, paused, and overdue (active with a tick more than a minute past: no scheduler is firing).")
            .set(Double(count))
        }
        for run in try await ScheduleMetrics.lastRuns(pool: services.pool) {
            registry.makeGauge(
                name: "spool_schedule_last_run_seconds", labels: [("schedule", run.name), ("tenant", run.tenant)],
                help: "Unix time of each schedule's last tick fired (the 2,000 most recent)."
            ).set(Double(run.lastRunMs) / 1000)
        }
        let count = totals.lateness.values.reduce(0, +)
        if count == 0 { return "" }
        var text = "# HELP spool_schedule_lateness_seconds How long after its time each tick's job was in Redis (0 when enqueued ahead).\n"
        text += "# TYPE spool_schedule_lateness_seconds histogram\n"
        var cumulative = 0
        for bound in ScheduleMetrics.latenessBuckets {
            cumulative += totals.lateness[ScheduleMetrics.label(bound)] ?? 0
            text += "spool_schedule_lateness_seconds_bucket{le=\"\(ScheduleMetrics.label(bound))\"} \(cumulative)\n"
        }
        text += "spool_schedule_lateness_seconds_bucket{le=\"+Inf\"} \(count)\n"
        text += "spool_schedule_lateness_seconds_sum \(Double(totals.latenessSumMs) / 1000)\n"
        text += "spool_schedule_lateness_seconds_count \(count)\n"
        return text
    }

    /// `spool_job_duration_seconds` per kind and queue, cumulative buckets as Prometheus expects.
    static func histograms(_ fields: [(String, String)], separator: String) -> String {
        var buckets: [String: [String: Int]] = [:]
        var sums: [String: Double] = [:]
        for (field, value) in fields {
            let parts = field.split(separator: separator, omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 3 else { continue }
            let series = parts[0] + separator + parts[1]
            if parts[2] == "sum_ms" { sums[series] = Double(value) ?? 0 } else { buckets[series, default: [:]][parts[2]] = Int(value) ?? 0 }
        }
        if buckets.isEmpty { return "" }
        var text = "# HELP spool_job_duration_seconds Time handlers took, by kind and queue.\n# TYPE spool_job_duration_seconds histogram\n"
        for series in buckets.keys.sorted() {
            let parts = series.split(separator: separator, omittingEmptySubsequences: false).map(String.init)
            let labels = "kind=\"\(escape(parts[0]))\",queue=\"\(escape(parts[1]))\""
            var cumulative = 0
            for bound in JobMetricsPusher.bucketsMs {
                cumulative += buckets[series]?[JobMetricsPusher.label(bound)] ?? 0
                text += "spool_job_duration_seconds_bucket{\(labels),le=\"\(bound / 1000)\"} \(cumulative)\n"
            }
            cumulative += buckets[series]?["+Inf"] ?? 0
            text += "spool_job_duration_seconds_bucket{\(labels),le=\"+Inf\"} \(cumulative)\n"
            text += "spool_job_duration_seconds_sum{\(labels)} \((sums[series] ?? 0) / 1000)\n"
            text += "spool_job_duration_seconds_count{\(labels)} \(cumulative)\n"
        }
        return text
    }

    private static func escape(_ value: String) -> String {
        value.replacing("\\", with: "\\\\").replacing("\"", with: "\\\"").replacing("\n", with: "\\n")
    }
}

/// Registry counters that follow totals kept in Redis: each scrape adds what the total grew by.
final class CounterMirror: Sendable {
    private let seen = Mutex<[String: Int]>([:])

    func set(_ registry: PrometheusCollectorRegistry, _ name: String, _ labels: [(String, String)], _ total: Int, help: String) {
        let key = name + labels.map { "\($0.0)=\($0.1)" }.joined(separator: ",")
        let delta = seen.withLock { seen -> Int in
            let delta = total - (seen[key] ?? 0)
            seen[key] = total
            return delta
        }
        if delta > 0 {
            registry.makeCounter(name: name, labels: labels, help: help).increment(by: Int64(delta))
        } else if delta == 0 {
            _ = registry.makeCounter(name: name, labels: labels, help: help)
        }
    }
}
