import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import SpoolHTTP
import SpoolQueue
import SpoolRedis
import SpoolStore
import SpoolSupport
import TestSupport
import Testing

@testable import SpoolAPI

/// The dashboard's skeleton and first pages, in process against real Redis and PostgreSQL: sign-in and
/// its cookie, sessions that end, CSRF on every form, the security headers, escaping, the overview with
/// its chart, the queues page with pause and resume, and the live feed.
@Suite struct DashboardTests {
    /// A dashboard answer: its status, headers and body as text.
    struct Page: Sendable {
        let status: Int
        let headers: HTTPFields
        let body: String

        var location: String? { headers[.location] }
        /// The session's Set-Cookie line, whole.
        var sessionSetCookie: String? { headers[values: .setCookie].first { $0.hasPrefix("spool_session=") } }
        /// `spool_session=<value>`, as a Cookie header sends it back.
        var sessionCookie: String? { sessionSetCookie.map { String($0.prefix { $0 != ";" }) } }
        /// The Set-Cookie line's attributes: `HttpOnly`, `SameSite=Strict`, `Path=/dashboard`...
        var cookieAttributes: Set<String> {
            Set((sessionSetCookie ?? "").components(separatedBy: "; ").dropFirst())
        }
    }

    static func signIn(_ client: any TestClientProtocol, key: String, headers: [(String, String)] = []) async throws -> String {
        let answer = try await client.dashboard(.post, "/dashboard/login", form: [("key", key)], headers: headers)
        guard answer.status == 303, let cookie = answer.sessionCookie else {
            throw TestFailure("sign-in answered \(answer.status): \(answer.body.prefix(300))")
        }
        return cookie
    }

    /// The CSRF token of the form that posts to `action`, read from the page as a browser would.
    static func csrf(in html: String, action: String) throws -> String {
        guard let form = html.range(of: "action=\"\(action)\"") else { throw TestFailure("no form posts to \(action)") }
        let rest = html[form.upperBound...]
        guard let field = rest.range(of: "name=\"csrf\" value=\"") else { throw TestFailure("the form to \(action) has no csrf field") }
        return String(rest[field.upperBound...].prefix { $0 != "\"" })
    }

    static func isPaused(_ f: APIFixture, _ queue: String = "default") async throws -> Bool {
        try await f.queue.redis.run("EXISTS", f.queue.keys.paused(queue)).int == 1
    }

    static func expectSecurityHeaders(_ page: Page, cacheable: Bool = false, _ label: String) {
        #expect(page.headers[.contentSecurityPolicy] == DashboardHeaders.contentSecurityPolicy, "\(label)")
        #expect(page.headers[.contentSecurityPolicy]?.contains("script-src 'self'") == true, "\(label)")
        #expect(page.headers[.xContentTypeOptions] == "nosniff", "\(label)")
        #expect(page.headers[HTTPField.Name("Referrer-Policy")!] == "same-origin", "\(label)")
        if cacheable {
            #expect(page.headers[.cacheControl]?.contains("max-age") == true, "\(label)")
        } else {
            #expect(page.headers[.cacheControl] == "no-store", "\(label)")
        }
    }

    /// No inline style anywhere, and no script but the dashboard's own file.
    static func expectNothingInline(_ html: String) {
        #expect(!html.contains(" style=") && !html.contains("<style"))
        let scripts = html.components(separatedBy: "<script").count - 1
        let ownScripts = html.components(separatedBy: "<script src=\"/dashboard/assets/dashboard.js?v=").count - 1
        #expect(scripts == 1 && ownScripts == 1, "\(scripts) script tags")
    }

    @Test func theLoginPageAndTheAssetsRenderWithTheSecurityHeaders() async throws {
        let f = try await APIFixture()
        try await f.test { client in
            let login = try await client.dashboard(.get, "/dashboard/login")
            #expect(login.status == 200 && login.headers[.contentType] == "text/html; charset=utf-8")
            #expect(login.body.contains("action=\"/dashboard/login\"") && login.body.contains("name=\"key\""))
            #expect(!login.body.contains("Log out"))
            Self.expectSecurityHeaders(login, "login")
            Self.expectNothingInline(login.body)
            for (path, type) in [("/dashboard/assets/dashboard.css", "text/css"), ("/dashboard/assets/dashboard.js", "text/javascript")] {
                let asset = try await client.dashboard(.get, path)
                #expect(asset.status == 200 && asset.headers[.contentType]?.hasPrefix(type) == true, "\(path)")
                #expect(!asset.body.isEmpty)
                Self.expectSecurityHeaders(asset, cacheable: true, path)
            }
        }
    }

    @Test func aKeyThatCannotOpenTheDashboardGetsTheFormAgainWith401() async throws {
        let f = try await APIFixture()
        let revoked = try await f.tenants.createKey(tenantID: f.a.id, scope: .admin)
        #expect(try await f.tenants.revokeKey(id: revoked.id))
        try await f.test { client in
            // Made up, a read key, an enqueue key, a revoked admin key, nothing: the same answer for each.
            for key in ["not-a-key", f.a.read, f.a.enqueue, revoked.key, ""] {
                let answer = try await client.dashboard(.post, "/dashboard/login", form: [("key", key)])
                #expect(answer.status == 401, "\(key.prefix(12))")
                #expect(answer.body.contains(DashboardAuthRoutes.refusedKey) && answer.body.contains("name=\"key\""))
                #expect(answer.sessionSetCookie == nil)
                Self.expectSecurityHeaders(answer, "refused login")
            }
        }
    }

    @Test func theOperatorSignsInWithAStrictCookieThatIsSecureOverHTTPS() async throws {
        let f = try await APIFixture()
        try await f.test { client in
            let answer = try await client.dashboard(.post, "/dashboard/login", form: [("key", " \(APIFixture.operatorKey)\n")])
            #expect(answer.status == 303 && answer.location == "/dashboard")
            let attributes = answer.cookieAttributes
            #expect(attributes.isSuperset(of: ["HttpOnly", "SameSite=Strict", "Path=/dashboard", "Max-Age=28800"]), "\(attributes)")
            #expect(!attributes.contains("Secure"), "\(attributes)")
            // The session names its holder, never the key.
            let cookie = try #require(answer.sessionCookie)
            #expect(!cookie.contains(APIFixture.operatorKey) && !cookie.contains(Hashing.hex(Array(APIFixture.operatorKey.utf8))))
            let overview = try await client.dashboard(.get, "/dashboard", session: cookie)
            #expect(overview.status == 200 && overview.body.contains("Log out"))

            let proxied = try await client.dashboard(
                .post, "/dashboard/login", form: [("key", APIFixture.operatorKey)], headers: [("X-Forwarded-Proto", "https")])
            #expect(proxied.status == 303 && proxied.cookieAttributes.contains("Secure"), "\(proxied.cookieAttributes)")
        }
        // Without SPOOL_SECRET_KEY, the signing key is made once in Redis for every API process.
        #expect(try await f.queue.redis.run("STRLEN", f.queue.keys.dashboardSigningKey).int == 64)
    }

    @Test func anHTTPSPublicURLAndTheSecretKeyMakeSecureCookiesSignedWithoutRedis() async throws {
        let secret = try SecretKey(base64: "c2lnbmluZy1rZXktZm9yLWRhc2hib2FyZC10ZXN0cyE=")
        let f = try await APIFixture {
            $0.publicURL = "https://spool.example"
            $0.secrets = SecretBox(current: secret)
        }
        try await f.test { client in
            let answer = try await client.dashboard(.post, "/dashboard/login", form: [("key", APIFixture.operatorKey)])
            #expect(answer.status == 303 && answer.cookieAttributes.contains("Secure"), "\(answer.cookieAttributes)")
            let cookie = try #require(answer.sessionCookie)
            #expect(try await client.dashboard(.get, "/dashboard", session: cookie).status == 200)
        }
        #expect(try await f.queue.redis.run("EXISTS", f.queue.keys.dashboardSigningKey).int == 0)
    }

    @Test func withoutAGoodSessionPagesRedirectToLoginAndEverythingElseIs401() async throws {
        let f = try await APIFixture()
        try await f.test { client in
            for path in ["/dashboard", "/dashboard/queues"] {
                let page = try await client.dashboard(.get, path)
                #expect(page.status == 303 && page.location == "/dashboard/login", "\(path)")
                Self.expectSecurityHeaders(page, path)
            }
            #expect(try await client.dashboard(.get, "/dashboard/live").status == 401)
            let post = try await client.dashboard(.post, "/dashboard/queues/default/pause", form: [("csrf", "00")])
            #expect(post.status == 401 && post.body.contains("Sign in"))
            #expect(try await !Self.isPaused(f))

            // Forged, altered or foreign sessions are no session, and the browser is told to drop them.
            let cookie = try await Self.signIn(client, key: APIFixture.operatorKey)
            let value = cookie.dropFirst("spool_session=".count)
            let altered = "spool_session=" + (value.first == "7" ? "6" : "7") + value.dropFirst()
            for bad in ["spool_session=00.00", altered, "spool_session=" + value.replacingOccurrences(of: ".", with: ".00")] {
                let page = try await client.dashboard(.get, "/dashboard", session: bad)
                #expect(page.status == 303 && page.location == "/dashboard/login")
                #expect(page.cookieAttributes.contains("Max-Age=0"), "\(page.cookieAttributes)")
            }
            #expect(try await client.dashboard(.get, "/dashboard", session: cookie).status == 200)
        }
    }

    /// The chart comes from the per-minute hashes the workers' metrics pusher keeps.
    @Test func theOverviewDrawsTheLastHourAndTheQueuesWithTheHeaders() async throws {
        let f = try await APIFixture()
        try await f.queue.seedPending(2)
        let pusher = JobMetricsPusher(redis: f.queue.redis, keys: f.queue.keys, logger: TestEnvironment.logger)
        let now = SystemClock().nowMillis()
        let twoMinutesAgo = now - 120_000
        let job = Job(
            id: "j1", queue: "default", kind: "noop", args: "{}", attempt: 0, maxAttempts: 3, enqueuedAt: now, tenant: nil, leaseToken: "t")
        for _ in 0..<120 { pusher.settled(job, outcome: .completed, duration: .milliseconds(3), at: twoMinutesAgo) }
        for _ in 0..<60 { pusher.settled(job, outcome: .dead(reason: "broken"), duration: .milliseconds(3), at: twoMinutesAgo) }
        await pusher.flush()
        let minuteKey = f.queue.keys.metricsMinute(twoMinutesAgo / 60_000)
        #expect(try await f.queue.redis.run("HGET", minuteKey, "completed").int == 120)
        #expect(try await f.queue.redis.run("HGET", minuteKey, "dead").int == 60)
        let ttl = try await f.queue.redis.run("TTL", minuteKey).int ?? 0
        #expect(ttl > 3600 && ttl <= JobMetricsPusher.minuteTTLSeconds)

        try await f.test { client in
            let cookie = try await Self.signIn(client, key: APIFixture.operatorKey)
            let page = try await client.dashboard(.get, "/dashboard", session: cookie)
            #expect(page.status == 200)
            Self.expectSecurityHeaders(page, "overview")
            Self.expectNothingInline(page.body)
            #expect(page.body.contains("<svg class=\"chart-svg\"") && page.body.contains("<polyline class=\"chart-processed\" points=\""))
            #expect(page.body.contains("Last hour: 120 processed and 60 failed"), "\(page.body.prefix(3000))")
            // 120 in a minute is 2/s, the top of the scale.
            #expect(page.body.contains(">2.0</text>"))
            #expect(page.body.contains("data-queue=\"default\" data-field=\"pending\">2<"))
            #expect(page.body.contains("data-live-url=\"/dashboard/live\""))
            #expect(page.body.contains("href=\"/dashboard/queues\""))
        }
    }

    @Test func aTenantNameIsShownAsTextNeverAsMarkup() async throws {
        let f = try await APIFixture()
        let evil = try await f.tenants.create(name: "<script>alert(1)</script>")
        try await f.tenants.setPaused(id: evil.id, true)
        let evilAdmin = try await f.tenants.createKey(tenantID: evil.id, scope: .admin).key
        try await f.test { client in
            let operatorCookie = try await Self.signIn(client, key: APIFixture.operatorKey)
            let overview = try await client.dashboard(.get, "/dashboard", session: operatorCookie)
            #expect(overview.status == 200)
            let shown = "Tenant &lt;script&gt;alert(1)&lt;/script&gt; (\(evil.id)) is paused"
            #expect(overview.body.contains(shown), "\(overview.body.prefix(4000))")
            #expect(!overview.body.contains("<script>alert(1)"))
            Self.expectNothingInline(overview.body)

            let tenantCookie = try await Self.signIn(client, key: evilAdmin)
            let own = try await client.dashboard(.get, "/dashboard", session: tenantCookie)
            #expect(own.status == 200 && own.body.contains("<h1>&lt;script&gt;alert(1)&lt;/script&gt;</h1>"))
            #expect(!own.body.contains("<script>alert(1)"))
        }
    }

    @Test func pauseAndResumeTakeAValidCSRFTokenAndNothingElse() async throws {
        let f = try await APIFixture()
        try await f.test { client in
            let cookie = try await Self.signIn(client, key: APIFixture.operatorKey)
            let queues = try await client.dashboard(.get, "/dashboard/queues", session: cookie)
            #expect(queues.status == 200 && queues.body.contains("<th scope=\"row\">default</th>"))
            Self.expectSecurityHeaders(queues, "queues")
            Self.expectNothingInline(queues.body)
            let pause = "/dashboard/queues/default/pause"
            let token = try Self.csrf(in: queues.body, action: pause)

            // Without a token, with one for another action, another session's, or a made-up one: 403, nothing paused.
            let other = try await Self.signIn(client, key: APIFixture.operatorKey)
            let othersPage = try await client.dashboard(.get, "/dashboard/queues", session: other)
            let othersToken = try Self.csrf(in: othersPage.body, action: pause)
            let logoutToken = try Self.csrf(in: queues.body, action: "/dashboard/logout")
            let refusals: [[(String, String)]] = [
                [], [("csrf", "")], [("csrf", logoutToken)], [("csrf", othersToken)], [("csrf", String(repeating: "0", count: 64))],
            ]
            for form in refusals {
                let refused = try await client.dashboard(.post, pause, session: cookie, form: form)
                #expect(refused.status == 403 && refused.body.contains("Form refused"), "\(form)")
                Self.expectSecurityHeaders(refused, "403")
            }
            // A token in the query string or a JSON body is not a form's.
            #expect(try await client.dashboard(.post, pause + "?csrf=\(token)", session: cookie).status == 403)
            #expect(try await !Self.isPaused(f))

            let paused = try await client.dashboard(.post, pause, session: cookie, form: [("csrf", token)])
            #expect(paused.status == 303 && paused.location == "/dashboard/queues?paused=default")
            #expect(try await Self.isPaused(f))
            let after = try await client.dashboard(.get, paused.location ?? "", session: cookie)
            #expect(after.body.contains("Queue default paused.") && after.body.contains("class=\"state state-paused\""))
            let resume = "/dashboard/queues/default/resume"
            let resumeToken = try Self.csrf(in: after.body, action: resume)
            let resumed = try await client.dashboard(.post, resume, session: cookie, form: [("csrf", resumeToken)])
            #expect(resumed.status == 303 && resumed.location == "/dashboard/queues?resumed=default")
            #expect(try await !Self.isPaused(f))

            // A queue that does not exist, or a name that could not be one: 404, whatever the token.
            for name in ["nope", "%3Cscript%3E"] {
                let path = "/dashboard/queues/\(name)/pause"
                let token = try Self.session(cookie).csrfToken(for: path)
                let answer = try await client.dashboard(.post, path, session: cookie, form: [("csrf", token)])
                #expect(answer.status == 404, "\(name)")
            }
            // A flash names only a valid queue name, and escaped anyway.
            let flashed = try await client.dashboard(.get, "/dashboard/queues?paused=%3Cb%3E", session: cookie)
            #expect(!flashed.body.contains("class=\"flash\""))
        }
    }

    @Test func aTenantAdminSeesOnlyItsOwnAndGets404ForTheRest() async throws {
        let f = try await APIFixture()
        _ = try await f.queue.enqueuer.enqueue(EnqueueRequest(kind: "noop", args: "{}", tenant: f.a.id))
        try await f.test { client in
            let cookie = try await Self.signIn(client, key: f.a.admin)
            let overview = try await client.dashboard(.get, "/dashboard", session: cookie)
            #expect(overview.status == 200 && overview.body.contains("Tenant A") && overview.body.contains(f.a.id))
            #expect(overview.body.contains("<tr><th scope=\"row\">default</th><td>1</td></tr>"), "\(overview.body.prefix(3000))")
            #expect(!overview.body.contains("href=\"/dashboard/queues\"") && !overview.body.contains("data-live-url"))
            #expect(overview.body.contains("Log out"))
            let queues = try await client.dashboard(.get, "/dashboard/queues", session: cookie)
            #expect(queues.status == 404)
            Self.expectSecurityHeaders(queues, "tenant's 404")
            #expect(try await client.dashboard(.get, "/dashboard/live", session: cookie).status == 404)
            let path = "/dashboard/queues/default/pause"
            let token = try Self.session(cookie).csrfToken(for: path)
            let pause = try await client.dashboard(.post, path, session: cookie, form: [("csrf", token)])
            #expect(pause.status == 404)
        }
        #expect(try await !Self.isPaused(f))
    }

    @Test func aSessionEndsWithinSecondsOfItsKeysRevocation() async throws {
        let f = try await APIFixture()
        let key = try await f.tenants.createKey(tenantID: f.a.id, scope: .admin)
        try await f.test { client in
            let cookie = try await Self.signIn(client, key: key.key)
            #expect(try await client.dashboard(.get, "/dashboard", session: cookie).status == 200)
            #expect(try await f.tenants.revokeKey(id: key.id))
            try await waitUntil("the revoked key's session to end", timeout: .seconds(15)) {
                let page = try await client.dashboard(.get, "/dashboard", session: cookie)
                return page.status == 303 && page.location == "/dashboard/login"
            }
            #expect(try await client.dashboard(.post, "/dashboard/logout", session: cookie, form: [("csrf", "x")]).status == 401)
        }
    }

    @Test func logoutTakesItsTokenAndClearsTheCookie() async throws {
        let f = try await APIFixture()
        try await f.test { client in
            let cookie = try await Self.signIn(client, key: APIFixture.operatorKey)
            let overview = try await client.dashboard(.get, "/dashboard", session: cookie)
            #expect(try await client.dashboard(.post, "/dashboard/logout", session: cookie).status == 403)
            let token = try Self.csrf(in: overview.body, action: "/dashboard/logout")
            let out = try await client.dashboard(.post, "/dashboard/logout", session: cookie, form: [("csrf", token)])
            #expect(out.status == 303 && out.location == "/dashboard/login")
            #expect(out.sessionSetCookie?.hasPrefix("spool_session=;") == true, "\(out.sessionSetCookie ?? "none")")
            #expect(out.cookieAttributes.isSuperset(of: ["Max-Age=0", "Path=/dashboard", "HttpOnly", "SameSite=Strict"]))
        }
    }

    @Test func theLiveFeedAnswersEveryQueuesCountsInOneCall() async throws {
        let f = try await APIFixture()
        try await f.queue.seedPending(3)
        try await f.test { client in
            let cookie = try await Self.signIn(client, key: APIFixture.operatorKey)
            let live = try await client.dashboard(.get, "/dashboard/live", session: cookie)
            #expect(live.status == 200 && live.headers[.contentType] == "application/json")
            Self.expectSecurityHeaders(live, "live")
            let body = try JSONValue.parse(live.body)
            let queue = body["queues"]?["default"]
            #expect(queue?["pending"] == .number(3) && queue?["state"] == .string("running") && queue?["dead"] == .number(0))
            #expect(queue?["latency"]?.stringValue?.hasSuffix(" s") == true)
            #expect(body["summary"]?["pending"] == .number(3) && body["summary"]?["processed_per_second"] == .string("0.00/s"))

            try await f.queue.admin.pause(queue: "default")
            try await f.queue.seedPending(1)
            let again = try JSONValue.parse(try await client.dashboard(.get, "/dashboard/live", session: cookie).body)
            #expect(again["queues"]?["default"]?["pending"] == .number(4) && again["queues"]?["default"]?["state"] == .string("paused"))
        }
    }

    /// The session's text: signed, bound to its expiry, and its CSRF tokens bound to one path each.
    @Test func aSessionIsSignedExpiresAndMakesOneTokenPerPath() throws {
        let key = Array(repeating: UInt8(7), count: 32)
        let session = DashboardSession.starting(.tenant(id: "tn_1", keyID: "k1"), nowMs: 1_000)
        let text = session.signed(key: key)
        #expect(DashboardSession.verify(text, key: key, nowMs: 2_000) == session)
        #expect(DashboardSession.verify(text, key: Array(repeating: 8, count: 32), nowMs: 2_000) == nil)
        #expect(DashboardSession.verify(text, key: key, nowMs: 1_000 + DashboardSession.lifetimeMs) == nil)
        #expect(DashboardSession.verify(String(text.dropLast()) + (text.last == "0" ? "1" : "0"), key: key, nowMs: 2_000) == nil)
        let token = session.csrfToken(for: "/dashboard/queues/a/pause")
        #expect(session.acceptsCSRF(token, for: "/dashboard/queues/a/pause"))
        #expect(!session.acceptsCSRF(token, for: "/dashboard/queues/a/resume"))
        #expect(!session.acceptsCSRF(nil, for: "/dashboard/queues/a/pause"))
        let other = DashboardSession.starting(.tenant(id: "tn_1", keyID: "k1"), nowMs: 1_000)
        #expect(!other.acceptsCSRF(token, for: "/dashboard/queues/a/pause"))
    }

    @Test func numbersAndTheChartsScaleReadAsRoundNumbers() {
        #expect(DashboardFormat.decimal(1.25, places: 1) == "1.3" && DashboardFormat.decimal(-0.001, places: 2) == "0.00")
        #expect(DashboardFormat.decimal(0.05, places: 3) == "0.050" && DashboardFormat.decimal(12, places: 0) == "12")
        #expect(DashboardFormat.rate(0.4166) == "0.42/s")
        #expect(DashboardFormat.age(seconds: 45) == "45 s" && DashboardFormat.age(seconds: 750) == "12 min")
        #expect(DashboardFormat.age(seconds: 11_100) == "3 h 5 min" && DashboardFormat.age(seconds: 187_200) == "2 d 4 h")
        #expect(DashboardChart.scaleTop(0) == 1 && DashboardChart.scaleTop(2) == 2 && DashboardChart.scaleTop(2.1) == 5)
        #expect(DashboardChart.scaleTop(0.013) == 0.02 && DashboardChart.scaleTop(730) == 1000)
        let idle = DashboardChart(DashboardTimeline(Array(repeating: RedisReply.null, count: 61)))
        #expect(idle.processedPoints.split(separator: " ").count == 60 && idle.processedPoints.hasPrefix("56.0,208.0"))
        #expect(idle.processedPoints.hasSuffix("630.0,208.0"))
    }

    /// Reads the session inside a cookie, to make a token for a form its holder was never shown.
    static func session(_ cookie: String) throws -> DashboardSession {
        let text = String(cookie.dropFirst("spool_session=".count))
        let parts = text.split(separator: ".")
        guard let payload = CalendarConnectState.bytes(hex: parts[0]) else { throw TestFailure("not a session: \(text.prefix(40))") }
        let fields = String(decoding: payload, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        guard fields.count == 7, let secret = CalendarConnectState.bytes(hex: fields[6]), let issued = Int64(fields[4]),
            let expires = Int64(fields[5])
        else { throw TestFailure("not a session: \(fields)") }
        return DashboardSession(holder: .tenant(id: "-", keyID: "-"), issuedAtMs: issued, expiresAtMs: expires, csrfSecret: secret)
    }
}

extension TestClientProtocol {
    /// A dashboard request with the session's cookie and a form body.
    func dashboard(
        _ method: HTTPRequest.Method, _ uri: String, session: String? = nil, form: [(String, String)]? = nil,
        headers extra: [(String, String)] = []
    ) async throws -> DashboardTests.Page {
        var headers = HTTPFields()
        if let session { headers[.cookie] = session }
        if form != nil { headers[.contentType] = "application/x-www-form-urlencoded" }
        for (name, value) in extra { headers[HTTPField.Name(name)!] = value }
        let body = form.map { ByteBuffer(string: FormEncoding.encode($0)) }
        return try await execute(uri: uri, method: method, headers: headers, body: body) {
            DashboardTests.Page(status: Int($0.status.code), headers: $0.headers, body: String(buffer: $0.body))
        }
    }
}
