import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SpoolPostgres
import SpoolQueue
import SpoolStore
import SpoolSupport
import TestSupport
import Testing

@testable import SpoolAPI

/// The dashboard's tenants page against real PostgreSQL and Redis: every tenant with its spend and
/// numbers, names escaped; the kill switch paused only after its confirmation, in PostgreSQL and in
/// Redis, and lifted by the operator alone; nothing of it for a tenant admin.
@Suite struct DashboardTenantsTests {
    /// The tenants page from just before `id`: the shared database holds every test's tenants, by id.
    static func pageAround(_ id: String) -> String {
        "/dashboard/tenants?" + DashboardQuery.encode([("after", String(id.dropLast()))])
    }

    /// The kill switch in PostgreSQL and in the copy workers read in Redis.
    struct Switch: Sendable, Equatable {
        let stored: Bool
        let inRedis: Bool
    }

    static func killSwitch(_ f: APIFixture, _ id: String) async throws -> Switch {
        Switch(stored: try await f.tenants.tenant(id: id)?.paused == true, inRedis: try await f.queue.admin.pausedTenants().contains(id))
    }

    @Test func theOperatorSeesEachTenantsSpendAndNumbersWithItsNameEscaped() async throws {
        let f = try await APIFixture()
        let evil = try await f.tenants.create(name: "<script>x</script>", dailyBudgetCents: 500)
        _ = try await APIFixture.registerSender(f.pool, tenant: evil.id)
        let today = CivilTime.date(SystemClock().nowMillis())
        try await f.pool.withConnection { connection in
            _ = try connection.query(
                "INSERT INTO budget_spend (tenant_id, period, starts, spent_cents) VALUES ($1, 'day', $2::date, 120)", [evil.id, today])
        }
        let summaries = try await f.tenants.summaries(after: String(evil.id.dropLast()), limit: 100, nowMs: SystemClock().nowMillis())
        let summary = try #require(summaries.first { $0.tenant.id == evil.id })
        #expect(summary.spentTodayCents == 120 && summary.spentThisMonthCents == 0 && summary.numbers == 1 && summary.pausedBy == nil)

        try await f.test { client in
            let cookie = try await DashboardTests.signIn(client, key: APIFixture.operatorKey)
            let page = try await client.dashboard(.get, Self.pageAround(evil.id), session: cookie)
            #expect(page.status == 200)
            DashboardTests.expectSecurityHeaders(page, "tenants")
            DashboardTests.expectNothingInline(page.body)
            #expect(page.body.contains("href=\"/dashboard/tenants\" class=\"current\""))
            #expect(page.body.contains("&lt;script&gt;x&lt;/script&gt;<span class=\"sub\">\(evil.id)</span>"), "\(page.body.prefix(4000))")
            #expect(!page.body.contains("<script>x"))
            #expect(page.body.contains("<td>120 of 500 cents</td>") && page.body.contains("<td>0 cents, no cap</td>"))
            #expect(page.body.contains("href=\"/dashboard/tenants/\(evil.id)/pause\""))
        }
    }

    @Test func theKillSwitchPausesATenantAfterConfirmationAndNotWithout() async throws {
        let f = try await APIFixture()
        let id = f.a.id
        let pause = "/dashboard/tenants/\(id)/pause"
        let off = Switch(stored: false, inRedis: false)
        let on = Switch(stored: true, inRedis: true)
        try await f.test { client in
            let cookie = try await DashboardTests.signIn(client, key: APIFixture.operatorKey)
            let ask = try await client.dashboard(.get, pause, session: cookie)
            #expect(
                ask.status == 200 && ask.body.contains("Pause the tenant Tenant A?") && ask.body.contains("name=\"confirm\" value=\"yes\""))
            DashboardTests.expectNothingInline(ask.body)
            let token = try DashboardTests.csrf(in: ask.body, action: pause)

            // Without the confirmation: the question again. Without the token: 403. Paused by neither.
            let unconfirmed = try await client.dashboard(.post, pause, session: cookie, form: [("csrf", token)])
            #expect(unconfirmed.status == 200 && unconfirmed.body.contains("Pause the tenant Tenant A?"))
            #expect(try await client.dashboard(.post, pause, session: cookie, form: [("confirm", "yes")]).status == 403)
            #expect(try await Self.killSwitch(f, id) == off)

            let paused = try await client.dashboard(.post, pause, session: cookie, form: [("csrf", token), ("confirm", "yes")])
            #expect(paused.status == 303 && paused.location == "/dashboard/tenants?paused=\(id)")
            #expect(try await Self.killSwitch(f, id) == on)
            let after = try await client.dashboard(.get, paused.location ?? "", session: cookie)
            #expect(after.body.contains("Tenant Tenant A paused: its jobs wait, unfetched, until it is resumed."))

            // The operator's pause: the tenant's own admin key cannot lift it.
            let lifted = try await client.call(.post, "/v1/tenants/\(id)/resume", key: f.a.admin)
            #expect(lifted.status == 403 && lifted.body["error"]?["code"] == .string("paused_by_operator"))
            #expect(try await Self.killSwitch(f, id) == on)
            let shown = try await client.dashboard(.get, Self.pageAround(id), session: cookie)
            #expect(shown.body.contains("paused<span class=\"sub\">by the operator</span>"))

            let resume = "/dashboard/tenants/\(id)/resume"
            let resumed = try await client.dashboard(
                .post, resume, session: cookie, form: [("csrf", try DashboardTests.csrf(in: shown.body, action: resume))])
            #expect(resumed.status == 303 && resumed.location == "/dashboard/tenants?resumed=\(id)")
            #expect(try await Self.killSwitch(f, id) == off)

            // No such tenant: 404, confirmed or not.
            let none = "/dashboard/tenants/tn_nosuchtenant/pause"
            #expect(try await client.dashboard(.get, none, session: cookie).status == 404)
            let noneToken = try DashboardTests.session(cookie).csrfToken(for: none)
            #expect(
                try await client.dashboard(.post, none, session: cookie, form: [("csrf", noneToken), ("confirm", "yes")]).status == 404)
        }
    }

    @Test func aTenantAdminHasNoTenantsPage() async throws {
        let f = try await APIFixture()
        try await f.test { client in
            let cookie = try await DashboardTests.signIn(client, key: f.a.admin)
            let overview = try await client.dashboard(.get, "/dashboard", session: cookie)
            #expect(!overview.body.contains("href=\"/dashboard/tenants\""))
            #expect(try await client.dashboard(.get, "/dashboard/tenants", session: cookie).status == 404)
            for id in [f.a.id, f.b.id] {
                let pause = "/dashboard/tenants/\(id)/pause"
                #expect(try await client.dashboard(.get, pause, session: cookie).status == 404)
                let actions: [(path: String, form: [(String, String)])] = [
                    (pause, [("confirm", "yes")]), ("/dashboard/tenants/\(id)/resume", []),
                ]
                for (path, form) in actions {
                    let token = try DashboardTests.session(cookie).csrfToken(for: path)
                    let answer = try await client.dashboard(.post, path, session: cookie, form: [("csrf", token)] + form)
                    #expect(answer.status == 404, "\(path)")
                }
            }
        }
        #expect(try await f.tenants.tenant(id: f.a.id)?.paused == false)
        #expect(try await f.tenants.tenant(id: f.b.id)?.paused == false)
    }

    @Test func withoutASessionThesePagesRedirectToLoginAndTheirActionsAre401() async throws {
        let f = try await APIFixture()
        try await f.test { client in
            for path in ["/dashboard/limits", "/dashboard/schedules", "/dashboard/tenants", "/dashboard/tenants/\(f.a.id)/pause"] {
                let page = try await client.dashboard(.get, path)
                #expect(page.status == 303 && page.location == "/dashboard/login", "\(path)")
            }
            for path in ["/dashboard/limits/set", "/dashboard/tenants/\(f.a.id)/pause"] {
                #expect(try await client.dashboard(.post, path, form: [("csrf", "00"), ("confirm", "yes")]).status == 401, "\(path)")
            }
        }
        #expect(try await f.tenants.tenant(id: f.a.id)?.paused == false)
    }

    @Test func linksKeepSpacesAsSpaces() {
        #expect(
            DashboardQuery.encode([("after", "weekly digest"), ("set", "sms:sender:+1555")])
                == "after=weekly%20digest&set=sms%3Asender%3A%2B1555")
    }
}
