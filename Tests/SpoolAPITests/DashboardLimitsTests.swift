import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SpoolQueue
import SpoolRedis
import SpoolSupport
import TestSupport
import Testing

@testable import SpoolAPI

/// The dashboard's rate limits page against real Redis: limiters and run-time settings shown escaped,
/// a limit set and cleared from a template's form taking effect, a refused value shown again with its
/// field named and nothing changed, the operator's alone, and the API's answers unchanged by the
/// parser the two now share.
@Suite struct DashboardLimitsTests {
    static let sender = "test:sender:{tenant}"
    static let account = "test:account:{tenant}"
    static let setPath = "/dashboard/limits/set"
    static let clearPath = "/dashboard/limits/clear"

    /// The fixture's `noop` and a kind that declares a rate and a concurrency limit.
    static func fixture() async throws -> APIFixture {
        let texting = JobKindSpec(
            kind: "texting",
            limits: [
                LimitDeclaration(key: try LimitKeyTemplate(sender), spec: .rate(units: 5, period: .seconds(1), burst: 2)),
                LimitDeclaration(key: try LimitKeyTemplate(account), spec: .concurrency(max: 3)),
            ])
        return try await APIFixture(kinds: [QueueFixture.noop, texting])
    }

    /// A limiter as a worker records it when a job passes it.
    static func recordLimiter(_ f: APIFixture, key: String) async throws {
        let entry: JSONValue = .object([
            "limit": LimitSpec.rate(units: 5, period: .seconds(1), burst: 2).json, "template": .string(sender),
            "queue": .string("default"), "seen_at": .number(Double(SystemClock().nowMillis())),
        ])
        _ = try await f.queue.redis.run("HSET", f.queue.keys.limitsSeen, key, entry.text).checked("HSET")
    }

    @Test func thePageShowsLimitersSettingsAndAFormPerTemplateEscaped() async throws {
        let f = try await Self.fixture()
        try await Self.recordLimiter(f, key: "test:sender:<script>x</script>")
        try await f.queue.admin.setLimit("test:sender:+15005550006", .rate(units: 1, period: .seconds(60), burst: 1))
        try await f.test { client in
            let cookie = try await DashboardTests.signIn(client, key: APIFixture.operatorKey)
            let page = try await client.dashboard(.get, "/dashboard/limits", session: cookie)
            #expect(page.status == 200)
            DashboardTests.expectSecurityHeaders(page, "limits")
            DashboardTests.expectNothingInline(page.body)
            #expect(page.body.contains("href=\"/dashboard/limits\" class=\"current\""))
            // The limiter, its key as text, its tokens (a rate limiter that has not run: its whole burst).
            #expect(page.body.contains("test:sender:&lt;script&gt;x&lt;/script&gt;"), "\(page.body.prefix(4000))")
            #expect(!page.body.contains("<script>x"))
            #expect(page.body.contains("<td>5/second burst 2</td>") && page.body.contains("<td>2.0 tokens</td>"))
            // The run-time setting, with its clear form.
            #expect(
                page.body.contains("<th scope=\"row\">test:sender:+15005550006</th>") && page.body.contains("<td>1/minute burst 1</td>"))
            #expect(page.body.contains("name=\"key\" value=\"test:sender:+15005550006\""))
            // A form per template, shaped by its kind and filled with what is in force.
            #expect(
                page.body.contains("<h3 class=\"key\">\(Self.sender)</h3>") && page.body.contains("<h3 class=\"key\">\(Self.account)</h3>"))
            #expect(page.body.contains("Declared by texting: 5/second burst 2. In force: 5/second burst 2."))
            #expect(page.body.contains("name=\"rate\" value=\"5\"") && page.body.contains("name=\"burst\" value=\"2\""))
            #expect(page.body.contains("<option value=\"second\" selected>second</option>"))
            #expect(page.body.contains("name=\"concurrency\" value=\"3\""))
            #expect(!page.body.contains("aria-invalid"))
            #expect(try DashboardTests.csrf(in: page.body, action: Self.setPath).count == 64)
        }
    }

    @Test func aLimitSetFromItsFormTakesEffectAndIsClearedBack() async throws {
        let f = try await Self.fixture()
        try await f.test { client in
            let cookie = try await DashboardTests.signIn(client, key: APIFixture.operatorKey)
            let page = try await client.dashboard(.get, "/dashboard/limits", session: cookie)
            let token = try DashboardTests.csrf(in: page.body, action: Self.setPath)

            let set = try await client.dashboard(
                .post, Self.setPath, session: cookie,
                form: [("csrf", token), ("key", Self.sender), ("rate", " 7 "), ("per", "minute"), ("burst", "3")])
            #expect(set.status == 303 && set.location == "/dashboard/limits?set=test%3Asender%3A%7Btenant%7D", "\(set.location ?? "")")
            #expect(try await f.queue.admin.limitOverrides()[Self.sender] == .rate(units: 7, period: .seconds(60), burst: 3))
            let after = try await client.dashboard(.get, set.location ?? "", session: cookie)
            #expect(after.body.contains("\(Self.sender) is now 7/minute burst 3; every worker applies it within a second."))
            #expect(after.body.contains("In force: 7/minute burst 3 (set at run time)."))
            #expect(after.body.contains("<option value=\"minute\" selected>minute</option>"))

            let concurrency = try await client.dashboard(
                .post, Self.setPath, session: cookie, form: [("csrf", token), ("key", Self.account), ("concurrency", "4")])
            #expect(concurrency.status == 303)
            #expect(try await f.queue.admin.limitOverrides()[Self.account] == .concurrency(max: 4))

            // Back to the declaration, from the template's own form.
            let shown = try await client.dashboard(.get, "/dashboard/limits", session: cookie)
            let clearToken = try DashboardTests.csrf(in: shown.body, action: Self.clearPath)
            let cleared = try await client.dashboard(
                .post, Self.clearPath, session: cookie, form: [("csrf", clearToken), ("key", Self.sender)])
            #expect(cleared.status == 303 && cleared.location == "/dashboard/limits?cleared=test%3Asender%3A%7Btenant%7D")
            #expect(try await f.queue.admin.limitOverrides() == [Self.account: .concurrency(max: 4)])
            let flashed = try await client.dashboard(.get, cleared.location ?? "", session: cookie)
            #expect(flashed.body.contains("The run-time setting for \(Self.sender) is cleared; its declaration is in force again."))
            // Nothing left to clear: 404, as DELETE /v1/limits answers.
            let again = try await client.dashboard(
                .post, Self.clearPath, session: cookie, form: [("csrf", clearToken), ("key", Self.sender)])
            #expect(again.status == 404)
            // A flash names only what is in force: a made-up `set` says nothing.
            let madeUp = try await client.dashboard(.get, "/dashboard/limits?set=nothing", session: cookie)
            #expect(!madeUp.body.contains("class=\"flash\""))
        }
    }

    @Test func aRefusedValueShowsTheFormAgainNamingTheFieldAndChangesNothing() async throws {
        let f = try await Self.fixture()
        try await f.test { client in
            let cookie = try await DashboardTests.signIn(client, key: APIFixture.operatorKey)
            let page = try await client.dashboard(.get, "/dashboard/limits", session: cookie)
            let token = try DashboardTests.csrf(in: page.body, action: Self.setPath)
            func post(_ fields: [(String, String)]) async throws -> DashboardTests.Page {
                try await client.dashboard(.post, Self.setPath, session: cookie, form: [("csrf", token), ("key", Self.sender)] + fields)
            }

            let word = try await post([("rate", "abc"), ("per", "second"), ("burst", "2")])
            #expect(word.status == 422)
            DashboardTests.expectSecurityHeaders(word, "refused limit")
            #expect(
                word.body.contains("limit.rate: expected an integer in 1...1000000000, got &quot;abc&quot;"), "\(word.body.prefix(5000))")
            #expect(word.body.contains("name=\"rate\" value=\"abc\" aria-invalid=\"true\""))
            #expect(word.body.contains("name=\"burst\" value=\"2\">"))
            // The other template's form is as it was, and the page is whole: nav, limiters, settings.
            #expect(word.body.contains("name=\"concurrency\" value=\"3\">") && word.body.contains("Log out"))

            let zero = try await post([("rate", "5"), ("per", "second"), ("burst", "0")])
            #expect(zero.status == 422 && zero.body.contains("limit.burst: expected an integer in 1...1000000000, got 0"))
            #expect(zero.body.contains("name=\"burst\" value=\"0\" aria-invalid=\"true\""))

            let period = try await post([("rate", "5"), ("per", "fortnight")])
            #expect(
                period.status == 422 && period.body.contains("limit.per: &quot;fortnight&quot; is not one of second, minute, hour, day"))
            #expect(period.body.contains("<select name=\"per\" aria-invalid=\"true\">"))

            let both = try await post([("rate", "5"), ("per", "second"), ("concurrency", "3")])
            #expect(both.status == 422 && both.body.contains("limit: give exactly one of rate, concurrency or quota (found 2)"))

            let escaped = try await post([("rate", "<script>x</script>"), ("per", "second")])
            #expect(escaped.status == 422 && escaped.body.contains("value=\"&lt;script&gt;x&lt;/script&gt;\""))
            #expect(!escaped.body.contains("<script>x"))

            // No key, or one no template has: the refusal at the top of the page.
            let noKey = try await client.dashboard(
                .post, Self.setPath, session: cookie, form: [("csrf", token), ("rate", "5"), ("per", "second")])
            #expect(noKey.status == 422 && noKey.body.contains("key: required, a limit key or a declared template"))
            let badKey = try await client.dashboard(
                .post, Self.setPath, session: cookie, form: [("csrf", token), ("key", "a{b"), ("rate", "5"), ("per", "second")])
            #expect(
                badKey.status == 422 && badKey.body.contains("key: &#39;a{b&#39; has a &#39;{&#39; without &#39;}&#39;"),
                "\(badKey.body.prefix(3000))")

            #expect(try await f.queue.admin.limitOverrides().isEmpty)
        }
    }

    @Test func onlyTheOperatorSeesAndChangesLimitsAndOnlyWithItsToken() async throws {
        let f = try await Self.fixture()
        try await f.test { client in
            let tenant = try await DashboardTests.signIn(client, key: f.a.admin)
            let overview = try await client.dashboard(.get, "/dashboard", session: tenant)
            #expect(!overview.body.contains("href=\"/dashboard/limits\""))
            #expect(try await client.dashboard(.get, "/dashboard/limits", session: tenant).status == 404)
            for path in [Self.setPath, Self.clearPath] {
                let token = try DashboardTests.session(tenant).csrfToken(for: path)
                let answer = try await client.dashboard(
                    .post, path, session: tenant, form: [("csrf", token), ("key", Self.sender), ("rate", "9"), ("per", "second")])
                #expect(answer.status == 404, "\(path)")
            }

            let operatorCookie = try await DashboardTests.signIn(client, key: APIFixture.operatorKey)
            let page = try await client.dashboard(.get, "/dashboard/limits", session: operatorCookie)
            let logoutToken = try DashboardTests.csrf(in: page.body, action: "/dashboard/logout")
            for form in [
                [("key", Self.sender), ("rate", "9"), ("per", "second")], [("csrf", logoutToken), ("key", Self.sender), ("rate", "9")],
            ] {
                let refused = try await client.dashboard(.post, Self.setPath, session: operatorCookie, form: form)
                #expect(refused.status == 403 && refused.body.contains("Form refused"))
            }
        }
        #expect(try await f.queue.admin.limitOverrides().isEmpty)
    }

    /// `PUT /v1/limits` reads its body with the same parser and answers as it always has.
    @Test func theAPIRefusesAsBefore() async throws {
        let f = try await Self.fixture()
        try await f.test { client in
            let word = try await client.call(
                .put, "/v1/limits", key: APIFixture.operatorKey, json: #"{"key": "k", "rate": "abc", "per": "second"}"#)
            #expect(word.status == 422 && word.body["error"]?["field"] == .string("limit"))
            #expect(word.body["error"]?["message"] == .string(#"body.rate: expected an integer in 1...1000000000, got "abc""#))
            let noKey = try await client.call(.put, "/v1/limits", key: APIFixture.operatorKey, json: #"{"rate": 5, "per": "second"}"#)
            #expect(noKey.status == 422 && noKey.body["error"]?["field"] == .string("key"))
            let badKey = try await client.call(
                .put, "/v1/limits", key: APIFixture.operatorKey, json: #"{"key": "a}", "rate": 5, "per": "second"}"#)
            #expect(badKey.status == 422 && badKey.body["error"]?["field"] == .string("key"))
            let whole = try await client.call(.put, "/v1/limits", key: APIFixture.operatorKey, json: #"{"key": "k"}"#)
            #expect(whole.status == 422 && whole.body["error"]?["field"] == .string("limit"))
            #expect(whole.body["error"]?["message"] == .string("body: give exactly one of rate, concurrency or quota (found 0)"))
        }
        #expect(try await f.queue.admin.limitOverrides().isEmpty)
    }

    @Test func aRefusalNamesTheFieldItIsAbout() throws {
        #expect(LimitChange.field(of: "key: 'a{' has a '{' without '}'", at: "limit") == "key")
        #expect(LimitChange.field(of: "limit.burst: expected an integer in 1...1000000000, got 0", at: "limit") == "burst")
        #expect(LimitChange.field(of: "limit.per: \"x\" is not one of second, minute, hour, day", at: "limit") == "per")
        #expect(LimitChange.field(of: "limit: give exactly one of rate, concurrency or quota (found 2)", at: "limit") == "limit")
        #expect(LimitChange.field(of: "limit.cost: unknown field", at: "limit") == "limit")

        let form = DashboardForm(fields: [("key", "k"), ("rate", " 12 "), ("per", "minute"), ("burst", ""), ("quota", "1.5")])
        #expect(
            DashboardLimitForm.object(form)
                == .object(["key": .string("k"), "rate": .number(12), "per": .string("minute"), "quota": .string("1.5")]))
        #expect(try LimitChange.parse(.object(["key": .string("k"), "concurrency": .number(2)]), at: "limit").spec == .concurrency(max: 2))
    }
}
