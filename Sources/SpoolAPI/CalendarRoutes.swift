import HTTPTypes
import Hummingbird
import NIOCore
import SpoolHTTP
import SpoolQueue
import SpoolStore
import SpoolSupport

/// `GET /v1/calendars`, `POST /v1/calendars`, `GET /v1/calendars/{id}`, `DELETE /v1/calendars/{id}`,
/// `POST /v1/calendars/{id}/sync`, `GET|PUT /v1/calendars/settings`, `GET /v1/calendars/connect`, and the OAuth callback
/// `GET /v1/calendars/callback`: a tenant's connected calendars (`CalendarConnectionStore`).
///
/// Connecting, with OAuth's authorization-code flow:
/// 1. `connect` (tenant admin) answers 302 to the provider's consent page, with a signed `state`
///    carrying the tenant, the calendar and an expiry (`CalendarConnectState`).
/// 2. The provider sends the person back to `callback` with a code and the state. The state's
///    signature and expiry are checked (400 otherwise), the code is exchanged at the token endpoint for
///    a refresh token, which is sealed (`SecretBox`, SPOOL_SECRET_KEY) and stored with the connection and
///    its sync schedule. The callback takes no API key: the state is the proof.
///
/// `POST /v1/calendars` connects with a refresh token already in hand (operators, tests). Reading takes
/// scope `read`, syncing `enqueue`, the rest `admin`. A tenant's key acts on its own tenant's
/// connections, and another tenant's is a 404, never a 403; the operator key acts on any (and lists
/// every tenant's unless it names one with `tenant`).
struct CalendarRoutes: Sendable {
    let services: APIServices
    /// Seals refresh tokens; nil: SPOOL_SECRET_KEY is not set, and nothing can be connected.
    let secrets: SecretBox?
    /// The provider's OAuth endpoints and this deployment's client; nil: the OAuth flow is not configured.
    let google: GoogleOAuthEndpoints?
    /// Exchanges codes at the token endpoint (made with `google`).
    let http: HTTPClient?
    let syncEvery: ScheduleInterval

    static let createFields: Set<String> = ["calendar_id", "refresh_token", "tenant"]
    static let bodyLimit = 16 << 10

    func register(on router: RouterGroup<APIContext>) {
        router.get("/calendars") { request, context in try await list(request, context) }
        router.post("/calendars") { request, context in try await create(request, context) }
        router.get("/calendars/connect") { request, context in try await connect(request, context) }
        router.get("/calendars/settings") { request, context in try await settings(request, context) }
        router.put("/calendars/settings") { request, context in try await updateSettings(request, context) }
        router.get("/calendars/:id") { _, context in try await show(context) }
        router.delete("/calendars/:id") { _, context in try await disconnect(context) }
        router.post("/calendars/:id/sync") { _, context in try await sync(context) }
    }

    /// The callback takes no API key: the provider redirects a person's browser to it.
    func registerCallback(on router: Router<APIContext>) {
        router.get("/v1/calendars/callback") { request, _ in try await callback(request) }
    }

    private var store: CalendarConnectionStore {
        CalendarConnectionStore(pool: services.pool, enqueuer: services.enqueuer, syncEvery: syncEvery, clock: services.clock)
    }

    // MARK: - Reading

    /// `?tenant=`: the operator sees every tenant's connections unless it names one; a tenant's key its own.
    private func list(_ request: Request, _ context: APIContext) async throws -> Response {
        let principal = try context.require(.read)
        let given = request.uri.queryParameters.get("tenant")
        let tenantID: String? = try principal.isOperator && given == nil ? nil : MessageRoutes.tenant(principal, given: given)
        let connections = try await store.list(tenant: tenantID)
        return APIResponse.json(200, .object(["calendars": .array(connections.map(\.json))]))
    }

    private func show(_ context: APIContext) async throws -> Response {
        let principal = try context.require(.read)
        return APIResponse.json(200, try await owned(context, principal).json)
    }

    // MARK: - The tenant's settings

    static let settingsFields: Set<String> = ["sync_every", "reminder_leads_minutes", "reminder_template", "reminder_from", "tenant"]

    /// `?tenant=` for the operator: how often the tenant's calendars sync, and its reminders.
    private func settings(_ request: Request, _ context: APIContext) async throws -> Response {
        let principal = try context.require(.read)
        let tenantID = try MessageRoutes.tenant(principal, given: request.uri.queryParameters.get("tenant"))
        let store = self.store
        return APIResponse.json(200, try await refusals { try await store.settings(tenant: tenantID) }.json)
    }

    /// `{"sync_every": "10m" | null, "reminder_leads_minutes": [1440, 120], "reminder_template": "...",
    /// "reminder_from": "+1..." | null, "tenant"?}`: each field given is changed (`sync_every` null: the
    /// deployment's interval; `reminder_from` null: the tenant's first number); answers the settings.
    private func updateSettings(_ request: Request, _ context: APIContext) async throws -> Response {
        let principal = try context.require(.admin)
        var request = request
        let fields = try RequestBody.fields(try await RequestBody.json(&request, limit: Self.bodyLimit), known: Self.settingsFields)
        let tenantID = try MessageRoutes.tenant(principal, given: try RequestBody.optionalString(fields, "tenant"))
        var everySeconds: Int??
        if let value = fields["sync_every"] {
            if value == .null {
                everySeconds = .some(nil)
            } else {
                guard let text = value.stringValue else {
                    throw APIError.invalid("sync_every", "sync_every: expected a duration such as \"10m\" or null, got \(value.typeName)")
                }
                do { everySeconds = .some(Int(try ScheduleInterval(parsing: text).seconds)) } catch {
                    throw APIError.invalid("sync_every", "sync_every: '\(text.prefix(40))' \(error)")
                }
            }
        }
        var leads: [Int]?
        if let value = fields["reminder_leads_minutes"] {
            guard let items = value.arrayValue, items.allSatisfy({ $0.intValue != nil }) else {
                throw APIError.invalid("reminder_leads_minutes", "reminder_leads_minutes: expected an array of whole minutes, such as [1440, 120]")
            }
            leads = items.compactMap(\.intValue)
        }
        let template = try RequestBody.optionalString(fields, "reminder_template")
        var from = ReminderSender.keep
        if let value = fields["reminder_from"] {
            if value == .null { from = .firstNumber } else if let text = value.stringValue { from = .number(text) } else {
                throw APIError.invalid("reminder_from", "reminder_from: expected a sender number or null, got \(value.typeName)")
            }
        }
        let store = self.store
        let settings = try await refusals { () -> CalendarTenantSettings in
            if let everySeconds { try await store.setSyncEvery(tenant: tenantID, seconds: everySeconds) }
            try await store.updateReminders(tenant: tenantID, leadsMinutes: leads, template: template, from: from)
            return try await store.settings(tenant: tenantID)
        }
        return APIResponse.json(200, settings.json)
    }

    // MARK: - Connecting

    /// `{"calendar_id", "refresh_token", "tenant"?}`: 201 with the connection. A calendar the tenant has
    /// connected already is a 409 `calendar_connected`, unless it needs re-authorisation: then this
    /// reconnects it.
    private func create(_ request: Request, _ context: APIContext) async throws -> Response {
        let principal = try context.require(.admin)
        var request = request
        let body = try await RequestBody.json(&request, limit: Self.bodyLimit)
        let fields = try RequestBody.fields(body, known: Self.createFields)
        func required(_ name: String) throws(APIError) -> String {
            guard let text = try RequestBody.optionalString(fields, name), !text.isEmpty else {
                throw APIError.invalid(name, "\(name): required, a non-empty string")
            }
            return text
        }
        let calendarID = try required("calendar_id")
        let refreshToken = try required("refresh_token")
        let tenantID = try MessageRoutes.tenant(principal, given: try RequestBody.optionalString(fields, "tenant"))
        let secrets = try requireSecrets()
        let store = self.store
        let id = try await refusals {
            try await store.create(tenant: tenantID, calendarID: calendarID) { connectionID in
                secrets.seal(refreshToken, context: CalendarSecrets.refreshTokenContext(connection: connectionID))
            }
        }
        try await firstSync(id, tenant: tenantID, store: store)
        guard let connection = try await store.get(id, tenant: nil) else { throw APIError.notFound("calendar connection \(id)") }
        return APIResponse.json(201, connection.json)
    }

    /// A connection's first sync, at once rather than one interval later; it opens the push channel too.
    /// Should Redis refuse it now, the schedule's first tick does it.
    private func firstSync(_ id: String, tenant: String, store: CalendarConnectionStore) async throws {
        do { _ = try await store.syncNow(id, tenant: tenant) } catch let error as EnqueueError {
            _ = error  // the connection stands; its schedule syncs it
        }
    }

    /// `?calendar_id=primary&tenant=`: 302 to the provider's consent page, the URL in the body too
    /// (`authorization_url`) for a client that hands it to a browser rather than following it.
    private func connect(_ request: Request, _ context: APIContext) async throws -> Response {
        let principal = try context.require(.admin)
        let query = request.uri.queryParameters
        let tenantID = try MessageRoutes.tenant(principal, given: query.get("tenant"))
        let calendarID = query.get("calendar_id") ?? "primary"
        do { try CalendarConnectionStore.checkCalendarID(calendarID) } catch { throw APIError.invalid("calendar_id", error.description) }
        // Refused now rather than after the person has consented.
        _ = try requireSecrets()
        let google = try requireGoogle()
        guard try await services.tenants.tenant(id: tenantID) != nil else {
            throw APIError.invalid("tenant", "tenant: no tenant '\(tenantID.prefix(64))'")
        }
        let url = CalendarConsent.url(google, tenantID: tenantID, calendarID: calendarID, nowMs: services.clock.nowMillis())
        var headers = HTTPFields()
        headers[.location] = url
        headers[.contentType] = "application/json"
        headers[.cacheControl] = "no-store"
        let body = JSONValue.object(["authorization_url": .string(url)]).text
        return Response(status: .found, headers: headers, body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    /// `?code=&state=` (or `?error=&state=` when the person declined): 201 with the connection.
    private func callback(_ request: Request) async throws -> Response {
        let query = request.uri.queryParameters
        let google = try requireGoogle()
        guard let text = query.get("state"), !text.isEmpty else {
            throw APIError(status: 400, code: "invalid_state", message: "state: required", field: "state")
        }
        let state = try CalendarConnectState.verify(text, key: google.clientSecret, nowMs: services.clock.nowMillis())
        if let refusal = query.get("error") {
            throw APIError(
                status: 400, code: "consent_refused", message: "the provider did not grant access: \(refusal.prefix(200))", field: "error")
        }
        guard let code = query.get("code"), !code.isEmpty else {
            throw APIError(status: 400, code: "invalid_field", message: "code: required", field: "code")
        }
        let secrets = try requireSecrets()
        let refreshToken = try await exchange(code, google)
        let store = self.store
        let id = try await refusals {
            try await store.create(tenant: state.tenantID, calendarID: state.calendarID) { connectionID in
                secrets.seal(refreshToken, context: CalendarSecrets.refreshTokenContext(connection: connectionID))
            }
        }
        try await firstSync(id, tenant: state.tenantID, store: store)
        guard let connection = try await store.get(id, tenant: nil) else { throw APIError.notFound("calendar connection \(id)") }
        return APIResponse.json(201, connection.json)
    }

    /// The refresh token the provider gives for `code` (grant_type=authorization_code).
    private func exchange(_ code: String, _ google: GoogleOAuthEndpoints) async throws -> String {
        guard let http else { throw Self.notConfigured("the OAuth client is not configured (SPOOL_GOOGLE_CLIENT_ID)") }
        let request = HTTPClientRequest(
            "POST", google.tokenURL,
            body: .form([
                ("grant_type", "authorization_code"), ("code", code), ("redirect_uri", google.redirectURL),
                ("client_id", google.clientID), ("client_secret", google.clientSecret),
            ]), timeout: .seconds(15))
        let response: HTTPClientResponse
        do { response = try await http.send(request) } catch {
            throw APIError(status: 502, code: "provider_unavailable", message: "the token endpoint did not answer: \(error)")
        }
        let answer = response.json
        guard response.status == 200 else {
            // An OAuth refusal names itself (RFC 6749 §5.2): a code used, expired or for another client.
            if let reason = answer?["error"]?.stringValue, (400..<500).contains(response.status) {
                throw APIError(
                    status: 400, code: "code_refused",
                    message: "the provider refused the authorization code (\(reason.prefix(80))); start again at GET /v1/calendars/connect",
                    field: "code")
            }
            throw APIError(status: 502, code: "provider_error", message: "the token endpoint answered \(response.status)")
        }
        guard let token = answer?["refresh_token"]?.stringValue, !token.isEmpty else {
            throw APIError(
                status: 502, code: "provider_error",
                message: "the token endpoint answered without a refresh_token (offline access not granted)")
        }
        return token
    }

    // MARK: - Syncing and disconnecting

    /// Enqueues a `calendar-sync` job now, as Spool (the kind's `unique` option folds it into a sync
    /// already waiting): 202 `{"connection", "job_id", "queue", "status", "coalesced"}`.
    private func sync(_ context: APIContext) async throws -> Response {
        let principal = try context.require(.enqueue)
        let connection = try await owned(context, principal)
        guard connection.status != .needsReauth else {
            throw APIError(
                status: 409, code: "needs_reauth",
                message:
                    "calendar connection \(connection.id) must be connected again before it can sync: \(connection.lastError ?? "its refresh token was refused")"
            )
        }
        let result: EnqueueResult
        do { result = try await store.syncNow(connection.id, tenant: connection.tenantID) } catch let error as EnqueueError {
            throw Self.notConfigured("calendar syncs cannot be enqueued: \(error)")
        }
        return APIResponse.json(
            202,
            .object([
                "connection": .string(connection.id), "job_id": .string(result.id), "queue": .string(result.queue),
                "status": .string(try await services.status(of: result)), "coalesced": .bool(!result.created),
            ]))
    }

    /// 204: disconnected, its schedule deleted, its planned reminders cancelled (rows and jobs).
    private func disconnect(_ context: APIContext) async throws -> Response {
        let principal = try context.require(.admin)
        let id = context.parameters.get("id") ?? ""
        guard Self.isConnectionID(id) else { throw APIError.notFound("calendar connection \(id.prefix(64))") }
        let store = self.store
        let done = try await refusals { try await store.disconnect(id, tenant: principal.tenantID) }
        // Their rows say cancelled already; taking the jobs out of the queue too spares them a run.
        for job in done.reminderJobIDs { _ = try await services.admin.cancel(job) }
        return Response(status: .noContent)
    }

    // MARK: - Helpers

    /// The live connection named by the path, if `principal` may see it; else 404.
    private func owned(_ context: APIContext, _ principal: Principal) async throws -> CalendarConnection {
        let id = context.parameters.get("id") ?? ""
        guard Self.isConnectionID(id), let connection = try await store.get(id, tenant: principal.tenantID) else {
            throw APIError.notFound("calendar connection \(id.prefix(64))")
        }
        return connection
    }

    private func requireSecrets() throws(APIError) -> SecretBox {
        guard let secrets else { throw Self.notConfigured("SPOOL_SECRET_KEY is not set: refresh tokens cannot be stored encrypted") }
        return secrets
    }

    private func requireGoogle() throws(APIError) -> GoogleOAuthEndpoints {
        guard let google else {
            throw Self.notConfigured(
                "calendar connections are not configured: set SPOOL_GOOGLE_CLIENT_ID, SPOOL_GOOGLE_CLIENT_SECRET and SPOOL_CALENDAR_REDIRECT_URL"
            )
        }
        return google
    }

    static func notConfigured(_ message: String) -> APIError { APIError(status: 503, code: "not_configured", message: message) }

    /// Ids are `cal_` and lowercase letters and digits; anything with a control character is no connection's.
    static func isConnectionID(_ id: String) -> Bool {
        !id.isEmpty && id.utf8.count <= 128 && !id.utf8.contains(where: { $0 < 0x20 || $0 == 0x7f })
    }

    /// The store's refusals as the API answers them: 422 naming the field, 409, 404.
    private func refusals<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as CalendarStoreError {
            switch error {
            case .invalid(let field, _): throw APIError.invalid(field, error.description)
            case .duplicate: throw APIError(status: 409, code: "calendar_connected", message: error.description, field: "calendar_id")
            case .notFound: throw APIError(status: 404, code: "not_found", message: error.description)
            case .needsReauth: throw APIError(status: 409, code: "needs_reauth", message: error.description)
            case .superseded: throw APIError(status: 409, code: "conflict", message: error.description)
            }
        }
    }
}
