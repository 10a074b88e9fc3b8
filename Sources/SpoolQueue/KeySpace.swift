/// Every Redis key Spool uses is built here, and nowhere else.
///
/// Keys of one queue share the hash tag `{queue}`, and each script touches one queue only, so a queue
/// lives on one Redis Cluster shard and different queues can spread across shards.
public struct KeySpace: Sendable, Equatable {
    /// The first part of every key; tests use a prefix of their own to stay apart.
    public let prefix: String

    public init(prefix: String = "spool") { self.prefix = prefix }

    public func pending(_ queue: String) -> String { "\(prefix):{\(queue)}:pending" }
    public func scheduled(_ queue: String) -> String { "\(prefix):{\(queue)}:scheduled" }
    public func active(_ queue: String) -> String { "\(prefix):{\(queue)}:active" }
    /// Lease tokens of active jobs (id → token): only the holder of a job's token may settle it.
    public func leases(_ queue: String) -> String { "\(prefix):{\(queue)}:leases" }
    public func retry(_ queue: String) -> String { "\(prefix):{\(queue)}:retry" }
    public func dead(_ queue: String) -> String { "\(prefix):{\(queue)}:dead" }
    /// Completed jobs whose records are kept for a while, by finish time; the Janitor deletes old ones.
    public func completed(_ queue: String) -> String { "\(prefix):{\(queue)}:completed" }
    public func paused(_ queue: String) -> String { "\(prefix):{\(queue)}:paused" }
    public func stats(_ queue: String) -> String { "\(prefix):{\(queue)}:stats" }
    /// The hash of one job; scripts that touch many jobs get `jobPrefix` and append the id.
    public func job(_ queue: String, _ id: String) -> String { jobPrefix(queue) + id }
    public func jobPrefix(_ queue: String) -> String { "\(prefix):{\(queue)}:job:" }
    public func idempotencyPrefix(_ queue: String) -> String { "\(prefix):{\(queue)}:idem:" }
    /// Jobs of a paused tenant, set aside by fetch until the tenant resumes; a list per tenant.
    public func parked(_ queue: String, tenant: String) -> String { parkedPrefix(queue) + tenant }
    public func parkedPrefix(_ queue: String) -> String { "\(prefix):{\(queue)}:parked:" }
    /// Tenants with parked jobs in this queue.
    public func parkedTenants(_ queue: String) -> String { "\(prefix):{\(queue)}:parked_tenants" }

    /// Every queue that has ever had a job enqueued (a set, outside any queue's slot).
    public var queues: String { "\(prefix):queues" }
    /// Paused tenants (the kill switch), mirrored from PostgreSQL for workers to read cheaply.
    public var pausedTenants: String { "\(prefix):tenants:paused" }
    /// Settled jobs by kind, queue and outcome, added to by every worker (JobMetricsPusher).
    public var metricsOutcomes: String { "\(prefix):metrics:outcomes" }
    /// Job duration histogram buckets and sums by kind and queue.
    public var metricsDurations: String { "\(prefix):metrics:durations" }
    /// Live worker processes, scored by their last heartbeat (unix ms).
    public var workers: String { "\(prefix):workers" }
    public func worker(_ id: String) -> String { "\(prefix):worker:\(id)" }
}
