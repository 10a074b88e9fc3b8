import SpoolSupport
import SpoolRedis

/// A dead job as `spool dead list` shows it.
public struct DeadJob: Sendable, Codable, Equatable {
    public var id: String
    public var queue: String
    public var kind: String
    public var diedAt: Int64
    public var attempts: Int
    public var reason: String
    public var lastError: String

    enum CodingKeys: String, CodingKey {
        case id, queue, kind, attempts, reason
        case diedAt = "died_at"
        case lastError = "last_error"
    }
}

extension QueueAdmin {
    /// The newest dead jobs across queues, newest first.
    public func deadJobs(limit: Int = 100) async throws -> [DeadJob] {
        var entries: [(queue: String, id: String, at: Int64)] = []
        for q in try await queues() {
            let flat = try await redis.run("ZREVRANGE", keys.dead(q), "0", String(limit - 1), "WITHSCORES").array ?? []
            for pair in stride(from: 0, to: flat.count - 1, by: 2) {
                entries.append((q, flat[pair].string ?? "", Int64(flat[pair + 1].string.flatMap { Double($0) } ?? 0)))
            }
        }
        entries.sort { $0.at > $1.at }
        entries = Array(entries.prefix(limit))
        let replies = try await redis.pipeline(entries.map {
            RedisCommand("HMGET", keys.job($0.queue, $0.id), "kind", "attempt", "dead_reason", "last_error")
        })
        return zip(entries, replies).map { entry, reply in
            let f = reply.array ?? []
            return DeadJob(id: entry.id, queue: entry.queue, kind: f.first?.string ?? "", diedAt: entry.at,
                           attempts: f.count > 1 ? f[1].int ?? 0 : 0, reason: f.count > 2 ? f[2].string ?? "" : "",
                           lastError: f.count > 3 ? f[3].string ?? "" : "")
        }
    }

    /// Puts dead jobs back in pending with fresh attempts: the ids given, or all when `ids` is nil.
    public func retryDead(ids: [String]?) async throws -> Int {
        try await forDead(ids: ids) { queue, batch in keys.deadRetryCall(queue, now: clock.nowMillis(), ids: batch) }
    }

    /// Deletes dead jobs: the ids given, or all when `ids` is nil.
    public func discardDead(ids: [String]?) async throws -> Int {
        try await forDead(ids: ids) { queue, batch in keys.deadDiscardCall(queue, ids: batch) }
    }

    private func forDead(ids: [String]?, call: (String, [String]) -> ScriptCall) async throws -> Int {
        var total = 0
        for q in try await queues() {
            if let ids {
                // Ids not dead in this queue are ignored by the script.
                total += try await redis.run([call(q, ids)])[0].checked("dead").int ?? 0
                continue
            }
            while true {
                let batch = try await redis.run("ZRANGE", keys.dead(q), "0", "999").array?.compactMap(\.string) ?? []
                if batch.isEmpty { break }
                total += try await redis.run([call(q, batch)])[0].checked("dead").int ?? 0
            }
        }
        return total
    }
}
