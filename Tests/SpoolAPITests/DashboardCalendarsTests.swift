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

/// The dashboard's calendars page against real PostgreSQL and Redis: connections with their status
/// and the provider's last error shown as text, "sync now" enqueuing one `calendar-sync` job, reconnect
/// and connect redirecting to the consent page with the API's signed state, another tenant's
/// connection a 404, and the page without the settings connecting needs.
@Suite struct DashboardCalendarsTests {
    static let secrets = SecretBox(current: try! SecretKey(base64: "c2lnbmluZy1rZXktZm9yLWRhc2hib2FyZC10ZXN0cyE="))

    /// `calendar-sync` declared as Jobs/ does; connecting configured (the OAuth client and
    /// SPOOL_SECRET_KEY) unless `connecting` is false.
    static func fixture(connecting: Bool = true) async throws -> APIFixture {
        try await APIFixture(kinds: [QueueFixture.noop, CalendarAPITests.calendarSync]) {
            if connecting {
                $0.googleOAuth = CalendarAPITests.google
                $0.secrets = Self.secrets
            }
        }
    }

    static func connect(_ f: APIFixture, tenant: String, calendar: String = "primary") async throws -> String {
        try await CalendarConnectionStore(pool: f.pool, enqueuer: f.queue.enqueuer).create(tenant: tenant, calendarID: calendar) {
            "sealed-\($0)"
        }
    }

    static func syncJobs(_ f: APIFixture, tenant: String) async throws -> [JobSummary] {
        try await f.queue.admin.jobs(state: .pending, queue: "calendar", kind: CalendarConnectionStore.syncKind, tenant: tenant).jobs
    }

    /// The consent page's query, from a redirect to it.
    static func consentQuery(_ location: String?) throws -> [String: String] {
        let prefix = CalendarAPITests.google.authURL + "?"
        guard let location, location.hasPrefix(prefix) else { throw TestFailure("not the consent page: \(location ?? "none")") }
        return Dictionary(FormEncoding.decode(String(location.dropFirst(prefix.count))), uniquingKeysWith: { first, _ in first })
    }

    @Test func syncNowEnqueuesOneCalendarSyncJob() async throws {
        let f = try await Self.fixture()
        let id = try await Self.connect(f, tenant: f.a.id)
        let sync = "/dashboard/calendars/\(id)/sync"
        try await f.test { client in
            let cookie = try await DashboardTests.signIn(client, key: f.a.admin)
            let page = try await client.dashboard(.get, "/dashboard/calendars", session: cookie)
            #expect(page.status == 200)
            DashboardTests.expectNothingInline(page.body)
            let row = "<th scope=\"row\">primary<span class=\"quiet block\">\(id)</span></th>"
            #expect(page.body.contains(row), "\(page.body.prefix(3000))")
            #expect(page.body.contains("class=\"state state-ok\"") && page.body.contains("never") && page.body.contains("no channel"))
            // The connect form leads to the consent page: this page's policy allows that origin, and no other.
            #expect(page.headers[.contentSecurityPolicy]?.contains("form-action 'self' https://accounts.example.test;") == true)
            #expect(page.headers[.contentSecurityPolicy]?.contains("script-src 'self'") == true)
            #expect(page.body.contains("name=\"calendar_id\" value=\"primary\""))

            let token = try DashboardTests.csrf(in: page.body, action: sync)
            #expect(try await client.dashboard(.post, sync, session: cookie).status == 403)
            #expect(try await Self.syncJobs(f, tenant: f.a.id).isEmpty)
            let first = try await client.dashboard(.post, sync, session: cookie, form: [("csrf", token)])
            #expect(first.status == 303 && first.location == "/dashboard/calendars?synced=\(id)", "\(first.status) \(first.location ?? "")")
            let jobs = try await Self.syncJobs(f, tenant: f.a.id)
            #expect(jobs.count == 1)
            let firstJob = try #require(jobs.first)
            let job = try #require(try await f.queue.record(firstJob.id))
            #expect(job.kind == "calendar-sync" && job.tenant == f.a.id)
            #expect(job.args.flatMap { try? JSONValue.parse($0) } == .object(["connection": .string(id)]))

            // A second folds into the one waiting.
            let second = try await client.dashboard(.post, sync, session: cookie, form: [("csrf", token)])
            #expect(second.status == 303 && second.location == "/dashboard/calendars?coalesced=\(id)")
            #expect(try await Self.syncJobs(f, tenant: f.a.id).count == 1)
            let flashed = try await client.dashboard(.get, "/dashboard/calendars?synced=\(id)", session: cookie)
            #expect(flashed.body.contains("A sync of \(id) is enqueued."))
        }
    }

    @Test func reconnectAndConnectRedirectToTheConsentPageWithTheAPIsSignedState() async throws {
        let f = try await Self.fixture()
        let id = try await Self.connect(f, tenant: f.a.id)
        let store = CalendarConnectionStore(pool: f.pool, enqueuer: f.queue.enqueuer)
        try await store.markNeedsReauth(connection: id, reason: "invalid_grant: <script>alert(1)</script>")
        let others = try await Self.connect(f, tenant: f.b.id)
        let connect = "/dashboard/calendars/connect"
        try await f.test { client in
            let cookie = try await DashboardTests.signIn(client, key: f.a.admin)
            let page = try await client.dashboard(.get, "/dashboard/calendars", session: cookie)
            #expect(page.status == 200)
            DashboardTests.expectNothingInline(page.body)
            #expect(page.body.contains("class=\"state state-needs_reauth\""))
            #expect(page.body.contains("invalid_grant: &lt;script&gt;alert(1)&lt;/script&gt;") && !page.body.contains("<script>alert(1)"))
            #expect(page.body.contains("name=\"connection\" value=\"\(id)\""))
            #expect(!page.body.contains("action=\"/dashboard/calendars/\(id)/sync\""))
            let token = try DashboardTests.csrf(in: page.body, action: connect)

            // Reconnect: to the consent page, for this tenant's calendar, with a state the callback takes.
            #expect(try await client.dashboard(.post, connect, session: cookie, form: [("connection", id)]).status == 403)
            let reconnect = try await client.dashboard(.post, connect, session: cookie, form: [("csrf", token), ("connection", id)])
            #expect(reconnect.status == 303, "\(reconnect.body.prefix(1000))")
            let query = try Self.consentQuery(reconnect.location)
            #expect(query["client_id"] == CalendarAPITests.google.clientID && query["access_type"] == "offline")
            #expect(query["redirect_uri"] == CalendarAPITests.google.redirectURL && query["prompt"] == "consent")
            let state = try CalendarConnectState.verify(
                try #require(query["state"]), key: CalendarAPITests.google.clientSecret, nowMs: SystemClock().nowMillis())
            #expect(state.tenantID == f.a.id && state.calendarID == "primary")

            // A new calendar of its own; never another tenant's, whatever the form says.
            let fresh = try await client.dashboard(
                .post, connect, session: cookie,
                form: [("csrf", token), ("calendar_id", "team@group.calendar.google.com"), ("tenant", f.b.id)])
            let freshState = try CalendarConnectState.verify(
                try #require(try Self.consentQuery(fresh.location)["state"]), key: CalendarAPITests.google.clientSecret,
                nowMs: SystemClock().nowMillis())
            #expect(freshState.tenantID == f.a.id && freshState.calendarID == "team@group.calendar.google.com")
            let badCalendar = try await client.dashboard(.post, connect, session: cookie, form: [("csrf", token), ("calendar_id", "a\nb")])
            #expect(badCalendar.status == 422 && badCalendar.body.contains("calendar_id:"), "\(badCalendar.body.prefix(1000))")
            let foreign = try await client.dashboard(.post, connect, session: cookie, form: [("csrf", token), ("connection", others)])
            #expect(foreign.status == 404)

            // A connection that needs re-authorisation cannot sync, and one that is fine is not reconnected.
            let sync = "/dashboard/calendars/\(id)/sync"
            let syncToken = try DashboardTests.session(cookie).csrfToken(for: sync)
            let refused = try await client.dashboard(.post, sync, session: cookie, form: [("csrf", syncToken)])
            #expect(refused.status == 409 && refused.body.contains("must be connected again"), "\(refused.body.prefix(1000))")
            let other = try await DashboardTests.signIn(client, key: f.b.admin)
            let otherToken = try DashboardTests.session(other).csrfToken(for: connect)
            let working = try await client.dashboard(.post, connect, session: other, form: [("csrf", otherToken), ("connection", others)])
            #expect(working.status == 409, "\(working.body.prefix(1000))")

            // The operator connects for the tenant its form names, which must exist.
            let operatorCookie = try await DashboardTests.signIn(client, key: APIFixture.operatorKey)
            let filtered = try await client.dashboard(.get, "/dashboard/calendars?tenant=\(f.b.id)", session: operatorCookie)
            #expect(filtered.body.contains("name=\"tenant\" value=\"\(f.b.id)\"") && filtered.body.contains("Tenant B (\(f.b.id))"))
            #expect(!filtered.body.contains(id))
            let operatorToken = try DashboardTests.csrf(in: filtered.body, action: connect)
            let forB = try await client.dashboard(
                .post, connect, session: operatorCookie, form: [("csrf", operatorToken), ("calendar_id", "primary"), ("tenant", f.b.id)])
            let forBState = try CalendarConnectState.verify(
                try #require(try Self.consentQuery(forB.location)["state"]), key: CalendarAPITests.google.clientSecret,
                nowMs: SystemClock().nowMillis())
            #expect(forBState.tenantID == f.b.id)
            let nobody = try await client.dashboard(
                .post, connect, session: operatorCookie,
                form: [("csrf", operatorToken), ("calendar_id", "primary"), ("tenant", "tn_nobody")])
            #expect(nobody.status == 422 && nobody.body.contains("no tenant"))
            // Without a tenant named, every tenant's are listed, and there is no tenant to connect for.
            let everyone = try await client.dashboard(.get, "/dashboard/calendars", session: operatorCookie)
            #expect(everyone.status == 200 && !everyone.body.contains("name=\"calendar_id\""))
        }
    }

    @Test func anotherTenantsCalendarIsNotFound() async throws {
        let f = try await Self.fixture()
        let id = try await Self.connect(f, tenant: f.a.id)
        try await f.test { client in
            let other = try await DashboardTests.signIn(client, key: f.b.admin)
            let page = try await client.dashboard(.get, "/dashboard/calendars?tenant=\(f.a.id)", session: other)
            #expect(page.status == 200 && !page.body.contains(id) && page.body.contains("No calendars connected."))
            let tooLong = String(repeating: "a", count: 65)
            for connection in [id, tooLong, "cal_nosuch"] {
                let path = "/dashboard/calendars/\(connection)/sync"
                let token = try DashboardTests.session(other).csrfToken(for: path)
                let answer = try await client.dashboard(.post, path, session: other, form: [("csrf", token)])
                #expect(answer.status == 404, "\(path)")
            }
        }
        #expect(try await Self.syncJobs(f, tenant: f.a.id).isEmpty)
    }

    @Test func withoutTheSettingsThePageSaysConnectingIsNotConfigured() async throws {
        let f = try await Self.fixture(connecting: false)
        let id = try await Self.connect(f, tenant: f.a.id)
        try await CalendarConnectionStore(pool: f.pool, enqueuer: f.queue.enqueuer).markNeedsReauth(connection: id, reason: "invalid_grant")
        try await f.test { client in
            let cookie = try await DashboardTests.signIn(client, key: f.a.admin)
            let page = try await client.dashboard(.get, "/dashboard/calendars", session: cookie)
            #expect(page.status == 200 && page.body.contains("SPOOL_SECRET_KEY is not set"))
            #expect(!page.body.contains("name=\"connection\"") && !page.body.contains("name=\"calendar_id\""))
            DashboardTests.expectSecurityHeaders(page, "calendars without connecting")
            let token = try DashboardTests.session(cookie).csrfToken(for: "/dashboard/calendars/connect")
            let refused = try await client.dashboard(
                .post, "/dashboard/calendars/connect", session: cookie, form: [("csrf", token), ("connection", id)])
            #expect(refused.status == 503 && refused.location == nil)
        }
    }
}
