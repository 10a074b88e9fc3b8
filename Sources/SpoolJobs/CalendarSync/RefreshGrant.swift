import SpoolHTTP
import SpoolStore
import SpoolSupport

/// The OAuth 2 refresh grant (RFC 6749 section 6) against the token endpoint: `POST` of
/// `grant_type=refresh_token`, the refresh token and the client's id and secret, form-encoded.
struct RefreshGrant: Sendable {
    /// A new access token, and the new refresh token when the provider rotated it.
    struct Granted: Sendable {
        let accessToken: String
        let lifetimeMs: Int64
        let refreshToken: String?
    }

    enum Answer: Sendable {
        case granted(Granted)
        /// `invalid_grant`: the refresh token is revoked or expired; a person has to reconnect.
        case revoked(reason: String)
        /// Anything else, as the verdict the caller should act on.
        case refused(ProviderVerdict)
    }

    let http: HTTPClient
    let google: GoogleConfiguration
    let timeout: Duration
    let clock: any WallClock

    func exchange(refreshToken: String) async -> Answer {
        let request = HTTPClientRequest(
            "POST", google.tokenURL,
            body: .form([
                ("grant_type", "refresh_token"), ("refresh_token", refreshToken),
                ("client_id", google.clientID), ("client_secret", google.clientSecret),
            ]), timeout: timeout)
        let result = await http.call(clock: clock) { _ in request }
        switch result.verdict {
        case .success:
            guard let json = result.response?.json, let token = json["access_token"]?.stringValue, !token.isEmpty else {
                return .refused(.retryable(reason: "the token endpoint answered without an access_token", after: nil))
            }
            // Google's tokens live an hour; an answer without a lifetime gets that, one out of range is clamped.
            let seconds = Int64(min(max(json["expires_in"]?.intValue ?? 3600, 1), 86_400))
            let rotated = json["refresh_token"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 }
            return .granted(Granted(accessToken: token, lifetimeMs: seconds * 1000, refreshToken: rotated))
        case .permanent(let code, let reason) where code == "invalid_grant":
            return .revoked(reason: reason)
        case .authExpired(let reason):
            // A 401 from the token endpoint is about Spool's client (invalid_client), not the connection:
            // no connection is marked for reauthorization over a configuration mistake.
            return .refused(
                .permanent(
                    code: "invalid_client",
                    reason: "the token endpoint refused the OAuth client (check SPOOL_GOOGLE_CLIENT_ID and SPOOL_GOOGLE_CLIENT_SECRET): \(reason)"))
        case .rateLimited(let untilMs, let reason):
            // The token endpoint's limit is not the calendar's: retry the job later, pause no limiter.
            let wait = max(untilMs - clock.nowMillis(), 0)
            return .refused(.retryable(reason: "token endpoint: \(reason)", after: .milliseconds(wait)))
        case .retryable(let reason, let after):
            return .refused(.retryable(reason: "token endpoint: \(reason)", after: after))
        case .permanent(let code, let reason):
            return .refused(.permanent(code: code, reason: "token endpoint: \(reason)"))
        }
    }
}
