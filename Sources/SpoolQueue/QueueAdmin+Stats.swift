import SpoolSupport
import SpoolRedis

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
    /// Every queue's stats in one round trip.
    public func stats() async throws -> [QueueStats] {
        let queues = try await queues()
        var commands: [RedisCommand] = []
        for q in queues {
            commands += [
                RedisCommand("LLEN", keys.pending(q)), RedisCommand("ZCARD", keys.scheduled(q)), RedisCommand("ZCARD", keys.active(q)),
                RedisCommand("ZCARD", keys.retry(q)), RedisCommand("ZCARD", keys.dead(q)),
                RedisCommand("HMGET", keys.stats(q), "processed", "failed"), RedisCommand("LINDEX", keys.pending(q), "-1"),
                RedisCommand("EXISTS", keys.paused(q)),
            ]
        }
        let replies = try await redis.pipeline(commands)
        var oldest: [RedisCommand] = []
        var stats: [QueueStats] = []
        for (index, q) in queues.enumerated() {
            let r = try replies[index * 8..<index * 8 + 8].map { try $0.checked("stats") }
            let totals = r[5].array ?? []
            stats.append(QueueStats(queue: q, pending: r[0].int ?? 0, scheduled: r[1].int ?? 0, active: r[2].int ?? 0,
                                    retry: r[3].int ?? 0, dead: r[4].int ?? 0, processed: totals.first?.int ?? 0,
                                    failed: totals.last?.int ?? 0, oldestPendingAgeSeconds: 0, paused: r[7].int == 1))
            oldest.append(RedisCommand("HMGET", keys.job(q, r[6].string ?? "-"), "run_at", "enqueued_at"))
        }
        let now = clock.nowMillis()
        for (index, reply) in try await redis.pipeline(oldest).enumerated() where stats[index].pending > 0 {
            // A job that never waited for a time has no run_at: it became runnable when enqueued.
            let times = reply.array ?? []
            if let since = times.first?.int ?? times.last?.int { stats[index].oldestPendingAgeSeconds = Double(max(now - Int64(since), 0)) / 1000 }
        }
        return stats
    }

    /// Jobs finished (completed or dead) per second over the last `window`, counted from the finish
    /// times in the completed and dead sets: no sampling, the same answer from any process. Reads 0
    /// when completed jobs' records are not kept (`SPOOL_COMPLETED_TTL_SECONDS=0`).
    public func throughput(queues: [String], window: Duration = .seconds(60)) async throws -> [String: Double] {
        let since = "(\(clock.nowMillis() - window.milliseconds)"
        let replies = try await redis.pipeline(queues.flatMap {
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
