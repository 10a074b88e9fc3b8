/// The OAuth side of the sandbox's memory: access tokens issued, authorization codes waiting to be
/// exchanged, and grants, each known by its first refresh token.
///
/// A grant is what one consent gave: a connection, in Spool's terms. When refresh tokens rotate, each
/// refresh answers a new one and retires the old; all of them stay in the one grant, so counts per
/// grant are counts per connection. A refresh token the sandbox never issued (the tests' and `spool
/// calendar connect`'s own) is a grant of its own, valid until revoked.
struct OAuthStore: Sendable {
    struct Token: Sendable {
        let issuedMs: Int64
        let expiresMs: Int64
        /// The grant it was issued under; revoking the grant ends it too.
        let grant: String
    }

    struct AuthorizationCode: Sendable {
        let clientID: String
        let redirectURI: String
        let scope: String
        /// `access_type=offline`: the exchange answers a refresh token as well.
        let offline: Bool
        let expiresMs: Int64
    }

    struct Grant: Sendable {
        let clientID: String
        let scope: String
    }

    /// Why a refresh token is refused (`invalid_grant`).
    enum Refusal: Sendable {
        case revoked, rotated
    }

    static let defaultScope = "https://www.googleapis.com/auth/calendar.readonly"
    /// How long a code may wait for its exchange.
    static let codeLifetimeMs: Int64 = 600_000

    var tokens: [String: Token] = [:]
    var issued = 0
    /// Tokens issued before this moment stop working (the `expire_tokens` fault).
    var validAfterMs: Int64 = 0
    var codes: [String: AuthorizationCode] = [:]
    /// Grants the sandbox issued through the authorization-code flow, by their first refresh token.
    var grants: [String: Grant] = [:]
    /// Refresh tokens issued by rotation → their grant.
    var rotatedTokens: [String: String] = [:]
    /// Refresh tokens replaced by rotation: refused from then on.
    var retiredRefreshTokens: Set<String> = []
    var revokedGrants: Set<String> = []

    func isValid(_ token: String, nowMs: Int64) -> Bool {
        guard let entry = tokens[token] else { return false }
        return entry.issuedMs >= validAfterMs && nowMs < entry.expiresMs && !revokedGrants.contains(entry.grant)
    }

    /// The grant a refresh token belongs to.
    func grant(of refreshToken: String) -> String { rotatedTokens[refreshToken] ?? refreshToken }

    /// Why `refreshToken` may not be used, or nil when it may. `revoked` is the
    /// `revoked_refresh_tokens` setting.
    func refusal(of refreshToken: String, revoked: Set<String>) -> Refusal? {
        if revoked.contains(refreshToken) || revokedGrants.contains(grant(of: refreshToken)) { return .revoked }
        if retiredRefreshTokens.contains(refreshToken) { return .rotated }
        return nil
    }

    mutating func issueAccessToken(grant: String, nowMs: Int64, ttlSeconds: Int, random: inout SplitMix64) -> String {
        issued += 1
        let token = "ya29.sandbox-\(issued)-\(hex(random.next()))"
        tokens[token] = Token(issuedMs: nowMs, expiresMs: nowMs + Int64(ttlSeconds) * 1000, grant: grant)
        return token
    }

    /// A new refresh token, in Google's form (`1//0...`); the first of a grant unless `rotating` names
    /// the token it replaces, which is retired.
    mutating func issueRefreshToken(rotating old: String?, random: inout SplitMix64) -> String {
        issued += 1
        let token = "1//0sandbox-\(issued)-\(hex(random.next()))"
        if let old {
            rotatedTokens[token] = grant(of: old)
            retiredRefreshTokens.insert(old)
        }
        return token
    }

    /// Revokes the grant of a refresh or access token, as Google's revoke endpoint does; false when it
    /// was revoked already.
    mutating func revoke(_ token: String) -> Bool {
        let owner = tokens[token]?.grant ?? self.grant(of: token)
        return revokedGrants.insert(owner).inserted
    }
}
