import Logging
import ServiceLifecycle
import SpoolRedis
import SpoolSupport
import Synchronization

/// The scheduler role: promotes due scheduled and retry jobs, recovers expired leases, moves follow-ups
/// left in outboxes, hands back parked jobs of resumed tenants, and trims completed records and dead
/// sets, for every queue declared in Jobs/ or seen in Redis. Each duty runs on its own timer (see
/// `duties`). Every step is idempotent, so any number of schedulers (and workers, which run one too)
/// can share a Redis.
public struct SchedulerService: Service {
    let redis: RedisClient
    let keys: KeySpace
    let declaredQueues: [String]
    let promoter: Promoter
    let recoverer: Recoverer
    let janitor: Janitor
    let sweepRedis: RedisClient
    /// Follow-ups a worker left in an outbox (it died after the settle, before moving them).
    let outbox: Outbox
    let pollInterval: Duration
    let recoverInterval: Duration
    let logger: Logger

    public init(redis: RedisClient, settings: SpoolSettings, declaredQueues: [String], clock: any WallClock = SystemClock(), logger: Logger)
    {
        self.redis = redis
        self.keys = settings.keys
        self.declaredQueues = declaredQueues
        self.promoter = Promoter(redis: redis, keys: settings.keys, clock: clock)
        self.recoverer = Recoverer(redis: redis, keys: settings.keys, clock: clock)
        // The sweep may walk long sets: on a connection of its own, it never queues ahead of promotion.
        self.sweepRedis = RedisClient(url: settings.redisURL, name: "scheduler-sweep", logger: logger)
        self.janitor = Janitor(
            redis: sweepRedis, keys: settings.keys, clock: clock, completedTTL: settings.completedTTL,
            deadMaxJobs: settings.deadMaxJobs, deadMaxAge: settings.deadMaxAge)
        self.outbox = Outbox(redis: redis, keys: settings.keys, clock: clock, durability: settings.enqueueDurability)
        self.pollInterval = settings.pollInterval
        // Look for expired leases a few times per lease period, and at least every 5 s.
        self.recoverInterval = min(settings.lease / 4, .seconds(5))
        self.logger = logger
    }

    /// One duty of the scheduler: a step repeated on its own timer, so that a slow step delays only
    /// itself and an error skips only its own round. `step` may ask for an earlier next round.
    private struct Duty: Sendable {
        let name: String
        let interval: Duration
        let step: @Sendable ([String]) async throws -> Duration?
    }

    private var duties: [Duty] {
        let (promoter, recoverer, janitor, outbox, redis, keys, logger) = (promoter, recoverer, janitor, outbox, redis, keys, logger)
        let pollInterval = self.pollInterval
        return [
            Duty(name: "promote", interval: pollInterval) { queues in
                // Sooner than the next poll when a limiter's waiting jobs are due before it.
                guard let due = try await promoter.promote(queues: queues).nextLimiterDue else { return nil }
                return min(pollInterval, .milliseconds(max(due - promoter.clock.nowMillis(), 5)))
            },
            Duty(name: "recover", interval: recoverInterval) { queues in
                let (requeued, killed) = try await recoverer.recover(queues: queues)
                if requeued + killed > 0 {
                    logger.notice("recovered jobs from expired leases", metadata: ["requeued": "\(requeued)", "dead": "\(killed)"])
                }
                return nil
            },
            Duty(name: "outbox", interval: .seconds(1)) { queues in
                var moved = 0
                for queue in queues { moved += try await outbox.move(queue: queue) }
                if moved > 0 { logger.notice("moved follow-up jobs left in an outbox", metadata: ["jobs": "\(moved)"]) }
                return nil
            },
            Duty(name: "unpark", interval: .seconds(1)) { queues in
                let moved = try await TenantParking.unparkResumed(redis: redis, keys: keys, queues: queues)
                if moved > 0 { logger.notice("handed back parked jobs of resumed tenants", metadata: ["jobs": "\(moved)"]) }
                return nil
            },
            Duty(name: "trim", interval: .seconds(10)) { queues in
                try await janitor.sweep(queues: queues)
                return nil
            },
        ]
    }

    public func run() async throws {
        defer { sweepRedis.close() }
        let queues = QueueList(declaredQueues)
        let (redis, keys, declaredQueues) = (redis, keys, declaredQueues)
        let refresh = Duty(name: "queues", interval: .seconds(5)) { _ in
            let known = try await redis.run("SMEMBERS", keys.queues).array?.compactMap(\.string) ?? []
            queues.set(Array(Set(declaredQueues + known)).sorted())
            return nil
        }
        // The queues first, so that the first round of every duty sees every queue.
        _ = try? await refresh.step([])
        try await cancelOnGracefulShutdown {
            await withDiscardingTaskGroup { group in
                for duty in [refresh] + duties {
                    group.addTask { await repeatDuty(duty, queues: queues) }
                }
            }
        }
    }

    private func repeatDuty(_ duty: Duty, queues: QueueList) async {
        while !Task.isCancelled {
            var wait = duty.interval
            do {
                if let sooner = try await duty.step(queues.current) { wait = sooner }
            } catch let error as RedisError where error.isConnectionError {
                // Logged once per outage by the client.
            } catch is CancellationError {
                break
            } catch {
                logger.error("scheduler step failed", metadata: ["duty": "\(duty.name)", "error": "\(error)"])
            }
            try? await Task.sleep(for: wait)
        }
    }
}

/// The queues the duties serve: the declared ones and those seen in Redis, refreshed by a duty.
private final class QueueList: Sendable {
    private let queues: Mutex<[String]>
    init(_ queues: [String]) { self.queues = Mutex(queues) }
    var current: [String] { queues.withLock { $0 } }
    func set(_ queues: [String]) { self.queues.withLock { $0 = queues } }
}
