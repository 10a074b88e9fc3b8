import HTTPTypes
import Hummingbird
import SpoolStore
import SpoolSupport
import Synchronization

/// Finds who is asking from `Authorization: Bearer <key>`, through the `KeyVerifier` it shares with
/// the dashboard's login form.
struct Authenticator: RouterMiddleware {
    typealias Context = APIContext
    let verifier: KeyVerifier

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        guard let header = request.headers[.authorization] else {
            throw APIError.unauthorized("missing API key: send Authorization: Bearer <key>")
        }
        // The scheme is case-insensitive (RFC 9110); the key is everything after one space.
        guard header.count > 7, header.prefix(7).lowercased() == "bearer " else {
            throw APIError.unauthorized("the Authorization header must be 'Bearer <key>'")
        }
        let address = context.clientAddress
        switch try await verifier.verify(String(header.dropFirst(7)), from: address) {
        case .principal(let principal):
            context.principal = principal
        case .throttled(let wait):
            var error = APIError(
                status: 429, code: "too_many_failed_authentications",
                message: "too many failed authentications from \(address); try again in \(wait) s")
            error.headers = [("Retry-After", String(wait))]
            throw error
        case .invalid:
            throw APIError.unauthorized("invalid or revoked API key")
        }
        return try await next(request, context)
    }
}

/// Turns a presented key into a principal: the operator key from configuration, or a tenant's key
/// from PostgreSQL. Answers are cached for two seconds, so a busy API does not read PostgreSQL per
/// request; a revoked key therefore stops working within two seconds. The API's Authorization header
/// and the dashboard's login form go through the same one, so they share its cache and its limits.
///
/// Made-up keys cost a database read each, so authentications of keys not known good are limited per
/// client address (`FailedAuthentications`: a token per lookup, given back when the key is good):
/// past the limit, such keys are refused before any read, while keys found good in the last ten
/// minutes keep working. Behind a proxy every client shares its address: run the API where it sees
/// clients' addresses.
struct KeyVerifier: Sendable {
    let tenants: TenantStore
    let operatorKey: [UInt8]?
    let cache: KeyCache
    let failures: FailedAuthentications

    init(tenants: TenantStore, operatorKey: String?, cache: KeyCache, failures: FailedAuthentications = FailedAuthentications()) {
        self.tenants = tenants
        self.operatorKey = operatorKey.map { Array($0.utf8) }
        self.cache = cache
        self.failures = failures
    }

    enum Verdict: Sendable, Equatable {
        case principal(Principal)
        /// Not a live key (unknown, forged, revoked, or not shaped like a key).
        case invalid
        /// Too many failed authentications from this address: try again in this many seconds.
        case throttled(retryAfterSeconds: Int)
    }

    /// Compares without returning early, whatever the lengths: every byte of the longer of the two is
    /// looked at and a length mismatch is folded into the result, so the time shows neither where the
    /// first difference is nor whether the lengths differ.
    static func isOperatorKey(_ key: some Collection<UInt8>, _ operatorKey: [UInt8]) -> Bool {
        let given = Array(key)
        var difference = UInt(bitPattern: given.count ^ operatorKey.count)
        for index in 0..<max(given.count, operatorKey.count) {
            let a = index < given.count ? given[index] : 0
            let b = index < operatorKey.count ? operatorKey[index] : 0
            difference |= UInt(a ^ b)
        }
        return difference == 0
    }

    func verify(_ key: String, from address: String) async throws -> Verdict {
        if let operatorKey, Self.isOperatorKey(key.utf8, operatorKey) { return .principal(.operator) }
        if let known = cache.known(key) { return .principal(known) }
        // A token is taken before the lookup (and given back when the key is good), so that
        // concurrent guesses cannot all pass on one token.
        let vetted = cache.wasGood(key)
        if !vetted, let wait = failures.take(address) { return .throttled(retryAfterSeconds: wait) }
        // Not shaped like a key: refused without touching the cache or the database.
        guard APIKeySecret.id(in: key) != nil,
            let principal = try await cache.principal(for: key, lookup: { try await tenants.authenticate($0).map(Principal.tenant) })
        else { return .invalid }
        if !vetted { failures.giveBack(address) }
        return .principal(principal)
    }
}

/// Recent key lookups, good for `ttl`. Only key-shaped texts (76 bytes) get here, and unknown ones are
/// remembered too, so a retried bad key costs no database read. When full, the oldest half goes.
/// (The dashboard keeps one of its own by key id, for the keys its sessions name.)
final class KeyCache: Sendable {
    private struct Entry { let principal: Principal?; let expires: Duration }
    private let entries = Mutex<[String: Entry]>([:])
    private let ttl: Duration
    private let capacity = 10_000

    init(ttl: Duration = .seconds(2)) { self.ttl = ttl }

    /// The principal of a key looked up recently and found good, without a lookup.
    func known(_ key: String) -> Principal? {
        let now = monotonicNow()
        guard let entry = entries.withLock({ $0[key] }), entry.expires > now else { return nil }
        return entry.principal
    }

    /// Keys found good in the last ten minutes (by their SHA-256): looked up again when their entry
    /// expires (a revoked key stops working), but never held back by their address's failures, so an
    /// attacker sharing a client's address cannot lock that client out.
    private let good = Mutex<[[UInt8]: Duration]>([:])
    static let goodFor: Duration = .seconds(600)

    func wasGood(_ key: String) -> Bool {
        let now = monotonicNow()
        return good.withLock { $0[Hashing.sha256(Array(key.utf8))].map { $0 > now } ?? false }
    }

    private func rememberGood(_ key: String, now: Duration) {
        good.withLock { good in
            if good.count >= capacity { good = good.filter { $0.value > now } }
            if good.count >= capacity { good.removeAll(keepingCapacity: true) }
            good[Hashing.sha256(Array(key.utf8))] = now + Self.goodFor
        }
    }

    func principal(for key: String, lookup: (String) async throws -> Principal?) async throws -> Principal? {
        let now = monotonicNow()
        if let entry = entries.withLock({ $0[key] }), entry.expires > now { return entry.principal }
        let principal = try await lookup(key)
        entries.withLock { entries in
            if entries.count >= capacity {
                // Expired entries first; if that frees too little, those closest to expiring.
                entries = entries.filter { $0.value.expires > now }
                if entries.count >= capacity {
                    let keep = entries.sorted { $0.value.expires > $1.value.expires }.prefix(capacity / 2)
                    entries = Dictionary(uniqueKeysWithValues: keep.map { ($0.key, $0.value) })
                }
            }
            entries[key] = Entry(principal: principal, expires: now + ttl)
        }
        if principal != nil { rememberGood(key, now: now) }
        return principal
    }
}

/// Failed authentications per client address, as a token bucket: `burst` at once, then `perSecond`.
/// Past it, unknown keys from that address are refused (429) before any database read. IPv6
/// addresses count by their /64, which one client usually holds whole. The table holds at most
/// `capacity` addresses; when full, those with the most tokens left (the least suspicious) go first,
/// so an attacker cannot empty it of its own entries by spreading over addresses.
final class FailedAuthentications: Sendable {
    private struct Bucket { var tokens: Double; var updated: Duration }
    private let buckets = Mutex<[String: Bucket]>([:])
    let burst: Double
    let perSecond: Double
    private let capacity = 10_000

    init(burst: Int = 100, perSecond: Double = 10) {
        self.burst = Double(burst)
        self.perSecond = perSecond
    }

    private func refilled(_ bucket: Bucket, now: Duration) -> Double {
        min(burst, bucket.tokens + (now - bucket.updated).secondsDouble * perSecond)
    }

    /// The bucket an address counts in: itself, or its /64 for IPv6.
    static func client(_ address: String) -> String {
        guard address.contains(":") else { return address }
        return address.split(separator: ":", omittingEmptySubsequences: false).prefix(4).joined(separator: ":") + "::/64"
    }

    /// Takes a token for one authentication from `address`: nil when it may go ahead, else the seconds
    /// to wait.
    func take(_ address: String) -> Int? {
        let client = Self.client(address)
        let now = monotonicNow()
        return buckets.withLock { buckets in
            if buckets[client] == nil, buckets.count >= capacity {
                let keep = buckets.sorted { refilled($0.value, now: now) < refilled($1.value, now: now) }.prefix(capacity / 2)
                buckets = Dictionary(uniqueKeysWithValues: keep.map { ($0.key, $0.value) })
            }
            let tokens = buckets[client].map { refilled($0, now: now) } ?? burst
            guard tokens >= 1 else { return max(1, Int(((1 - tokens) / perSecond).rounded(.up))) }
            buckets[client] = Bucket(tokens: tokens - 1, updated: now)
            return nil
        }
    }

    /// The authentication succeeded: its token goes back.
    func giveBack(_ address: String) {
        let client = Self.client(address)
        let now = monotonicNow()
        buckets.withLock { buckets in
            guard let bucket = buckets[client] else { return }
            buckets[client] = Bucket(tokens: min(burst, refilled(bucket, now: now) + 1), updated: now)
        }
    }
}
