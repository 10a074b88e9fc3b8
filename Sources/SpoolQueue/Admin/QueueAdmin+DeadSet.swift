import SpoolRedis
import SpoolSupport

/// A dead job as `spool dead list` shows it.
public struct DeadJob: Sendable, Codable, Equatable {
    public var id: String
    public var queue: String
    public var kind: String
    public var diedAt: Int64
    public var attempts: Int
    public var reason: String
    public var lastError: String
    public var tenant: String?

    enum CodingKeys: String, CodingKey {
        case id, queue, kind, attempts, reason, tenant
        case diedAt = "died_at"
        case lastError = "last_error"
    }
}

extension QueueAdmin {
    /// Where a page of dead jobs ended: the last job's death time and id. Jobs often die in the same
    /// millisecond (recovery and batched kills stamp one time), so the id breaks ties.
    public struct DeadCursor: Sendable, Equatable {
        public let diedAt: Int64
        public let id: String
        public init(diedAt: Int64, id: String) { self.diedAt = diedAt; self.id = id }

        /// "<ms>:<id>", as an API client passes it back.
        public var text: String { "\(diedAt):\(id)" }
        public init?(text: String) {
            let parts = text.split(separator: ":", maxSplits: 1)
            guard parts.count == 2, let ms = Int64(parts[0]), ms > 0, JobID.isValid(String(parts[1])) else { return nil }
            self.init(diedAt: ms, id: String(parts[1]))
        }

        /// Whether (score, id) comes after this cursor in newest-first order.
        func isAfter(score: Int64, id other: String) -> Bool { score < diedAt || (score == diedAt && other < id) }
    }

    /// The newest dead jobs across queues, newest first (by death time, then id): those after `after`
    /// (the previous page's last job), and only `tenant`'s when it is given.
    public func deadJobs(limit: Int = 100, after cursor: DeadCursor? = nil, tenant: String? = nil) async throws -> [DeadJob] {
        var found: [DeadJob] = []
        for q in try await queues() {
            var position = cursor
            var taken = 0
            // Page through this queue's dead set until `limit` matches, or it runs out.
            while taken < limit {
                let max = position.map { String($0.diedAt) } ?? "+inf"
                let flat = try await redis.run("ZREVRANGEBYSCORE", keys.dead(q), max, "-inf", "WITHSCORES", "LIMIT", "0", "500").array ?? []
                if flat.isEmpty { break }
                var entries = stride(from: 0, to: flat.count - 1, by: 2).map {
                    (id: flat[$0].string ?? "", at: Int64(flat[$0 + 1].string.flatMap { Double($0) } ?? 0))
                }
                let fetched = entries.count
                if let position { entries = entries.filter { position.isAfter(score: $0.at, id: $0.id) } }
                if entries.isEmpty {
                    // 500 jobs at the cursor's very millisecond, all seen: step below it. (More than 500
                    // deaths in one millisecond of one queue is the one case a page can skip some.)
                    guard fetched == 500, let at = position?.diedAt, at > 1 else { break }
                    position = DeadCursor(diedAt: at - 1, id: "~")
                    continue
                }
                let replies = try await redis.pipeline(
                    entries.map {
                        RedisCommand("HMGET", [keys.job(q, $0.id)] + Self.deadJobFields)
                    })
                for (entry, reply) in zip(entries, replies) {
                    position = DeadCursor(diedAt: entry.at, id: entry.id)
                    let f = reply.array ?? []
                    let owner = f.count > 4 ? f[4].string : nil
                    if let tenant, owner != tenant { continue }
                    found.append(
                        DeadJob(
                            id: entry.id, queue: q, kind: f.first?.string ?? "", diedAt: entry.at,
                            attempts: f.count > 1 ? f[1].int ?? 0 : 0, reason: f.count > 2 ? f[2].string ?? "" : "",
                            lastError: f.count > 3 ? f[3].string ?? "" : "", tenant: owner))
                    taken += 1
                    if taken == limit { break }
                }
                if fetched < 500 { break }
            }
        }
        found.sort { $0.diedAt != $1.diedAt ? $0.diedAt > $1.diedAt : $0.id > $1.id }
        return Array(found.prefix(limit))
    }

    /// Puts dead jobs back in pending with fresh attempts: the ids given, or all when `ids` is nil.
    public func retryDead(ids: [String]?) async throws -> Int {
        try await forDead(ids: ids) { queue, batch in keys.deadRetryCall(queue, now: clock.nowMillis(), ids: batch) }
    }

    /// Deletes dead jobs: the ids given, or all when `ids` is nil.
    public func discardDead(ids: [String]?) async throws -> Int {
        try await forDead(ids: ids) { queue, batch in keys.deadDiscardCall(queue, ids: batch) }
    }

    /// The hash fields a `DeadJob` is read from, in the order `deadJobs` reads them.
    private static let deadJobFields: [String] = ([.kind, .attempt, .deadReason, .lastError, .tenant] as [JobRecord.Field]).map(\.rawValue)

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
