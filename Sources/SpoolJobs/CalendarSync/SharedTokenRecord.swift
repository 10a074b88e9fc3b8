import SpoolQueue
import SpoolRedis

/// One connection's shared access token as Redis holds it, `spool:oauth:{cal:<id>}`, a hash of:
/// - `token`: the access token, sealed (SecretBox, context `calendar:<id>:access`), never in clear;
/// - `refresh_at`, `expires_at`, `refreshed_at`: unix ms; from `refresh_at` on the token is refreshed;
/// - `refreshes`: refresh grants performed for the connection by every process (what benchmarks count);
/// - `revoked`, `revoked_reason`: the fingerprint of a refresh token the provider refused
///   (`invalid_grant`), and why; processes waiting for a refresh stop at once when it appears.
struct SharedTokenRecord: Sendable {
    struct Snapshot: Sendable, Equatable {
        var sealed: String?
        var refreshAtMs: Int64 = 0
        var expiresAtMs: Int64 = 0
        var revoked: String?
        var revokedReason: String?
        /// Whether a process holds the refresh lock (read only while waiting for one).
        var locked = false
    }

    let redis: RedisClient
    let key: String
    let lockKey: String
    /// How long the hash outlives its last change, so that a disconnected connection's sealed token
    /// does not stay in Redis for ever.
    let retention: Duration

    init(redis: RedisClient, keys: KeySpace, connection: String, retention: Duration) {
        self.redis = redis
        self.key = keys.oauthToken(connection: connection)
        self.lockKey = keys.oauthRefreshLock(connection: connection)
        self.retention = retention
    }

    private static let fields = ["token", "refresh_at", "expires_at", "revoked", "revoked_reason"]

    /// The hash's fields, and with `checkingLock` whether the lock is held, in one round trip.
    func read(checkingLock: Bool = false) async throws -> Snapshot {
        var commands = [RedisCommand("HMGET", [key] + Self.fields)]
        if checkingLock { commands.append(RedisCommand("EXISTS", lockKey)) }
        let replies = try await redis.pipeline(commands)
        let values = try replies[0].checked("HMGET").array ?? []
        func text(_ index: Int) -> String? { index < values.count ? values[index].string.flatMap { $0.isEmpty ? nil : $0 } : nil }
        var snapshot = Snapshot()
        snapshot.sealed = text(0)
        snapshot.refreshAtMs = text(1).flatMap { Int64($0) } ?? 0
        snapshot.expiresAtMs = text(2).flatMap { Int64($0) } ?? 0
        snapshot.revoked = text(3)
        snapshot.revokedReason = text(4)
        if checkingLock { snapshot.locked = try replies[1].checked("EXISTS").int == 1 }
        return snapshot
    }

    /// Publishes a new token for every process, counts the refresh, and clears a revoked marker (the
    /// connection was reconnected).
    func publish(sealed: String, refreshAtMs: Int64, expiresAtMs: Int64, nowMs: Int64) async throws {
        let replies = try await redis.pipeline([
            RedisCommand(
                "HSET", key, "token", sealed, "refresh_at", String(refreshAtMs), "expires_at", String(expiresAtMs), "refreshed_at",
                String(nowMs)),
            RedisCommand("HINCRBY", key, "refreshes", "1"),
            RedisCommand("HDEL", key, "revoked", "revoked_reason"),
            RedisCommand("PEXPIRE", key, String(retention.milliseconds)),
        ])
        for (reply, name) in zip(replies, ["HSET", "HINCRBY", "HDEL", "PEXPIRE"]) { _ = try reply.checked(name) }
    }

    /// Marks the refresh token whose fingerprint is given as refused, and drops the access token.
    func revoke(fingerprint: String, reason: String) async throws {
        let replies = try await redis.pipeline([
            RedisCommand("HDEL", key, "token", "refresh_at", "expires_at"),
            RedisCommand("HSET", key, "revoked", fingerprint, "revoked_reason", reason),
            RedisCommand("PEXPIRE", key, String(retention.milliseconds)),
        ])
        for (reply, name) in zip(replies, ["HDEL", "HSET", "PEXPIRE"]) { _ = try reply.checked(name) }
    }

    /// Refresh grants performed for the connection, by every process.
    func refreshes() async throws -> Int {
        try await redis.run("HGET", key, "refreshes").int ?? 0
    }

    /// Forgets the connection's token (after a disconnect).
    func delete() async throws {
        try await redis.run("DEL", key)
    }
}
