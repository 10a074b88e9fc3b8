import FoundationEssentials
import SpoolRedis
import SpoolSupport

/// Everything a Spool process is configured with, in one place: defaults here, then `config/spool.json`,
/// then environment variables (then a command's own flags). A bad value stops the process at start with
/// the variable or field, and the value. `sources` remembers where each value came from, and `entries`
/// lists every setting for `spool config show` (secrets as `***`). docs/configuration.md documents them.
public struct SpoolSettings: Sendable {
    public enum QueueOrder: String, Sendable { case weighted, strict }

    public var redisURL = RedisURL()
    /// TLS files for a `rediss` URL (SPOOL_REDIS_TLS_CA, _CERT, _KEY; `redis_tls_ca`, `_cert`, `_key`):
    /// copied into `redisURL.tls` once every source is read. Set for a plain `redis://` URL, they are
    /// an error, never silently ignored: the operator meant TLS.
    public var redisTLSFiles = RedisTLS()
    /// Replicas that must have each enqueued job before it is acknowledged, and how long to wait for them
    /// (SPOOL_REDIS_WAIT_REPLICAS, SPOOL_REDIS_WAIT_TIMEOUT_MS; `redis_wait_replicas`, `redis_wait_timeout_ms`).
    public var enqueueDurability = EnqueueDurability()
    /// PostgreSQL, checked when a command needs it (`spool migrate`, job kinds with side effects).
    public var databaseURL: String?
    public var keyPrefix = "spool"
    public var jobsDirectory = "Jobs"
    /// The static schedules, reconciled into PostgreSQL at start (SPOOL_SCHEDULES_FILE, `schedules_file`;
    /// see docs/schedules.md). The default file may be missing; a file named in the config or the
    /// environment may not.
    public var schedulesFile = "config/schedules.json"
    /// Queue weights: with `weighted`, a queue of weight 3 is polled first three times as often as one of
    /// weight 1; with `strict`, higher weights always go first.
    public var queueWeights: [String: Int] = [:]
    public var queueOrder = QueueOrder.weighted
    public var concurrency = 10
    /// Jobs leased ahead of free slots, so slots never wait on a round trip. Nil (the default) adapts it
    /// to the jobs' pace: about 2 ms of work, from 1 to 1,000 jobs.
    public var prefetch: Int?
    public var lease: Duration = .seconds(30)
    public var shutdownGrace: Duration = .seconds(25)
    public var pollInterval: Duration = .milliseconds(200)
    public var completedTTL: Duration = .seconds(3600)
    public var deadMaxJobs = 10_000
    public var deadMaxAge: Duration = .seconds(180 * 86_400)
    /// How long the append-only tables keep their rows, in days (the `retention` kind, fired every
    /// night by a built-in schedule): `job_results` (SPOOL_RETENTION_JOB_RESULTS_DAYS, 30) and
    /// `events` (SPOOL_RETENTION_EVENTS_DAYS, 90).
    public var jobResultsDays = 30
    public var eventsDays = 90
    public var logLevel = "info"
    /// Write every settled job's outcome to PostgreSQL's job_results (when a database is configured).
    public var recordResults = true

    // api
    /// The key that acts across tenants (SPOOL_OPERATOR_KEY, 24 characters or more); nil: none. Secret.
    public var operatorKey: String?
    /// The API's address as providers reach it (SPOOL_PUBLIC_URL, `api.public_url`); nil: the API's own.
    public var publicURL: String?
    // sms
    /// How national numbers in imports are read (SPOOL_DEFAULT_REGION, `sms.default_region`).
    public var defaultRegion = "US"
    /// What one SMS segment costs, in cents (SPOOL_SMS_SEGMENT_CENTS, `sms.segment_cents`).
    public var segmentCents = 1
    // providers.twilio
    public var twilioAccountSid: String?
    /// Secret.
    public var twilioAuthToken: String?
    /// A Twilio-compatible API's base URL (TWILIO_BASE_URL, `providers.twilio.base_url`); nil: Twilio's.
    public var twilioBaseURL: String?
    // providers.openai
    /// OPENAI_API_KEY, from the environment only. Secret.
    public var openAIAPIKey: String?
    /// An OpenAI-compatible API's base URL with its version, as the OpenAI SDKs read OPENAI_BASE_URL
    /// (`providers.openai.base_url`); nil: `https://api.openai.com/v1`.
    public var openAIBaseURL: String?
    /// The model voice notes are transcribed with (SPOOL_TRANSCRIPTION_MODEL, `providers.openai.transcription_model`).
    public var transcriptionModel = "whisper-1"
    /// What a minute of transcribed audio costs, in cents (SPOOL_TRANSCRIPTION_CENTS_PER_MINUTE,
    /// `providers.openai.transcription_cents_per_minute`): whisper-1's $0.006 a minute.
    public var transcriptionCentsPerMinute = 0.6
    /// The chat model AI replies are written with (SPOOL_AI_MODEL, `providers.openai.chat_model`).
    public var chatModel = "gpt-4o-mini"
    /// What a million prompt and completion tokens cost, in cents (SPOOL_AI_INPUT_CENTS_PER_MILLION,
    /// SPOOL_AI_OUTPUT_CENTS_PER_MILLION, `providers.openai.chat_{input,output}_cents_per_million`):
    /// gpt-4o-mini's $0.15 and $0.60.
    public var chatInputCentsPerMillion = 15.0
    public var chatOutputCentsPerMillion = 60.0
    // conversations
    /// How long an AI reply waits for the rest of a burst of messages (SPOOL_AI_REPLY_DEBOUNCE_MS,
    /// `conversations.reply_debounce_ms`): the messages of those 2 s get one reply.
    public var replyDebounce: Duration = .seconds(2)
    /// The prompt's token budget: the system prompt and the latest messages that fit
    /// (SPOOL_AI_MAX_PROMPT_TOKENS, `conversations.max_prompt_tokens`).
    public var maxPromptTokens = 3000
    /// The reply's token cap, `max_completion_tokens` (SPOOL_AI_MAX_REPLY_TOKENS, `conversations.max_reply_tokens`).
    public var maxReplyTokens = 300
    /// How long one chat completions call may take (SPOOL_AI_CHAT_TIMEOUT_MS, `conversations.chat_timeout_ms`).
    public var chatTimeout: Duration = .seconds(30)
    // security
    /// The key OAuth tokens are encrypted with at rest (SPOOL_SECRET_KEY, environment only: 32 bytes in
    /// base64, `openssl rand -base64 32`). Secret. Without it, outside the sandbox mode, calendar
    /// tokens cannot be stored (`secretBox()`).
    public var secretKey: SecretKey?
    /// Keys that sealed earlier tokens, kept so that those still open after a rotation
    /// (SPOOL_SECRET_KEYS_PREVIOUS, comma-separated, environment only). Secret.
    public var previousSecretKeys: [SecretKey] = []
    // providers.google
    /// The OAuth client calendars are connected with (SPOOL_GOOGLE_CLIENT_ID, environment only).
    public var googleClientID: String?
    /// SPOOL_GOOGLE_CLIENT_SECRET, environment only. Secret.
    public var googleClientSecret: String?
    /// The consent page, the token endpoint and the Calendar API with its version (SPOOL_GOOGLE_AUTH_URL,
    /// SPOOL_GOOGLE_TOKEN_URL, SPOOL_GOOGLE_CALENDAR_URL; `providers.google.*`): Google's by default.
    public var googleAuthURL = "https://accounts.google.com/o/oauth2/v2/auth"
    public var googleTokenURL = "https://oauth2.googleapis.com/token"
    public var googleCalendarURL = "https://www.googleapis.com/calendar/v3"
    // calendar
    /// How often each calendar connection is synced by its schedule (SPOOL_CALENDAR_SYNC_EVERY,
    /// `calendar.sync_every`: `5m`, `30s`, `1h` ...).
    public var calendarSyncEvery: Duration = .seconds(300)
    /// The API's OAuth callback as the provider sends the browser back to it (SPOOL_CALENDAR_REDIRECT_URL,
    /// `calendar.redirect_url`); nil: the API derives it from its public URL.
    public var calendarRedirectURL: String?
    // sandbox
    /// The explicit sandbox mode (SPOOL_SANDBOX_URL, `sandbox.url`): providers without credentials use
    /// the sandbox provider here, with its public credentials. nil: no provider falls back to it.
    public var sandboxURL: String?

    /// Where each setting's value came from, by its name in `entries`: the file's path, the
    /// variable's name or the flag; absent for a default.
    public private(set) var sources: [String: String] = [:]

    public init() {}

    public var keys: KeySpace { KeySpace(prefix: keyPrefix) }

    /// Whether `schedulesFile` is the default, which may be missing (no static schedules), rather than
    /// a file named in the config file or the environment.
    public var schedulesFileIsDefault: Bool { sources["schedules_file"] == nil }

    /// Reads the config file (the default path may be missing; a named one may not), then the
    /// environment, then the command's flags: a later layer wins.
    public static func load(
        configPath: String? = nil, environment: [String: String] = ProcessInfo.processInfo.environment, flags: [Flag] = []
    ) throws -> SpoolSettings {
        var settings = SpoolSettings()
        let path = configPath ?? environment["SPOOL_CONFIG"] ?? "config/spool.json"
        if let data = FileManager.default.contents(atPath: path) {
            try settings.apply(file: String(decoding: data, as: UTF8.self), path: path)
        } else if configPath != nil || environment["SPOOL_CONFIG"] != nil {
            throw SpoolConfigError("\(path): config file not found")
        }
        try settings.apply(environment: environment)
        try settings.apply(flags: flags)
        try settings.applyRedisTLSFiles()
        return settings
    }

    mutating func apply(file text: String, path: String) throws {
        let json: JSONValue
        do { json = try JSONValue.parse(text) } catch { throw SpoolConfigError("\(path): \(error)") }
        var reader = try FieldReader(json, file: path, path: "")
        reader.optional("description")
        if let url = try reader.string("redis_url") {
            do { redisURL = try RedisURL(parsing: url) } catch let error as RedisError {
                throw SpoolConfigError("\(path): field 'redis_url': \(error.message)")
            }
            sources["redis.url"] = path
        }
        if let value = try reader.number("redis_wait_replicas", range: 0...16, integer: true) {
            enqueueDurability.replicas = Int(value); sources["redis.wait_replicas"] = path
        }
        if let value = try reader.number("redis_wait_timeout_ms", range: 1...60_000, integer: true) {
            enqueueDurability.timeout = .milliseconds(Int64(value))
            sources["redis.wait_timeout"] = path
        }
        if let file = try reader.string("redis_tls_ca") { redisTLSFiles.caFile = file; sources["redis.tls_ca"] = path }
        if let file = try reader.string("redis_tls_cert") { redisTLSFiles.certificateFile = file; sources["redis.tls_cert"] = path }
        if let file = try reader.string("redis_tls_key") { redisTLSFiles.keyFile = file; sources["redis.tls_key"] = path }
        if let url = try reader.string("database_url") { databaseURL = url; sources["postgres.url"] = path }
        if let prefix = try reader.string("key_prefix") {
            keyPrefix = try KeySpace.checkedPrefix(prefix, source: "\(path): field 'key_prefix'"); sources["redis.key_prefix"] = path
        }
        if let dir = try reader.string("jobs_dir") { jobsDirectory = dir; sources["jobs_dir"] = path }
        if let file = try reader.string("schedules_file") {
            guard !file.isEmpty else { throw SpoolConfigError("\(path): field 'schedules_file': expected a file path") }
            schedulesFile = file
            sources["schedules_file"] = path
        }
        if let order = try reader.string("queue_order") {
            guard let value = QueueOrder(rawValue: order) else {
                throw SpoolConfigError("\(path): field 'queue_order': '\(order)' is not weighted or strict")
            }
            queueOrder = value
            sources["queue_order"] = path
        }
        if var queues = try reader.object("queues") {
            for name in queues.remainingKeys {
                guard JobKindCatalog.isValidName(name) else {
                    throw SpoolConfigError("\(path): field 'queues.\(name)': queue names are 1-64 of a-z 0-9 - _")
                }
                var queue = try queues.object(name, required: true)!
                queueWeights[name] = Int(try queue.number("weight", range: 1...1000, integer: true) ?? 1)
                sources["queues.\(name).weight"] = path
                try queue.finish()
            }
        }
        if var worker = try reader.object("worker") {
            if let value = try worker.number("concurrency", range: 1...10_000, integer: true) {
                concurrency = Int(value); sources["worker.concurrency"] = path
            }
            if let value = try worker.number("prefetch", range: 0...10_000, integer: true) {
                prefetch = Int(value); sources["worker.prefetch"] = path
            }
            if let value = try worker.number("lease_seconds", range: 1...86_400) {
                lease = .milliseconds(Int64(value * 1000)); sources["worker.lease"] = path
            }
            if let value = try worker.number("shutdown_grace_seconds", range: 0...3600) {
                shutdownGrace = .milliseconds(Int64(value * 1000))
                sources["worker.shutdown_grace"] = path
            }
            try worker.finish()
        }
        if var scheduler = try reader.object("scheduler") {
            if let value = try scheduler.number("poll_interval_ms", range: 10...60_000, integer: true) {
                pollInterval = .milliseconds(Int64(value))
                sources["scheduler.poll_interval"] = path
            }
            try scheduler.finish()
        }
        if var retention = try reader.object("retention") {
            if let value = try retention.number("completed_seconds", range: 0...31_536_000, integer: true) {
                completedTTL = .seconds(Int64(value))
                sources["retention.completed"] = path
            }
            if let value = try retention.number("dead_max_jobs", range: 1...100_000_000, integer: true) {
                deadMaxJobs = Int(value); sources["retention.dead_max_jobs"] = path
            }
            if let value = try retention.number("dead_max_age_days", range: 0.001...3650) {
                deadMaxAge = .seconds(Int64(value * 86_400))
                sources["retention.dead_max_age"] = path
            }
            if let value = try retention.number("job_results_days", range: 1...3650, integer: true) {
                jobResultsDays = Int(value); sources["retention.job_results_days"] = path
            }
            if let value = try retention.number("events_days", range: 1...3650, integer: true) {
                eventsDays = Int(value); sources["retention.events_days"] = path
            }
            try retention.finish()
        }
        if let flag = try reader.bool("record_results") { recordResults = flag; sources["postgres.record_results"] = path }
        if let level = try reader.string("log_level") {
            logLevel = try Self.checkedLogLevel(level, source: "\(path): field 'log_level'"); sources["log_level"] = path
        }
        if var api = try reader.object("api") {
            if let url = try api.string("public_url") {
                publicURL = try Self.checkedURL(url, source: "\(path): field 'api.public_url'"); sources["api.public_url"] = path
            }
            try api.finish()
        }
        if var sms = try reader.object("sms") {
            if let region = try sms.string("default_region") {
                defaultRegion = try Self.checkedRegion(region, source: "\(path): field 'sms.default_region'")
                sources["sms.default_region"] = path
            }
            if let cents = try sms.number("segment_cents", range: 0...10_000, integer: true) {
                segmentCents = Int(cents); sources["sms.segment_cents"] = path
            }
            try sms.finish()
        }
        if var providers = try reader.object("providers") {
            if var twilio = try providers.object("twilio") {
                // Credentials come from the environment only, never a file in the repository.
                if let url = try twilio.string("base_url") {
                    twilioBaseURL = try Self.checkedURL(url, source: "\(path): field 'providers.twilio.base_url'")
                    sources["providers.twilio.base_url"] = path
                }
                try twilio.finish()
            }
            if var openai = try providers.object("openai") {
                // The API key comes from the environment only, never a file in the repository.
                if let url = try openai.string("base_url") {
                    openAIBaseURL = try Self.checkedURL(url, source: "\(path): field 'providers.openai.base_url'")
                    sources["providers.openai.base_url"] = path
                }
                if let model = try openai.string("transcription_model") {
                    transcriptionModel = try Self.checkedModel(model, source: "\(path): field 'providers.openai.transcription_model'")
                    sources["providers.openai.transcription_model"] = path
                }
                if let cents = try openai.number("transcription_cents_per_minute", range: 0...1000) {
                    transcriptionCentsPerMinute = cents
                    sources["providers.openai.transcription_cents_per_minute"] = path
                }
                if let model = try openai.string("chat_model") {
                    chatModel = try Self.checkedModel(model, source: "\(path): field 'providers.openai.chat_model'")
                    sources["providers.openai.chat_model"] = path
                }
                if let cents = try openai.number("chat_input_cents_per_million", range: 0...1_000_000) {
                    chatInputCentsPerMillion = cents
                    sources["providers.openai.chat_input_cents_per_million"] = path
                }
                if let cents = try openai.number("chat_output_cents_per_million", range: 0...1_000_000) {
                    chatOutputCentsPerMillion = cents
                    sources["providers.openai.chat_output_cents_per_million"] = path
                }
                try openai.finish()
            }
            if var google = try providers.object("google") {
                // The client id and secret come from the environment only, never a file in the repository.
                for (field, keyPath) in [
                    ("auth_url", \SpoolSettings.googleAuthURL), ("token_url", \SpoolSettings.googleTokenURL),
                    ("calendar_url", \SpoolSettings.googleCalendarURL),
                ] {
                    guard let url = try google.string(field) else { continue }
                    self[keyPath: keyPath] = try Self.checkedURL(url, source: "\(path): field 'providers.google.\(field)'")
                    sources["providers.google.\(field)"] = path
                }
                try google.finish()
            }
            try providers.finish()
        }
        if var conversations = try reader.object("conversations") {
            if let value = try conversations.number("reply_debounce_ms", range: 0...600_000, integer: true) {
                replyDebounce = .milliseconds(Int64(value)); sources["conversations.reply_debounce_ms"] = path
            }
            if let value = try conversations.number("max_prompt_tokens", range: 200...1_000_000, integer: true) {
                maxPromptTokens = Int(value); sources["conversations.max_prompt_tokens"] = path
            }
            if let value = try conversations.number("max_reply_tokens", range: 16...16_000, integer: true) {
                maxReplyTokens = Int(value); sources["conversations.max_reply_tokens"] = path
            }
            if let value = try conversations.number("chat_timeout_ms", range: 100...600_000, integer: true) {
                chatTimeout = .milliseconds(Int64(value)); sources["conversations.chat_timeout_ms"] = path
            }
            try conversations.finish()
        }
        if var calendar = try reader.object("calendar") {
            if let every = try calendar.string("sync_every") {
                calendarSyncEvery = try Self.checkedInterval(every, source: "\(path): field 'calendar.sync_every'")
                sources["calendar.sync_every"] = path
            }
            if let url = try calendar.string("redirect_url") {
                calendarRedirectURL = try Self.checkedURL(url, source: "\(path): field 'calendar.redirect_url'")
                sources["calendar.redirect_url"] = path
            }
            try calendar.finish()
        }
        if var sandbox = try reader.object("sandbox") {
            if let url = try sandbox.string("url") {
                sandboxURL = try Self.checkedURL(url, source: "\(path): field 'sandbox.url'"); sources["sandbox.url"] = path
            }
            try sandbox.finish()
        }
        try reader.finish()
    }

    /// Puts the TLS files into a `rediss` URL; refuses them for a plain one, and a key without its
    /// certificate (or the reverse).
    mutating func applyRedisTLSFiles() throws {
        let files = redisTLSFiles
        func origin(_ setting: String) -> String { sources[setting] ?? setting }
        if (files.certificateFile == nil) != (files.keyFile == nil) {
            let given = files.certificateFile == nil ? "redis.tls_key" : "redis.tls_cert"
            throw SpoolConfigError("\(origin(given)) is set without its pair: a client certificate needs both SPOOL_REDIS_TLS_CERT and SPOOL_REDIS_TLS_KEY")
        }
        guard redisURL.tls != nil else {
            if let set = ["redis.tls_ca", "redis.tls_cert", "redis.tls_key"].first(where: { sources[$0] != nil }) {
                throw SpoolConfigError(
                    "\(origin(set)) is set but REDIS_URL '\(redisURL)' is not TLS: use rediss:// (or rediss+cluster://) to connect with TLS")
            }
            return
        }
        redisURL.tls = files
    }

    mutating func apply(environment: [String: String]) throws {
        func text(_ name: String, _ setting: String) -> String? {
            guard let value = environment[name], !value.isEmpty else { return nil }
            sources[setting] = name
            return value
        }
        func number(_ name: String, _ setting: String, _ range: ClosedRange<Int>) throws -> Int? {
            guard let value = try Self.int(environment, name, range) else { return nil }
            sources[setting] = name
            return value
        }
        if let url = text("REDIS_URL", "redis.url") {
            do { redisURL = try RedisURL(parsing: url) } catch let error as RedisError { throw SpoolConfigError(error.message) }
        }
        if let value = try number("SPOOL_REDIS_WAIT_REPLICAS", "redis.wait_replicas", 0...16) { enqueueDurability.replicas = value }
        if let value = try number("SPOOL_REDIS_WAIT_TIMEOUT_MS", "redis.wait_timeout", 1...60_000) {
            enqueueDurability.timeout = .milliseconds(Int64(value))
        }
        if let file = text("SPOOL_REDIS_TLS_CA", "redis.tls_ca") { redisTLSFiles.caFile = file }
        if let file = text("SPOOL_REDIS_TLS_CERT", "redis.tls_cert") { redisTLSFiles.certificateFile = file }
        if let file = text("SPOOL_REDIS_TLS_KEY", "redis.tls_key") { redisTLSFiles.keyFile = file }
        if let url = text("DATABASE_URL", "postgres.url") { databaseURL = url }
        if let prefix = text("SPOOL_KEY_PREFIX", "redis.key_prefix") {
            keyPrefix = try KeySpace.checkedPrefix(prefix, source: "SPOOL_KEY_PREFIX")
        }
        if let dir = text("SPOOL_JOBS_DIR", "jobs_dir") { jobsDirectory = dir }
        if let file = text("SPOOL_SCHEDULES_FILE", "schedules_file") { schedulesFile = file }
        if let value = try number("SPOOL_CONCURRENCY", "worker.concurrency", 1...10_000) { concurrency = value }
        if let value = try number("SPOOL_PREFETCH", "worker.prefetch", 0...10_000) { prefetch = value }
        if let value = try number("SPOOL_LEASE_MS", "worker.lease", 100...86_400_000) { lease = .milliseconds(Int64(value)) }
        if let value = try number("SPOOL_SHUTDOWN_GRACE_MS", "worker.shutdown_grace", 0...3_600_000) {
            shutdownGrace = .milliseconds(Int64(value))
        }
        if let value = try number("SPOOL_POLL_INTERVAL_MS", "scheduler.poll_interval", 10...60_000) {
            pollInterval = .milliseconds(Int64(value))
        }
        if let value = try number("SPOOL_RETENTION_JOB_RESULTS_DAYS", "retention.job_results_days", 1...3650) { jobResultsDays = value }
        if let value = try number("SPOOL_RETENTION_EVENTS_DAYS", "retention.events_days", 1...3650) { eventsDays = value }
        if let value = try number("SPOOL_COMPLETED_TTL_SECONDS", "retention.completed", 0...31_536_000) {
            completedTTL = .seconds(Int64(value))
        }
        if let flag = text("SPOOL_RECORD_RESULTS", "postgres.record_results") {
            guard flag == "0" || flag == "1" else { throw SpoolConfigError("SPOOL_RECORD_RESULTS='\(flag)': expected 0 or 1") }
            recordResults = flag == "1"
        }
        if let level = text("SPOOL_LOG_LEVEL", "log_level") { logLevel = try Self.checkedLogLevel(level, source: "SPOOL_LOG_LEVEL") }
        if let key = text("SPOOL_OPERATOR_KEY", "api.operator_key") {
            guard key.count >= 24 else { throw SpoolConfigError("SPOOL_OPERATOR_KEY: must be at least 24 characters, got \(key.count)") }
            operatorKey = key
        }
        if let url = text("SPOOL_PUBLIC_URL", "api.public_url") { publicURL = try Self.checkedURL(url, source: "SPOOL_PUBLIC_URL") }
        if let region = text("SPOOL_DEFAULT_REGION", "sms.default_region") {
            defaultRegion = try Self.checkedRegion(region, source: "SPOOL_DEFAULT_REGION")
        }
        if let cents = try number("SPOOL_SMS_SEGMENT_CENTS", "sms.segment_cents", 0...10_000) { segmentCents = cents }
        if let sid = text("TWILIO_ACCOUNT_SID", "providers.twilio.account_sid") { twilioAccountSid = sid }
        if let token = text("TWILIO_AUTH_TOKEN", "providers.twilio.auth_token") { twilioAuthToken = token }
        if let url = text("TWILIO_BASE_URL", "providers.twilio.base_url") {
            twilioBaseURL = try Self.checkedURL(url, source: "TWILIO_BASE_URL")
        }
        if let key = text("OPENAI_API_KEY", "providers.openai.api_key") { openAIAPIKey = key }
        if let url = text("OPENAI_BASE_URL", "providers.openai.base_url") {
            openAIBaseURL = try Self.checkedURL(url, source: "OPENAI_BASE_URL")
        }
        if let model = text("SPOOL_TRANSCRIPTION_MODEL", "providers.openai.transcription_model") {
            transcriptionModel = try Self.checkedModel(model, source: "SPOOL_TRANSCRIPTION_MODEL")
        }
        if let cents = text("SPOOL_TRANSCRIPTION_CENTS_PER_MINUTE", "providers.openai.transcription_cents_per_minute") {
            guard let value = Double(cents), value.isFinite, (0...1000).contains(value) else {
                throw SpoolConfigError("SPOOL_TRANSCRIPTION_CENTS_PER_MINUTE='\(cents.prefix(40))': expected a number from 0 to 1000, such as 0.6")
            }
            transcriptionCentsPerMinute = value
        }
        if let model = text("SPOOL_AI_MODEL", "providers.openai.chat_model") {
            chatModel = try Self.checkedModel(model, source: "SPOOL_AI_MODEL")
        }
        for (name, setting, keyPath) in [
            ("SPOOL_AI_INPUT_CENTS_PER_MILLION", "providers.openai.chat_input_cents_per_million", \SpoolSettings.chatInputCentsPerMillion),
            ("SPOOL_AI_OUTPUT_CENTS_PER_MILLION", "providers.openai.chat_output_cents_per_million", \SpoolSettings.chatOutputCentsPerMillion),
        ] {
            guard let cents = text(name, setting) else { continue }
            guard let value = Double(cents), value.isFinite, (0...1_000_000).contains(value) else {
                throw SpoolConfigError("\(name)='\(cents.prefix(40))': expected a number of cents from 0 to 1000000, such as 15")
            }
            self[keyPath: keyPath] = value
        }
        if let value = try number("SPOOL_AI_REPLY_DEBOUNCE_MS", "conversations.reply_debounce_ms", 0...600_000) {
            replyDebounce = .milliseconds(Int64(value))
        }
        if let value = try number("SPOOL_AI_MAX_PROMPT_TOKENS", "conversations.max_prompt_tokens", 200...1_000_000) { maxPromptTokens = value }
        if let value = try number("SPOOL_AI_MAX_REPLY_TOKENS", "conversations.max_reply_tokens", 16...16_000) { maxReplyTokens = value }
        if let value = try number("SPOOL_AI_CHAT_TIMEOUT_MS", "conversations.chat_timeout_ms", 100...600_000) {
            chatTimeout = .milliseconds(Int64(value))
        }
        if let key = text("SPOOL_SECRET_KEY", "security.secret_key") {
            do { secretKey = try SecretKey(base64: key) } catch { throw SpoolConfigError("SPOOL_SECRET_KEY: \(error.message)") }
        }
        if let list = text("SPOOL_SECRET_KEYS_PREVIOUS", "security.previous_secret_keys") {
            previousSecretKeys = try Self.checkedPreviousKeys(list)
        }
        if let id = text("SPOOL_GOOGLE_CLIENT_ID", "providers.google.client_id") { googleClientID = id }
        if let secret = text("SPOOL_GOOGLE_CLIENT_SECRET", "providers.google.client_secret") { googleClientSecret = secret }
        if let url = text("SPOOL_GOOGLE_AUTH_URL", "providers.google.auth_url") {
            googleAuthURL = try Self.checkedURL(url, source: "SPOOL_GOOGLE_AUTH_URL")
        }
        if let url = text("SPOOL_GOOGLE_TOKEN_URL", "providers.google.token_url") {
            googleTokenURL = try Self.checkedURL(url, source: "SPOOL_GOOGLE_TOKEN_URL")
        }
        if let url = text("SPOOL_GOOGLE_CALENDAR_URL", "providers.google.calendar_url") {
            googleCalendarURL = try Self.checkedURL(url, source: "SPOOL_GOOGLE_CALENDAR_URL")
        }
        if let every = text("SPOOL_CALENDAR_SYNC_EVERY", "calendar.sync_every") {
            calendarSyncEvery = try Self.checkedInterval(every, source: "SPOOL_CALENDAR_SYNC_EVERY")
        }
        if let url = text("SPOOL_CALENDAR_REDIRECT_URL", "calendar.redirect_url") {
            calendarRedirectURL = try Self.checkedURL(url, source: "SPOOL_CALENDAR_REDIRECT_URL")
        }
        if let url = text("SPOOL_SANDBOX_URL", "sandbox.url") { sandboxURL = try Self.checkedURL(url, source: "SPOOL_SANDBOX_URL") }
    }

    /// The box OAuth tokens are sealed with: SPOOL_SECRET_KEY (and the previous keys), or the public
    /// sandbox key in the explicit sandbox mode. Without a key outside it, `SecretBoxError.noKey`:
    /// storing a token fails rather than storing it under a key anyone can read.
    public func secretBox() throws(SecretBoxError) -> SecretBox {
        try SecretBox.configured(key: secretKey, previous: previousSecretKeys, sandboxMode: sandboxURL != nil)
    }

    /// A setting given as a command-line flag: the last layer, over the file and the environment.
    public enum Flag: Sendable {
        /// `--concurrency N` (`spool worker`).
        case concurrency(Int)
        /// `--log-level LEVEL` (every command).
        case logLevel(String)
    }

    /// Applies flags over the file and the environment; each is remembered as its setting's source.
    public mutating func apply(flags: [Flag]) throws {
        for flag in flags {
            switch flag {
            case .concurrency(let value):
                guard (1...10_000).contains(value) else { throw SpoolConfigError("--concurrency \(value): expected 1 to 10000") }
                concurrency = value
                sources["worker.concurrency"] = "flag --concurrency"
            case .logLevel(let level):
                logLevel = try Self.checkedLogLevel(level, source: "--log-level")
                sources["log_level"] = "flag --log-level"
            }
        }
    }

    static func checkedURL(_ text: String, source: String) throws -> String {
        guard text.hasPrefix("http://") || text.hasPrefix("https://"), text.count > 8 else {
            throw SpoolConfigError("\(source)='\(text.prefix(80))': expected an http:// or https:// URL")
        }
        return text
    }

    /// The previous keys of a rotation, comma-separated; each must be a key, named by its position.
    static func checkedPreviousKeys(_ list: String) throws -> [SecretKey] {
        let items = list.split(separator: ",").map { $0.trimmingSpaces }.filter { !$0.isEmpty }
        var keys: [SecretKey] = []
        for (index, item) in items.enumerated() {
            do { keys.append(try SecretKey(base64: item)) } catch {
                throw SpoolConfigError("SPOOL_SECRET_KEYS_PREVIOUS: key \(index + 1) of \(items.count) \(error.message)")
            }
        }
        return keys
    }

    /// An interval like a schedule's `every` (`30s`, `5m`, `1h`), from 10 seconds to a day.
    static func checkedInterval(_ text: String, source: String) throws -> Duration {
        let interval: ScheduleInterval
        do { interval = try ScheduleInterval(parsing: text) } catch {
            throw SpoolConfigError("\(source)='\(text.prefix(40))': \(error.problem)")
        }
        guard (10...86_400).contains(interval.seconds) else {
            throw SpoolConfigError("\(source)='\(text.prefix(40))': expected an interval from 10s to 1d, such as 5m")
        }
        return .seconds(interval.seconds)
    }

    /// A model name as the provider's API takes it: 1-64 visible ASCII characters.
    static func checkedModel(_ model: String, source: String) throws -> String {
        guard (1...64).contains(model.utf8.count), model.utf8.allSatisfy({ $0 > 32 && $0 < 127 }) else {
            throw SpoolConfigError("\(source)='\(model.prefix(80))': expected a model name such as whisper-1 (1-64 characters, no spaces)")
        }
        return model
    }

    static func checkedRegion(_ region: String, source: String) throws -> String {
        guard PhoneNumber.regions[region.uppercased()] != nil else {
            throw SpoolConfigError(
                "\(source)='\(region.prefix(20))': expected one of \(PhoneNumber.regions.keys.sorted().joined(separator: " "))")
        }
        return region.uppercased()
    }

    /// Every setting with its value (secrets as `***`, passwords in URLs too) and where it came from.
    public var entries: [(name: String, value: String, source: String)] {
        func seconds(_ duration: Duration) -> String { "\(duration.milliseconds) ms" }
        func secret(_ value: String?) -> String { value == nil ? "(unset)" : "***" }
        func url(_ value: String?) -> String {
            guard let value else { return "(unset)" }
            // user:password@ → user:***@
            guard let at = value.firstIndex(of: "@"), let scheme = value.firstRange(of: "://"), scheme.upperBound < at,
                let colon = value[scheme.upperBound..<at].firstIndex(of: ":")
            else { return value }
            return String(value[..<value.index(after: colon)]) + "***" + String(value[at...])
        }
        var rows: [(String, String)] = [
            ("redis.url", url(redisURL.urlString)),
            ("redis.tls_ca", redisURL.tls.map { $0.caFile ?? "(the system's trust store)" } ?? "(no TLS)"),
            ("redis.tls_cert", redisURL.tls?.certificateFile ?? "(unset)"), ("redis.tls_key", redisURL.tls?.keyFile ?? "(unset)"),
            ("redis.wait_replicas", String(enqueueDurability.replicas)),
            ("redis.wait_timeout", seconds(enqueueDurability.timeout)),
            ("redis.key_prefix", keyPrefix), ("postgres.url", url(databaseURL)),
            ("postgres.record_results", String(recordResults)), ("jobs_dir", jobsDirectory), ("schedules_file", schedulesFile),
            ("log_level", logLevel),
            ("worker.concurrency", String(concurrency)), ("worker.prefetch", prefetch.map(String.init) ?? "adaptive"),
            ("worker.lease", seconds(lease)), ("worker.shutdown_grace", seconds(shutdownGrace)),
            ("scheduler.poll_interval", seconds(pollInterval)), ("queue_order", queueOrder.rawValue),
            ("retention.completed", seconds(completedTTL)), ("retention.dead_max_jobs", String(deadMaxJobs)),
            ("retention.job_results_days", String(jobResultsDays)), ("retention.events_days", String(eventsDays)),
            ("retention.dead_max_age", seconds(deadMaxAge)),
            ("api.operator_key", secret(operatorKey)), ("api.public_url", publicURL ?? "(the API's own address)"),
            ("sms.default_region", defaultRegion), ("sms.segment_cents", String(segmentCents)),
            ("providers.twilio.account_sid", twilioAccountSid ?? "(unset)"), ("providers.twilio.auth_token", secret(twilioAuthToken)),
            ("providers.twilio.base_url", twilioBaseURL ?? "https://api.twilio.com"),
            ("providers.openai.api_key", secret(openAIAPIKey)),
            ("providers.openai.base_url", openAIBaseURL ?? "https://api.openai.com/v1"),
            ("providers.openai.transcription_model", transcriptionModel),
            ("providers.openai.transcription_cents_per_minute", String(transcriptionCentsPerMinute)),
            ("providers.openai.chat_model", chatModel),
            ("providers.openai.chat_input_cents_per_million", String(chatInputCentsPerMillion)),
            ("providers.openai.chat_output_cents_per_million", String(chatOutputCentsPerMillion)),
            ("conversations.reply_debounce_ms", String(replyDebounce.milliseconds)),
            ("conversations.max_prompt_tokens", String(maxPromptTokens)),
            ("conversations.max_reply_tokens", String(maxReplyTokens)),
            ("conversations.chat_timeout_ms", String(chatTimeout.milliseconds)),
            ("security.secret_key", secretKey.map { "*** (id \($0.id))" } ?? (sandboxURL == nil ? "(unset)" : "(unset: the sandbox key)")),
            (
                "security.previous_secret_keys",
                previousSecretKeys.isEmpty ? "(none)" : previousSecretKeys.map { "*** (id \($0.id))" }.joined(separator: ", ")
            ),
            ("providers.google.client_id", googleClientID ?? "(unset)"),
            ("providers.google.client_secret", secret(googleClientSecret)),
            ("providers.google.auth_url", googleAuthURL), ("providers.google.token_url", googleTokenURL),
            ("providers.google.calendar_url", googleCalendarURL),
            ("calendar.sync_every", Self.intervalText(calendarSyncEvery)),
            ("calendar.redirect_url", calendarRedirectURL ?? "(derived by the API from api.public_url)"),
            ("sandbox.url", sandboxURL ?? "(unset: no sandbox mode)"),
        ]
        rows += queueWeights.sorted { $0.key < $1.key }.map { ("queues.\($0.key).weight", String($0.value)) }
        return rows.map { (name: $0.0, value: $0.1, source: sources[$0.0] ?? "default") }
    }

    /// What a production deployment should not run with; empty when nothing.
    public var warnings: [String] {
        var warnings: [String] = []
        if operatorKey == nil { warnings.append("api.operator_key: unset (SPOOL_OPERATOR_KEY); no key acts across tenants") }
        if twilioAccountSid == nil || twilioAuthToken == nil {
            warnings.append(
                sandboxURL == nil
                    ? "providers.twilio: no credentials (TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN) and no sandbox mode: send jobs wait and receipts are refused"
                    : "sandbox.url: sandbox mode; SMS go to the sandbox provider at \(sandboxURL!), receipts are checked with its public token"
            )
        }
        if openAIAPIKey == nil, sandboxURL == nil {
            warnings.append(
                "providers.openai: no API key (OPENAI_API_KEY) and no sandbox mode: transcription jobs wait until one is set")
        }
        if sandboxURL == nil {
            if secretKey == nil {
                warnings.append(
                    "security.secret_key: unset (SPOOL_SECRET_KEY) and no sandbox mode: calendars cannot be connected, their tokens are stored encrypted with it"
                )
            }
            if googleClientID == nil || googleClientSecret == nil {
                warnings.append(
                    "providers.google: no OAuth client (SPOOL_GOOGLE_CLIENT_ID, SPOOL_GOOGLE_CLIENT_SECRET) and no sandbox mode: calendars cannot be connected and calendar-sync jobs wait"
                )
            }
        }
        if databaseURL == nil { warnings.append("postgres.url: unset (DATABASE_URL); the API, SMS and job results need it") }
        return warnings
    }

    /// `5m`, `1h30m`: a whole interval in its shortest form.
    static func intervalText(_ duration: Duration) -> String {
        let seconds = duration.components.seconds
        return (try? ScheduleInterval(seconds: seconds))?.description ?? "\(seconds)s"
    }

    static func int(_ environment: [String: String], _ name: String, _ range: ClosedRange<Int>) throws -> Int? {
        guard let text = environment[name], !text.isEmpty else { return nil }
        guard let value = Int(text), range.contains(value) else {
            throw SpoolConfigError("\(name)='\(text)': expected a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return value
    }

    static let logLevels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]
    static func checkedLogLevel(_ level: String, source: String) throws -> String {
        guard logLevels.contains(level) else {
            throw SpoolConfigError("\(source)='\(level)': expected one of \(logLevels.joined(separator: ", "))")
        }
        return level
    }
}
