import SpoolRedis
import SpoolSupport
import Synchronization

/// What a producer asks for. `args` is JSON text; it must be an object that fits the kind's schema.
public struct EnqueueRequest: Sendable {
    public var kind: String
    public var args: String
    public var queue: String?
    /// When to run, unix ms; nil or a past time means now.
    public var runAt: Int64?
    public var idempotencyKey: String?
    public var tenant: String?
    /// `args` already parsed, when the caller has it (the API parsed the whole body): saves a parse.
    public var parsedArgs: JSONValue?
    /// Who asks: checked against the kind's `enqueue` policy. Spool's own code by default; the API and
    /// the CLI say who their caller is.
    public var producer: Producer = .spool
    /// The job whose completion asked for this one (a follow-up), shown as `parent_id`.
    public var parentID: String?

    /// Who enqueues a job (see `EnqueuePolicy`).
    public enum Producer: Sendable, Equatable {
        /// A tenant's API key.
        case tenant
        /// The operator key or the `spool` CLI.
        case `operator`
        /// Spool's own code: campaigns, replies, reminders, follow-ups.
        case spool
    }

    public init(
        kind: String, args: String = "{}", queue: String? = nil, runAt: Int64? = nil, idempotencyKey: String? = nil, tenant: String? = nil
    ) {
        self.kind = kind
        self.args = args
        self.queue = queue
        self.runAt = runAt
        self.idempotencyKey = idempotencyKey
        self.tenant = tenant
    }
}

public struct EnqueueResult: Sendable, Equatable {
    public let id: String
    public let queue: String
    /// False when an idempotency key matched an earlier job, whose id this is.
    public let created: Bool
    public let scheduled: Bool
}

/// How many replicas must have a job before its enqueue is acknowledged (SPOOL_REDIS_WAIT_REPLICAS).
///
/// Redis replicates asynchronously: a primary that dies right after answering can take the last
/// writes with it when its replica takes over. With `replicas` > 0, every enqueue is followed by
/// `WAIT` on the node that stored it, and is acknowledged only once that many replicas have it; if they
/// do not within `timeout`, the enqueue fails with an error saying so (the job may exist: retry with
/// the same idempotency key). See docs/redis.md for what this does and does not promise.
public struct EnqueueDurability: Sendable, Equatable {
    public var replicas: Int
    public var timeout: Duration
    public init(replicas: Int = 0, timeout: Duration = .milliseconds(500)) {
        self.replicas = replicas
        self.timeout = timeout
    }
    public static let primaryOnly = EnqueueDurability()
}

/// A request that cannot be enqueued, with the field at fault: `kind`, `args.to`, `queue`, `run_at` ...
public struct EnqueueError: Error, Sendable, Equatable, CustomStringConvertible {
    public let field: String
    public let message: String
    public init(field: String, _ message: String) { self.field = field; self.message = message }
    public var description: String { "\(field): \(message)" }
}

/// 1. Enqueue: validates a request against its kind's declaration, then stores the job and makes it
/// pending or scheduled with `enqueue.lua`, which also honours idempotency keys atomically.
/// Bulk enqueue groups jobs by queue and sends many jobs per script call, many calls per round trip.
public final class Enqueuer: Sendable {
    public let redis: RedisClient
    public let catalog: JobKindCatalog
    public let keys: KeySpace
    private let clock: any WallClock
    public let durability: EnqueueDurability
    /// Queues this process has already recorded in the `queues` set.
    private let knownQueues = Mutex<Set<String>>([])
    /// Single enqueues share script calls (see `enqueue(_:)`).
    private let singles: CallCoalescer<Prepared, EnqueueResult>
    static let jobsPerCall = 500
    static let callsPerRoundTrip = 20

    public init(
        redis: RedisClient, catalog: JobKindCatalog, keys: KeySpace, clock: any WallClock = SystemClock(),
        durability: EnqueueDurability = .primaryOnly
    ) {
        self.redis = redis
        self.catalog = catalog
        self.keys = keys
        self.clock = clock
        self.durability = durability
        singles = CallCoalescer(batchSize: Self.jobsPerCall * Self.callsPerRoundTrip) { jobs in
            try await Self.store(jobs, now: clock.nowMillis(), redis: redis, keys: keys, durability: durability)
        }
    }

    /// A job checked and ready to store.
    struct Prepared: Sendable {
        let id: String
        let kind: String
        let args: String
        let queue: String
        let maxAttempts: Int
        let runAt: Int64
        let idempotencyKey: String
        let tenant: String
        let idempotencyTTL: Duration
        var parentID = ""
        /// `<kind>:<rendered key>` for kinds declared unique, with the script's word for its scope.
        var unique: (key: String, scope: String)?
    }

    /// Checks a request without touching Redis.
    public func validate(_ request: EnqueueRequest) throws(EnqueueError) {
        _ = try prepare(request, now: clock.nowMillis())
    }

    func prepare(_ request: EnqueueRequest, now: Int64) throws(EnqueueError) -> Prepared {
        guard let spec = catalog[request.kind] else {
            throw EnqueueError(
                field: "kind", "unknown kind '\(request.kind.prefix(80))'; declared kinds: \(catalog.kinds.joined(separator: ", "))")
        }
        switch (spec.enqueue, request.producer) {
        case (.internal, .tenant), (.internal, .operator):
            throw EnqueueError(
                field: "kind", "'\(request.kind)' jobs are created by Spool itself (campaigns, replies, reminders), not enqueued directly")
        case (.operator, .tenant):
            throw EnqueueError(field: "kind", "'\(request.kind)' is a diagnostic kind only the operator may enqueue")
        default:
            break
        }
        let args: JSONValue
        if let parsed = request.parsedArgs {
            args = parsed
        } else {
            do { args = try JSONValue.parse(request.args) } catch { throw EnqueueError(field: "args", "\(error)") }
        }
        let problems = spec.arguments.problems(in: args)
        if let first = problems.first {
            let field = String(first.prefix { $0 != ":" })
            throw EnqueueError(field: field, problems.map { String($0.dropFirst(field.count + 2)) }.joined(separator: "; "))
        }
        let queue = request.queue ?? spec.queue
        guard JobKindCatalog.isValidName(queue) else {
            throw EnqueueError(field: "queue", "'\(queue.prefix(80))' must be 1-64 of a-z 0-9 - _")
        }
        if let key = request.idempotencyKey {
            guard !key.isEmpty, key.utf8.count <= 256 else { throw EnqueueError(field: "idempotency_key", "must be 1-256 bytes") }
        }
        if let tenant = request.tenant {
            guard !tenant.isEmpty, tenant.utf8.count <= 128 else { throw EnqueueError(field: "tenant", "must be 1-128 bytes") }
        }
        var runAt = request.runAt ?? 0
        var unique: (key: String, scope: String)?
        if let declared = spec.unique {
            switch declared.key.render(tenant: request.tenant, queue: queue, kind: request.kind, args: args, naming: "unique key") {
            case .success(let key): unique = (request.kind + ":" + key, declared.scope.scriptWord)
            case .failure(let error): throw EnqueueError(field: error.field, error.message)
            }
            // The rest of a burst finds the job still waiting.
            if request.runAt == nil, declared.debounce > .zero { runAt = now + declared.debounce.milliseconds }
        }
        var prepared = Prepared(
            id: JobID.make(now: now), kind: request.kind, args: request.args, queue: queue, maxAttempts: spec.maxAttempts,
            runAt: runAt, idempotencyKey: request.idempotencyKey ?? "", tenant: request.tenant ?? "",
            idempotencyTTL: spec.idempotencyTTL)
        prepared.parentID = request.parentID ?? ""
        prepared.unique = unique
        return prepared
    }

    /// Enqueues one job. Throws `EnqueueError` for a bad request, `RedisError` when Redis fails.
    ///
    /// Jobs enqueued one at a time by concurrent callers (API requests) share script calls: the first
    /// caller stores everything submitted until its call returns, so under load Redis runs one
    /// enqueue.lua for many jobs, as bulk enqueue does; alone, a caller stores just its own job
    /// (`CallCoalescer`, one call at a time).
    public func enqueue(_ request: EnqueueRequest) async throws -> EnqueueResult {
        let job = try prepare(request, now: clock.nowMillis())
        try await registerQueues([job.queue])
        return try await singles.submit(job)
    }

    /// Enqueues many jobs. Each item gets its own result: a bad item is refused with its error and
    /// never stops the good ones. Redis failures throw; results up to then are kept in Redis.
    public func enqueue(batch requests: [EnqueueRequest]) async throws -> [Result<EnqueueResult, EnqueueError>] {
        let now = clock.nowMillis()
        var results = [Result<EnqueueResult, EnqueueError>?](repeating: nil, count: requests.count)
        var prepared: [(index: Int, job: Prepared)] = []
        prepared.reserveCapacity(requests.count)
        for (index, request) in requests.enumerated() {
            do { prepared.append((index, try prepare(request, now: now))) } catch { results[index] = .failure(error) }
        }
        try await registerQueues(Set(prepared.map(\.job.queue)))
        let chunkSize = Self.jobsPerCall * Self.callsPerRoundTrip
        var start = 0
        while start < prepared.count {
            let slice = Array(prepared[start..<min(start + chunkSize, prepared.count)])
            let stored = try await Self.store(slice.map(\.job), now: now, redis: redis, keys: keys, durability: durability)
            for (item, result) in zip(slice, stored) { results[item.index] = .success(result) }
            start += chunkSize
        }
        return results.map { $0! }
    }

    /// Stores prepared jobs: one script call per queue and TTL group of up to `jobsPerCall`, all in one pipeline.
    static func store(
        _ jobs: [Prepared], now: Int64, redis: RedisClient, keys: KeySpace, durability: EnqueueDurability
    ) async throws -> [EnqueueResult] {
        var calls: [ScriptCall] = []
        var callJobs: [[Int]] = []
        var groups: [String: [Int]] = [:]
        var order: [String] = []
        for (index, job) in jobs.enumerated() {
            let group = "\(job.queue)|\(job.idempotencyTTL.milliseconds)|\(job.unique == nil ? 8 : 10)"
            if groups[group] == nil { order.append(group) }
            groups[group, default: []].append(index)
        }
        for group in order {
            let members = groups[group]!
            var start = 0
            while start < members.count {
                let part = Array(members[start..<min(start + Self.jobsPerCall, members.count)])
                let first = jobs[part[0]]
                let fieldsPerJob = first.unique == nil ? 8 : 10
                var arguments: [String] = []
                arguments.reserveCapacity(part.count * fieldsPerJob)
                for index in part {
                    let job = jobs[index]
                    arguments.append(job.id); arguments.append(job.kind); arguments.append(job.args)
                    arguments.append(String(job.maxAttempts)); arguments.append(String(job.runAt))
                    arguments.append(job.idempotencyKey); arguments.append(job.tenant); arguments.append(job.parentID)
                    if let unique = job.unique {
                        arguments.append(unique.key); arguments.append(unique.scope)
                    }
                }
                calls.append(
                    keys.enqueueCall(
                        first.queue, now: now, idempotencyTTL: max(first.idempotencyTTL.milliseconds / 1000, 1),
                        fieldsPerJob: fieldsPerJob, arguments: arguments))
                callJobs.append(part)
                start += Self.jobsPerCall
            }
        }
        let replies = try await redis.run(calls)
        if durability.replicas > 0 { try await waitForReplicas(durability, storedIn: Set(calls.compactMap(\.keys.first)), redis: redis) }
        var results = [EnqueueResult?](repeating: nil, count: jobs.count)
        for (reply, part) in zip(replies, callJobs) {
            guard let items = try reply.checked("EVALSHA enqueue.lua").array, items.count == part.count * 2 else {
                throw RedisError(.unexpectedReply, "enqueue.lua returned \(reply)", command: "EVALSHA enqueue.lua")
            }
            for (offset, index) in part.enumerated() {
                let job = jobs[index]
                let id = items[offset * 2].string ?? job.id
                let created = items[offset * 2 + 1].int == 1
                results[index] = EnqueueResult(id: id, queue: job.queue, created: created, scheduled: job.runAt > now)
            }
        }
        return results.map { $0! }
    }

    /// `WAIT` on every node that stored some of the jobs (`storedIn`: a key of each queue written, which
    /// names its node); throws when a node's replicas did not all confirm in time.
    static func waitForReplicas(_ durability: EnqueueDurability, storedIn: Set<String>, redis: RedisClient) async throws {
        let keys = storedIn.sorted()
        let replies = try await redis.pipeline(keys.map { RedisCommand.wait(replicas: durability.replicas, timeout: durability.timeout, onNodeOf: $0) })
        for reply in replies {
            let confirmed = try reply.checked("WAIT").int ?? 0
            if confirmed < durability.replicas {
                throw RedisError(
                    .timeout,
                    "the job was stored, but only \(confirmed) of \(durability.replicas) replicas confirmed it within \(durability.timeout.milliseconds) ms "
                        + "(SPOOL_REDIS_WAIT_REPLICAS): it may not survive a failover; retry with the same idempotency key",
                    command: "WAIT")
            }
        }
    }

    /// Records queues in the `queues` set once per process, so that stats and the scheduler find them.
    func registerQueues(_ queues: Set<String>) async throws {
        let fresh = knownQueues.withLock { known in queues.subtracting(known) }
        if fresh.isEmpty { return }
        try await redis.run(RedisCommand("SADD", [keys.queues] + fresh.sorted()))
        knownQueues.withLock { $0.formUnion(fresh) }
    }
}
