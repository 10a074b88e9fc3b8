import HTTPTypes
import Hummingbird
import SpoolHTTP
import SpoolQueue
import SpoolStore
import SpoolSupport

/// A tenant's connected calendars (a tenant admin its own; the operator every tenant's, or one
/// tenant's), through the same `CalendarConnectionStore` calls as the API's `CalendarRoutes`:
///
/// 1. `GET /dashboard/calendars`: each live connection with its status (ok, syncing, needs_reauth,
///    error), its appointments, its last sync and last error, and when its push channel expires.
/// 2. `POST /dashboard/calendars/{id}/sync`: `syncNow`, a `calendar-sync` job (folded into one already
///    waiting), then 303 back with what was done.
/// 3. `POST /dashboard/calendars/connect`: 303 to the provider's consent page, built by
///    `CalendarConsent` as `GET /v1/calendars/connect` builds it (which needs an API key, so the
///    dashboard cannot link to it). With `connection`, it reconnects a connection that needs
///    re-authorisation; with `calendar_id` (and the operator's `tenant`), it connects a new calendar.
///    The provider sends the person back to `GET /v1/calendars/callback`, which stores the connection.
///
/// Another tenant's connection is a 404, as in the API.
struct DashboardCalendars: Sendable {
    let services: APIServices
    let pages: DashboardPages
    /// Seals refresh tokens (SPOOL_SECRET_KEY); nil: nothing can be connected.
    let secrets: SecretBox?
    /// The OAuth flow (SPOOL_GOOGLE_*); nil: not configured, and nothing can be connected.
    let google: GoogleOAuthEndpoints?
    let syncEvery: ScheduleInterval

    static let path = "/dashboard/calendars"
    static let connectPath = "/dashboard/calendars/connect"

    /// A connection's reconnect form: every one posts to `connectPath`, naming its connection.
    struct Reconnect: Sendable {
        let action: String
        let csrf: String
        let connection: String
    }

    struct Row: Sendable {
        let id: String
        let calendarID: String
        /// The operator's view only ("" otherwise, never shown).
        let tenant: String
        let status: String
        let appointments: Int
        let lastSynced: String
        let lastError: String?
        let channelExpires: String
        /// nil while it needs re-authorisation: a sync could not get a token.
        let sync: DashboardFormAction?
        /// Only while it needs re-authorisation, and when connecting is configured.
        let reconnect: Reconnect?
    }

    /// The form that connects a new calendar: for a tenant admin, and for the operator once it has
    /// named a tenant with the filter (`tenant`, sent along).
    struct ConnectForm: Sendable {
        let action: String
        let csrf: String
        let tenant: String
    }

    struct ListView: Sendable {
        let calendars: [Row]
        let showsTenant: Bool
        let filter: DashboardScope.Filter?
        let connect: ConnectForm?
        /// Why nothing can be connected here, when that is so.
        let notConfigured: String?
    }

    func register(on group: RouterGroup<APIContext>) {
        group.get("/calendars") { request, context in try await list(request, context) }
        group.post("/calendars/connect") { _, context in try await connect(context) }
        group.post("/calendars/:id/sync") { _, context in try await sync(context) }
    }

    static func syncPath(_ id: String) -> String { "\(path)/\(id)/sync" }

    private var store: CalendarConnectionStore {
        CalendarConnectionStore(pool: services.pool, enqueuer: services.enqueuer, syncEvery: syncEvery, clock: services.clock)
    }

    /// Why connecting is refused, or nil when it is configured: the same two settings the API needs.
    private var unconfigured: String? {
        if secrets == nil { return "SPOOL_SECRET_KEY is not set: refresh tokens cannot be stored encrypted" }
        if google == nil {
            return "calendar connections are not configured: set SPOOL_GOOGLE_CLIENT_ID, SPOOL_GOOGLE_CLIENT_SECRET and "
                + "SPOOL_CALENDAR_REDIRECT_URL"
        }
        return nil
    }

    // MARK: - The list

    private func list(_ request: Request, _ context: APIContext) async throws -> Response {
        let visit = try context.visit()
        let scope = try DashboardScope(visit, query: request.uri.queryParameters, action: Self.path)
        let connections = try await store.list(tenant: scope.tenantID)
        var names: [String: String] = [:]
        if scope.showsTenant { names = try await services.tenants.names(ids: Array(Set(connections.map(\.tenantID)))) }
        let canConnect = unconfigured == nil
        let connectCSRF = visit.formAction(Self.connectPath).csrf
        let rows = connections.map { connection in
            let stuck = connection.status == .needsReauth
            return Row(
                id: connection.id, calendarID: connection.calendarID,
                tenant: scope.showsTenant ? DashboardScope.label(connection.tenantID, names: names) : "",
                status: connection.status.rawValue, appointments: connection.appointments,
                lastSynced: connection.lastSyncedAtMs.map(DashboardFormat.utc) ?? "never", lastError: connection.lastError,
                channelExpires: connection.watchExpiresAtMs.map(DashboardFormat.utc) ?? "no channel",
                sync: stuck ? nil : visit.formAction(Self.syncPath(connection.id)),
                reconnect: stuck && canConnect ? Reconnect(action: Self.connectPath, csrf: connectCSRF, connection: connection.id) : nil)
        }
        // The operator connects for the tenant it has named; a tenant admin for its own.
        var connect: ConnectForm?
        if canConnect, let connectTenant = visit.principal.tenantID ?? scope.tenantID {
            connect = ConnectForm(action: Self.connectPath, csrf: connectCSRF, tenant: visit.principal.isOperator ? connectTenant : "")
        }
        let view = ListView(
            calendars: rows, showsTenant: scope.showsTenant, filter: scope.filter, connect: connect, notConfigured: unconfigured)
        let layout = DashboardLayout(visit: visit, current: .calendars, flash: Self.flash(request.uri.queryParameters))
        var response = pages.render(.calendars, page: view, layout: layout)
        // The connect forms are answered with a redirect to the consent page, which browsers check
        // against this page's form-action.
        if canConnect, let origin = google.flatMap({ CalendarConsent.origin(of: $0.authURL) }) {
            response.headers[.contentSecurityPolicy] = DashboardHeaders.policy(formActions: "'self' \(origin)")
        }
        return response
    }

    /// The line that says what the last sync did; only a plausible connection id is repeated.
    static func flash(_ query: Parameters) -> String? {
        if let id = query.get("synced"), DashboardRecordID.isPlausible(id) { return "A sync of \(id) is enqueued." }
        if let id = query.get("coalesced"), DashboardRecordID.isPlausible(id) {
            return "A sync of \(id) was already waiting to run: it covers this request too."
        }
        return nil
    }

    // MARK: - Actions

    private func sync(_ context: APIContext) async throws -> Response {
        let visit = try context.visit()
        let id = context.parameters.get("id") ?? ""
        guard DashboardRecordID.isPlausible(id), let connection = try await store.get(id, tenant: visit.principal.tenantID) else {
            throw DashboardRefusal.notFound
        }
        guard connection.status != .needsReauth else {
            throw DashboardRefusal(
                .conflict, heading: "Not synced",
                message: "calendar connection \(connection.id) must be connected again before it can sync: "
                    + (connection.lastError ?? "its refresh token was refused"),
                linkHref: Self.path, linkText: "Back to the calendars")
        }
        let result: EnqueueResult
        do { result = try await store.syncNow(connection.id, tenant: connection.tenantID) } catch let error as EnqueueError {
            throw DashboardRefusal(
                .serviceUnavailable, heading: "Not synced", message: "calendar syncs cannot be enqueued: \(error)", linkHref: Self.path,
                linkText: "Back to the calendars")
        }
        let done = result.created ? "synced" : "coalesced"
        return DashboardResponse.redirect(to: Self.path + "?" + FormEncoding.encode([(done, connection.id)]))
    }

    private func connect(_ context: APIContext) async throws -> Response {
        let visit = try context.visit()
        guard unconfigured == nil, let google = google else {
            throw DashboardRefusal(
                .serviceUnavailable, heading: "Not configured", message: unconfigured ?? "", linkHref: Self.path,
                linkText: "Back to the calendars")
        }
        let tenantID: String
        let calendarID: String
        if let connectionID = visit.form["connection"] {
            // Reconnecting: the connection says whose calendar it is, so nothing else is taken from the form.
            guard DashboardRecordID.isPlausible(connectionID),
                let connection = try await store.get(connectionID, tenant: visit.principal.tenantID)
            else { throw DashboardRefusal.notFound }
            guard connection.status == .needsReauth else {
                throw DashboardRefusal(
                    .conflict, heading: "Already connected",
                    message: "calendar connection \(connection.id) is \(connection.status.rawValue); only one that needs re-authorisation "
                        + "is connected again (the provider's answer would be refused as a calendar connected already)",
                    linkHref: Self.path, linkText: "Back to the calendars")
            }
            tenantID = connection.tenantID
            calendarID = connection.calendarID
        } else {
            let given = (visit.form["calendar_id"] ?? "").trimmingSpaces
            calendarID = given.isEmpty ? "primary" : given
            do { try CalendarConnectionStore.checkCalendarID(calendarID) } catch {
                throw DashboardRefusal(
                    .unprocessableContent, heading: "Not connected", message: error.description, linkHref: Self.path,
                    linkText: "Back to the calendars")
            }
            tenantID = try await tenantToConnect(visit)
        }
        return DashboardResponse.redirect(
            to: CalendarConsent.url(google, tenantID: tenantID, calendarID: calendarID, nowMs: services.clock.nowMillis()))
    }

    /// A tenant admin connects for its own tenant; the operator for the tenant its form names, which
    /// must exist (as the API checks it before the person consents).
    private func tenantToConnect(_ visit: DashboardVisit) async throws -> String {
        if let own = visit.principal.tenantID { return own }
        let given = (visit.form["tenant"] ?? "").trimmingSpaces
        guard DashboardRecordID.isPlausible(given), try await services.tenants.tenant(id: given) != nil else {
            throw DashboardRefusal(
                .unprocessableContent, heading: "Not connected", message: "tenant: no tenant '\(given.prefix(64))'", linkHref: Self.path,
                linkText: "Back to the calendars")
        }
        return given
    }
}
