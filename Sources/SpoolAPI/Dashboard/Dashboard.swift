import Hummingbird
import Logging

/// The operator dashboard under `/dashboard` (see docs/dashboard.md): server-rendered pages over the
/// same QueueAdmin and TenantStore the API uses, outside `/v1` and its API-key middleware.
///
/// 1. `DashboardGuard` wraps every dashboard response: the security headers, and refusals as pages.
/// 2. The login form and the assets need no session.
/// 3. `DashboardSessionCheck` wraps every other route: a signed session cookie whose key still
///    stands, and on every POST the CSRF token of the form's own path. A handler reads what it found
///    with `context.visit()`: the principal, the session, and the form's fields.
/// 4. A page renders inside `layout.mustache` with `DashboardPages.render`, its nav from `DashboardNav`.
struct Dashboard: Sendable {
    let services: APIServices
    let verifier: KeyVerifier
    let sessions: DashboardSessions
    let pages: DashboardPages
    let seenQueues = SeenQueues()
    let configuration: APIServer.Configuration
    let logger: Logger

    init(services: APIServices, verifier: KeyVerifier, configuration: APIServer.Configuration, logger: Logger) {
        self.services = services
        self.verifier = verifier
        self.configuration = configuration
        self.logger = logger
        sessions = DashboardSessions(
            signingKey: DashboardSigningKey(secrets: configuration.secrets, redis: services.redis, keys: services.keys),
            verifier: verifier, tenants: services.tenants, clock: services.clock,
            alwaysSecure: configuration.publicURL.lowercased().hasPrefix("https://"))
        // Parsed here, once per process, when the server builds its router.
        pages = DashboardPages(library: DashboardTemplate.library)
    }

    func register(on router: Router<APIContext>) {
        let dashboard = router.group("/dashboard").add(middleware: DashboardGuard(pages: pages, errors: ErrorMiddleware(logger: logger)))
        DashboardAssets.register(on: dashboard)
        let auth = DashboardAuthRoutes(sessions: sessions, verifier: verifier, pages: pages)
        auth.registerLogin(on: dashboard)

        let signedIn = dashboard.group().add(middleware: DashboardSessionCheck(sessions: sessions, redirectsToLogin: true))
        auth.registerLogout(on: signedIn)
        DashboardOverview(services: services, pages: pages, seenQueues: seenQueues).register(on: signedIn)
        DashboardQueues(services: services, pages: pages).register(on: signedIn)
        // Jobs: the list, a job's page with its actions, the bulk actions' confirmations, and workers.
        DashboardJobs(services: services, pages: pages).register(on: signedIn)
        DashboardJobPage(services: services, pages: pages).register(on: signedIn)
        DashboardBulkActions(services: services, pages: pages).register(on: signedIn)
        DashboardWorkers(services: services, pages: pages).register(on: signedIn)
        DashboardLimits(services: services, pages: pages).register(on: signedIn)
        DashboardSchedules(services: services, pages: pages).register(on: signedIn)
        DashboardTenants(services: services, pages: pages).register(on: signedIn)
        DashboardCampaigns(services: services, pages: pages).register(on: signedIn)
        DashboardConversations(services: services, pages: pages, segmentCents: configuration.segmentCents).register(on: signedIn)
        DashboardCalendars(
            services: services, pages: pages, secrets: configuration.secrets, google: configuration.googleOAuth,
            syncEvery: configuration.calendarSyncEvery
        ).register(on: signedIn)

        // The live feed is polled by a script, not opened by a person: without a session it answers
        // 401, which the script turns into a visit to the login page.
        let feed = dashboard.group().add(middleware: DashboardSessionCheck(sessions: sessions, redirectsToLogin: false))
        DashboardLive(services: services, seenQueues: seenQueues).register(on: feed)
    }
}
