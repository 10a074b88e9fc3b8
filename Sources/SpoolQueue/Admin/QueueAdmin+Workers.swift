import SpoolRedis
import SpoolSupport

extension QueueAdmin {
    /// The live worker processes, by host then start, in two round trips: the registry (one entry per
    /// process, live or recently gone) and their hashes. A process whose last beat is older than its
    /// expiry (`Heartbeat.missedBeats` of its own intervals) stopped without leaving (killed, or cut off
    /// from Redis): it is left out, and its entry deleted.
    public func workerProcesses() async throws -> [WorkerProcess] {
        let flat = try await redis.run("ZRANGE", keys.workers, "0", "-1", "WITHSCORES").array ?? []
        let entries = stride(from: 0, to: flat.count - 1, by: 2).map {
            (id: flat[$0].string ?? "", beat: Int64(flat[$0 + 1].string.flatMap { Double($0) } ?? 0))
        }
        if entries.isEmpty { return [] }
        let replies = try await redis.pipeline(entries.map { RedisCommand("HGETALL", keys.worker($0.id)) })
        let now = clock.nowMillis()
        var live: [WorkerProcess] = []
        var gone: [String] = []
        for (entry, reply) in zip(entries, replies) {
            let pairs = try reply.checked("HGETALL").array ?? []
            var hash: [String: String] = [:]
            for pair in stride(from: 0, to: pairs.count - 1, by: 2) { hash[pairs[pair].string ?? ""] = pairs[pair + 1].string ?? "" }
            if let process = WorkerProcess(id: entry.id, lastBeat: entry.beat, hash: hash), process.isLive(at: now) {
                live.append(process)
            } else {
                gone.append(entry.id)
            }
        }
        if !gone.isEmpty {
            // A process that was only late is back at its next beat: every beat writes its whole hash.
            _ = try await redis.pipeline(
                [RedisCommand("ZREM", [keys.workers] + gone)] + gone.map { RedisCommand("DEL", keys.worker($0)) })
        }
        return live.sorted { ($0.host, $0.startedAt ?? 0, $0.id) < ($1.host, $1.startedAt ?? 0, $1.id) }
    }
}
