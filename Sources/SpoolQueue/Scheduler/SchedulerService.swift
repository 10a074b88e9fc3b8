import Logging
import ServiceLifecycle
import SpoolRedis
import SpoolSupport

/// The scheduler role: promotes due scheduled and retry jobs, recovers expired leases, and trims
/// completed records and dead sets, for every queue declared in Jobs/ or seen in Redis. Every step is idempotent, so any number of
/// schedulers (and workers, which run one too) can share a Redis.
public struct SchedulerService: Service {
    let redis: RedisClient
    let keys: KeySpace
    let declaredQueues: [String]
    let promoter: Promoter
    let recoverer: Recoverer
    let janitor: Janitor
    /// Follow-ups a worker left in an outbox (it died after the settle, before moving them).
    let outbox: Outbox
    let pollInterval: Duration
    let recoverInterval: Duration
    let logger: Logger

    public init(redis: RedisClient, settings: SpoolSettings, declaredQueues: [String], clock: any WallClock = SystemClock(), logger: Logger) {
        self.redis = redis
        self.keys = settings.keys
        self.declaredQueues = declaredQueues
        self.promoter = Promoter(redis: redis, keys: settings.keys, clock: clock)
        self.recoverer = Recoverer(redis: redis, keys: settings.keys, clock: clock)
        self.janitor = Janitor(redis: redis, keys: settings.keys, clock: clock, completedTTL: settings.completedTTL,
                               deadMaxJobs: settings.deadMaxJobs, deadMaxAge: settings.deadMaxAge)
        self.outbox = Outbox(redis: redis, keys: settings.keys, clock: clock)
        self.pollInterval = settings.pollInterval
        // Look for expired leases a few times per lease period, and at least every 5 s.
        self.recoverInterval = min(settings.lease / 4, .seconds(5))
        self.logger = logger
    }

    public func run() async throws {
        var queues = declaredQueues
        var lastQueueRefresh = Duration.zero
        var lastRecover = Duration.zero
        var lastTrim = Duration.zero
        var lastUnpark = Duration.zero
        var lastOutbox = Duration.zero
        var nextLimiterDue: Int64?
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            let now = monotonicNow()
            do {
                if now - lastQueueRefresh > .seconds(5) {
                    let known = try await redis.run("SMEMBERS", keys.queues).array?.compactMap(\.string) ?? []
                    queues = Array(Set(declaredQueues + known)).sorted()
                    lastQueueRefresh = now
                }
                let promoted = try await promoter.promote(queues: queues)
                nextLimiterDue = promoted.nextLimiterDue
                if now - lastRecover > recoverInterval {
                    let (requeued, killed) = try await recoverer.recover(queues: queues)
                    if requeued + killed > 0 {
                        logger.notice("recovered jobs from expired leases", metadata: ["requeued": "\(requeued)", "dead": "\(killed)"])
                    }
                    lastRecover = now
                }
                if now - lastOutbox > .seconds(1) {
                    var moved = 0
                    for queue in queues { moved += try await outbox.move(queue: queue) }
                    if moved > 0 { logger.notice("moved follow-up jobs left in an outbox", metadata: ["jobs": "\(moved)"]) }
                    lastOutbox = now
                }
                if now - lastUnpark > .seconds(1) {
                    let moved = try await TenantParking.unparkResumed(redis: redis, keys: keys, queues: queues)
                    if moved > 0 { logger.notice("handed back parked jobs of resumed tenants", metadata: ["jobs": "\(moved)"]) }
                    lastUnpark = now
                }
                if now - lastTrim > .seconds(10) {
                    try await janitor.sweep(queues: queues)
                    lastTrim = now
                }
            } catch let error as RedisError where error.isConnectionError {
                // Logged once per outage by the client.
            } catch is CancellationError {
                break
            } catch {
                logger.error("scheduler step failed", metadata: ["error": "\(error)"])
            }
            // Until the next poll, or sooner when a limiter's waiting jobs are due before it.
            var pause = pollInterval
            if let due = nextLimiterDue {
                pause = min(pause, .milliseconds(max(due - promoter.clock.nowMillis(), 5)))
            }
            try? await Task.sleep(for: pause)
        }
    }
}
