import SpoolRedis

extension QueueAdmin {
    /// Pauses a tenant's jobs in every queue: fetch parks the tenant's lane instead of taking from it.
    /// PostgreSQL holds the tenant's paused flag; this is the copy workers read.
    public func pauseTenant(_ tenant: String) async throws {
        try await redis.run("SADD", keys.pausedTenants, tenant)
    }

    /// Resumes a tenant: its lane goes back into every queue's ring, served next.
    /// Returns how many jobs were waiting in the tenant's lanes.
    @discardableResult
    public func resumeTenant(_ tenant: String) async throws -> Int {
        try await redis.run("SREM", keys.pausedTenants, tenant)
        var moved = 0
        for queue in try await queues() { moved += try await TenantParking.unpark(redis: redis, keys: keys, queue: queue, tenant: tenant) }
        return moved
    }

    public func pausedTenants() async throws -> Set<String> {
        try await TenantParking.pausedTenants(redis: redis, keys: keys)
    }

    /// Jobs parked for paused tenants in one queue.
    public func parkedCount(queue: String) async throws -> Int {
        try await parkedCounts(queues: [queue])[queue] ?? 0
    }

    /// Jobs parked for paused tenants, per queue, in two round trips whatever the number of queues.
    public func parkedCounts(queues: [String]) async throws -> [String: Int] {
        let members = try await redis.pipeline(queues.map { RedisCommand("SMEMBERS", keys.parkedTenants($0)) })
        let lists = zip(queues, members).flatMap { queue, reply in
            (reply.array?.compactMap(\.string) ?? []).map { (queue, keys.lane(queue, tenant: $0)) }
        }
        var counts = Dictionary(uniqueKeysWithValues: queues.map { ($0, 0) })
        if lists.isEmpty { return counts }
        let lengths = try await redis.pipeline(lists.map { RedisCommand("LLEN", $0.1) })
        for ((queue, _), length) in zip(lists, lengths) { counts[queue, default: 0] += length.int ?? 0 }
        return counts
    }
}

/// Moving parked jobs back, shared by a resume and the scheduler's sweep.
enum TenantParking {
    /// The paused set, as the API, the scheduler and every worker read it.
    static func pausedTenants(redis: RedisClient, keys: KeySpace) async throws -> Set<String> {
        Set(try await redis.run("SMEMBERS", keys.pausedTenants).array?.compactMap(\.string) ?? [])
    }

    static func unpark(redis: RedisClient, keys: KeySpace, queue: String, tenant: String) async throws -> Int {
        try await redis.run(keys.unparkCall(queue, tenant: tenant)).int ?? 0
    }

    /// Hands back the parked jobs of tenants no longer paused: a resume interrupted half-way, or a
    /// fetch that parked with a pause list half a second old.
    static func unparkResumed(redis: RedisClient, keys: KeySpace, queues: [String]) async throws -> Int {
        let paused = try await pausedTenants(redis: redis, keys: keys)
        var moved = 0
        for queue in queues {
            let parked = try await redis.run("SMEMBERS", keys.parkedTenants(queue)).array?.compactMap(\.string) ?? []
            for tenant in parked where !paused.contains(tenant) {
                moved += try await unpark(redis: redis, keys: keys, queue: queue, tenant: tenant)
            }
        }
        return moved
    }
}
