import ArgumentParser
import FoundationEssentials
import Logging
import ServiceLifecycle
import SpoolHTTP
import SpoolJobs
import SpoolPostgres
import SpoolQueue
import SpoolRedis
import SpoolStore
import SpoolSupport

#if canImport(Glibc)
    import Glibc
#endif

/// Options every subcommand takes.
struct CommonOptions: ParsableArguments {
    @Option(name: .long, help: "Config file (default: config/spool.json, or $SPOOL_CONFIG).")
    var config: String?
    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical (over SPOOL_LOG_LEVEL).")
    var logLevel: String?
}

/// `spool worker`'s settings flags, which `spool config show|check` take too, to show what such a worker would use.
struct WorkerSettingOptions: ParsableArguments {
    @Option(help: "Jobs run at once in this process (over SPOOL_CONCURRENCY and the file).")
    var concurrency: Int?

    var flags: [SpoolSettings.Flag] { concurrency.map { [.concurrency($0)] } ?? [] }
}

/// What a command needs to talk to Spool: settings, declared kinds, a logger and a Redis client.
struct Runtime {
    let settings: SpoolSettings
    let catalog: JobKindCatalog
    let logger: Logger

    /// Loads and checks configuration; any problem ends the process with a message naming the source.
    static func load(_ options: CommonOptions, flags: [SpoolSettings.Flag] = [], checkHandlers: Bool = false) throws -> Runtime {
        do {
            let settings = try SpoolSettings.load(configPath: options.config, flags: (options.logLevel.map { [.logLevel($0)] } ?? []) + flags)
            bootstrapLogging(level: settings.logLevel)
            let catalog = try JobKindCatalog.load(directory: settings.jobsDirectory)
            if checkHandlers {
                try SpoolQueue.checkHandlers(JobRegistry.handlers(nil), against: catalog, jobsDirectory: settings.jobsDirectory)
            }
            return Runtime(settings: settings, catalog: catalog, logger: Logger(label: "spool"))
        } catch let error as SpoolConfigError {
            throw SpoolCommandError("configuration error: \(error.message)")
        }
    }

    func redis(name: String = "cli") -> RedisClient {
        RedisClient(url: settings.redisURL, name: name, logger: logger)
    }

    /// A pool for DATABASE_URL; a bad URL is a clear error naming it.
    func postgres(size: Int = 4) throws -> PostgresPool {
        guard let text = settings.databaseURL else {
            throw SpoolCommandError("DATABASE_URL is not set (nor database_url in the config file)")
        }
        do {
            var options = PostgresPool.Options()
            options.size = size
            return PostgresPool(url: try PostgresURL(parsing: text), options: options, logger: logger)
        } catch {
            throw SpoolCommandError("configuration error: \(error.message)")
        }
    }

    /// The job-results recorder, when a database is configured and recording is on.
    func resultRecorder() throws -> JobResultRecorder? {
        guard settings.recordResults, settings.databaseURL != nil else { return nil }
        return JobResultRecorder(pool: try postgres(size: 2), logger: logger)
    }

    /// What a worker tells about every settled job: metrics for /metrics, and job results when recorded.
    func settleObservers() throws -> [any SettleObserver & Service] {
        var observers: [any SettleObserver & Service] = [
            JobMetricsPusher(redis: redis(name: "metrics"), keys: settings.keys, logger: logger)
        ]
        if let recorder = try resultRecorder() { observers.append(recorder) }
        return observers
    }

    /// The handlers of a worker, with PostgreSQL when DATABASE_URL is set and the provider client
    /// (the sandbox only in sandbox mode, SPOOL_SANDBOX_URL).
    func handlers() throws -> [any JobHandler] {
        let postgres = settings.databaseURL == nil ? nil : try self.postgres(size: 8)
        let twilio = TwilioConfiguration.from(settings)
        if postgres == nil { logger.warning("DATABASE_URL is not set: send jobs wait until a worker with PostgreSQL takes them") }
        if let twilio, twilio.usesSandbox {
            logger.warning("\(TwilioConfiguration.sandboxWarning)", metadata: ["url": "\(twilio.baseURL)"])
        }
        if twilio == nil, catalog["send"] != nil { logger.error("\(TwilioConfiguration.missingReason); send jobs wait until it is") }
        let openai = OpenAIConfiguration.from(settings)
        if let openai, openai.usesSandbox {
            logger.warning("\(OpenAIConfiguration.sandboxWarning)", metadata: ["url": "\(openai.baseURL)"])
        }
        if openai == nil, catalog["transcription"] != nil || catalog["ai-reply"] != nil {
            logger.error("\(OpenAIConfiguration.missingReason); transcription and ai-reply jobs wait until it is")
        }
        var services = JobServices(postgres: postgres, http: HTTPClient(name: "providers"), twilio: twilio, openai: openai)
        services.segmentCents = settings.segmentCents
        services.retention = RetentionDays(jobResultsDays: settings.jobResultsDays, eventsDays: settings.eventsDays)
        services.enqueuer = Enqueuer(redis: redis(name: "handlers"), catalog: catalog, keys: settings.keys, durability: settings.enqueueDurability)
        services.defaultRegion = settings.defaultRegion
        (services.calendar, services.calendarMissingReason) = calendarServices(postgres: postgres, http: services.http)
        if let reason = services.calendarMissingReason, catalog["calendar-sync"] != nil, postgres != nil {
            logger.error("\(reason); calendar-sync jobs wait until it is")
        }
        return JobRegistry.handlers(services)
    }

    /// Google Calendar for the sync jobs: its configuration (the sandbox only in sandbox mode) and the
    /// shared access tokens, sealed with SPOOL_SECRET_KEY. nil with the reason when either is missing.
    func calendarServices(postgres: PostgresPool?, http: HTTPClient) -> (CalendarServices?, String?) {
        guard let postgres else { return (nil, "the calendar-sync kind needs PostgreSQL: set DATABASE_URL") }
        guard let google = GoogleConfiguration.from(settings) else { return (nil, GoogleConfiguration.missingReason) }
        if google.usesSandbox { logger.warning("\(GoogleConfiguration.sandboxWarning)", metadata: ["url": "\(google.calendarURL)"]) }
        let box: SecretBox
        do { box = try settings.secretBox() } catch { return (nil, error.message) }
        let tokens = SharedAccessTokens(
            redis: redis(name: "calendar-tokens"), keys: settings.keys, store: CalendarConnectionStore(pool: postgres), box: box,
            google: google, http: http)
        let webhook = settings.publicURL.map { ($0.hasSuffix("/") ? String($0.dropLast()) : $0) + "/v1/webhooks/google/calendar" }
        if webhook == nil { logger.warning("SPOOL_PUBLIC_URL is not set: calendars get no push notifications, only their scheduled syncs") }
        return (CalendarServices(google: google, tokens: tokens, webhookURL: webhook), nil)
    }

    /// The schedules' ticker (`ScheduleTicker`), when PostgreSQL is configured, after the static
    /// schedules (`config/schedules.json`) are reconciled: `spool scheduler` and `spool dev` run it;
    /// any number of them may. A bad static schedule stops the start, naming the file, the schedule
    /// and the field.
    func scheduleTicker() async throws -> ScheduleTicker? {
        guard settings.databaseURL != nil else {
            logger.notice("DATABASE_URL is not set: schedules do not fire from this process")
            return nil
        }
        let redis = redis(name: "schedules")
        let pool = try postgres(size: 2)
        let enqueuer = Enqueuer(redis: redis, catalog: catalog, keys: settings.keys, durability: settings.enqueueDurability)
        _ = try await reconcileSchedules(pool: pool, enqueuer: enqueuer)
        if catalog["retention"] != nil { try await ScheduleStore(pool: pool, enqueuer: enqueuer).ensureBuiltins() }
        return ScheduleTicker(pool: pool, enqueuer: enqueuer, admin: admin(redis), logger: logger)
    }

    func admin(_ redis: RedisClient) -> QueueAdmin {
        QueueAdmin(redis: redis, keys: settings.keys, declaredQueues: catalog.queues, completedTTL: settings.completedTTL)
    }

    /// Queues named on the command line, checked against what is declared.
    func queues(_ list: String?) throws -> [String]? {
        guard let list else { return nil }
        let names = list.split(separator: ",").map { String($0).trimmed }.filter { !$0.isEmpty }
        if names.isEmpty { throw ValidationError("--queues: no queue names in '\(list)'") }
        for name in names where !catalog.queues.contains(name) && settings.queueWeights[name] == nil {
            throw ValidationError(
                "--queues: '\(name)' is not a queue of any kind in \(settings.jobsDirectory)/ (known: \(catalog.queues.joined(separator: ", ")))"
            )
        }
        return names
    }
}

nonisolated(unsafe) private var loggingBootstrapped = false

func bootstrapLogging(level: String) {
    if loggingBootstrapped { return }
    loggingBootstrapped = true
    let parsed = Logger.Level(rawValue: level) ?? .info
    LoggingSystem.bootstrap { label in
        var handler = StreamLogHandler.standardError(label: label)
        handler.logLevel = parsed
        return handler
    }
}

/// A failure while running a command (configuration, a refused job, an unreachable server): printed as
/// `Error: <message>` without the usage text that ValidationError adds for command-line mistakes.
struct SpoolCommandError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Encodes a value as pretty JSON text with sorted keys.
func jsonText<T: Encodable>(_ value: T) -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    return (try? String(decoding: encoder.encode(value), as: UTF8.self)) ?? "null"
}

func printError(_ message: String) {
    var line = message + "\n"
    line.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
}

extension String {
    /// Without leading and trailing spaces, tabs and line breaks.
    var trimmed: String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(self[first...last])
    }
}
