import SpoolQueue

/// Where Google's OAuth and Calendar APIs are, and the OAuth client Spool signs in as, from
/// `SpoolSettings` (`providers.google.*`, `calendar.*`). It lives in SpoolStore so that the API (the
/// connect redirect and the callback's code exchange) and the calendar-sync kind read the same one.
///
/// The rule is `TwilioConfiguration`'s: with a client id and secret, Google's URLs (or the configured
/// ones); without them, the sandbox provider only in the explicit sandbox mode (`SPOOL_SANDBOX_URL`),
/// which serves `/o/oauth2/v2/auth`, `/token` and `/calendar/v3/...` on its own port, with its public
/// client credentials and a warning at start. Without either there is no configuration: calendars
/// cannot be connected and calendar-sync jobs wait.
public struct GoogleConfiguration: Sendable, Equatable {
    /// The consent page the connect route redirects to.
    public var authURL: String
    /// The token endpoint: the authorization-code exchange and the refresh grant.
    public var tokenURL: String
    /// The Calendar API's base URL with its version; `/calendars/{id}/events` follows it.
    public var calendarURL: String
    public var clientID: String
    public var clientSecret: String
    /// Where the consent page sends the browser back (SPOOL_CALENDAR_REDIRECT_URL); nil: the API
    /// derives it from its public URL.
    public var redirectURL: String?
    /// How often each connection's schedule syncs it (SPOOL_CALENDAR_SYNC_EVERY).
    public var syncEvery: Duration
    public var usesSandbox: Bool

    /// The sandbox's OAuth client: public, and refused by Google.
    public static let sandboxClientID = "spool-sandbox.apps.googleusercontent.com"
    public static let sandboxClientSecret = "spool-sandbox-client-secret"
    /// What a connection asks for: reading events (and watching them for push notifications).
    public static let scope = "https://www.googleapis.com/auth/calendar.readonly"

    public init(
        authURL: String, tokenURL: String, calendarURL: String, clientID: String, clientSecret: String, redirectURL: String? = nil,
        syncEvery: Duration = .seconds(300), usesSandbox: Bool = false
    ) {
        self.authURL = authURL
        self.tokenURL = tokenURL
        self.calendarURL = calendarURL.hasSuffix("/") ? String(calendarURL.dropLast()) : calendarURL
        self.clientID = clientID
        self.clientSecret = clientSecret
        self.redirectURL = redirectURL
        self.syncEvery = syncEvery
        self.usesSandbox = usesSandbox
    }

    /// The configuration the settings give, or nil when they give none (no client and no sandbox
    /// mode): see `missingReason`.
    public static func from(_ settings: SpoolSettings) -> GoogleConfiguration? {
        if let id = settings.googleClientID, let secret = settings.googleClientSecret {
            return GoogleConfiguration(
                authURL: settings.googleAuthURL, tokenURL: settings.googleTokenURL, calendarURL: settings.googleCalendarURL,
                clientID: id, clientSecret: secret, redirectURL: settings.calendarRedirectURL, syncEvery: settings.calendarSyncEvery)
        }
        guard let sandbox = settings.sandboxURL else { return nil }
        let base = sandbox.hasSuffix("/") ? String(sandbox.dropLast()) : sandbox
        return GoogleConfiguration(
            authURL: base + "/o/oauth2/v2/auth", tokenURL: base + "/token", calendarURL: base + "/calendar/v3",
            clientID: sandboxClientID, clientSecret: sandboxClientSecret, redirectURL: settings.calendarRedirectURL,
            syncEvery: settings.calendarSyncEvery, usesSandbox: true)
    }

    /// Why there is no configuration, for logs, refusals and job outcomes.
    public static let missingReason =
        "Google Calendar is not configured: set SPOOL_GOOGLE_CLIENT_ID and SPOOL_GOOGLE_CLIENT_SECRET, or SPOOL_SANDBOX_URL to use the sandbox provider"

    /// The warning a process logs at start in sandbox mode.
    public static let sandboxWarning =
        "sandbox mode (SPOOL_SANDBOX_URL): calendars are connected to and synced from the sandbox provider with its public OAuth client; never use this in production"
}
