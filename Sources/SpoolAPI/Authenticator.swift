import Hummingbird
import HTTPTypes
import SpoolStore
import SpoolSupport
import Synchronization

/// Finds who is asking from `Authorization: Bearer <key>`: the operator key from configuration, or a
/// tenant's key from PostgreSQL. Answers are cached for two seconds, so a busy API does not read
/// PostgreSQL per request; a revoked key therefore stops working within two seconds.
struct Authenticator: RouterMiddleware {
    typealias Context = APIContext
    let tenants: TenantStore
    let operatorKey: String?
    let cache: KeyCache

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        guard let header = request.headers[.authorization] else { throw APIError.unauthorized("missing API key: send Authorization: Bearer <key>") }
        // The scheme is case-insensitive (RFC 9110); the key is everything after one space.
        guard header.count > 7, header.prefix(7).lowercased() == "bearer " else {
            throw APIError.unauthorized("the Authorization header must be 'Bearer <key>'")
        }
        let key = String(header.dropFirst(7))
        if let operatorKey, HMACSHA1.equal(Array(key.utf8), Array(operatorKey.utf8)) {
            context.principal = .operator
        } else if APIKeySecret.id(in: key) == nil {
            // Not shaped like a key: refused without touching the cache or the database.
            throw APIError.unauthorized("invalid or revoked API key")
        } else if let principal = try await cache.principal(for: key, lookup: { try await tenants.authenticate($0).map(Principal.tenant) }) {
            context.principal = principal
        } else {
            throw APIError.unauthorized("invalid or revoked API key")
        }
        return try await next(request, context)
    }
}

/// Recent key lookups, good for `ttl`. Only key-shaped texts (76 bytes) get here, and unknown ones are
/// remembered too, so a retried bad key costs no database read. When full, the oldest half goes.
final class KeyCache: Sendable {
    private struct Entry { let principal: Principal?; let expires: Duration }
    private let entries = Mutex<[String: Entry]>([:])
    private let ttl: Duration
    private let capacity = 10_000

    init(ttl: Duration = .seconds(2)) { self.ttl = ttl }

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
        return principal
    }
}
