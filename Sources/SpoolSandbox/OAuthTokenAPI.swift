import Hummingbird
import SpoolHTTP
import SpoolSupport

/// Access tokens the sandbox has issued.
struct OAuthStore: Sendable {
    struct Token: Sendable { let issuedMs: Int64; let expiresMs: Int64 }
    var tokens: [String: Token] = [:]
    var issued = 0
    /// Tokens issued before this moment stop working (the `expire_tokens` fault).
    var validAfterMs: Int64 = 0

    func isValid(_ token: String, nowMs: Int64) -> Bool {
        guard let entry = tokens[token] else { return false }
        return entry.issuedMs >= validAfterMs && nowMs < entry.expiresMs
    }
}

/// Google's OAuth token endpoint for the refresh grant: `POST /token` with grant_type=refresh_token.
/// Answers a new access token, or `invalid_grant` for a revoked refresh token.
struct OAuthTokenAPI: Sendable {
    let state: SandboxState

    func register(on router: Router<BasicRequestContext>) {
        router.post("/token") { request, _ in try await token(request) }
    }

    private func token(_ request: Request) async throws -> Response {
        var request = request
        let decision = try await state.enter(.token, endpoint: "token")
        if let status = decision.injectedStatus {
            return SandboxResponse.json(
                status, .object(["error": .string(status == 429 ? "rate_limit_exceeded" : "internal_failure")]),
                headers: decision.retryAfterSeconds.map { [("Retry-After", String($0))] } ?? [])
        }
        guard let bytes = try await request.bodyBytes(limit: 64 * 1024) else { return Self.error(413, "invalid_request", "body too large") }
        let form = Dictionary(FormEncoding.decode(String(decoding: bytes, as: UTF8.self)), uniquingKeysWith: { first, _ in first })
        guard form["grant_type"] == "refresh_token" else {
            return Self.error(400, "unsupported_grant_type", "Invalid grant_type: \(form["grant_type"] ?? "(missing)")")
        }
        guard let refreshToken = form["refresh_token"], !refreshToken.isEmpty else {
            return Self.error(400, "invalid_request", "Missing required parameter: refresh_token")
        }
        guard let clientID = form["client_id"], !clientID.isEmpty else {
            return Self.error(401, "invalid_client", "The OAuth client was not found.")
        }
        let now = SandboxTime.nowMs()
        let issued = state.withStore { store -> (String, Int)? in
            if store.settings.revokedRefreshTokens.contains(refreshToken) { return nil }
            store.oauth.issued += 1
            let token = "ya29.sandbox-\(store.oauth.issued)-\(hex(store.random.next()))"
            let ttl = store.settings.tokenTTLSeconds
            store.oauth.tokens[token] = .init(issuedMs: now, expiresMs: now + Int64(ttl) * 1000)
            return (token, ttl)
        }
        guard let (token, ttl) = issued else { return Self.error(400, "invalid_grant", "Token has been expired or revoked.") }
        return SandboxResponse.json(
            200,
            .object([
                "access_token": .string(token), "expires_in": .number(Double(ttl)), "token_type": .string("Bearer"),
                "scope": .string("https://www.googleapis.com/auth/calendar.readonly"),
            ]))
    }

    private static func error(_ status: Int, _ code: String, _ description: String) -> Response {
        SandboxResponse.json(status, .object(["error": .string(code), "error_description": .string(description)]))
    }
}
