import SpoolRedis
import SpoolSupport

/// Keeps a live worker's leases from expiring (`extend.lua`) and records the worker in the
/// `workers` set, so that `spool stats` can show who is running.
struct Heartbeat: Sendable {
    let redis: RedisClient
    let keys: KeySpace
    let clock: any WallClock
    let lease: Duration
    let workerID: String
    let info: [String: String]

    func beat(_ leased: [Job]) async throws {
        let now = clock.nowMillis()
        let deadline = now + lease.milliseconds
        var byQueue: [String: [(id: String, token: String)]] = [:]
        for job in leased { byQueue[job.queue, default: []].append((job.id, job.leaseToken)) }
        _ = try await redis.run(byQueue.map { queue, held in keys.extendCall(queue, deadline: deadline, leases: held) })
        var fields = RedisCommand("HSET", [keys.worker(workerID), "beat", String(now), "busy", String(leased.count)])
        for (key, value) in info.sorted(by: { $0.key < $1.key }) { fields.append(key); fields.append(value) }
        _ = try await redis.pipeline([
            fields,
            RedisCommand("PEXPIRE", keys.worker(workerID), String(lease.milliseconds * 2)),
            RedisCommand("ZADD", keys.workers, String(now), workerID),
            // Workers that stopped beating long ago drop off the list.
            RedisCommand("ZREMRANGEBYSCORE", keys.workers, "-inf", String(now - lease.milliseconds * 2)),
        ])
    }

    func leave() async {
        _ = try? await redis.pipeline([RedisCommand("ZREM", keys.workers, workerID), RedisCommand("DEL", keys.worker(workerID))])
    }
}
