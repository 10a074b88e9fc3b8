import SpoolHTTP
import SpoolQueue
import SpoolRedis
import SpoolStore
import SpoolSupport

/// The OAuth access token of one calendar connection, shared by every worker process: one token per
/// connection (not per process, not per call), kept in Redis sealed with the SecretBox, and refreshed
/// by exactly one process at a time, because providers that rotate refresh tokens invalidate the loser
/// of a race.
///
/// 1. `current()` answers from this process's cache, which it re-reads from Redis at least every
///    `recheckAfter`; then from the shared hash (`SharedTokenRecord`) while the token is fresh.
/// 2. A token due for refresh (about a minute before it expires), or one a provider refused
///    (`refresh(rejected:)`), is refreshed once per process (callers in the process share it) and once
///    across processes: the process that takes the lock (`TokenRefreshLock`) reads the hash again (someone
///    may have just refreshed), reads the sealed refresh token from the connection's row, posts the
///    refresh grant, stores a rotated refresh token in PostgreSQL, publishes the new access token, and
///    lets go of the lock. The others poll the hash until the new token appears, take the lock
///    themselves if it is let go without one, and stop at once if the refresh token was refused.
/// 3. `refresh(rejected:)` returns the shared token without a refresh when it already differs from
///    the rejected one: another process refreshed it. So "a 401 → refresh once and retry once" costs one
///    refresh per expiry per connection, however many workers saw the 401.
/// 4. `invalid_grant` marks the connection `needs_reauth` (once), leaves a marker in the hash that
///    stops the waiters, and is a permanent refusal whose reason starts with `needs_reauth: invalid_grant`.
///    Until the connection is reconnected with another refresh token, later calls refuse the same way
///    without asking the provider again.
public actor SharedAccessToken: ProviderCredentials {
    public struct Options: Sendable {
        /// How long before its expiry a token is refreshed; a token that lives less than twice this is
        /// refreshed halfway through its life.
        public var refreshMargin: Duration = .seconds(60)
        /// How long this process uses the token it read from Redis before reading the hash again.
        public var recheckAfter: Duration = .seconds(1)
        /// How long the lock outlives a refresher that died holding it; above the grant's timeout plus
        /// the time given to storing a rotated refresh token.
        public var lockTTL: Duration = .seconds(30)
        /// How often a process waiting for another's refresh reads the hash.
        public var pollInterval: Duration = .milliseconds(25)
        /// How long a process waits for other processes' refreshes before giving up (a retryable refusal).
        public var waitLimit: Duration = .seconds(45)
        /// The refresh grant's own timeout.
        public var grantTimeout: Duration = .seconds(15)
        /// How long storing a rotated refresh token is retried while the lock is held.
        public var storeRetryLimit: Duration = .seconds(8)
        /// How long the Redis hash outlives its last change.
        public var retention: Duration = .seconds(7 * 86_400)
        public init() {}
    }

    /// The connection's id (its row in PostgreSQL).
    public nonisolated let connection: String
    private let record: SharedTokenRecord
    private let redis: RedisClient
    private let keys: KeySpace
    private let store: any CalendarTokenStore
    private let box: SecretBox
    private let grant: RefreshGrant
    private let clock: any WallClock
    private let options: Options
    private let accessContext: String
    private let refreshContext: String

    private struct Cached {
        let token: String
        let refreshAtMs: Int64
        /// When this process last read the hash.
        let checkedAtMs: Int64
    }

    /// A snapshot of the hash with its token opened.
    private struct Shared {
        var token: String?
        var refreshAtMs: Int64
        var expiresAtMs: Int64
        var revoked: String?
        var revokedReason: String?
        var locked: Bool
    }

    private var cached: Cached?
    /// The refresh this process has in flight, and the token it replaces (nil: there was none).
    private var pending: (stale: String?, task: Task<String, any Error>)?
    /// The last sealed value opened, so that polling does not decrypt the same value again and again.
    private var lastOpened: (sealed: String, token: String)?
    private var refreshesHere = 0

    public init(
        connection: String, redis: RedisClient, keys: KeySpace, store: any CalendarTokenStore, box: SecretBox,
        google: GoogleConfiguration, http: HTTPClient, clock: any WallClock = SystemClock(), options: Options = Options()
    ) {
        self.connection = connection
        self.redis = redis
        self.keys = keys
        self.store = store
        self.box = box
        self.clock = clock
        self.options = options
        self.record = SharedTokenRecord(redis: redis, keys: keys, connection: connection, retention: options.retention)
        self.grant = RefreshGrant(http: http, google: google, timeout: options.grantTimeout, clock: clock)
        self.accessContext = CalendarSecrets.accessTokenContext(connection: connection)
        self.refreshContext = CalendarSecrets.refreshTokenContext(connection: connection)
    }

    // MARK: - ProviderCredentials

    public func current() async throws(ProviderRefusal) -> String {
        let now = clock.nowMillis()
        if let cached, now < cached.refreshAtMs, now - cached.checkedAtMs < options.recheckAfter.milliseconds {
            return cached.token
        }
        let shared = try await readShared()
        if let token = shared.token, now < shared.refreshAtMs {
            remember(token, shared)
            return token
        }
        do {
            return try await renew(rejecting: shared.token, revokedBefore: shared.revoked)
        } catch {
            // A refresh that failed for now leaves a token that still works for a while: use it.
            if case .permanent = error.verdict { throw error }
            if let token = shared.token, clock.nowMillis() < shared.expiresAtMs - 5_000 { return token }
            throw error
        }
    }

    public func refresh(rejected: String) async throws(ProviderRefusal) -> String {
        let now = clock.nowMillis()
        if let cached {
            // This process has already moved past the rejected token.
            if cached.token != rejected, now < cached.refreshAtMs { return cached.token }
            self.cached = nil
        }
        let shared = try await readShared()
        if let token = shared.token, token != rejected, now < shared.refreshAtMs {
            remember(token, shared)
            return token
        }
        return try await renew(rejecting: rejected, revokedBefore: shared.revoked)
    }

    // MARK: - Reading

    /// Whether a refusal is the one `invalid_grant` gives: the connection needs a person to reconnect it.
    public static func needsReauth(_ verdict: ProviderVerdict) -> Bool {
        if case .permanent(_, let reason) = verdict { return reason.hasPrefix("needs_reauth:") }
        return false
    }

    /// Refresh grants this instance performed.
    public var refreshCount: Int { refreshesHere }

    /// Refresh grants performed for `connection` by every process (the hash's `refreshes`).
    public static func sharedRefreshCount(connection: String, redis: RedisClient, keys: KeySpace) async throws -> Int {
        try await SharedTokenRecord(redis: redis, keys: keys, connection: connection, retention: .zero).refreshes()
    }

    /// Forgets a connection's shared token, after it was disconnected.
    public static func discard(connection: String, redis: RedisClient, keys: KeySpace) async throws {
        try await SharedTokenRecord(redis: redis, keys: keys, connection: connection, retention: .zero).delete()
    }

    private func readShared() async throws(ProviderRefusal) -> Shared {
        do { return try await snapshot(checkingLock: false) } catch {
            throw ProviderRefusal(
                .retryable(reason: "reading the shared access token of calendar connection \(connection): \(error)", after: nil))
        }
    }

    private func snapshot(checkingLock: Bool) async throws -> Shared {
        let raw = try await record.read(checkingLock: checkingLock)
        return Shared(
            token: raw.sealed.flatMap { opened($0) }, refreshAtMs: raw.refreshAtMs, expiresAtMs: raw.expiresAtMs, revoked: raw.revoked,
            revokedReason: raw.revokedReason, locked: raw.locked)
    }

    /// The token in a sealed value, or nil when it does not open here (sealed with a key this process
    /// lacks, or altered): such a token is replaced by a refresh, never served.
    private func opened(_ sealed: String) -> String? {
        if let lastOpened, lastOpened.sealed == sealed { return lastOpened.token }
        guard let token = try? box.open(sealed, context: accessContext) else { return nil }
        lastOpened = (sealed, token)
        return token
    }

    private func remember(_ token: String, _ shared: Shared) {
        remember(token, refreshAtMs: shared.refreshAtMs)
    }

    private func remember(_ token: String, refreshAtMs: Int64) {
        cached = Cached(token: token, refreshAtMs: refreshAtMs, checkedAtMs: clock.nowMillis())
    }

    /// A token in the hash that a caller replacing `stale` may use.
    private func usable(_ shared: Shared, rejecting stale: String?) -> String? {
        guard let token = shared.token, token != stale, clock.nowMillis() < shared.refreshAtMs else { return nil }
        return token
    }

    // MARK: - Refreshing

    /// One refresh per process: callers replacing the same token share the one in flight.
    private func renew(rejecting stale: String?, revokedBefore: String?) async throws(ProviderRefusal) -> String {
        var rounds = 0
        while let inFlight = pending, rounds < 3 {
            rounds += 1
            let token = try await settle(inFlight.task)
            // A refresh for another token may have brought back the one this caller must replace.
            if token != stale || inFlight.stale == stale { return token }
        }
        let task = Task { try await self.refreshAcrossProcesses(rejecting: stale, revokedBefore: revokedBefore) }
        pending = (stale, task)
        return try await settle(task)
    }

    private func settle(_ task: Task<String, any Error>) async throws(ProviderRefusal) -> String {
        do {
            let token = try await task.value
            if pending?.task == task { pending = nil }
            return token
        } catch {
            if pending?.task == task { pending = nil }
            if let refusal = error as? ProviderRefusal {
                if Self.needsReauth(refusal.verdict) { cached = nil }
                throw refusal
            }
            throw ProviderRefusal(
                .retryable(reason: "refreshing the access token of calendar connection \(connection): \(error)", after: nil))
        }
    }

    /// One refresh across processes: take the lock and refresh, or wait for the holder's result.
    private func refreshAcrossProcesses(rejecting stale: String?, revokedBefore: String?) async throws -> String {
        let deadline = ContinuousClock.now + options.waitLimit
        while true {
            let lock = TokenRefreshLock(redis: redis, key: keys.oauthRefreshLock(connection: connection), ttl: options.lockTTL)
            if try await lock.acquire() {
                do {
                    let token = try await refreshHoldingLock(rejecting: stale)
                    try? await lock.release()
                    return token
                } catch {
                    // Should the release fail too, the lock expires by itself.
                    try? await lock.release()
                    throw error
                }
            }
            if let token = try await awaitOtherRefresh(rejecting: stale, revokedBefore: revokedBefore, deadline: deadline) {
                return token
            }
        }
    }

    /// Polls the hash while another process refreshes. Nil: that process let go of the lock without
    /// a new token (it failed or died), and this one should try the lock itself.
    private func awaitOtherRefresh(rejecting stale: String?, revokedBefore: String?, deadline: ContinuousClock.Instant) async throws
        -> String?
    {
        while ContinuousClock.now < deadline {
            try await Task.sleep(for: options.pollInterval)
            let shared = try await snapshot(checkingLock: true)
            if let token = usable(shared, rejecting: stale) {
                remember(token, shared)
                return token
            }
            if let revoked = shared.revoked, revoked != revokedBefore {
                throw Self.needsReauthRefusal(shared.revokedReason ?? "needs_reauth: invalid_grant")
            }
            if !shared.locked { return nil }
        }
        throw ProviderRefusal(
            .retryable(
                reason: "gave up after \(options.waitLimit) waiting for another process to refresh the access token of calendar connection \(connection)",
                after: nil))
    }

    /// The refresh itself, by the lock's holder.
    private func refreshHoldingLock(rejecting stale: String?) async throws -> String {
        let shared = try await snapshot(checkingLock: false)
        if let token = usable(shared, rejecting: stale) {  // another process refreshed it just now
            remember(token, shared)
            return token
        }
        let sealedRefresh: String
        do { sealedRefresh = try await store.sealedRefreshToken(connection: connection) } catch {
            throw ProviderRefusal(
                .retryable(reason: "reading the refresh token of calendar connection \(connection): \(error)", after: nil))
        }
        let fingerprint = Self.fingerprint(sealedRefresh)
        if shared.revoked == fingerprint {
            // The provider refused this very refresh token before: no second token request.
            throw Self.needsReauthRefusal(shared.revokedReason ?? "needs_reauth: invalid_grant")
        }
        let refreshToken: String
        do { refreshToken = try box.open(sealedRefresh, context: refreshContext) } catch {
            throw ProviderRefusal(
                .permanent(code: "secret_key", reason: "the refresh token of calendar connection \(connection) does not open: \(error)"))
        }
        switch await grant.exchange(refreshToken: refreshToken) {
        case .revoked(let description):
            let reason = "needs_reauth: invalid_grant: \(description)"
            do { try await store.markNeedsReauth(connection: connection, reason: reason) } catch {
                throw ProviderRefusal(
                    .retryable(
                        reason: "the provider refused the refresh token of calendar connection \(connection), and recording needs_reauth failed: \(error)",
                        after: nil))
            }
            // Should Redis fail here, a waiter that does not see the marker tries the lock, reads the
            // store, and gets its own answer: the refusal stands either way.
            try? await record.revoke(fingerprint: fingerprint, reason: reason)
            cached = nil
            throw Self.needsReauthRefusal(reason)
        case .refused(let verdict):
            throw ProviderRefusal(verdict)
        case .granted(let granted):
            if let rotated = granted.refreshToken, rotated != refreshToken {
                // Before the access token is published and the lock let go: the old refresh token may
                // already be dead, and this is the only copy of the new one.
                try await storeRotated(box.seal(rotated, context: refreshContext))
            } else if box.needsResealing(sealedRefresh) {
                // After a key rotation: moves the row to the current key; the next refresh tries again if this fails.
                try? await store.replaceRefreshToken(connection: connection, sealed: box.seal(refreshToken, context: refreshContext))
            }
            return await publish(granted)
        }
    }

    /// Stores a rotated refresh token, retrying a failing database for a while within the lock.
    private func storeRotated(_ sealed: String) async throws {
        let deadline = ContinuousClock.now + options.storeRetryLimit
        var delay: Duration = .milliseconds(50)
        while true {
            do {
                try await store.replaceRefreshToken(connection: connection, sealed: sealed)
                return
            } catch {
                guard ContinuousClock.now + delay < deadline else {
                    throw ProviderRefusal(
                        .retryable(
                            reason: "the provider rotated the refresh token of calendar connection \(connection), and storing the new one failed: \(error)",
                            after: nil))
                }
                try await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(1))
            }
        }
    }

    /// Shares a new access token with every process and counts the refresh.
    private func publish(_ granted: RefreshGrant.Granted) async -> String {
        let now = clock.nowMillis()
        let margin = options.refreshMargin.milliseconds
        let refreshAt = now + max(granted.lifetimeMs - margin, granted.lifetimeMs / 2)
        let expiresAt = now + granted.lifetimeMs
        refreshesHere += 1
        // Should Redis fail, this process still holds a working token; the others refresh on their own.
        try? await record.publish(
            sealed: box.seal(granted.accessToken, context: accessContext), refreshAtMs: refreshAt, expiresAtMs: expiresAt, nowMs: now)
        remember(granted.accessToken, refreshAtMs: refreshAt)
        return granted.accessToken
    }

    private static func needsReauthRefusal(_ reason: String) -> ProviderRefusal {
        ProviderRefusal(.permanent(code: "invalid_grant", reason: reason))
    }

    /// Names a sealed refresh token without revealing anything about it: the hash of its ciphertext.
    private static func fingerprint(_ sealed: String) -> String { String(Hashing.sha256Hex(Array(sealed.utf8)).prefix(16)) }
}
