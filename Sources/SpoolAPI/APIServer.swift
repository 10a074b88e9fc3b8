import HTTPTypes
import Hummingbird
import Logging
import Metrics
import NIOCore
import Prometheus
import SpoolHTTP
import SpoolPostgres
import SpoolQueue
import SpoolRedis
import SpoolStore
import SpoolSupport

/// What the routes share: the Redis client, the PostgreSQL pool, and the queue and tenant code on them.
struct APIServices: Sendable {
    let redis: RedisClient
    let pool: PostgresPool
    let keys: KeySpace
    let enqueuer: Enqueuer
    let admin: QueueAdmin
    let tenants: TenantStore
    let clock: any WallClock
    /// Queues a producer may name: those the kinds in Jobs/ declare, and those the config weighs.
    let declaredQueues: Set<String>
    /// Contact imports running in this process.
    let imports = ImportGate()

    /// What an enqueue answers as the job's status: the new job's, or for a repeated idempotency key
    /// the stored job's state now (it may have run, or be scheduled when this request was not).
    func status(of result: EnqueueResult) async throws -> String {
        try await statuses(of: [result])[0]
    }

    /// The same for many results, with one Redis round trip for all the repeated keys among them.
    func statuses(of results: [EnqueueResult]) async throws -> [String] {
        let repeated = results.indices.filter { !results[$0].created }
        let stored = try await admin.states(of: repeated.map { (results[$0].id, results[$0].queue) })
        var statuses = results.map { ($0.scheduled ? JobState.scheduled : .pending).rawValue }
        for (index, state) in zip(repeated, stored) { statuses[index] = state.rawValue }
        return statuses
    }
}

/// The enqueue API (`spool api`): thin routes over the same Enqueuer and QueueAdmin the CLI uses.
public struct APIServer: Sendable {
    public struct Configuration: Sendable {
        public var host = "127.0.0.1"
        public var port = 8080
        /// A key that acts across tenants (SPOOL_OPERATOR_KEY); nil: none.
        public var operatorKey: String?
        /// Checks the signatures of delivery receipts and inbound messages (TWILIO_AUTH_TOKEN, or the
        /// sandbox's in sandbox mode); nil: both are refused, never checked against a public token.
        public var twilioAuthToken: String?
        /// This API's address as providers reach it (SPOOL_PUBLIC_URL): webhooks are signed over it.
        public var publicURL = "http://127.0.0.1:8080"
        /// How national numbers in imports are read (SPOOL_DEFAULT_REGION).
        public var defaultRegion = "US"
        /// What one SMS segment costs, in cents (SPOOL_SMS_SEGMENT_CENTS).
        public var segmentCents = 1
        /// How long an AI reply waits for the rest of a burst (SPOOL_AI_REPLY_DEBOUNCE_MS), and what its
        /// job charges the tenant's token limiter up front (the prompt budget plus the reply cap).
        public var replyDebounce: Duration = .seconds(2)
        public var replyEstimatedTokens = 3300
        /// Failed authentications one client address may make at once, then per second, before its
        /// unknown keys are refused with 429 without a database read.
        public var failedAuthenticationBurst = 100
        public var failedAuthenticationsPerSecond = 10.0
        /// Seals calendars' refresh tokens (SPOOL_SECRET_KEY); nil: connecting a calendar is refused.
        public var secrets: SecretBox?
        /// The OAuth flow that connects calendars (SPOOL_GOOGLE_*, SPOOL_CALENDAR_REDIRECT_URL); nil: not configured.
        public var googleOAuth: GoogleOAuthEndpoints?
        /// How often a connected calendar is synced unless its tenant says otherwise (SPOOL_CALENDAR_SYNC_EVERY).
        public var calendarSyncEvery = CalendarConnectionStore.defaultSyncEvery
        public init() {}
    }

    let configuration: Configuration
    let services: APIServices
    let logger: Logger
    /// Exchanges calendar connects' authorization codes; made only when the OAuth flow is configured.
    let oauthHTTP: HTTPClient?

    public init(
        configuration: Configuration, redis: RedisClient, pool: PostgresPool, settings: SpoolSettings, catalog: JobKindCatalog,
        clock: any WallClock = SystemClock(), logger: Logger
    ) {
        self.configuration = configuration
        self.logger = logger
        oauthHTTP = configuration.googleOAuth == nil ? nil : HTTPClient(name: "oauth")
        let admin = QueueAdmin(
            redis: redis, keys: settings.keys, declaredQueues: catalog.queues, completedTTL: settings.completedTTL, clock: clock)
        services = APIServices(
            redis: redis, pool: pool, keys: settings.keys,
            enqueuer: Enqueuer(redis: redis, catalog: catalog, keys: settings.keys, clock: clock, durability: settings.enqueueDurability),
            admin: admin, tenants: TenantStore(pool: pool, admin: admin), clock: clock,
            declaredQueues: Set(catalog.queues).union(settings.queueWeights.keys))
    }

    /// Every route, for the server and for route tests.
    public func router() -> Router<APIContext> {
        let router = Router(context: APIContext.self)
        router.add(middleware: ErrorMiddleware(logger: logger))
        router.add(middleware: MetricsMiddleware())
        HealthRoutes(services: services).register(on: router)
        MetricsRoutes(services: services, registry: APIMetrics.registry, mirror: APIMetrics.mirror).register(on: router)
        let document = OpenAPIDocument(kinds: services.enqueuer.catalog.kinds)
        router.get("/v1/openapi.json") { _, _ in document.response() }
        let twilio = TwilioWebhookVerifier(authToken: configuration.twilioAuthToken, publicURL: configuration.publicURL)
        TwilioWebhookRoutes(services: services, verifier: twilio).register(on: router)
        TwilioInboundRoutes(
            services: services, verifier: twilio, replyDebounce: configuration.replyDebounce,
            replyEstimatedTokens: configuration.replyEstimatedTokens, logger: logger
        ).register(on: router)
        let calendars = CalendarRoutes(
            services: services, secrets: configuration.secrets, google: configuration.googleOAuth, http: oauthHTTP,
            syncEvery: configuration.calendarSyncEvery)
        calendars.registerCallback(on: router)
        GoogleCalendarWebhookRoutes(services: services).register(on: router)
        let verifier = KeyVerifier(
            tenants: services.tenants, operatorKey: configuration.operatorKey, cache: KeyCache(),
            failures: FailedAuthentications(
                burst: configuration.failedAuthenticationBurst, perSecond: configuration.failedAuthenticationsPerSecond))
        Dashboard(services: services, verifier: verifier, configuration: configuration, logger: logger).register(on: router)
        let v1 = router.group("/v1").add(middleware: Authenticator(verifier: verifier))
        JobRoutes(services: services).register(on: v1)
        BulkRoutes(services: services).register(on: v1)
        QueueRoutes(services: services).register(on: v1)
        LimitRoutes(services: services).register(on: v1)
        DeadRoutes(services: services).register(on: v1)
        TenantRoutes(services: services).register(on: v1)
        SMSRoutes(services: services, defaultRegion: configuration.defaultRegion, segmentCents: configuration.segmentCents).register(on: v1)
        NumberRoutes(services: services).register(on: v1)
        ConversationRoutes(services: services, segmentCents: configuration.segmentCents).register(on: v1)
        ScheduleRoutes(services: services).register(on: v1)
        MessageRoutes(services: services, segmentCents: configuration.segmentCents).register(on: v1)
        UsageRoutes(services: services).register(on: v1)
        calendars.register(on: v1)
        return router
    }

    /// Serves until SIGTERM or SIGINT. Tenants' paused flags are copied to Redis first, so workers and
    /// PostgreSQL agree even after a pause that failed half-way.
    public func run(onListening: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        _ = APIMetrics.bootstrap
        try await services.tenants.mirrorPausesToRedis()
        try await application(onListening: onListening).runService()
    }

    /// Serves until the surrounding task is cancelled (tests).
    public func runUntilCancelled(onListening: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        _ = APIMetrics.bootstrap
        try await application(onListening: onListening).run()
    }

    private func application(onListening: @escaping @Sendable (Int) async -> Void) -> some ApplicationProtocol {
        var logger = self.logger
        logger.logLevel = max(logger.logLevel, .notice)
        return Application(
            router: router(), configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "spool"),
            onServerRunning: { channel in await onListening(channel.localAddress?.port ?? 0) }, logger: logger)
    }
}

/// The process's one Prometheus registry, behind swift-metrics (bootstrapped once per process).
public enum APIMetrics {
    public static let registry = PrometheusCollectorRegistry()
    static let mirror = CounterMirror()
    public static let bootstrap: Void = MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
}
