import Foundation
import Logging
import SpoolQueue
import SpoolRedis
import SpoolSupport

/// One test's queue world: a Redis client, a private key prefix, the noop kind (plus any others the
/// test declares), an Enqueuer and the admin view. Seed helpers follow asynq's testutil.
public struct QueueFixture: Sendable {
    public let redis: RedisClient
    public let url: RedisURL
    public let keys: KeySpace
    public let catalog: JobKindCatalog
    public let enqueuer: Enqueuer
    public let admin: QueueAdmin
    public var settings: SpoolSettings

    public static let noop = JobKindSpec(
        kind: "noop", queue: "default", timeout: .seconds(30), maxAttempts: 3,
        backoff: .constant(.milliseconds(20)),
        arguments: ArgumentSchema(fields: [
            "sleep_ms": .init(type: .integer, required: false),
            "fail": .init(type: .string, required: false),
            "fail_times": .init(type: .integer, required: false),
            "mark": .init(type: .boolean, required: false),
            "notify": .init(type: .boolean, required: false),
            "then": .init(type: .array, required: false),
        ]))

    /// The follow-up jobs of `parent` in `queue` (completed or not), by their `parent_id`.
    public func followUps(of parent: String, queue: String = "default") async throws -> [String] {
        var ids: [String] = []
        for node in try await redis.primaryClients() {
            var cursor = "0"
            repeat {
                let reply = try await node.run("SCAN", cursor, "MATCH", keys.jobPrefix(queue) + "*", "COUNT", "1000").array ?? []
                cursor = reply.first?.string ?? "0"
                for key in reply.count > 1 ? reply[1].array ?? [] : [] {
                    guard let name = key.string, try await redis.run("HGET", name, "parent_id").string == parent else { continue }
                    ids.append(String(name.dropFirst(keys.jobPrefix(queue).count)))
                }
            } while cursor != "0"
        }
        return ids.sorted()
    }

    public init(kinds: [JobKindSpec] = [QueueFixture.noop], url: RedisURL? = nil) throws {
        self.url = try url ?? TestEnvironment.redisURL()
        keys = KeySpace(prefix: TestEnvironment.uniquePrefix())
        redis = RedisClient(url: self.url, name: "test", logger: TestEnvironment.logger)
        catalog = JobKindCatalog(kinds)
        enqueuer = Enqueuer(redis: redis, catalog: catalog, keys: keys)
        admin = QueueAdmin(redis: redis, keys: keys, declaredQueues: catalog.queues, completedTTL: .seconds(600))
        settings = SpoolSettings()
        settings.redisURL = self.url
        settings.keyPrefix = keys.prefix
        // Long enough that a heartbeat held up by the rest of the suite (every test shares this process's
        // two cooperative threads) never lets a lease lapse; lease expiry is tested in separate processes.
        settings.lease = .seconds(10)
        settings.shutdownGrace = .seconds(5)
        settings.pollInterval = .milliseconds(50)
        settings.completedTTL = .seconds(600)
    }

    /// Enqueues `count` jobs of `kind` with the same args; returns their ids.
    @discardableResult
    public func seedPending(_ count: Int, kind: String = "noop", args: String = "{}", queue: String? = nil) async throws -> [String] {
        let results = try await enqueuer.enqueue(
            batch: Array(repeating: EnqueueRequest(kind: kind, args: args, queue: queue), count: count))
        return try results.map { try $0.get().id }
    }

    /// A job's hash fields, empty when it does not exist.
    public func fields(_ id: String, queue: String = "default") async throws -> [String: String] {
        let flat = try await redis.run("HGETALL", keys.job(queue, id)).array ?? []
        var fields: [String: String] = [:]
        for pair in stride(from: 0, to: flat.count - 1, by: 2) { fields[flat[pair].string ?? ""] = flat[pair + 1].string ?? "" }
        return fields
    }

    /// A job's state as `spool job` reports it (the hash, resolved against the active and completed sets).
    public func state(_ id: String) async throws -> String? {
        try await admin.job(id)?.state.rawValue
    }

    /// A job's record as `spool job` reports it; nil when it does not exist.
    public func record(_ id: String) async throws -> JobRecord? {
        try await admin.job(id)
    }

    /// Puts ids straight onto the untenanted lane, as a job enqueued by hand or by an older version would be.
    public func pushRawPending(_ ids: [String], queue: String = "default") async throws {
        try await redis.run(RedisCommand("LPUSH", [keys.pending(queue)] + ids))
        try await redis.run("RPUSH", keys.lanes(queue), "")
    }

    /// Pending jobs in all lanes of a queue, as stats count them.
    public func pendingCount(_ queue: String = "default") async throws -> Int {
        try await admin.stats().first { $0.queue == queue }?.pending ?? 0
    }

    public func listItems(_ key: String) async throws -> [String] {
        try await redis.run("LRANGE", key, "0", "-1").array?.compactMap(\.string) ?? []
    }

    public func zsetScores(_ key: String) async throws -> [String: Int64] {
        let flat = try await redis.run("ZRANGE", key, "0", "-1", "WITHSCORES").array ?? []
        var scores: [String: Int64] = [:]
        for pair in stride(from: 0, to: flat.count - 1, by: 2) {
            scores[flat[pair].string ?? ""] = Int64(flat[pair + 1].string.flatMap { Double($0) } ?? 0)
        }
        return scores
    }

    /// How many times the noop handler ran each marked job.
    public func runCounts() async throws -> [String: Int] {
        let flat = try await redis.run("HGETALL", "\(keys.prefix):noop:runs").array ?? []
        var counts: [String: Int] = [:]
        for pair in stride(from: 0, to: flat.count - 1, by: 2) { counts[flat[pair].string ?? ""] = flat[pair + 1].int ?? 0 }
        return counts
    }

    public func stats(_ queue: String = "default") async throws -> QueueStats {
        guard let stats = try await admin.stats().first(where: { $0.queue == queue }) else {
            throw TestFailure("no stats for queue \(queue)")
        }
        return stats
    }

    /// Asserts a job is dead and its reason contains `reason`.
    public func assertDead(_ id: String, reason: String, queue: String = "default") async throws {
        let fields = try await fields(id, queue: queue)
        guard fields["state"] == "dead" else { throw TestFailure("job \(id) is \(fields["state"] ?? "missing"), not dead") }
        guard fields["dead_reason"]?.contains(reason) == true else {
            throw TestFailure("job \(id) died for '\(fields["dead_reason"] ?? "")', expected '\(reason)'")
        }
        guard try await zsetScores(keys.dead(queue))[id] != nil else { throw TestFailure("job \(id) is not in the dead set") }
    }
}
