import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SpoolHTTP
import SpoolQueue
import SpoolStore
import SpoolSupport
import TestSupport
import Testing

@testable import SpoolAPI

/// The calendars API (`/v1/calendars...`) against real PostgreSQL and Redis: tenants kept apart, a sync
/// enqueued and coalesced, disconnecting, the refusals without SPOOL_SECRET_KEY, the consent URL and
/// its signed state, and the callback refusing states it did not make. The code exchange against the
/// sandbox's token endpoint runs in the end-to-end calendar tests.
@Suite struct CalendarAPITests {
    /// `calendar-sync` as Jobs/calendar-sync.json declares it: Spool's own, one waiting per connection.
    static let calendarSync: JobKindSpec = {
        var spec = JobKindSpec(
            kind: "calendar-sync", queue: "calendar",
            arguments: ArgumentSchema(fields: ["connection": .init(type: .string, required: true, maxLength: 64)]))
        spec.enqueue = .internal
        spec.unique = UniqueSpec(key: try! LimitKeyTemplate("{connection}", arguments: spec.arguments), scope: .pending)
        return spec
    }()

    static let google = GoogleOAuthEndpoints(
        authURL: "https://accounts.example.test/o/oauth2/v2/auth", tokenURL: "http://127.0.0.1:9/token", clientID: "client-123",
        clientSecret: "client-secret-for-tests", redirectURL: "https://spool.example.test/v1/calendars/callback")

    /// No SPOOL_SECRET_KEY (`secrets` nil); the OAuth client configured unless `oauth` is false.
    static func fixture(oauth: Bool = true) async throws -> APIFixture {
        try await APIFixture(kinds: [QueueFixture.noop, calendarSync]) { if oauth { $0.googleOAuth = google } }
    }

    static func message(_ answer: (status: Int, body: JSONValue)) -> String { answer.body["error"]?["message"]?.stringValue ?? "" }
    static func code(_ answer: (status: Int, body: JSONValue)) -> String? { answer.body["error"]?["code"]?.stringValue }
    static func field(_ answer: (status: Int, body: JSONValue)) -> String? { answer.body["error"]?["field"]?.stringValue }
    static func ids(_ answer: (status: Int, body: JSONValue)) -> [String] {
        answer.body["calendars"]?.arrayValue?.compactMap { $0["id"]?.stringValue } ?? []
    }

    @Test func aTenantSeesSyncsAndDisconnectsOnlyItsOwnCalendars() async throws {
        let f = try await Self.fixture()
        let store = CalendarConnectionStore(pool: f.pool, enqueuer: f.queue.enqueuer)
        let id = try await store.create(tenant: f.a.id, calendarID: "primary") { "sealed-\($0)" }
        let scheduleID = try #require(try await store.get(id, tenant: nil)?.scheduleID)
        try await f.test { client in
            let shown = try await client.call(.get, "/v1/calendars/\(id)", key: f.a.read)
            #expect(shown.status == 200, "\(shown.body.text)")
            #expect(shown.body["id"] == .string(id) && shown.body["tenant"] == .string(f.a.id) && shown.body["status"] == .string("ok"))
            #expect(shown.body["calendar_id"] == .string("primary") && shown.body["appointments"] == .number(0))
            #expect(
                shown.body["last_synced_at"] == .null && shown.body["last_error"] == .null
                    && shown.body["schedule_id"] == .string(scheduleID))
            #expect(!shown.body.text.contains("sealed"))

            // Another tenant: not found, whatever it asks.
            #expect(try await client.call(.get, "/v1/calendars/\(id)", key: f.b.read).status == 404)
            #expect(try await client.call(.post, "/v1/calendars/\(id)/sync", key: f.b.enqueue).status == 404)
            #expect(try await client.call(.delete, "/v1/calendars/\(id)", key: f.b.admin).status == 404)
            #expect(try await client.call(.get, "/v1/calendars/cal_nosuchconnection", key: f.a.read).status == 404)
            let own = try await client.call(.get, "/v1/calendars", key: f.a.read)
            #expect(own.status == 200 && Self.ids(own) == [id], "\(own.body.text)")
            let others = try await client.call(.get, "/v1/calendars", key: f.b.read)
            #expect(others.status == 200 && Self.ids(others).isEmpty)
            let operatorView = try await client.call(.get, "/v1/calendars?tenant=\(f.a.id)", key: APIFixture.operatorKey)
            #expect(Self.ids(operatorView) == [id])
            let named = try await client.call(.get, "/v1/calendars?tenant=\(f.b.id)", key: f.a.read)
            #expect(named.status == 422 && Self.field(named) == "tenant", "\(named.body.text)")
            #expect(try await client.call(.get, "/v1/calendars", key: nil).status == 401)

            // Sync now: a calendar-sync job of the tenant's, and a second request folds into it.
            #expect(try await client.call(.post, "/v1/calendars/\(id)/sync", key: f.a.read).status == 403)
            let sync = try await client.call(.post, "/v1/calendars/\(id)/sync", key: f.a.enqueue)
            #expect(
                sync.status == 202 && sync.body["connection"] == .string(id) && sync.body["coalesced"] == .bool(false), "\(sync.body.text)")
            let job = try #require(sync.body["job_id"]?.stringValue)
            let again = try await client.call(.post, "/v1/calendars/\(id)/sync", key: f.a.enqueue)
            #expect(
                again.status == 202 && again.body["job_id"] == .string(job) && again.body["coalesced"] == .bool(true), "\(again.body.text)")
            let record = try #require(try await f.queue.record(job))
            #expect(record.kind == "calendar-sync" && record.tenant == f.a.id && record.queue == "calendar", "\(record)")
            #expect(record.args.flatMap { try? JSONValue.parse($0) } == .object(["connection": .string(id)]))

            // A known path with another method.
            #expect(try await client.call(.put, "/v1/calendars/\(id)", key: f.a.admin, json: "{}").status == 405)

            // Disconnecting takes admin; then it is gone.
            #expect(try await client.call(.delete, "/v1/calendars/\(id)", key: f.a.enqueue).status == 403)
            #expect(try await client.call(.delete, "/v1/calendars/\(id)", key: f.a.admin).status == 204)
            #expect(try await client.call(.get, "/v1/calendars/\(id)", key: f.a.read).status == 404)
            #expect(try await client.call(.delete, "/v1/calendars/\(id)", key: f.a.admin).status == 404)
            #expect(try await client.call(.post, "/v1/calendars/\(id)/sync", key: f.a.enqueue).status == 404)
        }
        #expect(try await ScheduleStore(pool: f.pool, enqueuer: f.queue.enqueuer).find(scheduleID, tenantID: nil) == nil)
    }

    @Test func connectingWithoutASecretKeyIsRefusedAndRefusalsNameTheField() async throws {
        let f = try await Self.fixture()
        try await f.test { client in
            let body = #"{"calendar_id": "primary", "refresh_token": "1//refresh-token"}"#
            let post = try await client.call(.post, "/v1/calendars", key: f.a.admin, json: body)
            #expect(post.status == 503 && Self.code(post) == "not_configured", "\(post.body.text)")
            #expect(Self.message(post).contains("SPOOL_SECRET_KEY is not set"), "\(post.body.text)")
            #expect(try await client.call(.post, "/v1/calendars", key: f.a.read, json: body).status == 403)
            let unknown = try await client.call(
                .post, "/v1/calendars", key: f.a.admin, json: #"{"calendar_id": "primary", "refresh_token": "x", "calender": 1}"#)
            #expect(unknown.status == 422 && Self.field(unknown) == "calender", "\(unknown.body.text)")
            let noToken = try await client.call(.post, "/v1/calendars", key: f.a.admin, json: #"{"calendar_id": "primary"}"#)
            #expect(noToken.status == 422 && Self.field(noToken) == "refresh_token", "\(noToken.body.text)")
            let noTenant = try await client.call(.post, "/v1/calendars", key: APIFixture.operatorKey, json: body)
            #expect(noTenant.status == 422 && Self.field(noTenant) == "tenant", "\(noTenant.body.text)")

            // The OAuth flow is refused before the person consents, not after.
            let connect = try await client.call(.get, "/v1/calendars/connect?calendar_id=primary", key: f.a.admin)
            #expect(connect.status == 503 && Self.message(connect).contains("SPOOL_SECRET_KEY is not set"), "\(connect.body.text)")
            #expect(try await client.call(.get, "/v1/calendars/connect", key: f.a.read).status == 403)
            let operatorConnect = try await client.call(.get, "/v1/calendars/connect", key: APIFixture.operatorKey)
            #expect(operatorConnect.status == 422 && Self.field(operatorConnect) == "tenant", "\(operatorConnect.body.text)")
            let badCalendar = try await client.call(.get, "/v1/calendars/connect?calendar_id=a%0Ab", key: f.a.admin)
            #expect(badCalendar.status == 422 && Self.field(badCalendar) == "calendar_id", "\(badCalendar.body.text)")
        }
        #expect(try await CalendarConnectionStore(pool: f.pool).list(tenant: f.a.id).isEmpty)
    }

    @Test func theConsentURLAsksForOfflineReadOnlyAccessWithASignedState() throws {
        let secret = Self.google.clientSecret
        let state = CalendarConnectState(tenantID: "tn_a", calendarID: "team@group.calendar.google.com", expiresAtMs: 2_000_000)
        let signed = state.signed(key: secret)
        let url = CalendarConsent.url(Self.google, state: signed)
        #expect(url.hasPrefix(Self.google.authURL + "?"), "\(url)")
        let query = Dictionary(
            FormEncoding.decode(String(url.dropFirst(Self.google.authURL.count + 1))), uniquingKeysWith: { first, _ in first })
        #expect(query["client_id"] == "client-123" && query["redirect_uri"] == Self.google.redirectURL && query["response_type"] == "code")
        #expect(
            query["scope"] == GoogleOAuthEndpoints.calendarReadOnlyScope && query["access_type"] == "offline"
                && query["prompt"] == "consent")
        #expect(query["state"] == signed)

        // It verifies, until it expires, and only with the key and the bytes it was signed with.
        #expect(try CalendarConnectState.verify(signed, key: secret, nowMs: 1_999_999) == state)
        let altered = (signed.first == "0" ? "1" : "0") + signed.dropFirst()
        let badSignature = signed.dropLast() + (signed.last == "0" ? "1" : "0")
        for (text, key, now) in [
            (signed, secret, Int64(2_000_000)), (signed, "another-secret", Int64(1_000_000)), (altered, secret, Int64(1_000_000)),
            (String(badSignature), secret, Int64(1_000_000)), ("zz", secret, Int64(1_000_000)), ("", secret, Int64(1_000_000)),
        ] {
            #expect(throws: APIError.self, "\(text.prefix(20)) with \(key) at \(now)") {
                _ = try CalendarConnectState.verify(text, key: key, nowMs: now)
            }
        }
    }

    @Test func theCallbackRefusesAStateItDidNotMake() async throws {
        let f = try await Self.fixture()
        let secret = Self.google.clientSecret
        let now = SystemClock().nowMillis()
        let good = CalendarConnectState(tenantID: f.a.id, calendarID: "primary", expiresAtMs: now + 600_000).signed(key: secret)
        let expired = CalendarConnectState(tenantID: f.a.id, calendarID: "primary", expiresAtMs: now - 1000).signed(key: secret)
        let forged = CalendarConnectState(tenantID: f.b.id, calendarID: "primary", expiresAtMs: now + 600_000).signed(key: "guessed")
        let altered = (good.first == "0" ? "1" : "0") + good.dropFirst()
        try await f.test { client in
            for (query, what) in [
                ("code=abc", "no state"), ("code=abc&state=zz", "garbage"), ("code=abc&state=\(forged)", "forged"),
                ("code=abc&state=\(expired)", "expired"), ("code=abc&state=\(altered)", "altered"),
            ] {
                // No API key: the provider sends a browser here.
                let answer = try await client.call(.get, "/v1/calendars/callback?" + query, key: nil)
                #expect(
                    answer.status == 400 && Self.code(answer) == "invalid_state" && Self.field(answer) == "state",
                    "\(what): \(answer.body.text)")
            }
            let late = try await client.call(.get, "/v1/calendars/callback?code=abc&state=\(expired)", key: nil)
            #expect(Self.message(late).contains("expired"), "\(late.body.text)")

            // A good state gets past the check: declined, no code, or here no key to seal the token with.
            let declined = try await client.call(.get, "/v1/calendars/callback?error=access_denied&state=\(good)", key: nil)
            #expect(declined.status == 400 && Self.code(declined) == "consent_refused", "\(declined.body.text)")
            let noCode = try await client.call(.get, "/v1/calendars/callback?state=\(good)", key: nil)
            #expect(noCode.status == 400 && Self.field(noCode) == "code", "\(noCode.body.text)")
            let unsealed = try await client.call(.get, "/v1/calendars/callback?code=abc&state=\(good)", key: nil)
            #expect(unsealed.status == 503 && Self.message(unsealed).contains("SPOOL_SECRET_KEY is not set"), "\(unsealed.body.text)")
        }
        #expect(try await CalendarConnectionStore(pool: f.pool).list(tenant: f.a.id).isEmpty)
        #expect(try await CalendarConnectionStore(pool: f.pool).list(tenant: f.b.id).isEmpty)

        // Without the OAuth client configured, neither end of the flow is served.
        let bare = try await Self.fixture(oauth: false)
        try await bare.test { client in
            let callback = try await client.call(.get, "/v1/calendars/callback?code=abc&state=\(good)", key: nil)
            #expect(callback.status == 503 && Self.code(callback) == "not_configured", "\(callback.body.text)")
        }
    }

    @Test func aTenantSetsHowOftenItsCalendarsSyncAndItsReminders() async throws {
        let f = try await Self.fixture()
        let store = CalendarConnectionStore(pool: f.pool, enqueuer: f.queue.enqueuer)
        let id = try await store.create(tenant: f.a.id, calendarID: "primary") { "sealed-\($0)" }
        let scheduleID = try #require(try await store.get(id, tenant: nil)?.scheduleID)
        try await f.test { client in
            let shown = try await client.call(.get, "/v1/calendars/settings", key: f.a.read)
            #expect(shown.status == 200 && shown.body["sync_every_seconds"] == .null, "\(shown.body.text)")
            #expect(shown.body["reminder_leads_minutes"] == .array([.number(1440), .number(120)]))

            let changed = try await client.call(
                .put, "/v1/calendars/settings", key: f.a.admin,
                json: #"{"sync_every": "10m", "reminder_leads_minutes": [2880, 60], "reminder_template": "See you {{date}} at {{time}}"}"#)
            #expect(changed.status == 200, "\(changed.body.text)")
            #expect(changed.body["sync_every_seconds"] == .number(600) && changed.body["reminder_leads_minutes"] == .array([.number(2880), .number(60)]))
            #expect(changed.body["reminder_template"] == .string("See you {{date}} at {{time}}"))
            // The connection's schedule follows at once.
            let schedule = try #require(try await ScheduleStore(pool: f.pool, enqueuer: f.queue.enqueuer).find(scheduleID, tenantID: nil))
            #expect(schedule.everyMs == 600_000)

            // Refusals name the field; nothing changes.
            let tooOften = try await client.call(.put, "/v1/calendars/settings", key: f.a.admin, json: #"{"sync_every": "10s"}"#)
            #expect(tooOften.status == 422 && Self.field(tooOften) == "sync_every", "\(tooOften.body.text)")
            let badTemplate = try await client.call(.put, "/v1/calendars/settings", key: f.a.admin, json: #"{"reminder_template": "Hi {{nope}}"}"#)
            #expect(badTemplate.status == 422 && Self.field(badTemplate) == "reminder_template", "\(badTemplate.body.text)")
            let unknown = try await client.call(.put, "/v1/calendars/settings", key: f.a.admin, json: #"{"sync_evry": "10m"}"#)
            #expect(unknown.status == 422 && Self.field(unknown) == "sync_evry")
            // A read key cannot change them; another tenant's are its own.
            #expect(try await client.call(.put, "/v1/calendars/settings", key: f.a.read, json: #"{"sync_every": null}"#).status == 403)
            #expect(try await client.call(.get, "/v1/calendars/settings", key: f.b.read).body["sync_every_seconds"] == .null)

            let reset = try await client.call(.put, "/v1/calendars/settings", key: f.a.admin, json: #"{"sync_every": null}"#)
            #expect(reset.status == 200 && reset.body["sync_every_seconds"] == .null)
        }
        let schedule = try #require(try await ScheduleStore(pool: f.pool, enqueuer: f.queue.enqueuer).find(scheduleID, tenantID: nil))
        #expect(schedule.everyMs == 300_000)
    }

    @Test func aTenantCannotDeleteTheSyncScheduleSpoolMadeButCanPauseIt() async throws {
        let f = try await Self.fixture()
        let store = CalendarConnectionStore(pool: f.pool, enqueuer: f.queue.enqueuer)
        let id = try await store.create(tenant: f.a.id, calendarID: "primary") { "sealed-\($0)" }
        let scheduleID = try #require(try await store.get(id, tenant: nil)?.scheduleID)
        try await f.test { client in
            let refused = try await client.call(.delete, "/v1/schedules/\(scheduleID)", key: f.a.admin)
            #expect(refused.status == 409 && Self.code(refused) == "kept_by_spool", "\(refused.body.text)")
            #expect(try await client.call(.post, "/v1/schedules/\(scheduleID)/pause", key: f.a.admin).status == 200)
            // Another tenant learns nothing; the operator may delete it.
            #expect(try await client.call(.delete, "/v1/schedules/\(scheduleID)", key: f.b.admin).status == 404)
            #expect(try await client.call(.delete, "/v1/schedules/\(scheduleID)", key: APIFixture.operatorKey).status == 204)
        }
    }
}
