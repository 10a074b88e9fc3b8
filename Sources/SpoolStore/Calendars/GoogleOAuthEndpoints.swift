/// Where and as whom a tenant's calendar is connected with OAuth's authorization-code flow: the
/// provider's consent page and token endpoint, this deployment's OAuth client, and the callback the
/// provider sends the person back to (SPOOL_GOOGLE_AUTH_URL, SPOOL_GOOGLE_TOKEN_URL,
/// SPOOL_GOOGLE_CLIENT_ID, SPOOL_GOOGLE_CLIENT_SECRET, SPOOL_CALENDAR_REDIRECT_URL). In sandbox mode
/// the URLs are the sandbox's, whose consent page approves at once.
public struct GoogleOAuthEndpoints: Sendable, Equatable {
    /// The consent page (Google's is https://accounts.google.com/o/oauth2/v2/auth).
    public var authURL: String
    /// The token endpoint that exchanges a code, and refreshes access tokens.
    public var tokenURL: String
    public var clientID: String
    /// Secret: it authenticates this deployment to the token endpoint, and keys the connect state's signature.
    public var clientSecret: String
    /// `GET /v1/calendars/callback` as the provider reaches it; registered with the OAuth client.
    public var redirectURL: String

    /// Read-only access to the calendar's events, which sync and push notifications need and no more.
    public static let calendarReadOnlyScope = "https://www.googleapis.com/auth/calendar.readonly"

    public init(authURL: String, tokenURL: String, clientID: String, clientSecret: String, redirectURL: String) {
        self.authURL = authURL
        self.tokenURL = tokenURL
        self.clientID = clientID
        self.clientSecret = clientSecret
        self.redirectURL = redirectURL
    }
}
