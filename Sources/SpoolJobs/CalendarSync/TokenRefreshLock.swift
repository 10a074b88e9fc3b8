import SpoolRedis

/// The lock that lets one process at a time refresh a connection's access token, across every worker:
/// `SET spool:oauth:{cal:<id>}:lock <owner> NX PX <ttl>`. Only its owner deletes it
/// (release_token_lock.lua); otherwise it expires after `ttl`, so a process that died while
/// refreshing holds the others up no longer than that.
struct TokenRefreshLock: Sendable {
    static let releaseScript = RedisScript(
        name: "release_token_lock.lua", source: String(decoding: PackageResources.release_token_lock_lua, as: UTF8.self))

    let redis: RedisClient
    let key: String
    /// Random per attempt, so that a holder can tell its lock from a later holder's.
    let owner: String
    let ttl: Duration

    init(redis: RedisClient, key: String, ttl: Duration) {
        self.redis = redis
        self.key = key
        self.ttl = ttl
        self.owner = (0..<2).map { _ in String(UInt64.random(in: .min ... .max), radix: 16) }.joined(separator: "-")
    }

    /// True when this process now holds the lock; false when another one does.
    func acquire() async throws -> Bool {
        let reply = try await redis.run("SET", key, owner, "NX", "PX", String(max(ttl.milliseconds, 1)))
        return !reply.isNull
    }

    func release() async throws {
        try await redis.run(Self.releaseScript, keys: [key], arguments: [owner])
    }
}
