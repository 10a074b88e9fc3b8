import SpoolRedis
import SpoolSupport

/// One queue's numbers, as `spool stats --json` prints them.
public struct QueueStats: Sendable, Codable, Equatable {
    public var queue: String
    public var pending: Int
    public var scheduled: Int
    public var active: Int
    public var retry: Int
    public var dead: Int
    public var processed: Int
    public var failed: Int
    /// How long the oldest pending job has been waiting to start, in seconds (0 when none).
    public var oldestPendingAgeSeconds: Double
    public var paused: Bool

    enum CodingKeys: String, CodingKey {
        case queue, pending, scheduled, active, retry, dead, processed, failed, paused
        case oldestPendingAgeSeconds = "oldest_pending_age_seconds"
    }
}

extension QueueAdmin {
    /// Every queue's stats in three round trips, whatever the number of queues and lanes.
    public func stats() async throws -> [QueueStats] {
        let queues = try await queues()
        var commands: [RedisCommand] = []
        for q in queues {
            commands += [
                RedisCommand("LRANGE", keys.lanes(q), "0", "-1"), RedisCommand("ZCARD", keys.scheduled(q)),
                RedisCommand("ZCARD", keys.active(q)),
                RedisCommand("ZCARD", keys.retry(q)), RedisCommand("ZCARD", keys.dead(q)),
                RedisCommand("HMGET", keys.stats(q), "processed", "failed"), RedisCommand("EXISTS", keys.paused(q)),
            ]
        }
        let replies = try await redis.pipeline(commands)
        var stats: [QueueStats] = []
        // Pending jobs are in lanes (one per tenant); the ring lists those with jobs that are not parked.
        var lanes: [(index: Int, key: String)] = []
        for (index, q) in queues.enumerated() {
            let r = try replies[index * 7..<index * 7 + 7].map { try $0.checked("stats") }
            let totals = r[5].array ?? []
            stats.append(
                QueueStats(
                    queue: q, pending: 0, scheduled: r[1].int ?? 0, active: r[2].int ?? 0,
                    retry: r[3].int ?? 0, dead: r[4].int ?? 0, processed: totals.first?.int ?? 0,
                    failed: totals.last?.int ?? 0, oldestPendingAgeSeconds: 0, paused: r[6].int == 1))
            for tenant in r[0].array?.compactMap(\.string) ?? [] { lanes.append((index, keys.lane(q, tenant: tenant))) }
        }
        if lanes.isEmpty { return stats }
        let ends = try await redis.pipeline(lanes.flatMap { [RedisCommand("LLEN", $0.key), RedisCommand("LINDEX", $0.key, "-1")] })
        var oldest: [(index: Int, command: RedisCommand)] = []
        let timeFields = [JobRecord.Field.runAt.rawValue, JobRecord.Field.enqueuedAt.rawValue]
        for (position, lane) in lanes.enumerated() {
            stats[lane.index].pending += ends[position * 2].int ?? 0
            if let id = ends[position * 2 + 1].string {
                oldest.append((lane.index, RedisCommand("HMGET", [keys.job(queues[lane.index], id)] + timeFields)))
            }
        }
        let now = clock.nowMillis()
        for (entry, reply) in zip(oldest, try await redis.pipeline(oldest.map(\.command))) {
            // A job that never waited for a time has no run_at: it became runnable when enqueued.
            let times = reply.array ?? []
            if let since = times.first?.int ?? times.last?.int {
                let age = Double(max(now - Int64(since), 0)) / 1000
                stats[entry.index].oldestPendingAgeSeconds = max(stats[entry.index].oldestPendingAgeSeconds, age)
            }
        }
        return stats
    }

    /// Jobs finished (completed or dead) per second over the last `window`, counted from the finish
    /// times in the completed and dead sets: no sampling, the same answer from any process. Reads 0
    /// when completed jobs' records are not kept (`SPOOL_COMPLETED_TTL_SECONDS=0`).
    public func throughput(queues: [String], window: Duration = .seconds(60)) async throws -> [String: Double] {
        let since = "(\(clock.nowMillis() - window.milliseconds)"
        let replies = try await redis.pipeline(
            queues.flatMap {
                [RedisCommand("ZCOUNT", keys.completed($0), since, "+inf"), RedisCommand("ZCOUNT", keys.dead($0), since, "+inf")]
            })
        var rates: [String: Double] = [:]
        for (index, queue) in queues.enumerated() {
            let finished = (replies[index * 2].int ?? 0) + (replies[index * 2 + 1].int ?? 0)
            rates[queue] = Double(finished) / window.secondsDouble
        }
        return rates
    }

    /// Live workers (heartbeat within two lease periods), with what they reported.
    public func workers() async throws -> [[String: String]] {
        let ids = try await redis.run("ZRANGE", keys.workers, "0", "-1").array?.compactMap(\.string) ?? []
        if ids.isEmpty { return [] }
        let replies = try await redis.pipeline(ids.map { RedisCommand("HGETALL", keys.worker($0)) })
        return zip(ids, replies).compactMap { id, reply in
            guard let flat = reply.array, !flat.isEmpty else { return nil }
            var info = ["id": id]
            for pair in stride(from: 0, to: flat.count - 1, by: 2) { info[flat[pair].string ?? ""] = flat[pair + 1].string ?? "" }
            return info
        }
    }
}
