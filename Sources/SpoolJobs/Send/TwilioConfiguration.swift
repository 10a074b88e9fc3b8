import SpoolSupport

/// Where the Twilio-compatible Messages API is, and how to sign in. From the environment:
/// `TWILIO_BASE_URL`, `TWILIO_ACCOUNT_SID`, `TWILIO_AUTH_TOKEN`, and `SPOOL_PUBLIC_URL` (the API's
/// address, for the StatusCallback). With no credentials set, Spool talks to the sandbox provider.
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

    public static func fromEnvironment(_ environment: [String: String] = currentEnvironment()) -> TwilioConfiguration {
        let publicURL = environment["SPOOL_PUBLIC_URL"] ?? "http://127.0.0.1:8080"
        if let sid = environment["TWILIO_ACCOUNT_SID"], let token = environment["TWILIO_AUTH_TOKEN"], !sid.isEmpty, !token.isEmpty {
            return TwilioConfiguration(baseURL: environment["TWILIO_BASE_URL"] ?? "https://api.twilio.com", accountSid: sid,
                                       authToken: token, publicURL: publicURL)
        }
        return TwilioConfiguration(baseURL: environment["TWILIO_BASE_URL"] ?? "http://127.0.0.1:4010", accountSid: sandboxAccountSid,
                                   authToken: sandboxAuthToken, publicURL: publicURL, usesSandbox: true)
    }

    public var statusCallbackURL: String { publicURL + "/v1/webhooks/twilio/status" }
}
