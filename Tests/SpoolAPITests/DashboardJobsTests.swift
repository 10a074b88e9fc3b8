import Foundation
import HTTPTypes
import HummingbirdTesting
import SpoolHTTP
import SpoolJobs
import SpoolQueue
import SpoolRedis
import SpoolSupport
import TestSupport
import Testing

@testable import SpoolAPI

/// The dashboard's Jobs pages, in process against real Redis and PostgreSQL: the list by state with
/// kept counts, filters, search by id and paging by cursor; a job's page with its arguments escaped
/// and redacted and its actions; bulk actions behind a confirmation; the workers page; and a tenant
/// admin kept to its own jobs. Sign-in, CSRF tokens and the header checks are `DashboardTests`'.
@Suite struct DashboardJobsTests {
    static let operatorKey = APIFixture.operatorKey

    // MARK: - Helpers

    /// Dead jobs made by hand as kill.lua leaves them: the hash with its state, attempts and reason, and
    /// the dead set scored by the death time (the first job died last), in one round trip. Newest first.
    @discardableResult
    static func seedDead(
        _ f: APIFixture, _ count: Int, tenant: String? = nil, reason: String = "permanent error: test",
        diedAt: Int64 = 1_795_000_000_000
    ) async throws -> [String] {
        let keys = f.queue.keys
        var ids: [String] = []
        var commands = [RedisCommand("SADD", keys.queues, "default")]
        for index in 0..<count {
            let id = JobID.make()
            let died = diedAt - Int64(index)
            var fields = [
                "kind", "noop", "args", "{}", "state", "dead", "attempt", "3", "max_attempts", "3", "enqueued_at", String(died - 60_000),
                "finished_at", String(died), "dead_reason", reason, "last_error", "boom",
            ]
            if let tenant { fields += ["tenant", tenant] }
            commands.append(RedisCommand("HSET", [keys.job("default", id)] + fields))
            commands.append(RedisCommand("ZADD", keys.dead("default"), String(died), id))
            ids.append(id)
        }
        for reply in try await f.queue.redis.pipeline(commands) { _ = try reply.checked("seed dead") }
        return ids
    }

    /// The ids of the jobs a page links to, in page order.
    static func jobLinks(_ html: String) -> [String] {
        html.components(separatedBy: "href=\"/dashboard/jobs/").dropFirst().map { String($0.prefix(26)) }
    }

    /// The "Next page" link, as a browser follows it.
    static func nextHref(_ html: String) -> String? {
        guard let start = html.range(of: "class=\"next-page\" href=\"") else { return nil }
        return String(html[start.upperBound...].prefix { $0 != "\"" }).replacingOccurrences(of: "&amp;", with: "&")
    }

    /// The value of a form's hidden field.
    static func hidden(_ html: String, _ name: String) -> String? {
        guard let start = html.range(of: "name=\"\(name)\" value=\"") else { return nil }
        return String(html[start.upperBound...].prefix { $0 != "\"" })
    }

    static func deadCount(_ f: APIFixture) async throws -> Int {
        try await f.queue.redis.run("ZCARD", f.queue.keys.dead("default")).int ?? 0
    }

    // MARK: - The list

    @Test func theListShowsAStateWithKeptCountsAndOpensAJobByItsId() async throws {
        let f = try await APIFixture()
        let pending = try await f.queue.seedPending(3)
        let dead = try await Self.seedDead(f, 2, reason: "<script>alert(2)</script>")
        try await f.test { client in
            let cookie = try await DashboardTests.signIn(client, key: Self.operatorKey)
            let page = try await client.dashboard(.get, "/dashboard/jobs", session: cookie)
            #expect(page.status == 200)
            DashboardTests.expectSecurityHeaders(page, "jobs")
            DashboardTests.expectNothingInline(page.body)
            #expect(Set(Self.jobLinks(page.body)) == Set(pending))
            #expect(page.body.contains("Pending <span class=\"count\">3</span>"), "\(page.body.prefix(3000))")
            #expect(page.body.contains("Dead <span class=\"count\">2</span>"))
            #expect(page.body.contains("Completed <span class=\"count\">0</span>"))
            #expect(page.body.contains("href=\"/dashboard/bulk/cancel?state=pending\""))
            #expect(Self.nextHref(page.body) == nil)

            let deadPage = try await client.dashboard(.get, "/dashboard/jobs?state=dead", session: cookie)
            #expect(deadPage.status == 200 && Self.jobLinks(deadPage.body) == dead)
            // A value from a job shows as text, never as markup.
            #expect(deadPage.body.contains("&lt;script&gt;alert(2)&lt;/script&gt;") && !deadPage.body.contains("<script>alert(2)"))
            #expect(deadPage.body.contains("href=\"/dashboard/bulk/retry?state=dead\""))
            #expect(deadPage.body.contains("href=\"/dashboard/bulk/discard?state=dead\""))
            #expect(!deadPage.body.contains("/dashboard/bulk/cancel"))

            // The kind filter narrows the list; a kind nothing has lists nothing.
            let none = try await client.dashboard(.get, "/dashboard/jobs?state=pending&kind=report", session: cookie)
            #expect(none.status == 200 && Self.jobLinks(none.body).isEmpty && none.body.contains("No pending jobs match these filters."))

            // Search by id: a redirect to the job's page, whatever the case typed.
            let found = try await client.dashboard(.get, "/dashboard/jobs?id=+\(pending[0].lowercased())", session: cookie)
            #expect(found.status == 303 && found.location == "/dashboard/jobs/\(pending[0])")
            let notAnID = try await client.dashboard(.get, "/dashboard/jobs?id=%3Cb%3Enope", session: cookie)
            #expect(notAnID.status == 200 && notAnID.body.contains("No job has the id &#39;&lt;b&gt;nope&#39;"))

            // Bad filters are refused, naming the field.
            let refusals = [
                ("state=bogus", "state: "), ("queue=No+Such", "queue: "), ("kind=%3Cscript%3E", "kind: "),
                ("state=dead&after=pending.default..3.X", "after: "), ("after=garbage", "after: "),
            ]
            for (query, field) in refusals {
                let bad = try await client.dashboard(.get, "/dashboard/jobs?" + query, session: cookie)
                #expect(bad.status == 400 && bad.body.contains(field), "\(query)")
                #expect(!bad.body.contains("<script>"))
            }
        }
    }

    @Test func pagesFollowTheirCursorToTheEnd() async throws {
        let f = try await APIFixture()
        let pending = try await f.queue.seedPending(60)
        let dead = try await Self.seedDead(f, 55)
        try await f.test { client in
            let cookie = try await DashboardTests.signIn(client, key: Self.operatorKey)
            for (state, ids) in [("pending", pending), ("dead", dead)] {
                let first = try await client.dashboard(.get, "/dashboard/jobs?state=\(state)", session: cookie)
                let firstIDs = Self.jobLinks(first.body)
                #expect(firstIDs.count == DashboardJobsQuery.pageSize, "\(state)")
                #expect(!first.body.contains(">First page<"))
                let next = try #require(Self.nextHref(first.body))
                #expect(next.hasPrefix("/dashboard/jobs?state=\(state)&after=\(state)."), "\(next)")
                let second = try await client.dashboard(.get, next, session: cookie)
                #expect(second.status == 200)
                let secondIDs = Self.jobLinks(second.body)
                #expect(secondIDs.count == ids.count - DashboardJobsQuery.pageSize && Self.nextHref(second.body) == nil, "\(state)")
                #expect(second.body.contains(">First page<"))
                #expect(Set(firstIDs).isDisjoint(with: secondIDs) && Set(firstIDs + secondIDs) == Set(ids), "\(state)")
            }
            // Dead jobs come newest first.
            let deadFirst = try await client.dashboard(.get, "/dashboard/jobs?state=dead", session: cookie)
            #expect(Self.jobLinks(deadFirst.body) == Array(dead.prefix(DashboardJobsQuery.pageSize)))
        }
    }

    // MARK: - A job's page

    @Test func aJobsArgumentsShowEscapedWithSecretsRedacted() async throws {
        let f = try await APIFixture()
        let args = #"{"note":"<script>alert(1)</script>","api_key":"s3cr3t","auth":{"password":"hunter2","to":"+15005550006"}}"#
        let id = try await f.queue.enqueuer.enqueue(EnqueueRequest(kind: "noop", args: args, tenant: f.a.id)).id
        try await f.test { client in
            let cookie = try await DashboardTests.signIn(client, key: Self.operatorKey)
            let page = try await client.dashboard(.get, "/dashboard/jobs/\(id)", session: cookie)
            #expect(page.status == 200)
            DashboardTests.expectSecurityHeaders(page, "job")
            DashboardTests.expectNothingInline(page.body)
            #expect(page.body.contains("<pre class=\"arguments\">"))
            #expect(page.body.contains("&quot;note&quot;: &quot;&lt;script&gt;alert(1)&lt;/script&gt;&quot;"), "\(page.body.prefix(4000))")
            #expect(!page.body.contains("<script>alert(1)"))
            #expect(!page.body.contains("s3cr3t") && !page.body.contains("hunter2"))
            #expect(page.body.contains("&quot;api_key&quot;: &quot;[redacted]&quot;") && page.body.contains("+15005550006"))
            #expect(page.body.contains("<dd class=\"state-pending\">pending</dd>") && page.body.contains(f.a.id))
            #expect(page.body.contains("action=\"/dashboard/jobs/\(id)/cancel\""))
            #expect(!page.body.contains("/dashboard/jobs/\(id)/retry"))

            // A job no queue has, and text that cannot be an id: the same 404.
            for missing in [JobID.make(), "not-a-job"] {
                let answer = try await client.dashboard(.get, "/dashboard/jobs/\(missing)", session: cookie)
                #expect(answer.status == 404, "\(missing)")
                DashboardTests.expectSecurityHeaders(answer, "404")
            }
        }
    }

    @Test func retryingADeadJobFromItsPageTakesItOutOfTheDeadList() async throws {
        let f = try await APIFixture()
        let ids = try await Self.seedDead(f, 2, tenant: f.a.id)
        try await f.test { client in
            let cookie = try await DashboardTests.signIn(client, key: Self.operatorKey)
            let page = try await client.dashboard(.get, "/dashboard/jobs/\(ids[0])", session: cookie)
            #expect(page.status == 200 && page.body.contains("permanent error: test"))
            let retry = "/dashboard/jobs/\(ids[0])/retry"

            // Without a token, or with another action's: 403, and the job stays dead.
            let discardToken = try DashboardTests.csrf(in: page.body, action: "/dashboard/jobs/\(ids[0])/discard")
            let forms: [[(String, String)]] = [[], [("csrf", discardToken)]]
            for form in forms {
                let refused = try await client.dashboard(.post, retry, session: cookie, form: form)
                #expect(refused.status == 403)
            }
            #expect(try await f.queue.state(ids[0]) == "dead")

            let token = try DashboardTests.csrf(in: page.body, action: retry)
            let retried = try await client.dashboard(.post, retry, session: cookie, form: [("csrf", token)])
            #expect(retried.status == 303 && retried.location == "/dashboard/jobs/\(ids[0])?done=retried")
            #expect(try await f.queue.state(ids[0]) == "pending")
            let after = try await client.dashboard(.get, retried.location ?? "", session: cookie)
            #expect(after.body.contains("Retried: the job is pending again"))
            #expect(!after.body.contains("action=\"\(retry)\""))
            let deadList = try await client.dashboard(.get, "/dashboard/jobs?state=dead", session: cookie)
            #expect(Self.jobLinks(deadList.body) == [ids[1]])
            let pendingList = try await client.dashboard(.get, "/dashboard/jobs?state=pending", session: cookie)
            #expect(Self.jobLinks(pendingList.body) == [ids[0]])

            // Retrying it again does nothing: it is not dead any more.
            let again = try await client.dashboard(.post, retry, session: cookie, form: [("csrf", token)])
            #expect(again.location == "/dashboard/jobs/\(ids[0])?refused=pending")

            // Discarding takes the box ticked.
            let deadPage = try await client.dashboard(.get, "/dashboard/jobs/\(ids[1])", session: cookie)
            let discard = "/dashboard/jobs/\(ids[1])/discard"
            let token2 = try DashboardTests.csrf(in: deadPage.body, action: discard)
            let unticked = try await client.dashboard(.post, discard, session: cookie, form: [("csrf", token2)])
            #expect(unticked.status == 303 && unticked.location == "/dashboard/jobs/\(ids[1])?done=unconfirmed")
            #expect(try await f.queue.state(ids[1]) == "dead")
            let discarded = try await client.dashboard(.post, discard, session: cookie, form: [("csrf", token2), ("confirm", "yes")])
            #expect(discarded.status == 303 && discarded.location == "/dashboard/jobs?state=dead&done=discarded&count=1")
            #expect(try await f.queue.record(ids[1]) == nil)
            let flashed = try await client.dashboard(.get, discarded.location ?? "", session: cookie)
            #expect(flashed.body.contains("1 job discarded.") && Self.jobLinks(flashed.body).isEmpty)

            // The retried job, pending now, can be cancelled.
            let cancel = "/dashboard/jobs/\(ids[0])/cancel"
            let cancelToken = try DashboardTests.csrf(in: after.body, action: cancel)
            let cancelled = try await client.dashboard(.post, cancel, session: cookie, form: [("csrf", cancelToken), ("confirm", "yes")])
            #expect(cancelled.status == 303 && cancelled.location == "/dashboard/jobs/\(ids[0])?done=cancelled")
            #expect(try await f.queue.state(ids[0]) == "cancelled")
        }
    }

    // MARK: - Bulk actions

    @Test func bulkRetryAsksForConfirmationThenMovesOnlyTheFilteredJobs() async throws {
        let f = try await APIFixture()
        let mine = try await Self.seedDead(f, 3, tenant: f.a.id)
        let others = try await Self.seedDead(f, 2, tenant: f.b.id, diedAt: 1_795_000_100_000)
        let tenant = FormEncoding.escape(f.a.id)
        try await f.test { client in
            let cookie = try await DashboardTests.signIn(client, key: Self.operatorKey)
            let list = try await client.dashboard(.get, "/dashboard/jobs?state=dead&tenant=\(tenant)", session: cookie)
            #expect(Set(Self.jobLinks(list.body)) == Set(mine))
            let confirmation = "/dashboard/bulk/retry?state=dead&tenant=\(tenant)"
            // In an attribute, `&` is written `&amp;` (mustache escapes every value).
            #expect(list.body.contains("href=\"\(confirmation.replacing("&", with: "&amp;"))\""), "\(list.body)")

            let confirm = try await client.dashboard(.get, confirmation, session: cookie)
            #expect(confirm.status == 200)
            DashboardTests.expectSecurityHeaders(confirm, "confirmation")
            DashboardTests.expectNothingInline(confirm.body)
            let counted = "5 jobs are dead in all queues, before the kind and tenant filters."
            #expect(confirm.body.contains(counted), "\(confirm.body.prefix(3000))")
            #expect(confirm.body.contains("Dead jobs of tenant \(f.a.id)."))
            #expect(confirm.body.contains("at most \(DashboardBulkAction.batch) matching jobs"))
            #expect(Set(Self.jobLinks(confirm.body)) == Set(mine))
            #expect(try await Self.deadCount(f) == 5)

            let token = try DashboardTests.csrf(in: confirm.body, action: "/dashboard/bulk/retry")
            let filters = [("state", "dead"), ("tenant", f.a.id)]
            // Without confirm=yes: back to the confirmation, nothing done. Without a token: 403.
            let unconfirmed = try await client.dashboard(.post, "/dashboard/bulk/retry", session: cookie, form: [("csrf", token)] + filters)
            #expect(unconfirmed.status == 303 && unconfirmed.location == confirmation)
            let forged = try await client.dashboard(.post, "/dashboard/bulk/retry", session: cookie, form: filters + [("confirm", "yes")])
            #expect(forged.status == 403)
            #expect(try await Self.deadCount(f) == 5)

            let done = try await client.dashboard(
                .post, "/dashboard/bulk/retry", session: cookie, form: [("csrf", token)] + filters + [("confirm", "yes")])
            #expect(done.status == 303 && done.location == "/dashboard/jobs?state=dead&tenant=\(tenant)&done=retried&count=3")
            for id in mine { #expect(try await f.queue.state(id) == "pending") }
            for id in others { #expect(try await f.queue.state(id) == "dead") }
            let after = try await client.dashboard(.get, done.location ?? "", session: cookie)
            #expect(after.body.contains("3 jobs retried.") && Self.jobLinks(after.body).isEmpty)

            // An action that does not exist, or a state it does not act on.
            #expect(try await client.dashboard(.get, "/dashboard/bulk/explode?state=dead", session: cookie).status == 404)
            #expect(try await client.dashboard(.get, "/dashboard/bulk/cancel?state=dead", session: cookie).status == 400)
            #expect(try await client.dashboard(.get, "/dashboard/bulk/retry?state=pending", session: cookie).status == 400)
        }
    }

    @Test func aBulkActionOverMoreThanOneSubmissionSaysSoAndGoesOn() async throws {
        let f = try await APIFixture()
        let total = DashboardBulkAction.batch + 5
        try await Self.seedDead(f, total)
        try await f.test { client in
            let cookie = try await DashboardTests.signIn(client, key: Self.operatorKey)
            let confirm = try await client.dashboard(.get, "/dashboard/bulk/retry?state=dead", session: cookie)
            #expect(confirm.body.contains("\(total) jobs are dead in all queues."))
            let token = try DashboardTests.csrf(in: confirm.body, action: "/dashboard/bulk/retry")
            let first = try await client.dashboard(
                .post, "/dashboard/bulk/retry", session: cookie, form: [("csrf", token), ("state", "dead"), ("confirm", "yes")])
            let location = try #require(first.location)
            #expect(first.status == 303 && location.hasPrefix("/dashboard/bulk/retry?state=dead&after=dead."), "\(location)")
            #expect(location.hasSuffix("&done=retried&count=\(DashboardBulkAction.batch)"))
            #expect(try await Self.deadCount(f) == 5)

            let goOn = try await client.dashboard(.get, location, session: cookie)
            #expect(goOn.status == 200 && goOn.body.contains("\(DashboardBulkAction.batch) jobs retried; more may remain: submit again"))
            #expect(goOn.body.contains("goes on from where the last one stopped"))
            let after = try #require(Self.hidden(goOn.body, "after"))
            let second = try await client.dashboard(
                .post, "/dashboard/bulk/retry", session: cookie,
                form: [("csrf", token), ("state", "dead"), ("after", after), ("confirm", "yes")])
            #expect(second.status == 303 && second.location == "/dashboard/jobs?state=dead&done=retried&count=5")
            #expect(try await Self.deadCount(f) == 0)
        }
    }

    @Test func bulkCancelStopsPendingJobsThatMatch() async throws {
        let f = try await APIFixture()
        let ids = try await f.queue.seedPending(3)
        try await f.test { client in
            let cookie = try await DashboardTests.signIn(client, key: Self.operatorKey)
            let confirm = try await client.dashboard(.get, "/dashboard/bulk/cancel?state=pending&kind=noop", session: cookie)
            #expect(confirm.status == 200 && confirm.body.contains("None of them will run."))
            #expect(confirm.body.contains("name=\"kind\" value=\"noop\""))
            let token = try DashboardTests.csrf(in: confirm.body, action: "/dashboard/bulk/cancel")
            let done = try await client.dashboard(
                .post, "/dashboard/bulk/cancel", session: cookie,
                form: [("csrf", token), ("state", "pending"), ("kind", "noop"), ("confirm", "yes")])
            #expect(done.status == 303 && done.location == "/dashboard/jobs?state=pending&kind=noop&done=cancelled&count=3")
            for id in ids { #expect(try await f.queue.state(id) == "cancelled") }
        }
    }

    // MARK: - Tenant admins

    @Test func aTenantAdminSeesAndActsOnItsOwnJobsOnly() async throws {
        let f = try await APIFixture()
        let mine = try await f.queue.enqueuer.enqueue(EnqueueRequest(kind: "noop", args: "{}", tenant: f.a.id)).id
        let theirs = try await f.queue.enqueuer.enqueue(EnqueueRequest(kind: "noop", args: "{}", tenant: f.b.id)).id
        let myDead = try await Self.seedDead(f, 1, tenant: f.a.id)[0]
        let theirDead = try await Self.seedDead(f, 1, tenant: f.b.id, diedAt: 1_795_000_100_000)[0]
        let other = FormEncoding.escape(f.b.id)
        try await f.test { client in
            let cookie = try await DashboardTests.signIn(client, key: f.a.admin)
            let list = try await client.dashboard(.get, "/dashboard/jobs", session: cookie)
            #expect(list.status == 200 && Self.jobLinks(list.body) == [mine])
            // Its own pending count; no shared totals, no tenant to pick, no workers page.
            #expect(list.body.contains("Pending <span class=\"count\">1</span>") && !list.body.contains("Dead <span"))
            #expect(!list.body.contains("name=\"tenant\"") && !list.body.contains("href=\"/dashboard/workers\""))
            let asked = try await client.dashboard(.get, "/dashboard/jobs?tenant=\(other)", session: cookie)
            #expect(Self.jobLinks(asked.body) == [mine])
            let deadList = try await client.dashboard(.get, "/dashboard/jobs?state=dead&tenant=\(other)", session: cookie)
            #expect(Self.jobLinks(deadList.body) == [myDead] && !deadList.body.contains(f.b.id))

            #expect(try await client.dashboard(.get, "/dashboard/jobs/\(mine)", session: cookie).status == 200)
            for id in [theirs, theirDead] {
                let page = try await client.dashboard(.get, "/dashboard/jobs/\(id)", session: cookie)
                #expect(page.status == 404 && !page.body.contains(f.b.id), "\(id)")
            }
            // Another tenant's job takes no action either, even with a good token.
            for (id, action) in [(theirDead, "retry"), (theirDead, "discard"), (theirs, "cancel")] {
                let path = "/dashboard/jobs/\(id)/\(action)"
                let token = try DashboardTests.session(cookie).csrfToken(for: path)
                let answer = try await client.dashboard(.post, path, session: cookie, form: [("csrf", token), ("confirm", "yes")])
                #expect(answer.status == 404, "\(action)")
            }
            #expect(try await f.queue.state(theirDead) == "dead")
            #expect(try await f.queue.state(theirs) == "pending")

            // Bulk actions are forced to its tenant, whatever the form says.
            let confirm = try await client.dashboard(.get, "/dashboard/bulk/retry?state=dead&tenant=\(other)", session: cookie)
            #expect(confirm.status == 200 && Self.jobLinks(confirm.body) == [myDead] && !confirm.body.contains(f.b.id))
            #expect(confirm.body.contains("Counts of dead jobs are not kept per tenant"))
            let token = try DashboardTests.csrf(in: confirm.body, action: "/dashboard/bulk/retry")
            let done = try await client.dashboard(
                .post, "/dashboard/bulk/retry", session: cookie,
                form: [("csrf", token), ("state", "dead"), ("tenant", f.b.id), ("confirm", "yes")])
            #expect(done.status == 303 && done.location == "/dashboard/jobs?state=dead&done=retried&count=1")
            #expect(try await f.queue.state(myDead) == "pending")
            #expect(try await f.queue.state(theirDead) == "dead")

            #expect(try await client.dashboard(.get, "/dashboard/workers", session: cookie).status == 404)
        }
    }

    // MARK: - Workers

    @Test func theWorkersPageShowsARunningWorkersBusySlot() async throws {
        let f = try await APIFixture()
        var queue = f.queue
        queue.settings.shutdownGrace = .milliseconds(100)
        let id = try await f.queue.enqueuer.enqueue(EnqueueRequest(kind: "noop", args: #"{"sleep_ms":30000}"#, tenant: f.a.id)).id
        let worker = RunningWorker(queue, handlers: [NoopHandler()], concurrency: 2)
        let checked: Result<Void, any Error>
        do {
            try await waitUntil("the worker reports the job running", timeout: .seconds(20)) {
                try await f.queue.admin.workerProcesses().first?.busy.contains { $0.jobID == id } == true
            }
            try await f.test { client in
                let cookie = try await DashboardTests.signIn(client, key: Self.operatorKey)
                let page = try await client.dashboard(.get, "/dashboard/workers", session: cookie)
                #expect(page.status == 200)
                DashboardTests.expectSecurityHeaders(page, "workers")
                DashboardTests.expectNothingInline(page.body)
                #expect(page.body.contains(worker.service.workerID), "\(page.body.prefix(3000))")
                #expect(page.body.contains("pid \(ProcessInfo.processInfo.processIdentifier)"))
                #expect(page.body.contains("1 of 2 slots busy") && page.body.contains("<dd>default</dd>"))
                #expect(Self.jobLinks(page.body) == [id])
                let active = try await client.dashboard(.get, "/dashboard/jobs?state=active", session: cookie)
                #expect(Self.jobLinks(active.body) == [id])
                let job = try await client.dashboard(.get, "/dashboard/jobs/\(id)", session: cookie)
                #expect(job.body.contains("<dd class=\"state-active\">active</dd>") && job.body.contains("Lease until"))
            }
            checked = .success(())
        } catch {
            checked = .failure(error)
        }
        try await worker.stop()
        try checked.get()
    }
}
