import HTTPTypes
import Hummingbird
import SpoolStore
import SpoolSupport

/// Starts dashboard sessions at login and checks them on every later request.
///
/// A session names its holder, never a key. On each request the holder is checked again: a tenant's
/// key must still exist, be unrevoked, belong to the session's tenant and have the admin scope (looked
/// up by its id through a cache of two seconds, as the API looks up keys, so a revoked key's sessions
/// end within two seconds); the operator's session carries a stamp of the operator key (an HMAC of it
/// under the signing key), so changing SPOOL_OPERATOR_KEY, or removing it, ends every operator session.
struct DashboardSessions: Sendable {
    static let cookieName = "spool_session"
    static let cookiePath = "/dashboard"

    let signingKey: DashboardSigningKey
    let verifier: KeyVerifier
    let tenants: TenantStore
    let clock: any WallClock
    /// The configured public URL is https: cookies are Secure whatever the request says.
    let alwaysSecure: Bool
    /// Tenant keys by their id (a cache of its own: the API's is by key text).
    let keysByID = KeyCache()

    static let forwardedProto = HTTPField.Name("X-Forwarded-Proto")!

    /// A new session for `principal`, which the login form found: the operator, or a tenant's admin key.
    func start(for principal: Principal) async throws -> DashboardSession? {
        let holder: DashboardSession.Holder
        if principal.isOperator {
            guard let stamp = try await operatorStamp() else { return nil }
            holder = .operator(stamp: stamp)
        } else {
            guard let tenantID = principal.tenantID else { return nil }
            holder = .tenant(id: tenantID, keyID: principal.keyID)
        }
        return DashboardSession.starting(holder, nowMs: clock.nowMillis())
    }

    /// The session a request carries and who holds it, when it is signed, unexpired, and its holder
    /// still stands; nil otherwise.
    func check(_ request: Request) async throws -> (session: DashboardSession, principal: Principal)? {
        guard let text = request.cookies[Self.cookieName]?.value, !text.isEmpty else { return nil }
        let key = try await signingKey.key()
        guard let session = DashboardSession.verify(text, key: key, nowMs: clock.nowMillis()) else { return nil }
        switch session.holder {
        case .operator(let stamp):
            guard let current = try await operatorStamp(), Hashing.constantTimeEqual(Array(stamp.utf8), Array(current.utf8)) else {
                return nil
            }
            return (session, Principal.operator)
        case .tenant(let tenantID, let keyID):
            let tenants = self.tenants
            let principal = try await keysByID.principal(for: keyID) { id in
                guard let key = try await tenants.key(id: id), !key.revoked else { return nil }
                return Principal.tenant(key)
            }
            guard let principal, principal.tenantID == tenantID, principal.scope.allows(.admin) else { return nil }
            return (session, principal)
        }
    }

    /// The cookie that carries `session`: HttpOnly, SameSite=Strict, for /dashboard only, for as long
    /// as the session lasts, and Secure when the request came over HTTPS.
    func cookie(for session: DashboardSession, request: Request) async throws -> Cookie {
        let key = try await signingKey.key()
        let value = session.signed(key: key)
        return Cookie(
            name: Self.cookieName, value: value, maxAge: Int((session.expiresAtMs - session.issuedAtMs) / 1000), path: Self.cookiePath,
            secure: isSecure(request), httpOnly: true, sameSite: .strict)
    }

    /// The cookie that ends a session in the browser (logout, or a session no longer good).
    func clearingCookie(for request: Request) -> Cookie {
        Cookie(
            name: Self.cookieName, value: "", maxAge: 0, path: Self.cookiePath, secure: isSecure(request), httpOnly: true,
            sameSite: .strict)
    }

    /// Over HTTPS: the configured public URL says so, or the proxy in front does (X-Forwarded-Proto).
    func isSecure(_ request: Request) -> Bool {
        if alwaysSecure { return true }
        guard let proto = request.headers[Self.forwardedProto] else { return false }
        // A chain of proxies lists one value each; the first is the client's.
        return proto.split(separator: ",").first?.trimmingSpaces.lowercased() == "https"
    }

    /// What an operator session carries instead of the operator key; nil when none is configured.
    private func operatorStamp() async throws -> String? {
        guard let operatorKey = verifier.operatorKey else { return nil }
        let key = try await signingKey.key()
        return Hashing.hex(Hashing.hmacSHA256(key: key, message: Array("dashboard-operator-key\n".utf8) + operatorKey))
    }
}
