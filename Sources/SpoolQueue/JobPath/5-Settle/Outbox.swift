import SpoolRedis
import SpoolSupport

/// Follow-up jobs on their way from a completed job's queue to their own (see FollowUp).
///
/// complete.lua writes each follow-up into the parent queue's outbox, by its own job id, with the
/// completion. `move` then enqueues them with enqueue.lua under the idempotency key `followup:<id>`
/// and deletes them from the outbox: were it to stop between the two (a crash, Redis gone), the next
/// move enqueues them again and the key makes that a no-op, so each follow-up exists exactly once. The
/// outbox and the target queue are touched by separate scripts, so they may live on different Redis
/// Cluster shards. The Acker moves right after a settle; every scheduler sweeps what was left.
public struct Outbox: Sendable {
    let redis: RedisClient
    let keys: KeySpace
    /// Checks follow-ups against their kinds when they are asked for (and registers their queues).
    let enqueuer: Enqueuer
    static let batch = 500

    /// With `durability` (SPOOL_REDIS_WAIT_REPLICAS), a follow-up leaves the outbox only once the
    /// replicas of its own queue's node have it: a failover of that node cannot then lose it.
    public init(
        redis: RedisClient, keys: KeySpace, catalog: JobKindCatalog = JobKindCatalog([]), clock: any WallClock = SystemClock(),
        durability: EnqueueDurability = .primaryOnly
    ) {
        self.redis = redis
        self.keys = keys
        self.enqueuer = Enqueuer(redis: redis, catalog: catalog, keys: keys, clock: clock, durability: durability)
    }

    /// The outbox entries of a completing job's follow-ups, each checked against its kind now: one
    /// that could never be enqueued fails its parent with the reason, rather than vanishing later.
    func entries(for parent: Job, _ followUps: [FollowUp], now: Int64) throws(EnqueueError) -> [(id: String, json: String)] {
        var entries: [(id: String, json: String)] = []
        for (index, followUp) in followUps.enumerated() {
            var request = EnqueueRequest(
                kind: followUp.kind, args: followUp.args, queue: followUp.queue,
                runAt: followUp.delay.map { now + $0.milliseconds }, tenant: parent.tenant)
            request.parentID = parent.id
            let job: Enqueuer.Prepared
            do { job = try enqueuer.prepare(request, now: now) } catch {
                throw EnqueueError(field: "follow_ups[\(index)].\(error.field)", "\(followUp.kind): \(error.message)")
            }
            var fields: [String: JSONValue] = [
                "kind": .string(job.kind), "args": .string(job.args), "queue": .string(job.queue),
                "max_attempts": .number(Double(job.maxAttempts)),
                "run_at": .number(Double(job.runAt)), "tenant": .string(job.tenant), "parent_id": .string(parent.id),
                "idempotency_ttl_ms": .number(Double(job.idempotencyTTL.milliseconds)),
            ]
            if let unique = job.unique {
                fields["unique_key"] = .string(unique.key)
                fields["unique_scope"] = .string(unique.scope)
            }
            let json = JSONValue.object(fields)
            entries.append((job.id, json.text))
        }
        return entries
    }

    /// Moves what `queue`'s outbox holds to the follow-ups' queues; returns how many were moved. Safe to
    /// run anywhere, any number of times, at once.
    @discardableResult
    public func move(queue: String) async throws -> Int {
        var moved = 0
        var cursor = "0"
        repeat {
            let reply = try await redis.run("HSCAN", keys.outbox(queue), cursor, "COUNT", String(Self.batch)).checked("HSCAN").array ?? []
            guard reply.count == 2, let next = reply[0].string else { break }
            cursor = next
            let flat = reply[1].array ?? []
            var jobs: [Enqueuer.Prepared] = []
            var ids: [String] = []
            for pair in stride(from: 0, to: flat.count - 1, by: 2) {
                guard let id = flat[pair].string, let text = flat[pair + 1].string else { continue }
                ids.append(id)
                guard let entry = try? JSONValue.parse(text), let job = Self.prepared(id: id, entry) else { continue }
                jobs.append(job)
            }
            if ids.isEmpty { continue }
            try await enqueuer.registerQueues(Set(jobs.map(\.queue)))
            _ = try await Enqueuer.store(jobs, now: SystemClock().nowMillis(), redis: redis, keys: keys, durability: enqueuer.durability)
            _ = try await redis.run(RedisCommand("HDEL", [keys.outbox(queue)] + ids)).checked("HDEL")
            moved += jobs.count
        } while cursor != "0"
        return moved
    }

    /// An outbox entry as a job ready to store, under its own id and the idempotency key that makes
    /// moving it again a no-op.
    static func prepared(id: String, _ entry: JSONValue) -> Enqueuer.Prepared? {
        guard let kind = entry["kind"]?.stringValue, let args = entry["args"]?.stringValue, let queue = entry["queue"]?.stringValue,
            let maxAttempts = entry["max_attempts"]?.intValue, let runAt = entry["run_at"]?.intValue,
            let ttl = entry["idempotency_ttl_ms"]?.intValue
        else { return nil }
        var job = Enqueuer.Prepared(
            id: id, kind: kind, args: args, queue: queue, maxAttempts: maxAttempts, runAt: Int64(runAt),
            idempotencyKey: "followup:" + id, tenant: entry["tenant"]?.stringValue ?? "",
            idempotencyTTL: .milliseconds(Int64(ttl)))
        job.parentID = entry["parent_id"]?.stringValue ?? ""
        if let key = entry["unique_key"]?.stringValue, let scope = entry["unique_scope"]?.stringValue { job.unique = (key, scope) }
        return job
    }
}
