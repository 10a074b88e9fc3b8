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

/// The dashboard's campaigns pages against real PostgreSQL and Redis: the list and a campaign's report,
/// pause, resume and a cancel that asks first, each action behind its CSRF token, another tenant's
/// campaign a 404, the operator's tenant filter, escaping, and the list's keyset paging.
@Suite struct DashboardCampaignsTests {
    /// A campaign of tenant A's with `contacts` opted-in contacts, launched: its messages queued and
    /// their send jobs enqueued (no worker runs them), so it stays running.
    static func runningCampaign(_ f: APIFixture, name: String, contacts: Int = 2) async throws -> Campaign {
        let zone = SMSCampaignTests.daytimeZone()
        var lines = ["phone,first_name,timezone,consent"]
        for n in 0..<contacts { lines.append("+1415555\(CivilTime.pad(4000 + n, 4)),Ann\(n),\(zone),yes") }
        _ = try await ContactImporter(pool: f.pool).run(tenantID: f.a.id, csv: Array(lines.joined(separator: "\n").utf8), dryRun: false)
        let store = CampaignStore(pool: f.pool, enqueuer: f.queue.enqueuer)
        let campaign = try await store.create(tenantID: f.a.id, name: name, sender: f.a.sender, body: "Hi {{first_name}}")
        _ = try await store.launch(id: campaign.id)
        return try #require(try await store.campaign(id: campaign.id))
    }

    static func status(_ f: APIFixture, _ id: String) async throws -> CampaignStatus? {
        try await CampaignStore(pool: f.pool, enqueuer: nil).campaign(id: id)?.status
    }

    @Test func aCampaignIsListedReportedAndPausedFromItsPage() async throws {
        let f = try await APIFixture(kinds: SMSCampaignTests.repositoryKinds)
        let campaign = try await Self.runningCampaign(f, name: "<script>alert(1)</script>")
        #expect(campaign.status == .running)
        let page = "/dashboard/campaigns/\(campaign.id)"
        try await f.test { client in
            let cookie = try await DashboardTests.signIn(client, key: f.a.admin)
            let list = try await client.dashboard(.get, "/dashboard/campaigns", session: cookie)
            #expect(list.status == 200)
            DashboardTests.expectSecurityHeaders(list, "campaigns")
            DashboardTests.expectNothingInline(list.body)
            #expect(list.body.contains("href=\"\(page)\">&lt;script&gt;alert(1)&lt;/script&gt;</a>"), "\(list.body.prefix(3000))")
            #expect(!list.body.contains("<script>alert(1)"))
            #expect(list.body.contains("class=\"state state-running\""))
            // A tenant admin has no tenant to filter by, and the nav leads here.
            #expect(!list.body.contains("name=\"tenant\"") && list.body.contains("href=\"/dashboard/campaigns\""))

            let shown = try await client.dashboard(.get, page, session: cookie)
            #expect(shown.status == 200)
            DashboardTests.expectNothingInline(shown.body)
            #expect(shown.body.contains("<h1>&lt;script&gt;alert(1)&lt;/script&gt;</h1>"))
            // Two messages queued, none settled yet.
            #expect(shown.body.contains("<progress class=\"progress\" max=\"2\" value=\"0\""), "\(shown.body.prefix(4000))")
            #expect(shown.body.contains("<tr><th scope=\"row\">queued</th><td>2</td></tr>"))
            #expect(shown.body.contains("None skipped.") && shown.body.contains("no receipts yet"))
            #expect(!shown.body.contains("action=\"\(page)/resume\""))

            // Without its token, or with another action's: 403, and nothing changes.
            let pause = page + "/pause"
            let token = try DashboardTests.csrf(in: shown.body, action: pause)
            let cancelToken = try DashboardTests.csrf(in: shown.body, action: page + "/cancel")
            #expect(try await client.dashboard(.post, pause, session: cookie).status == 403)
            #expect(try await client.dashboard(.post, pause, session: cookie, form: [("csrf", cancelToken)]).status == 403)
            #expect(try await Self.status(f, campaign.id) == .running)

            let paused = try await client.dashboard(.post, pause, session: cookie, form: [("csrf", token)])
            #expect(paused.status == 303 && paused.location == page + "?done=pause", "\(paused.status) \(paused.location ?? "")")
            #expect(try await Self.status(f, campaign.id) == .paused)
            let after = try await client.dashboard(.get, paused.location ?? "", session: cookie)
            #expect(after.body.contains("Campaign paused") && after.body.contains("class=\"state state-paused\""))
            let resumeToken = try DashboardTests.csrf(in: after.body, action: page + "/resume")
            let resumed = try await client.dashboard(.post, page + "/resume", session: cookie, form: [("csrf", resumeToken)])
            #expect(resumed.status == 303 && resumed.location == page + "?done=resume")
            #expect(try await Self.status(f, campaign.id) == .running)
            // The same again changes nothing, as in the API.
            let again = try await client.dashboard(.post, page + "/resume", session: cookie, form: [("csrf", resumeToken)])
            #expect(again.status == 303)
            #expect(try await Self.status(f, campaign.id) == .running)
        }
    }

    @Test func cancellingAsksFirstAndThenCancels() async throws {
        let f = try await APIFixture(kinds: SMSCampaignTests.repositoryKinds)
        let draft = try await CampaignStore(pool: f.pool, enqueuer: f.queue.enqueuer).create(
            tenantID: f.a.id, name: "Not yet", sender: f.a.sender, body: "Hello")
        let page = "/dashboard/campaigns/\(draft.id)"
        let cancel = page + "/cancel"
        try await f.test { client in
            let cookie = try await DashboardTests.signIn(client, key: f.a.admin)
            let shown = try await client.dashboard(.get, page, session: cookie)
            #expect(shown.status == 200 && shown.body.contains("No messages yet"))
            let token = try DashboardTests.csrf(in: shown.body, action: cancel)

            // The first post only asks.
            let asked = try await client.dashboard(.post, cancel, session: cookie, form: [("csrf", token)])
            #expect(asked.status == 200 && asked.body.contains("Cancel Not yet?"), "\(asked.body.prefix(2000))")
            #expect(asked.body.contains("name=\"confirm\" value=\"yes\"") && asked.body.contains("href=\"\(page)\""))
            DashboardTests.expectNothingInline(asked.body)
            #expect(try await Self.status(f, draft.id) == .draft)
            let wrong = try await client.dashboard(.post, cancel, session: cookie, form: [("csrf", token), ("confirm", "no")])
            #expect(wrong.status == 200)
            #expect(try await Self.status(f, draft.id) == .draft)

            // The confirmation page's own form cancels it.
            let confirmToken = try DashboardTests.csrf(in: asked.body, action: cancel)
            let done = try await client.dashboard(.post, cancel, session: cookie, form: [("csrf", confirmToken), ("confirm", "yes")])
            #expect(done.status == 303 && done.location == page + "?done=cancel")
            #expect(try await Self.status(f, draft.id) == .cancelled)
            let after = try await client.dashboard(.get, page + "?done=cancel", session: cookie)
            #expect(after.body.contains("Campaign cancelled") && !after.body.contains("action=\"\(cancel)\""))
            // What its status no longer allows is a conflict, shown as a page with the reason.
            let pause = page + "/pause"
            let pauseToken = try DashboardTests.session(cookie).csrfToken(for: pause)
            let refused = try await client.dashboard(.post, pause, session: cookie, form: [("csrf", pauseToken)])
            #expect(refused.status == 409 && refused.body.contains("is cancelled; pause needs it running"), "\(refused.body.prefix(2000))")
            #expect(try await Self.status(f, draft.id) == .cancelled)
        }
    }

    @Test func anotherTenantsCampaignIsNotFoundAndTheOperatorFiltersByTenant() async throws {
        let f = try await APIFixture(kinds: SMSCampaignTests.repositoryKinds)
        let campaign = try await Self.runningCampaign(f, name: "Tenant A's sale")
        let page = "/dashboard/campaigns/\(campaign.id)"
        try await f.test { client in
            let other = try await DashboardTests.signIn(client, key: f.b.admin)
            let list = try await client.dashboard(.get, "/dashboard/campaigns?tenant=\(f.a.id)", session: other)
            #expect(list.status == 200 && !list.body.contains(campaign.id) && list.body.contains("No campaigns."))
            let shown = try await client.dashboard(.get, page, session: other)
            #expect(shown.status == 404)
            DashboardTests.expectSecurityHeaders(shown, "another tenant's campaign")
            for action in ["pause", "resume", "cancel"] {
                let path = page + "/" + action
                let token = try DashboardTests.session(other).csrfToken(for: path)
                let answer = try await client.dashboard(.post, path, session: other, form: [("csrf", token), ("confirm", "yes")])
                #expect(answer.status == 404, "\(action)")
            }
            #expect(try await Self.status(f, campaign.id) == .running)
            // Ids that could be no campaign's.
            for id in ["cmp_nosuchcampaign", "%3Cscript%3E", "a'b"] {
                #expect(try await client.dashboard(.get, "/dashboard/campaigns/\(id)", session: other).status == 404, "\(id)")
            }

            let operatorCookie = try await DashboardTests.signIn(client, key: APIFixture.operatorKey)
            let filtered = try await client.dashboard(.get, "/dashboard/campaigns?tenant=\(f.a.id)", session: operatorCookie)
            #expect(filtered.status == 200 && filtered.body.contains("href=\"\(page)\""))
            #expect(filtered.body.contains("Tenant A (\(f.a.id))") && filtered.body.contains("value=\"\(f.a.id)\""))
            let others = try await client.dashboard(.get, "/dashboard/campaigns?tenant=\(f.b.id)", session: operatorCookie)
            #expect(others.status == 200 && !others.body.contains(campaign.id))
            let bad = try await client.dashboard(.get, "/dashboard/campaigns?tenant=%3Cb%3E", session: operatorCookie)
            #expect(bad.status == 422 && bad.body.contains("tenant: &#39;&lt;b&gt;&#39; is not a tenant id"), "\(bad.body.prefix(2000))")
            let cursor = try await client.dashboard(.get, "/dashboard/campaigns?cursor=nope", session: operatorCookie)
            #expect(cursor.status == 422 && cursor.body.contains("cursor:"))
            let operatorPage = try await client.dashboard(.get, page, session: operatorCookie)
            #expect(operatorPage.status == 200 && operatorPage.body.contains("Tenant A (\(f.a.id))"))
        }
    }

    @Test func theListIsPagedByKeysetNewestFirst() async throws {
        let f = try await APIFixture(kinds: SMSCampaignTests.repositoryKinds)
        let store = CampaignStore(pool: f.pool, enqueuer: f.queue.enqueuer)
        var made: [Campaign] = []
        for name in ["First", "Second", "Third"] {
            made.append(try await store.create(tenantID: f.a.id, name: name, sender: f.a.sender, body: "Hello"))
        }
        let first = try await store.list(tenantID: f.a.id, limit: 2)
        #expect(first.entries.map(\.campaign.name) == ["Third", "Second"])
        let cursor = try #require(first.nextCursor)
        let second = try await store.list(tenantID: f.a.id, limit: 2, cursor: cursor)
        #expect(second.entries.map(\.campaign.id) == [made[0].id] && second.nextCursor == nil)
        #expect(second.entries.first?.campaign.status == .draft && second.entries.first?.launchedAtMs == nil)
        #expect(try await store.list(tenantID: f.b.id).entries.isEmpty)
        // Every tenant's, for the operator: the newest campaigns of the whole database come first.
        let everyone = try await store.list(tenantID: nil, limit: CampaignStore.maximumPageSize)
        #expect(everyone.entries.contains { $0.campaign.id == made[2].id })
        for (limit, cursor) in [(0, nil), (201, nil), (2, "nope"), (2, "12:CMP_UPPER")] as [(Int, String?)] {
            await #expect(throws: CampaignStore.InputError.self, "\(limit) \(cursor ?? "")") {
                _ = try await store.list(tenantID: f.a.id, limit: limit, cursor: cursor)
            }
        }
    }
}
