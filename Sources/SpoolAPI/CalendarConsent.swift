import SpoolHTTP
import SpoolStore

/// Where a person goes to connect a calendar: the provider's consent page, with the signed state that
/// brings its answer back to `GET /v1/calendars/callback`. `GET /v1/calendars/connect` answers it, and
/// the dashboard's connect form redirects to it, both built here.
enum CalendarConsent {
    /// The consent page for `tenantID` to connect `calendarID`, its state good for
    /// `CalendarConnectState.lifetimeMs` from `nowMs`. The caller has checked both ids.
    static func url(_ google: GoogleOAuthEndpoints, tenantID: String, calendarID: String, nowMs: Int64) -> String {
        let state = CalendarConnectState(tenantID: tenantID, calendarID: calendarID, expiresAtMs: nowMs + CalendarConnectState.lifetimeMs)
        return url(google, state: state.signed(key: google.clientSecret))
    }

    /// The consent page with `state`: offline access (a refresh token), with the consent asked again so
    /// that the provider issues a refresh token even to a person who connected before.
    static func url(_ google: GoogleOAuthEndpoints, state: String) -> String {
        let query = FormEncoding.encode([
            ("client_id", google.clientID), ("redirect_uri", google.redirectURL), ("response_type", "code"),
            ("scope", GoogleOAuthEndpoints.calendarReadOnlyScope), ("access_type", "offline"), ("prompt", "consent"), ("state", state),
        ])
        return google.authURL + (google.authURL.contains("?") ? "&" : "?") + query
    }

    /// The consent page's origin (`https://accounts.google.com`): a dashboard page whose form is
    /// answered with a redirect there must allow it in its `form-action`, since browsers hold a form's
    /// redirects to that directive too. nil when the URL has no plain http(s) origin.
    static func origin(of url: String) -> String? {
        guard let separator = url.firstRange(of: "://") else { return nil }
        let scheme = url[..<separator.lowerBound].lowercased()
        guard scheme == "https" || scheme == "http" else { return nil }
        let authority = url[separator.upperBound...].prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        // A host, an optional port, or a bracketed IPv6 address: nothing that could end the directive.
        guard !authority.isEmpty, authority.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || ".-:[]".contains($0)) }) else {
            return nil
        }
        return scheme + "://" + authority.lowercased()
    }
}
