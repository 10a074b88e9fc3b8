/// Every Redis key Spool uses is built here, and nowhere else.
///
/// Keys of one queue share the hash tag `{queue}`, and each script touches one queue only, so a queue
/// lives on one Redis Cluster shard and different queues can spread across shards. A script touches
/// only the keys it is given, or keys built from one of them by appending text, which keeps its tag
/// (docs/architecture.md, "Keys and slots").
public struct KeySpace: Sendable, Equatable {
    /// The first part of every key; tests use a prefix of their own to stay apart. Never with a brace
    /// (see `checkedPrefix`).
    public let prefix: String

    public init(prefix: String = "spool") { self.prefix = prefix }

    /// `prefix` when it has no '{' or '}'; `source` names where it came from (`SPOOL_KEY_PREFIX`).
    /// Redis Cluster hashes a key by the text between its first '{' and the next '}', so a brace in
    /// the prefix would take the place of every queue's and limiter's tag: `app{x}` puts every key
    /// in one slot, and `app{` makes each tag start inside the prefix.
    public static func checkedPrefix(_ prefix: String, source: String) throws -> String {
        guard !prefix.contains("{"), !prefix.contains("}") else {
            throw SpoolConfigError(
                "\(source)='\(prefix.prefix(80))': a key prefix may not contain '{' or '}': Redis Cluster would hash every key by the prefix's braces instead of its queue's {tag}"
            )
        }
        return prefix
    }

    /// Pending work is split into lanes, one per tenant, so that fetch can serve tenants in turn (see
    /// lanes.lua): this is the lane of jobs without a tenant, and the prefix of the others.
    public func pending(_ queue: String) -> String { "\(prefix):{\(queue)}:pending" }
    /// One tenant's pending jobs, oldest on the right.
    public func lane(_ queue: String, tenant: String?) -> String {
        guard let tenant, !tenant.isEmpty else { return pending(queue) }
        return "\(pending(queue)):\(tenant)"
    }
    /// The lanes that have pending jobs and are not parked, in the order fetch visits them ("" is the
    /// lane without a tenant). Idle workers block on it.
    public func lanes(_ queue: String) -> String { "\(prefix):{\(queue)}:lanes" }
    public func scheduled(_ queue: String) -> String { "\(prefix):{\(queue)}:scheduled" }
    public func active(_ queue: String) -> String { "\(prefix):{\(queue)}:active" }
    /// Lease tokens of active jobs (id → token): only the holder of a job's token may settle it.
    public func leases(_ queue: String) -> String { "\(prefix):{\(queue)}:leases" }
    public func retry(_ queue: String) -> String { "\(prefix):{\(queue)}:retry" }
    public func dead(_ queue: String) -> String { "\(prefix):{\(queue)}:dead" }
    /// Completed jobs whose records are kept for a while, by finish time; the Janitor deletes old ones.
    public func completed(_ queue: String) -> String { "\(prefix):{\(queue)}:completed" }
    public func paused(_ queue: String) -> String { "\(prefix):{\(queue)}:paused" }
    /// Why a provider stopped the queue (quota_alert.lua): kind, reason, since; cleared on resume.
    public func alert(_ queue: String) -> String { "\(prefix):{\(queue)}:alert" }
    public func stats(_ queue: String) -> String { "\(prefix):{\(queue)}:stats" }
    /// The hash of one job; scripts that touch many jobs get `jobPrefix` and append the id.
    public func job(_ queue: String, _ id: String) -> String { jobPrefix(queue) + id }
    public func jobPrefix(_ queue: String) -> String { "\(prefix):{\(queue)}:job:" }
    public func idempotencyPrefix(_ queue: String) -> String { "\(prefix):{\(queue)}:idem:" }
    /// `<prefix><tenant>:<kind>:<key>` → the job holding a unique key (see enqueue.lua).
    public func uniquePrefix(_ queue: String) -> String { "\(prefix):{\(queue)}:unique:" }
    /// Follow-up jobs of the queue's completed jobs, by follow-up id, until `Outbox` moves them to their
    /// own queues (complete.lua writes them with the completion).
    public func outbox(_ queue: String) -> String { "\(prefix):{\(queue)}:outbox" }
    /// Paused tenants whose lane fetch took out of the ring: their jobs wait in their lane, unfetched,
    /// until unpark.lua puts the lane back.
    public func parkedTenants(_ queue: String) -> String { "\(prefix):{\(queue)}:parked_tenants" }
    /// Jobs that a limiter refused, waiting for it in order: a list per limit key (wait_for_limit.lua).
    public func limited(_ queue: String, limit: String) -> String { limitedPrefix(queue) + limit }
    public func limitedPrefix(_ queue: String) -> String { "\(prefix):{\(queue)}:limited:" }
    /// Limit keys with waiting jobs, scored by when their limiter is next due.
    public func limitedKeys(_ queue: String) -> String { "\(prefix):{\(queue)}:limited_keys" }
    /// How fast to release each limit key's waiting jobs (ms per job).
    public func limitedPace(_ queue: String) -> String { "\(prefix):{\(queue)}:limited_pace" }

    /// One limiter's keys start with this; the limit key is the hash tag, so a limiter lives on one shard.
    /// A limit key is filled in from a job's arguments, so it may hold braces: they are percent-encoded
    /// here (with '%' itself, so that two limit keys never share a limiter), and the tag is always the
    /// whole limit key, never empty or cut short by a '}' of the key's own.
    public func limiter(_ limit: String) -> String { "\(prefix):limit:{\(Self.tagText(limit))}" }
    /// The keys of one limiter, which its scripts get as KEYS.
    public func limiterKeys(_ limit: String) -> LimiterKeys { LimiterKeys(base: limiter(limit)) }
    /// Run-time limit settings (limit key or declared template → JSON), read by every worker.
    public var limitOverrides: String { "\(prefix):limits:overrides" }
    /// Limiters in use: limit key → JSON of its settings and when a worker last used it (for stats).
    public var limitsSeen: String { "\(prefix):limits:seen" }

    /// One calendar connection's shared OAuth access token, a hash (see `SharedTokenRecord` in
    /// SpoolJobs): the connection is the hash tag, so the token and its refresh lock share a shard.
    public func oauthToken(connection: String) -> String { "\(prefix):oauth:{cal:\(connection)}" }
    /// Held by the one process refreshing that token (SET NX PX), deleted only by its owner.
    public func oauthRefreshLock(connection: String) -> String { oauthToken(connection: connection) + ":lock" }

    /// Every queue that has ever had a job enqueued (a set, outside any queue's slot).
    public var queues: String { "\(prefix):queues" }
    /// Paused tenants (the kill switch), mirrored from PostgreSQL for workers to read cheaply.
    public var pausedTenants: String { "\(prefix):tenants:paused" }
    /// Settled jobs by kind, queue and outcome, added to by every worker (JobMetricsPusher).
    public var metricsOutcomes: String { "\(prefix):metrics:outcomes" }
    /// Job duration histogram buckets and sums by kind and queue.
    public var metricsDurations: String { "\(prefix):metrics:durations" }
    /// Settled jobs of one minute (`minute`: unix ms / 60,000) by outcome label, a hash that every
    /// worker adds to (JobMetricsPusher) and that expires two hours later: the dashboard's timeline.
    public func metricsMinute(_ minute: Int64) -> String { "\(prefix):metrics:minute:\(minute)" }
    /// Schedule tick outcomes and lateness buckets, added to by every scheduler (ScheduleMetrics).
    public var metricsSchedules: String { "\(prefix):metrics:schedules" }
    /// The key that signs dashboard sessions when SPOOL_SECRET_KEY is not set: 32 random bytes (hex),
    /// set once with SET NX, so that every API process signs and checks with the same one.
    public var dashboardSigningKey: String { "\(prefix):dashboard:signing_key" }
    /// Live worker processes, scored by their last heartbeat (unix ms).
    public var workers: String { "\(prefix):workers" }
    public func worker(_ id: String) -> String { "\(prefix):worker:\(id)" }

    /// `text` fit to be a whole hash tag: '%', '{' and '}' percent-encoded, anything else as it is, and
    /// an empty text (no limit key renders to one) as `%00`, since Redis ignores an empty tag.
    static func tagText(_ text: String) -> String {
        if text.isEmpty { return "%00" }
        guard text.utf8.contains(where: { $0 == UInt8(ascii: "%") || $0 == UInt8(ascii: "{") || $0 == UInt8(ascii: "}") }) else {
            return text
        }
        var encoded = ""
        encoded.reserveCapacity(text.utf8.count + 6)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "%": encoded += "%25"
            case "{": encoded += "%7B"
            case "}": encoded += "%7D"
            default: encoded.unicodeScalars.append(scalar)
            }
        }
        return encoded
    }
}
