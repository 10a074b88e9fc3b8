import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SpoolHTTP
import SpoolPostgres
import SpoolQueue
import SpoolStore
import SpoolSupport
import TestSupport
import Testing

@testable import SpoolAPI

/// The dashboard's conversations pages against real PostgreSQL and Redis: the list with each
/// conversation's latest message, a conversation's thread, take over and release, an agent's reply
/// sent once however often its form is posted, another tenant's conversation a 404, and what contacts
/// write shown as text.
@Suite struct DashboardConversationsTests {
    /// The API with every kind of the repository's Jobs/ (a reply enqueues `send`), and a number of tenant A's.
    static func fixture() async throws -> (APIFixture, String) {
        let f = try await APIFixture(kinds: SMSCampaignTests.repositoryKinds)
        return (f, try await InboundTests.registerNumber(f.pool, tenant: f.a.id))
    }

    /// A contact's message to tenant A's `number`, stored as the inbound webhook stores it; answers its
    /// conversation's id.
    @discardableResult
    static func inbound(_ f: APIFixture, from: String, to number: String, body: String, media: [InboundMedia] = []) async throws -> String {
        guard let contact = InboundContact(from) else { throw TestFailure("not a contact address: \(from)") }
        let received = try await InboundMessages(pool: f.pool).receive(
            InboundMessage(sid: InboundTests.freshSid(), from: from, to: number, body: body, media: media), tenantID: f.a.id,
            number: number, contact: contact)
        return received.conversationID
    }

    static func mode(_ f: APIFixture, _ id: String) async throws -> String? {
        try await ConversationStore(pool: f.pool).find(id, tenantID: nil)?.mode
    }

    /// The value of the hidden field `name` in the form that posts to `action`.
    static func hidden(_ name: String, in html: String, action: String) throws -> String {
        guard let form = html.range(of: "action=\"\(action)\"") else { throw TestFailure("no form posts to \(action)") }
        let rest = html[form.upperBound...]
        guard let field = rest.range(of: "name=\"\(name)\" value=\"") else { throw TestFailure("the form to \(action) has no \(name)") }
        return String(rest[field.upperBound...].prefix { $0 != "\"" })
    }

    @Test func whatAContactWritesIsShownAsTextInTheListAndTheThread() async throws {
        let (f, number) = try await Self.fixture()
        let id = try await Self.inbound(f, from: "+14155550301", to: number, body: "<script>alert(1)</script>")
        let voice = try await Self.inbound(
            f, from: "+14155550302", to: number, body: "",
            media: [InboundMedia(url: "https://api.twilio.test/Media/ME9", contentType: "audio/ogg")])
        _ = try await f.pool.withConnection { connection in
            try connection.query(
                """
                UPDATE inbound_messages SET transcription_status = 'done',
                    transcripts = '[{"index": 0, "status": "done", "text": "Call me <b>back</b>"}]'::jsonb
                WHERE conversation_id = $1
                """, [voice])
        }
        try await f.test { client in
            let cookie = try await DashboardTests.signIn(client, key: f.a.admin)
            let list = try await client.dashboard(.get, "/dashboard/conversations", session: cookie)
            #expect(list.status == 200)
            DashboardTests.expectSecurityHeaders(list, "conversations")
            DashboardTests.expectNothingInline(list.body)
            #expect(list.body.contains("href=\"/dashboard/conversations/\(id)\">+14155550301</a>"), "\(list.body.prefix(3000))")
            #expect(list.body.contains("contact:</span> &lt;script&gt;alert(1)&lt;/script&gt;"))
            #expect(list.body.contains("Call me &lt;b&gt;back&lt;/b&gt;") && list.body.contains("class=\"mode-ai\">AI<"))
            #expect(!list.body.contains("<script>alert(1)") && !list.body.contains("<b>back"))
            // The most recently active first.
            let newer = try #require(list.body.range(of: "/dashboard/conversations/\(voice)\""))
            let older = try #require(list.body.range(of: "/dashboard/conversations/\(id)\""))
            #expect(newer.lowerBound < older.lowerBound)

            let thread = try await client.dashboard(.get, "/dashboard/conversations/\(id)", session: cookie)
            #expect(thread.status == 200)
            DashboardTests.expectSecurityHeaders(thread, "conversation")
            DashboardTests.expectNothingInline(thread.body)
            let escaped = "<span class=\"message-body\">&lt;script&gt;alert(1)&lt;/script&gt;</span>"
            #expect(thread.body.contains(escaped), "\(thread.body.prefix(4000))")
            #expect(thread.body.contains("class=\"message message-inbound\"") && thread.body.contains("contact · "))
            #expect(thread.body.contains("action=\"/dashboard/conversations/\(id)/takeover\""))
            #expect(!thread.body.contains("action=\"/dashboard/conversations/\(id)/release\""))
            let voiceThread = try await client.dashboard(.get, "/dashboard/conversations/\(voice)", session: cookie)
            #expect(voiceThread.body.contains("Voice note: <span class=\"message-body\">Call me &lt;b&gt;back&lt;/b&gt;</span>"))
            #expect(voiceThread.body.contains("Attachment (audio/ogg): https://api.twilio.test/Media/ME9"))
        }
    }

    @Test func takingOverThenReplyingSendsOneMessageForAFormPostedTwice() async throws {
        let (f, number) = try await Self.fixture()
        let id = try await Self.inbound(f, from: "+14155550311", to: number, body: "Can I speak to someone?")
        let page = "/dashboard/conversations/\(id)"
        let messages = page + "/messages"
        try await f.test { client in
            let cookie = try await DashboardTests.signIn(client, key: f.a.admin)
            let before = try await client.dashboard(.get, page, session: cookie)
            let takeoverToken = try DashboardTests.csrf(in: before.body, action: page + "/takeover")
            #expect(try await client.dashboard(.post, page + "/takeover", session: cookie, form: [("reason", "x")]).status == 403)
            #expect(try await Self.mode(f, id) == "ai")
            let taken = try await client.dashboard(
                .post, page + "/takeover", session: cookie, form: [("csrf", takeoverToken), ("reason", "asked for a person")])
            #expect(taken.status == 303 && taken.location == page + "?done=takeover")
            #expect(try await Self.mode(f, id) == "human")

            let human = try await client.dashboard(.get, taken.location ?? "", session: cookie)
            #expect(human.body.contains("You have taken the conversation over") && human.body.contains("asked for a person"))
            #expect(human.body.contains("class=\"mode-human\">human<"))
            let token = try DashboardTests.csrf(in: human.body, action: messages)
            let key = try Self.hidden("key", in: human.body, action: messages)
            #expect(DashboardConversations.isReplyKey(key), "\(key)")

            // The same form, posted twice: one message, and the second answer says so.
            let form = [("csrf", token), ("key", key), ("body", "We can do Tuesday <3")]
            let first = try await client.dashboard(.post, messages, session: cookie, form: form)
            #expect(first.status == 303 && first.location == page + "?done=replied", "\(first.status) \(first.body.prefix(1000))")
            let second = try await client.dashboard(.post, messages, session: cookie, form: form)
            #expect(second.status == 303 && second.location == page + "?done=replied_before")
            let sent = try await client.dashboard(.get, page + "?done=replied", session: cookie)
            #expect(sent.body.contains("Reply queued.") && sent.body.contains("We can do Tuesday &lt;3"))
            #expect(sent.body.contains("class=\"message message-outbound\"") && sent.body.contains("agent · "))
            // A fresh page carries a fresh key.
            #expect(try Self.hidden("key", in: sent.body, action: messages) != key)

            // A key the page did not make, no key, no body, or no token: refused, nothing sent.
            let refusals: [([(String, String)], Int)] = [
                ([("csrf", token), ("key", "booking-7"), ("body", "Hi")], 422), ([("csrf", token), ("body", "Hi")], 422),
                ([("csrf", token), ("key", DashboardConversations.freshReplyKey()), ("body", "")], 422),
                ([("key", DashboardConversations.freshReplyKey()), ("body", "Hi")], 403),
            ]
            for (fields, status) in refusals {
                let refused = try await client.dashboard(.post, messages, session: cookie, form: fields)
                #expect(refused.status == status, "\(fields): \(refused.body.prefix(1000))")
            }

            let releaseToken = try DashboardTests.csrf(in: sent.body, action: page + "/release")
            let released = try await client.dashboard(.post, page + "/release", session: cookie, form: [("csrf", releaseToken)])
            #expect(released.status == 303 && released.location == page + "?done=release")
            #expect(try await Self.mode(f, id) == "ai")
        }
        let rows = try await f.pool.withConnection { connection in
            try connection.query("SELECT author, body, idempotency_key FROM messages WHERE conversation_id = $1", [id]).rows
        }
        #expect(rows.count == 1)
        #expect(try rows.first?.string("author") == "agent")
        #expect(try rows.first?.string("body") == "We can do Tuesday <3")
        #expect(try rows.first?.string("idempotency_key")?.hasPrefix(DashboardConversations.replyKeyPrefix) == true)
        let jobs = try await f.queue.admin.jobs(state: .pending, kind: "send", tenant: f.a.id)
        #expect(jobs.jobs.count == 1, "\(jobs.jobs)")
        let events = try await f.pool.withConnection { connection in
            try connection.query(
                "SELECT kind, payload->>'reason' AS reason FROM events WHERE tenant_id = $1 AND kind LIKE 'conversation.%' ORDER BY id",
                [f.a.id]
            ).rows
        }
        #expect(try events.map { try $0.string("kind") ?? "" } == ["conversation.takeover", "conversation.release"])
        #expect(try events.first?.string("reason") == "asked for a person")
    }

    @Test func anotherTenantsConversationIsNotFoundAndTheOperatorSeesEveryTenants() async throws {
        let (f, number) = try await Self.fixture()
        let id = try await Self.inbound(f, from: "+14155550321", to: number, body: "Hello")
        let page = "/dashboard/conversations/\(id)"
        try await f.test { client in
            let other = try await DashboardTests.signIn(client, key: f.b.admin)
            let list = try await client.dashboard(.get, "/dashboard/conversations?tenant=\(f.a.id)", session: other)
            #expect(list.status == 200 && !list.body.contains(id) && list.body.contains("No conversations."))
            #expect(try await client.dashboard(.get, page, session: other).status == 404)
            let session = try DashboardTests.session(other)
            for (path, form) in [
                (page + "/takeover", [("reason", "mine now")]), (page + "/release", []),
                (page + "/messages", [("key", DashboardConversations.freshReplyKey()), ("body", "Hi")]),
            ] as [(String, [(String, String)])] {
                let answer = try await client.dashboard(.post, path, session: other, form: [("csrf", session.csrfToken(for: path))] + form)
                #expect(answer.status == 404, "\(path): \(answer.body.prefix(500))")
            }
            for bad in ["cv_nosuchconversation", "%3Cscript%3E"] {
                #expect(try await client.dashboard(.get, "/dashboard/conversations/\(bad)", session: other).status == 404, "\(bad)")
            }

            let operatorCookie = try await DashboardTests.signIn(client, key: APIFixture.operatorKey)
            let filtered = try await client.dashboard(.get, "/dashboard/conversations?tenant=\(f.a.id)", session: operatorCookie)
            #expect(filtered.status == 200 && filtered.body.contains("href=\"\(page)\"") && filtered.body.contains("Tenant A (\(f.a.id))"))
            let shown = try await client.dashboard(.get, page, session: operatorCookie)
            #expect(shown.status == 200 && shown.body.contains("Tenant A (\(f.a.id))"))
        }
        #expect(try await Self.mode(f, id) == "ai")
        let written = try await f.pool.withConnection { connection in
            try connection.query("SELECT 1 FROM messages WHERE conversation_id = $1", [id]).rows
        }
        #expect(written.isEmpty)
    }

    @Test func aPagesLatestMessagesComeFromEitherSide() async throws {
        let (f, number) = try await Self.fixture()
        let quiet = try await Self.inbound(f, from: "+14155550331", to: number, body: "First")
        try await Self.inbound(f, from: "+14155550331", to: number, body: "Second")
        let answered = try await Self.inbound(f, from: "+14155550332", to: number, body: "Question")
        var store = ConversationStore(pool: f.pool, enqueuer: f.queue.enqueuer)
        store.segmentCents = 1
        _ = try await store.agentReply(conversationID: answered, tenantID: f.a.id, body: "Answer", idempotencyKey: nil)
        let latest = try await store.lastMessages(conversationIDs: [quiet, answered, "cv_nosuchconversation"])
        #expect(latest[quiet]?.body == "Second" && latest[quiet]?.direction == "inbound")
        #expect(latest[answered]?.body == "Answer" && latest[answered]?.author == "agent" && latest[answered]?.direction == "outbound")
        #expect(latest.count == 2)
        #expect(try await store.lastMessages(conversationIDs: []).isEmpty)
        await #expect(throws: ConversationStoreError.self) {
            _ = try await store.lastMessages(conversationIDs: Array(repeating: quiet, count: ConversationStore.maximumPageSize + 1))
        }
    }
}
