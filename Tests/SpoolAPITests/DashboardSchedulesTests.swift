import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SpoolQueue
import SpoolStore
import SpoolSupport
import TestSupport
import Testing

@testable import SpoolAPI

/// The dashboard's schedules page against real PostgreSQL: a tenant admin's own schedules only, each
/// escaped; pause and resume with their tokens; delete after its confirmation only; another tenant's
/// schedule a 404 whatever the action; Spool's own schedules kept from a tenant admin.
@Suite struct DashboardSchedulesTests {
    static func store(_ f: APIFixture) -> ScheduleStore { ScheduleStore(pool: f.pool, enqueuer: f.queue.enqueuer) }

    static func make(
        _ f: APIFixture, _ name: String, tenant: String, every: String = "5m", source: Schedule.Source = .api
    ) async throws -> Schedule {
        try await store(f).create(
            ScheduleRequest(name: name, kind: "noop", every: every), tenantID: tenant, producer: source == .builtin ? .spool : .tenant,
            source: source)
    }

    @Test func aTenantAdminSeesPausesAndResumesItsOwnSchedulesOnly() async throws {
        let f = try await APIFixture()
        let own = try await Self.make(f, "<script>x</script>", tenant: f.a.id)
        let others = try await Self.make(f, "b-nightly", tenant: f.b.id, every: "1h")
        try await f.test { client in
            let cookie = try await DashboardTests.signIn(client, key: f.a.admin)
            let page = try await client.dashboard(.get, "/dashboard/schedules", session: cookie)
            #expect(page.status == 200)
            DashboardTests.expectSecurityHeaders(page, "schedules")
            DashboardTests.expectNothingInline(page.body)
            #expect(page.body.contains("href=\"/dashboard/schedules\" class=\"current\""))
            #expect(!page.body.contains("href=\"/dashboard/limits\"") && !page.body.contains("href=\"/dashboard/tenants\""))
            #expect(page.body.contains("&lt;script&gt;x&lt;/script&gt;") && !page.body.contains("<script>x"), "\(page.body.prefix(4000))")
            #expect(page.body.contains("every 5m<span class=\"sub\">Europe/Paris</span>"))
            #expect(!page.body.contains("b-nightly") && !page.body.contains(others.id))
            // No owner column for a tenant: they are all its own.
            #expect(!page.body.contains(">Owner<"))

            let pause = "/dashboard/schedules/\(own.id)/pause"
            let token = try DashboardTests.csrf(in: page.body, action: pause)
            #expect(try await client.dashboard(.post, pause, session: cookie).status == 403)
            #expect(try await Self.store(f).find(own.id, tenantID: nil)?.paused == false)

            let paused = try await client.dashboard(.post, pause, session: cookie, form: [("csrf", token)])
            #expect(paused.status == 303 && paused.location == "/dashboard/schedules?paused=\(own.id)")
            #expect(try await Self.store(f).find(own.id, tenantID: nil)?.paused == true)
            let after = try await client.dashboard(.get, paused.location ?? "", session: cookie)
            #expect(after.body.contains("Schedule &lt;script&gt;x&lt;/script&gt; paused: no tick fires until it is resumed."))
            #expect(after.body.contains("class=\"state state-paused\""))

            let resume = "/dashboard/schedules/\(own.id)/resume"
            let resumed = try await client.dashboard(
                .post, resume, session: cookie, form: [("csrf", try DashboardTests.csrf(in: after.body, action: resume))])
            #expect(resumed.status == 303 && resumed.location == "/dashboard/schedules?resumed=\(own.id)")
            let back = try #require(try await Self.store(f).find(own.id, tenantID: nil))
            #expect(!back.paused && back.nextRunMs != nil)

            // Tenant B's schedule: 404 for every action, with a good token for its path, and untouched.
            for action in ["pause", "resume", "delete"] {
                let path = "/dashboard/schedules/\(others.id)/\(action)"
                let token = try DashboardTests.session(cookie).csrfToken(for: path)
                let answer = try await client.dashboard(.post, path, session: cookie, form: [("csrf", token), ("confirm", "yes")])
                #expect(answer.status == 404, "\(action)")
            }
            #expect(try await client.dashboard(.get, "/dashboard/schedules/\(others.id)/delete", session: cookie).status == 404)
            let untouched = try #require(try await Self.store(f).find(others.id, tenantID: f.b.id))
            #expect(!untouched.paused)
            // A made-up flash says nothing; one for B's schedule says nothing either.
            let flashed = try await client.dashboard(.get, "/dashboard/schedules?paused=\(others.id)", session: cookie)
            #expect(!flashed.body.contains("class=\"flash\""))
        }
    }

    @Test func deletingAScheduleAsksFirstAndSpoolsOwnAreKeptFromATenant() async throws {
        let f = try await APIFixture()
        let own = try await Self.make(f, "weekly digest", tenant: f.a.id)
        let builtin = try await Self.make(f, "calendar-sync test", tenant: f.a.id, source: .builtin)
        try await f.test { client in
            let cookie = try await DashboardTests.signIn(client, key: f.a.admin)
            let page = try await client.dashboard(.get, "/dashboard/schedules", session: cookie)
            let delete = "/dashboard/schedules/\(own.id)/delete"
            #expect(page.body.contains("href=\"\(delete)\""))
            #expect(!page.body.contains("href=\"/dashboard/schedules/\(builtin.id)/delete\""))
            // Spool's own may be paused by the tenant, as the API lets it.
            #expect(page.body.contains("action=\"/dashboard/schedules/\(builtin.id)/pause\""))

            let ask = try await client.dashboard(.get, delete, session: cookie)
            #expect(ask.status == 200 && ask.body.contains("Delete the schedule weekly digest?"))
            #expect(ask.body.contains("name=\"confirm\" value=\"yes\""))
            DashboardTests.expectNothingInline(ask.body)
            let token = try DashboardTests.csrf(in: ask.body, action: delete)

            // Without the confirmation: the question again, nothing deleted.
            let unconfirmed = try await client.dashboard(.post, delete, session: cookie, form: [("csrf", token)])
            #expect(unconfirmed.status == 200 && unconfirmed.body.contains("Delete the schedule weekly digest?"))
            #expect(try await Self.store(f).find(own.id, tenantID: nil) != nil)
            #expect(try await client.dashboard(.post, delete, session: cookie, form: [("confirm", "yes")]).status == 403)
            #expect(try await Self.store(f).find(own.id, tenantID: nil) != nil)

            let deleted = try await client.dashboard(.post, delete, session: cookie, form: [("csrf", token), ("confirm", "yes")])
            #expect(deleted.status == 303 && deleted.location == "/dashboard/schedules?deleted=1")
            #expect(try await Self.store(f).find(own.id, tenantID: nil) == nil)
            let gone = try await client.dashboard(.post, delete, session: cookie, form: [("csrf", token), ("confirm", "yes")])
            #expect(gone.status == 404)

            // Spool's own: not the tenant's to delete, confirmed or not.
            let builtinDelete = "/dashboard/schedules/\(builtin.id)/delete"
            #expect(try await client.dashboard(.get, builtinDelete, session: cookie).status == 409)
            let builtinToken = try DashboardTests.session(cookie).csrfToken(for: builtinDelete)
            let kept = try await client.dashboard(
                .post, builtinDelete, session: cookie, form: [("csrf", builtinToken), ("confirm", "yes")])
            #expect(kept.status == 409 && kept.body.contains("Kept by Spool"))
            #expect(try await Self.store(f).find(builtin.id, tenantID: nil) != nil)

            // The operator lists every owner's (here from tenant A's on) and may delete Spool's own, as the API lets it.
            let operatorCookie = try await DashboardTests.signIn(client, key: APIFixture.operatorKey)
            let all = try await client.dashboard(.get, "/dashboard/schedules?after_owner=\(f.a.id)&after=", session: operatorCookie)
            #expect(all.status == 200 && all.body.contains(">Owner<"))
            #expect(all.body.contains("Tenant A (\(f.a.id))") && all.body.contains("calendar-sync test"))
            #expect(all.body.contains("href=\"\(builtinDelete)\""))
            let operatorToken = try DashboardTests.session(operatorCookie).csrfToken(for: builtinDelete)
            let removed = try await client.dashboard(
                .post, builtinDelete, session: operatorCookie, form: [("csrf", operatorToken), ("confirm", "yes")])
            #expect(removed.status == 303)
            #expect(try await Self.store(f).find(builtin.id, tenantID: nil) == nil)
        }
    }

    @Test func pagesFollowTheOwnersIndexFromACursor() async throws {
        let f = try await APIFixture()
        for index in 0..<3 { _ = try await Self.make(f, "s\(index)", tenant: f.a.id) }
        let store = Self.store(f)
        let first = try await store.page(tenantID: f.a.id, after: nil, limit: 2)
        #expect(first.map(\.name) == ["s0", "s1"])
        let rest = try await store.page(tenantID: f.a.id, after: ScheduleCursor(after: first[1]), limit: 2)
        #expect(rest.map(\.name) == ["s2"])
        #expect(try await store.page(tenantID: f.b.id, after: nil, limit: 10).isEmpty)
        // The operator's cursor at tenant A's start reads A's schedules first.
        let fromA = try await store.page(tenantID: nil, after: ScheduleCursor(owner: f.a.id, name: ""), limit: 3)
        #expect(fromA.map(\.name) == ["s0", "s1", "s2"])

        try await f.test { client in
            let cookie = try await DashboardTests.signIn(client, key: f.a.admin)
            let page = try await client.dashboard(.get, "/dashboard/schedules?after=s0", session: cookie)
            #expect(page.status == 200 && !page.body.contains(">s0<") && page.body.contains(">s1<") && page.body.contains(">s2<"))
            // No name is that long: not a cursor this page made.
            let tooLong = String(repeating: "a", count: 900)
            #expect(try await client.dashboard(.get, "/dashboard/schedules?after=\(tooLong)", session: cookie).status == 404)
        }
    }
}
