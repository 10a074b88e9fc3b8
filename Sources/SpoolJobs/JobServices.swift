import SpoolHTTP
import SpoolPostgres

/// What handlers may use besides Redis: PostgreSQL (when DATABASE_URL is set) and the provider HTTP
/// client with its configuration. One of each per worker process.
public struct JobServices: Sendable {
    public var postgres: PostgresPool?
    public var http: HTTPClient
    /// nil when neither credentials nor the sandbox mode are set: send jobs then wait (see TwilioConfiguration).
    public var twilio: TwilioConfiguration?

    public init(postgres: PostgresPool?, http: HTTPClient, twilio: TwilioConfiguration?) {
        self.postgres = postgres
        self.http = http
        self.twilio = twilio
    }
}
