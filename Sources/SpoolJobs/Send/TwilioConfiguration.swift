import SpoolQueue
import SpoolSupport

/// Where the Twilio-compatible Messages API is, and how to sign in, from `SpoolSettings`
/// (`providers.twilio.*`, and `api.public_url` for the StatusCallback).
///
/// Without credentials, Spool uses the sandbox provider only in an explicit sandbox mode:
/// `SPOOL_SANDBOX_URL` names the sandbox (`spool dev` sets it), and the sandbox's public, documented
/// credentials are used, with a warning at start. Without either, there is no configuration: send
/// jobs wait and delivery receipts are refused, rather than trusting a token anyone can read.
public struct TwilioConfiguration: Sendable, Equatable {
    public var baseURL: String
    public var accountSid: String
    public var authToken: String
    /// The API's base URL as the provider reaches it; delivery receipts go to `/v1/webhooks/twilio/status`.
    public var publicURL: String
    public var usesSandbox: Bool

    public static let sandboxAccountSid = "AC00000000000000000000000000000001"
    public static let sandboxAuthToken = "sandbox-auth-token"

    public init(baseURL: String, accountSid: String, authToken: String, publicURL: String, usesSandbox: Bool = false) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.accountSid = accountSid
        self.authToken = authToken
        self.publicURL = publicURL.hasSuffix("/") ? String(publicURL.dropLast()) : publicURL
        self.usesSandbox = usesSandbox
    }

    /// The configuration the settings give, or nil when they give none (no credentials and no
    /// sandbox mode): see `missingReason`.
    public static func from(_ settings: SpoolSettings) -> TwilioConfiguration? {
        let publicURL = settings.publicURL ?? "http://127.0.0.1:8080"
        if let sid = settings.twilioAccountSid, let token = settings.twilioAuthToken {
            return TwilioConfiguration(
                baseURL: settings.twilioBaseURL ?? "https://api.twilio.com", accountSid: sid, authToken: token, publicURL: publicURL)
        }
        guard let sandbox = settings.sandboxURL else { return nil }
        return TwilioConfiguration(
            baseURL: sandbox, accountSid: sandboxAccountSid, authToken: sandboxAuthToken, publicURL: publicURL, usesSandbox: true)
    }

    /// Why there is no configuration, for logs and refusals.
    public static let missingReason =
        "Twilio is not configured: set TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN, or SPOOL_SANDBOX_URL to use the sandbox provider"

    /// The warning a process logs at start in sandbox mode.
    public static let sandboxWarning =
        "sandbox mode (SPOOL_SANDBOX_URL): SMS go to the sandbox provider, and delivery receipts are checked with its public token; never use this in production"

    public var statusCallbackURL: String { publicURL + "/v1/webhooks/twilio/status" }
}
