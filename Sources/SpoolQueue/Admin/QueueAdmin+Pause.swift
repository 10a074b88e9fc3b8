import SpoolRedis
import SpoolSupport

extension QueueAdmin {
    /// Stops workers from fetching the queue's jobs; enqueueing goes on and nothing is lost.
    public func pause(queue: String) async throws {
        try await redis.run("SET", keys.paused(queue), String(clock.nowMillis()))
    }

    /// Resumes the queue and clears a provider's quota alert: the operator says the quota is back.
    public func resume(queue: String) async throws {
        try await redis.run("DEL", keys.paused(queue), keys.alert(queue))
    }

    /// Queues a provider's spent quota stopped: queue → (kind, reason, since).
    public func alerts(queues: [String]) async throws -> [String: [String: String]] {
        let replies = try await redis.pipeline(queues.map { RedisCommand("HGETALL", keys.alert($0)) })
        var alerts: [String: [String: String]] = [:]
        for (queue, reply) in zip(queues, replies) {
            guard let flat = reply.array, !flat.isEmpty else { continue }
            var fields: [String: String] = [:]
            for pair in stride(from: 0, to: flat.count - 1, by: 2) { fields[flat[pair].string ?? ""] = flat[pair + 1].string ?? "" }
            alerts[queue] = fields
        }
        return alerts
    }
}
