import HTTPTypes
import Hummingbird
import NIOCore
import SpoolHTTP
import SpoolSupport

/// Google's consent page, `GET /o/oauth2/v2/auth` (and the older `/o/oauth2/auth` that client-secret
/// files name), for the authorization-code flow. Nobody has to click: it approves at once and answers
/// 302 to `redirect_uri?state=...&code=...&scope=...`, or with `oauth_deny_consent` to
/// `redirect_uri?state=...&error=access_denied`, as when the person declines. The code is good for one
/// exchange at `POST /token` within ten minutes. The redirect_uri must be on this machine; a bad
/// request is a 400 with OAuth's `{"error", "error_description"}` and no redirect, as Google shows an
/// error page instead of redirecting.
struct OAuthConsentAPI: Sendable {
    let state: SandboxState

    func register(on router: Router<BasicRequestContext>) {
        router.get("/o/oauth2/v2/auth") { request, _ in consent(request) }
        router.get("/o/oauth2/auth") { request, _ in consent(request) }
    }

    private func consent(_ request: Request) -> Response {
        let query = request.query
        for name in ["client_id", "redirect_uri", "response_type", "scope"] where (query[name] ?? "").isEmpty {
            return OAuthTokenAPI.error(400, "invalid_request", "Missing required parameter: \(name)")
        }
        let clientID = query["client_id"]!, redirectURI = query["redirect_uri"]!, scope = query["scope"]!
        guard LoopbackURL.isLoopback(redirectURI), !redirectURI.contains("#") else {
            return OAuthTokenAPI.error(
                400, "redirect_uri_mismatch",
                "The redirect URI \(redirectURI.prefix(200)) is not allowed: the sandbox redirects to http(s) addresses on this machine only (127.0.0.0/8, [::1], localhost), without a fragment"
            )
        }
        guard query["response_type"] == "code" else {
            return OAuthTokenAPI.error(
                400, "unsupported_response_type",
                "Invalid response_type: \(query["response_type"]!.prefix(40)); the sandbox serves the authorization-code flow (code)")
        }
        let accessType = query["access_type"] ?? "online"
        guard accessType == "online" || accessType == "offline" else {
            return OAuthTokenAPI.error(400, "invalid_request", "Invalid access_type: \(accessType.prefix(40)) (online or offline)")
        }
        let now = SandboxTime.nowMs()
        let code = state.withStore { store -> String? in
            if store.settings.oauthDenyConsent {
                store.counters.tokenGrants["consent_denied", default: 0] += 1
                return nil
            }
            store.oauth.issued += 1
            let code = "4/0Asandbox-\(store.oauth.issued)-\(hex(store.random.next()))"
            store.oauth.codes[code] = OAuthStore.AuthorizationCode(
                clientID: clientID, redirectURI: redirectURI, scope: scope, offline: accessType == "offline",
                expiresMs: now + OAuthStore.codeLifetimeMs)
            store.counters.tokenGrants["codes_issued", default: 0] += 1
            return code
        }
        var parameters: [(String, String)] = []
        if let stateValue = query["state"] { parameters.append(("state", stateValue)) }
        if let code {
            parameters += [("code", code), ("scope", scope)]
        } else {
            parameters.append(("error", "access_denied"))
        }
        var headers = HTTPFields()
        headers[.location] = redirectURI + (redirectURI.contains("?") ? "&" : "?") + FormEncoding.encode(parameters)
        headers[.contentType] = "text/html; charset=utf-8"
        return Response(status: .found, headers: headers, body: .init(byteBuffer: ByteBuffer(string: "Moved Temporarily")))
    }
}
