import Logging
import SpoolRedis
import SpoolSupport
import Synchronization

/// 2. Fetch: moves jobs from pending to active and leases them in one step (`fetch.lua`), so a job is
/// never out of Redis's sight: a worker that dies leaves leases that expire, and the Recoverer hands
/// those jobs on. Never BRPOP-and-forget.
public final class Fetcher: Sendable {
    private let redis: RedisClient
    private let keys: KeySpace
    private let selection: QueueSelection
    private let lease: Duration
    private let clock: any WallClock
    private let workerID: String
    private let sequence = Atomic<Int>(0)
    private let paused = Mutex<Set<String>>([])
    private let pausedTenants: PausedTenants
    private let logger: Logger

    public init(
        redis: RedisClient, keys: KeySpace, selection: QueueSelection, lease: Duration, clock: any WallClock, workerID: String,
        pausedTenants: PausedTenants = PausedTenants(), logger: Logger = Logger(label: "spool.fetcher")
    ) {
        self.pausedTenants = pausedTenants
        self.logger = logger
        self.redis = redis
        self.keys = keys
        self.selection = selection
        self.lease = lease
        self.clock = clock
        self.workerID = workerID
    }

    /// Leases up to `limit` jobs, trying queues in the selection's order until the batch is full.
    public func fetch(limit: Int) async throws -> [Job] {
        var jobs: [Job] = []
        for queue in selection.next() {
            // Lua's unpack() has a stack limit; a few hundred jobs per call is plenty.
            let wanted = min(limit - jobs.count, 500)
            if wanted <= 0 { break }
            do {
                jobs.append(contentsOf: try await fetch(queue: queue, limit: wanted))
            } catch {
                // Jobs already leased from earlier queues must reach the slots, or they would sit
                // leased and unrun until their lease expired.
                if jobs.isEmpty { throw error }
                if !((error as? RedisError)?.isConnectionError ?? false) {
                    logger.error("fetch failed", metadata: ["queue": "\(queue)", "error": "\(error)"])
                }
                break
            }
        }
        return jobs
    }

    /// True when the last fetch found the queue paused.
    public func isPaused(_ queue: String) -> Bool { paused.withLock { $0.contains(queue) } }

    private func fetch(queue: String, limit: Int) async throws -> [Job] {
        let now = clock.nowMillis()
        let token = "\(workerID).\(sequence.wrappingAdd(1, ordering: .relaxed).newValue)"
        let reply = try await redis.run(
            keys.fetchCall(
                queue, limit: limit, deadline: now + lease.milliseconds, token: token,
                pausedTenants: pausedTenants.current))
        if reply.int == -1 {
            paused.withLock { _ = $0.insert(queue) }
            return []
        }
        paused.withLock { _ = $0.remove(queue) }
        guard let fields = reply.array, fields.count % 7 == 0 else {
            // The reply holds job args: say its shape, not its content.
            throw RedisError(
                .unexpectedReply,
                "fetch.lua returned an unexpected reply (\(reply.array.map { "\($0.count) elements" } ?? "not an array"))",
                command: "EVALSHA fetch.lua")
        }
        var jobs: [Job] = []
        jobs.reserveCapacity(fields.count / 7)
        var index = 0
        while index < fields.count {
            // A missing kind means the job's hash was gone; the Processor sends it to dead with that reason.
            let tenant = fields[index + 6].string
            jobs.append(
                Job(
                    id: fields[index].string ?? "", queue: queue, kind: fields[index + 1].string ?? "",
                    args: fields[index + 2].string ?? "", attempt: fields[index + 3].int ?? 0,
                    maxAttempts: fields[index + 4].int ?? 1, enqueuedAt: Int64(fields[index + 5].int ?? 0),
                    tenant: tenant?.isEmpty == false ? tenant : nil, leaseToken: token))
            index += 7
        }
        return jobs
    }
}
