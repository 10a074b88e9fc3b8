import Hummingbird
import SpoolHTTP
import SpoolSupport

/// Google's OAuth token endpoint, `POST /token`, form-encoded:
/// - `grant_type=authorization_code` (code, redirect_uri, client_id, client_secret) exchanges a code
///   from the consent page once, for the redirect_uri and client it was issued to, answering an access
///   token and, for `access_type=offline`, a refresh token;
/// - `grant_type=refresh_token` answers a new access token; with `rotate_refresh_tokens` also a new
///   refresh token, and the old one is refused from then on.
///
/// Refusals are OAuth's `{"error", "error_description"}`: `invalid_grant` for a used, expired or
/// mismatched code and for a revoked or rotated refresh token. `POST /revoke` (token=...) revokes the
/// grant of a refresh or access token, as Google's revoke endpoint does.
struct OAuthTokenAPI: Sendable {
    let state: SandboxState

    func register(on router: Router<BasicRequestContext>) {
        router.post("/token") { request, _ in try await token(request) }
        router.post("/revoke") { request, _ in try await revoke(request) }
    }

    private func token(_ request: Request) async throws -> Response {
        var request = request
        let decision = try await state.enter(.token, endpoint: "token")
        if let status = decision.injectedStatus { return Self.injected(status, decision) }
        guard let bytes = try await request.bodyBytes(limit: 64 * 1024) else { return Self.error(413, "invalid_request", "body too large") }
        let form = Dictionary(FormEncoding.decode(String(decoding: bytes, as: UTF8.self)), uniquingKeysWith: { first, _ in first })
        switch form["grant_type"] {
        case "refresh_token": return refresh(form)
        case "authorization_code": return exchange(form)
        default: return Self.error(400, "unsupported_grant_type", "Invalid grant_type: \(form["grant_type"] ?? "(missing)")")
        }
    }

    private func refresh(_ form: [String: String]) -> Response {
        guard let refreshToken = form["refresh_token"], !refreshToken.isEmpty else {
            return Self.error(400, "invalid_request", "Missing required parameter: refresh_token")
        }
        guard let clientID = form["client_id"], !clientID.isEmpty else {
            return Self.error(401, "invalid_client", "The OAuth client was not found.")
        }
        let now = SandboxTime.nowMs()
        return state.withStore { store -> Response in
            if let refusal = store.oauth.refusal(of: refreshToken, revoked: store.settings.revokedRefreshTokens) {
                store.counters.tokenGrants["invalid_grant", default: 0] += 1
                switch refusal {
                case .revoked: return Self.error(400, "invalid_grant", "Token has been expired or revoked.")
                case .rotated:
                    return Self.error(
                        400, "invalid_grant", "Token has been expired or revoked. (it was rotated: a newer refresh token replaced it)")
                }
            }
            let grant = store.oauth.grant(of: refreshToken)
            if let issuedTo = store.oauth.grants[grant]?.clientID, issuedTo != clientID {
                store.counters.tokenGrants["unauthorized_client", default: 0] += 1
                return Self.error(400, "unauthorized_client", "Unauthorized: the refresh token was issued to another client")
            }
            let ttl = store.settings.tokenTTLSeconds
            let accessToken = store.oauth.issueAccessToken(grant: grant, nowMs: now, ttlSeconds: ttl, random: &store.random)
            store.counters.tokenGrants["refresh", default: 0] += 1
            store.counters.refreshesByGrant[grant, default: 0] += 1
            var body: [String: JSONValue] = [
                "access_token": .string(accessToken), "expires_in": .number(Double(ttl)), "token_type": .string("Bearer"),
                "scope": .string(store.oauth.grants[grant]?.scope ?? OAuthStore.defaultScope),
            ]
            if store.settings.rotateRefreshTokens {
                body["refresh_token"] = .string(store.oauth.issueRefreshToken(rotating: refreshToken, random: &store.random))
                store.counters.tokenGrants["rotated", default: 0] += 1
            }
            return SandboxResponse.json(200, .object(body))
        }
    }

    private func exchange(_ form: [String: String]) -> Response {
        guard let code = form["code"], !code.isEmpty else { return Self.error(400, "invalid_request", "Missing required parameter: code") }
        guard let clientID = form["client_id"], !clientID.isEmpty else {
            return Self.error(401, "invalid_client", "The OAuth client was not found.")
        }
        guard let redirectURI = form["redirect_uri"], !redirectURI.isEmpty else {
            return Self.error(400, "invalid_request", "Missing required parameter: redirect_uri")
        }
        let now = SandboxTime.nowMs()
        return state.withStore { store -> Response in
            // A code is good for one exchange: the first presentation uses it up, right or wrong.
            guard let issued = store.oauth.codes.removeValue(forKey: code) else {
                store.counters.tokenGrants["invalid_grant", default: 0] += 1
                return Self.error(400, "invalid_grant", "Malformed auth code, or the code was already used.")
            }
            var problem: String?
            if now >= issued.expiresMs {
                problem = "The authorization code has expired."
            } else if issued.redirectURI != redirectURI {
                problem = "redirect_uri does not match the one the code was issued for (\(issued.redirectURI))."
            } else if issued.clientID != clientID {
                problem = "The authorization code was issued to another client."
            }
            if let problem {
                store.counters.tokenGrants["invalid_grant", default: 0] += 1
                return Self.error(400, "invalid_grant", problem)
            }
            let ttl = store.settings.tokenTTLSeconds
            var body: [String: JSONValue] = [
                "expires_in": .number(Double(ttl)), "token_type": .string("Bearer"), "scope": .string(issued.scope),
            ]
            var grant = "code:" + code  // an online grant: no refresh token, and only its access token to revoke
            if issued.offline {
                let refreshToken = store.oauth.issueRefreshToken(rotating: nil, random: &store.random)
                store.oauth.grants[refreshToken] = OAuthStore.Grant(clientID: clientID, scope: issued.scope)
                body["refresh_token"] = .string(refreshToken)
                grant = refreshToken
            }
            body["access_token"] = .string(store.oauth.issueAccessToken(grant: grant, nowMs: now, ttlSeconds: ttl, random: &store.random))
            store.counters.tokenGrants["authorization_code", default: 0] += 1
            return SandboxResponse.json(200, .object(body))
        }
    }

    private func revoke(_ request: Request) async throws -> Response {
        var request = request
        let decision = try await state.enter(.token, endpoint: "token.revoke")
        if let status = decision.injectedStatus { return Self.injected(status, decision) }
        guard let bytes = try await request.bodyBytes(limit: 64 * 1024) else { return Self.error(413, "invalid_request", "body too large") }
        let form = FormEncoding.decode(String(decoding: bytes, as: UTF8.self))
        guard let token = form.first(where: { $0.0 == "token" })?.1 ?? request.query["token"], !token.isEmpty else {
            return Self.error(400, "invalid_request", "Missing required parameter: token")
        }
        let revoked = state.withStore { store -> Bool in
            guard store.oauth.revoke(token) else { return false }
            store.counters.tokenGrants["revoked", default: 0] += 1
            return true
        }
        guard revoked else { return Self.error(400, "invalid_token", "Token expired or revoked") }
        return SandboxResponse.json(200, .object([:]))
    }

    private static func injected(_ status: Int, _ decision: FaultDecision) -> Response {
        SandboxResponse.json(
            status, .object(["error": .string(status == 429 ? "rate_limit_exceeded" : "internal_failure")]),
            headers: decision.retryAfterSeconds.map { [("Retry-After", String($0))] } ?? [])
    }

    static func error(_ status: Int, _ code: String, _ description: String) -> Response {
        SandboxResponse.json(status, .object(["error": .string(code), "error_description": .string(description)]))
    }
}
