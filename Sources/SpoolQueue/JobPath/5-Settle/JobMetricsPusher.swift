import Logging
import ServiceLifecycle
import SpoolRedis
import SpoolSupport
import Synchronization

/// Counts settled jobs by kind, queue and outcome, with a duration histogram per kind and queue, and
/// adds them to Redis once a second. The API serves them at /metrics, so every worker process is
/// scraped through one endpoint and a worker needs no port of its own.
///
/// The same flush keeps the dashboard's timeline: one hash per minute, `KeySpace.metricsMinute`
/// (`<prefix>:metrics:minute:<unix ms / 60,000>`), whose fields are the outcome labels (`completed`,
/// `retry`, `snoozed`, `dead`, `throttled`, `quota_exhausted`) counted by the minute each job finished,
/// whichever flush carries them. Each hash expires two hours after its last write, so the last hour is
/// always whole and nothing needs trimming; the overview reads 60 of them in one pipeline instead of
/// counting jobs. Leases that expired (recover.lua) settle without a worker and are not in it.
public final class JobMetricsPusher: SettleObserver, Service {
    /// Upper bounds of the duration buckets, in milliseconds (Prometheus `le`).
    public static let bucketsMs: [Double] = [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000]
    public static let fieldSeparator = "\t"

    private struct Pending {
        var outcomes: [String: Int] = [:]
        var buckets: [String: Int] = [:]
        var sums: [String: Double] = [:]
        /// Unix minute → outcome label → count.
        var minutes: [Int64: [String: Int]] = [:]
    }

    /// How long a minute's hash outlives its last write: the hour the overview charts, and an hour more.
    public static let minuteTTLSeconds = 7200

    private let redis: RedisClient
    private let keys: KeySpace
    private let logger: Logger
    private let pending = Mutex(Pending())

    public init(redis: RedisClient, keys: KeySpace, logger: Logger) {
        self.redis = redis
        self.keys = keys
        self.logger = logger
    }

    public func settled(_ job: Job, outcome: JobOutcome, duration: Duration, at finishedAt: Int64) {
        let series = job.kind + Self.fieldSeparator + job.queue
        let ms = duration.secondsDouble * 1000
        let bucket = Self.bucketsMs.first { ms <= $0 }.map { Self.label($0) } ?? "+Inf"
        pending.withLock { pending in
            pending.outcomes[series + Self.fieldSeparator + outcome.label, default: 0] += 1
            pending.buckets[series + Self.fieldSeparator + bucket, default: 0] += 1
            pending.sums[series, default: 0] += ms
            pending.minutes[finishedAt / 60_000, default: [:]][outcome.label, default: 0] += 1
        }
    }

    public func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            try? await Task.sleep(for: .seconds(1))
            await flush()
        }
        // Cancelled, the last counts are still worth sending.
        await withoutCancellation { await self.flush() }
    }

    /// Adds what was counted since the last flush; on failure the counts wait for the next one.
    public func flush() async {
        let taken = pending.withLock { pending -> Pending in
            let taken = pending
            pending = Pending()
            return taken
        }
        if taken.outcomes.isEmpty { return }
        var commands: [RedisCommand] = []
        for (field, count) in taken.outcomes { commands.append(RedisCommand("HINCRBY", [keys.metricsOutcomes, field, String(count)])) }
        for (field, count) in taken.buckets { commands.append(RedisCommand("HINCRBY", [keys.metricsDurations, field, String(count)])) }
        for (series, sum) in taken.sums {
            commands.append(RedisCommand("HINCRBYFLOAT", [keys.metricsDurations, series + Self.fieldSeparator + "sum_ms", String(sum)]))
        }
        for (minute, counts) in taken.minutes {
            let key = keys.metricsMinute(minute)
            for (label, count) in counts { commands.append(RedisCommand("HINCRBY", [key, label, String(count)])) }
            commands.append(RedisCommand("EXPIRE", [key, String(Self.minuteTTLSeconds)]))
        }
        do {
            let replies = try await redis.pipeline(commands)
            if let failure = replies.first(where: {
                if case .error = $0 { return true }; return false
            }) {
                logger.warning("metrics push refused", metadata: ["reply": "\(failure)"])
            }
        } catch {
            pending.withLock { pending in
                for (field, count) in taken.outcomes { pending.outcomes[field, default: 0] += count }
                for (field, count) in taken.buckets { pending.buckets[field, default: 0] += count }
                for (series, sum) in taken.sums { pending.sums[series, default: 0] += sum }
                for (minute, counts) in taken.minutes {
                    for (label, count) in counts { pending.minutes[minute, default: [:]][label, default: 0] += count }
                }
            }
        }
    }

    public static func label(_ bound: Double) -> String {
        bound == bound.rounded() ? String(Int(bound)) : String(bound)
    }
}
