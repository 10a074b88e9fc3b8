import SpoolRedis
import SpoolSupport

/// Keeps a live worker's leases from expiring (`extend.lua`) and registers the process, in one round
/// trip per beat: `spool:workers` scores each process by its last beat, and `spool:worker:<id>` holds
/// what the Workers page shows (host, pid, queues, concurrency, started at, the jobs its slots run and
/// since when). A process that stops beating drops out of the list after `missedBeats` intervals
/// (`QueueAdmin.workerProcesses`), and its hash expires soon after.
struct Heartbeat: Sendable {
    let redis: RedisClient
    let keys: KeySpace
    let clock: any WallClock
    let lease: Duration
    let workerID: String
    /// What does not change while the process runs (queues, concurrency, pid, host, started_at),
    /// written with every beat all the same: the hash expires with the process.
    let info: [String: String]
    /// The most running jobs a beat reports: the slots (a timed-out job's replacement makes one more
    /// for a moment).
    let slots: Int

    /// Beats that may be missed before the process counts as gone: `missedBeats` × `interval` is the
    /// lease itself, after which its jobs are recovered anyway.
    static let missedBeats = 3
    /// Registry entries older than this are dropped by any beat: longer than any process's own expiry
    /// (the longest lease is a day), so that a beat never drops a live process whose lease is longer
    /// than its own; the listing drops each at its own expiry.
    static let forgottenAfter = Duration.seconds(2 * 86_400)

    /// How often it beats: three times per lease.
    var interval: Duration { lease / Self.missedBeats }

    /// The worker hash's fields, spelled once.
    enum Field: String {
        case beat, busy, leased, running, queues, concurrency, pid, host
        case startedAt = "started_at"
        case intervalMs = "interval_ms"
    }

    /// - Parameters:
    ///   - leased: every job this process holds a lease on (running, prefetched or settling).
    ///   - running: the jobs its slots run, each with how long it has run.
    func beat(_ leased: [Job], running: [(job: Job, elapsed: Duration)]) async throws {
        let now = clock.nowMillis()
        let deadline = now + lease.milliseconds
        var byQueue: [String: [(id: String, token: String)]] = [:]
        for job in leased { byQueue[job.queue, default: []].append((job.id, job.leaseToken)) }
        let extends = byQueue.map { queue, held in keys.extendCall(queue, deadline: deadline, leases: held) }
        let busy = running.sorted { $0.elapsed > $1.elapsed }.prefix(slots).map { entry -> JSONValue in
            var slot: [String: JSONValue] = [
                "id": .string(entry.job.id), "kind": .string(entry.job.kind), "queue": .string(entry.job.queue),
                "started_at": .number(Double(now - entry.elapsed.milliseconds)),
            ]
            if let tenant = entry.job.tenant { slot["tenant"] = .string(tenant) }
            return .object(slot)
        }
        var fields = RedisCommand("HSET", [keys.worker(workerID)])
        let beatFields: [(Field, String)] = [
            (.beat, String(now)), (.busy, String(busy.count)), (.leased, String(leased.count)), (.running, JSONValue.array(busy).text),
            (.intervalMs, String(interval.milliseconds)),
        ]
        for (field, value) in beatFields {
            fields.append(field.rawValue)
            fields.append(value)
        }
        for (key, value) in info.sorted(by: { $0.key < $1.key }) {
            fields.append(key)
            fields.append(value)
        }
        let registration = [
            fields,
            RedisCommand("PEXPIRE", keys.worker(workerID), String(lease.milliseconds * 2)),
            RedisCommand("ZADD", keys.workers, String(now), workerID),
            RedisCommand("ZREMRANGEBYSCORE", keys.workers, "-inf", String(now - Self.forgottenAfter.milliseconds)),
        ]
        // The extensions and the registration in one pipeline; only after a Redis restart (NOSCRIPT) are
        // the scripts sent again, with their source.
        let replies = try await redis.pipeline(extends.map { $0.script.command(keys: $0.keys, arguments: $0.arguments) } + registration)
        let unknown = extends.indices.filter { replies[$0].errorMessage?.hasPrefix("NOSCRIPT") == true }
        if !unknown.isEmpty {
            _ = try await redis.pipeline(
                unknown.map { extends[$0].script.evalCommand(keys: extends[$0].keys, arguments: extends[$0].arguments) })
        }
    }

    func leave() async {
        _ = try? await redis.pipeline([RedisCommand("ZREM", keys.workers, workerID), RedisCommand("DEL", keys.worker(workerID))])
    }
}
