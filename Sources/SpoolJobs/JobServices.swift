import SpoolHTTP
import SpoolPostgres
import SpoolQueue
import SpoolStore

/// What handlers may use besides Redis: PostgreSQL (when DATABASE_URL is set) and the provider HTTP
/// client with its configuration. One of each per worker process.
public struct JobServices: Sendable {
    public var postgres: PostgresPool?
    public var http: HTTPClient
    /// nil when neither credentials nor the sandbox mode are set: send jobs then wait (see TwilioConfiguration).
    /// The transcription kind downloads inbound media with these credentials too.
    public var twilio: TwilioConfiguration?
    /// nil when neither an API key nor the sandbox mode is set: transcription jobs then wait (see OpenAIConfiguration).
    public var openai: OpenAIConfiguration?
    /// Enqueues jobs a handler asks for outside its own completion: the transcription kind asks for
    /// the reply when a voice note could not be transcribed and its job is dead (a dead job has no
    /// follow-ups). nil: such asks are skipped.
    public var enqueuer: Enqueuer?
    /// How long `job_results` and `events` keep their rows (the `retention` kind).
    public var retention = RetentionDays()
    /// What one SMS segment costs, in cents (SPOOL_SMS_SEGMENT_CENTS): the cost of the messages handlers write.
    public var segmentCents = 1
    /// The region national phone numbers are read in (SPOOL_DEFAULT_REGION): an event's contact phone.
    public var defaultRegion = "US"
    /// Google Calendar and the connections' shared access tokens; nil when Google is not configured
    /// (neither credentials nor the sandbox mode, or no secret key): calendar syncs then wait.
    public var calendar: CalendarServices?
    /// Why `calendar` is nil, for the waiting jobs to say.
    public var calendarMissingReason: String?

    public init(postgres: PostgresPool?, http: HTTPClient, twilio: TwilioConfiguration?, openai: OpenAIConfiguration? = nil) {
        self.postgres = postgres
        self.http = http
        self.twilio = twilio
        self.openai = openai
    }
}

/// What calendar syncs use in a worker process: the Google configuration, and one shared access token
/// per connection (`SharedAccessTokens`), so that every job of the process joins the same refresh.
public struct CalendarServices: Sendable {
    public var google: GoogleConfiguration
    public var tokens: SharedAccessTokens
    /// Where the provider's push notifications go (`<SPOOL_PUBLIC_URL>/v1/webhooks/google/calendar`);
    /// nil: no push channels, the schedule alone triggers syncs.
    public var webhookURL: String?

    public init(google: GoogleConfiguration, tokens: SharedAccessTokens, webhookURL: String? = nil) {
        self.google = google
        self.tokens = tokens
        self.webhookURL = webhookURL
    }
}
