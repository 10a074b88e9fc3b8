import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SpoolAPI
import SpoolHTTP
import SpoolPostgres
import SpoolQueue
import SpoolStore
import SpoolSupport
import TestSupport
import Testing

/// The conversations API (`/v1/conversations...`) and the numbers' AI settings (`PUT /v1/numbers/{number}`)
/// against real PostgreSQL and Redis and the API over a socket. Contacts write through the inbound
/// webhook, signed with the API's auth token over its public URL as Twilio signs it.
@Suite struct ConversationAPITests {
    static let authToken = "conversation-tests-auth-token"
    static let publicURL = "http://127.0.0.1:8080"
    static let inboundPath = "/v1/webhooks/twilio/inbound"

    /// The API with every kind of the repository's Jobs/ (agent replies enqueue `send`), checking
    /// webhook signatures with `authToken`, and a number of tenant A's.
    static func fixture() async throws -> (APIFixture, String) {
        let f = try await APIFixture(kinds: SMSCampaignTests.repositoryKinds) {
            $0.twilioAuthToken = Self.authToken
            $0.publicURL = Self.publicURL
        }
        return (f, try await InboundTests.registerNumber(f.pool, tenant: f.a.id))
    }

    /// A contact's message to `to`, as Twilio's signed inbound webhook; `media` is (url, content type).
    static func inbound(
        _ client: any TestClientProtocol, from: String, to: String, body: String, media: [(String, String)] = []
    ) async throws {
        var fields = [
            ("MessageSid", InboundTests.freshSid()), ("AccountSid", RunningSandbox.accountSid), ("From", from), ("To", to), ("Body", body),
        ]
        if !media.isEmpty {
            fields.append(("NumMedia", String(media.count)))
            for (index, item) in media.enumerated() {
                fields.append(("MediaUrl\(index)", item.0))
                fields.append(("MediaContentType\(index)", item.1))
            }
        }
        let signature = TwilioSignature.sign(url: publicURL + inboundPath, parameters: fields, authToken: authToken)
        let answer = try await client.call(
            .post, inboundPath, key: nil, json: FormEncoding.encode(fields), contentType: "application/x-www-form-urlencoded",
            headers: [("X-Twilio-Signature", signature)])
        guard answer.status == 200 else { throw TestFailure("the inbound webhook answered \(answer.status): \(answer.body.text)") }
    }

    /// The conversations `GET /v1/conversations` + `query` lists for `key`, after checking it answered 200.
    static func list(_ client: any TestClientProtocol, _ query: String, key: String) async throws -> (items: [JSONValue], next: JSONValue) {
        let answer = try await client.call(.get, "/v1/conversations" + query, key: key)
        guard answer.status == 200 else {
            throw TestFailure("GET /v1/conversations\(query) answered \(answer.status): \(answer.body.text)")
        }
        return (answer.body["conversations"]?.arrayValue ?? [], answer.body["next_cursor"] ?? .string("(missing)"))
    }

    static func rows(_ f: APIFixture, _ sql: String, _ parameters: [any PostgresBindable]) async throws -> [PostgresRow] {
        try await f.pool.withConnection { try $0.query(sql, parameters).rows }
    }

    /// `+1415` and 7 digits as a path segment: the plus percent-encoded.
    static func path(_ number: String) -> String { "/v1/numbers/%2B" + number.dropFirst() }

    @Test func conversationsAreListedByContactAndShownOldestFirst() async throws {
        let (f, number) = try await Self.fixture()
        try await f.test(.live) { client in
            try await Self.inbound(client, from: "+14155550201", to: number, body: "Hello")
            try await Self.inbound(
                client, from: "+14155550201", to: number, body: "Here is my receipt",
                media: [("https://api.twilio.test/Media/ME1", "image/jpeg")])
            try await Self.inbound(client, from: "+14155550202", to: number, body: "Are you open today?")

            // The most recently active first.
            let all = try await Self.list(client, "", key: f.a.read)
            #expect(all.items.compactMap { $0["contact"]?.stringValue } == ["+14155550202", "+14155550201"], "\(all.items)")
            #expect(all.next == .null)
            let first = try #require(all.items.last)
            #expect(first["number"] == .string(number) && first["channel"] == .string("sms") && first["mode"] == .string("ai"))
            #expect(first["tenant"] == .string(f.a.id) && first["mode_reason"] == .null && first["mode_changed_at"] == .null)
            #expect(first["updated_at"]?.stringValue?.hasSuffix("Z") == true && first["created_at"]?.stringValue != nil)
            let id = try #require(first["id"]?.stringValue)

            // By contact, exactly: `+` is a plus in a query string, and %2B is too.
            let byContact = try await Self.list(client, "?contact=+14155550201", key: f.a.read)
            #expect(byContact.items.compactMap { $0["id"]?.stringValue } == [id])
            #expect(try await Self.list(client, "?contact=%2B14155550201", key: f.a.read).items.count == 1)
            #expect(try await Self.list(client, "?contact=whatsapp:%2B14155550201", key: f.a.read).items.isEmpty)
            let bad = try await client.call(.get, "/v1/conversations?contact=4155550201", key: f.a.read)
            #expect(bad.status == 422 && bad.body["error"]?["field"] == .string("contact"), "\(bad.body.text)")

            // Pages of one, by keyset.
            let page1 = try await Self.list(client, "?limit=1", key: f.a.read)
            let cursor = try #require(page1.next.stringValue)
            #expect(page1.items.compactMap { $0["contact"]?.stringValue } == ["+14155550202"])
            let page2 = try await Self.list(client, "?limit=1&cursor=\(cursor)", key: f.a.read)
            #expect(page2.items.compactMap { $0["id"]?.stringValue } == [id] && page2.next == .null, "\(page2)")
            for query in ["?limit=0", "?limit=201", "?limit=ten", "?cursor=nope"] {
                let refused = try await client.call(.get, "/v1/conversations" + query, key: f.a.read)
                #expect(refused.status == 422, "\(query): \(refused.body.text)")
            }

            // One conversation: its messages oldest first, as the contact sent them.
            let shown = try await client.call(.get, "/v1/conversations/\(id)", key: f.a.read)
            #expect(shown.status == 200, "\(shown.body.text)")
            #expect(shown.body["id"] == .string(id) && shown.body["contact"] == .string("+14155550201"))
            let messages = shown.body["messages"]?.arrayValue ?? []
            #expect(messages.compactMap { $0["body"]?.stringValue } == ["Hello", "Here is my receipt"])
            #expect(messages.allSatisfy { $0["direction"] == .string("inbound") && $0["author"] == .string("contact") })
            #expect(messages.allSatisfy { $0["status"] == .string("received") && $0["transcript"] == .null })
            #expect(messages.first?["media"] == .array([]))
            #expect(
                messages.last?["media"]
                    == .array([.object(["url": .string("https://api.twilio.test/Media/ME1"), "content_type": .string("image/jpeg")])]))
            #expect(messages.allSatisfy { $0["id"]?.stringValue?.hasPrefix("in_") == true && $0["created_at"]?.stringValue != nil })
            // A known path with another method.
            #expect(try await client.call(.delete, "/v1/conversations/\(id)", key: f.a.admin).status == 405)
        }
    }

    @Test func aVoiceNotesTranscriptIsShownWithItsMessage() async throws {
        let (f, number) = try await Self.fixture()
        try await f.test(.live) { client in
            try await Self.inbound(
                client, from: "+14155550203", to: number, body: "",
                media: [("https://api.twilio.test/Media/ME2", "audio/ogg"), ("https://api.twilio.test/Media/ME3", "audio/ogg")])
            let id = try #require(try await Self.list(client, "?contact=+14155550203", key: f.a.read).items.first?["id"]?.stringValue)
            let pending = try await client.call(.get, "/v1/conversations/\(id)", key: f.a.read)
            #expect(pending.body["messages"]?.arrayValue?.first?["status"] == .string("pending"), "\(pending.body.text)")
            // Both notes transcribed, as the transcription kind records them.
            _ = try await f.pool.withConnection { connection in
                try connection.query(
                    """
                    UPDATE inbound_messages SET transcription_status = 'done',
                        transcripts = '[{"index": 0, "status": "done", "text": "Can I come at three?"},
                                        {"index": 1, "status": "done", "text": "Or at four."}]'::jsonb
                    WHERE conversation_id = $1
                    """, [id])
            }
            let done = try await client.call(.get, "/v1/conversations/\(id)", key: f.a.read)
            let message = try #require(done.body["messages"]?.arrayValue?.first)
            #expect(message["status"] == .string("done") && message["transcript"] == .string("Can I come at three?\nOr at four."))
        }
    }

    @Test func aTenantSeesAndActsOnOnlyItsOwnConversations() async throws {
        let (f, number) = try await Self.fixture()
        try await f.test(.live) { client in
            try await Self.inbound(client, from: "+14155550211", to: number, body: "Hi")
            let id = try #require(try await Self.list(client, "", key: f.a.read).items.first?["id"]?.stringValue)

            // Tenant B: not found, whatever it asks, and nothing changes.
            #expect(try await Self.list(client, "", key: f.b.read).items.isEmpty)
            #expect(try await Self.list(client, "?contact=+14155550211", key: f.b.read).items.isEmpty)
            #expect(try await client.call(.get, "/v1/conversations/\(id)", key: f.b.admin).status == 404)
            #expect(try await client.call(.post, "/v1/conversations/\(id)/takeover", key: f.b.admin).status == 404)
            #expect(try await client.call(.post, "/v1/conversations/\(id)/release", key: f.b.admin).status == 404)
            let reply = try await client.call(.post, "/v1/conversations/\(id)/messages", key: f.b.admin, json: #"{"body": "Hello"}"#)
            #expect(reply.status == 404, "\(reply.body.text)")
            let named = try await client.call(.get, "/v1/conversations?tenant=\(f.a.id)", key: f.b.read)
            #expect(named.status == 422 && named.body["error"]?["field"] == .string("tenant"))
            // A read key reads, but neither takes over nor replies.
            #expect(try await client.call(.get, "/v1/conversations/\(id)", key: f.a.read).status == 200)
            #expect(try await client.call(.post, "/v1/conversations/\(id)/takeover", key: f.a.read).status == 403)
            let enqueueKey = try await client.call(.post, "/v1/conversations/\(id)/messages", key: f.a.enqueue, json: #"{"body": "Hi"}"#)
            #expect(enqueueKey.status == 403)
            #expect(try await client.call(.get, "/v1/conversations/\(id)", key: nil).status == 401)

            // The operator sees every tenant's, or one tenant's.
            let operatorView = try await Self.list(client, "?tenant=\(f.a.id)", key: APIFixture.operatorKey)
            #expect(operatorView.items.compactMap { $0["id"]?.stringValue } == [id])
            #expect(try await client.call(.get, "/v1/conversations/\(id)", key: APIFixture.operatorKey).status == 200)
        }
        #expect(try await Self.rows(f, "SELECT 1 FROM messages WHERE tenant_id = $1", [f.b.id]).isEmpty)
        #expect(try await Self.rows(f, "SELECT 1 FROM events WHERE kind LIKE 'conversation.%' AND tenant_id = $1", [f.a.id]).isEmpty)
    }

    @Test func takeoverAndReleaseFlipTheModeAndWriteEvents() async throws {
        let (f, number) = try await Self.fixture()
        try await f.test(.live) { client in
            try await Self.inbound(client, from: "+14155550221", to: number, body: "I want to talk to a person")
            let id = try #require(try await Self.list(client, "", key: f.a.read).items.first?["id"]?.stringValue)

            let taken = try await client.call(
                .post, "/v1/conversations/\(id)/takeover", key: f.a.admin, json: #"{"reason": "asked for a person"}"#)
            #expect(taken.status == 200, "\(taken.body.text)")
            #expect(taken.body["mode"] == .string("human") && taken.body["mode_reason"] == .string("asked for a person"))
            let changedAt = try #require(taken.body["mode_changed_at"]?.stringValue)
            // Again, without a body: the same state, no second event.
            let again = try await client.call(.post, "/v1/conversations/\(id)/takeover", key: f.a.admin)
            #expect(again.status == 200 && again.body["mode"] == .string("human"), "\(again.body.text)")
            #expect(again.body["mode_changed_at"] == .string(changedAt) && again.body["mode_reason"] == .string("asked for a person"))
            let unknown = try await client.call(.post, "/v1/conversations/\(id)/takeover", key: f.a.admin, json: #"{"why": "x"}"#)
            #expect(unknown.status == 422 && unknown.body["error"]?["field"] == .string("why"), "\(unknown.body.text)")
            let empty = try await client.call(.post, "/v1/conversations/\(id)/takeover", key: f.a.admin, json: #"{"reason": ""}"#)
            #expect(empty.status == 422 && empty.body["error"]?["field"] == .string("reason"), "\(empty.body.text)")

            let released = try await client.call(.post, "/v1/conversations/\(id)/release", key: APIFixture.operatorKey)
            #expect(released.status == 200 && released.body["mode"] == .string("ai"), "\(released.body.text)")
            #expect(released.body["mode_reason"] == .null)
            let shown = try await client.call(.get, "/v1/conversations/\(id)", key: f.a.read)
            #expect(shown.body["mode"] == .string("ai"))
        }
        let stored = try await Self.rows(f, "SELECT mode, mode_reason, mode_changed_at FROM conversations WHERE tenant_id = $1", [f.a.id])
        #expect(try stored.first?.string("mode") == "ai")
        #expect(try stored.first?.string("mode_changed_at") != nil)
        let events = try await Self.rows(
            f,
            """
            SELECT kind, payload->>'conversation_id' AS conversation, payload->>'by' AS by, payload->>'reason' AS reason
            FROM events WHERE tenant_id = $1 AND kind LIKE 'conversation.%' ORDER BY id
            """, [f.a.id])
        #expect(try events.map { try $0.string("kind") ?? "" } == ["conversation.takeover", "conversation.release"])
        #expect(try events.first?.string("reason") == "asked for a person")
        #expect(try events.last?.string("by") == "operator")
        // A tenant's key is named by its id.
        let by = try events.first?.string("by") ?? ""
        #expect(!by.isEmpty && by != "operator")
        let conversation = try await Self.rows(f, "SELECT id FROM conversations WHERE tenant_id = $1", [f.a.id]).first?.string("id")
        #expect(try events.allSatisfy { try $0.string("conversation") == conversation })
    }

    @Test func anAgentReplyIsStoredInTheConversationAndItsSendJobEnqueued() async throws {
        let (f, number) = try await Self.fixture()
        // The contact is one of the tenant's: the reply is linked to it.
        _ = try await ContactImporter(pool: f.pool).run(
            tenantID: f.a.id, csv: Array("phone,first_name,consent\n+14155550231,Ann,yes\n".utf8), dryRun: false)
        try await f.test(.live) { client in
            try await Self.inbound(client, from: "+14155550231", to: number, body: "Can I move my booking?")
            try await Self.inbound(client, from: "+14155550232", to: number, body: "Hello")
            let conversations = try await Self.list(client, "", key: f.a.read).items
            let id = try #require(conversations.last?["id"]?.stringValue)
            #expect(conversations.last?["contact"] == .string("+14155550231"))

            let path = "/v1/conversations/\(id)/messages"
            let sent = try await client.call(
                .post, path, key: f.a.admin, json: #"{"body": "Of course: which day suits you?"}"#,
                headers: [("Idempotency-Key", "booking-7")])
            #expect(sent.status == 202 && sent.body["status"] == .string("queued"), "\(sent.body.text)")
            let messageID = try #require(sent.body["id"]?.stringValue)
            #expect(messageID.hasPrefix("msg_"))

            // The same key again: the same message, nothing more; with another body, a mistake.
            let again = try await client.call(
                .post, path, key: f.a.admin, json: #"{"body": "Of course: which day suits you?"}"#,
                headers: [("Idempotency-Key", "booking-7")])
            #expect(again.status == 200 && again.body["id"] == .string(messageID), "\(again.body.text)")
            let reused = try await client.call(
                .post, path, key: f.a.admin, json: #"{"body": "Another text"}"#, headers: [("Idempotency-Key", "booking-7")])
            #expect(reused.status == 409 && reused.body["error"]?["code"] == .string("idempotency_key_reused"), "\(reused.body.text)")
            // Bad input names the field and stores nothing.
            for body in [#"{"body": ""}"#, #"{}"#, #"{"body": 7}"#, #"{"body": "Hi", "to": "+14155550999"}"#] {
                let refused = try await client.call(.post, path, key: f.a.admin, json: body)
                #expect(refused.status == 422 && refused.body["error"]?["field"] != nil, "\(body): \(refused.body.text)")
            }
            let badKey = try await client.call(
                .post, path, key: f.a.admin, json: #"{"body": "Hi"}"#, headers: [("Idempotency-Key", String(repeating: "k", count: 257))])
            #expect(badKey.status == 422 && badKey.body["error"]?["field"] == .string("Idempotency-Key"), "\(badKey.body.text)")
            let nobody = try await client.call(.post, "/v1/conversations/cv_nobody/messages", key: f.a.admin, json: #"{"body": "Hi"}"#)
            #expect(nobody.status == 404, "\(nobody.body.text)")

            // The conversation is the most recently active again, and shows the reply after the contact's message.
            #expect(try await Self.list(client, "", key: f.a.read).items.first?["id"] == .string(id))
            let shown = try await client.call(.get, "/v1/conversations/\(id)", key: f.a.read)
            let messages = shown.body["messages"]?.arrayValue ?? []
            #expect(messages.compactMap { $0["direction"]?.stringValue } == ["inbound", "outbound"], "\(shown.body.text)")
            let reply = try #require(messages.last)
            #expect(reply["id"] == .string(messageID) && reply["author"] == .string("agent") && reply["status"] == .string("queued"))
            #expect(reply["body"] == .string("Of course: which day suits you?"))
            #expect(reply["media"] == .array([]) && reply["transcript"] == .null)
            // The message API shows it like any other.
            let message = try await client.call(.get, "/v1/messages/\(messageID)", key: f.a.read)
            #expect(message.status == 200 && message.body["purpose"] == .string("transactional") && message.body["from"] == .string(number))
        }
        let rows = try await Self.rows(
            f,
            """
            SELECT m.id, m.author, m.conversation_id, m.purpose, m.to_phone, m.from_sender, m.status, m.segments, m.encoding, m.cost_cents,
                   m.idempotency_key, c.phone AS contact_phone
            FROM messages m LEFT JOIN contacts c ON c.id = m.contact_id WHERE m.tenant_id = $1
            """, [f.a.id])
        #expect(rows.count == 1)
        let row = try #require(rows.first)
        let messageID = try #require(try row.string("id"))
        let conversationID = try await Self.rows(
            f, "SELECT id FROM conversations WHERE contact = '+14155550231' AND tenant_id = $1", [f.a.id]
        ).first?.string("id")
        #expect(try row.string("conversation_id") == conversationID)
        #expect(
            try InboundTests.lines([row], ["author", "purpose", "to_phone", "from_sender", "status", "segments", "encoding", "cost_cents"])
                == ["agent transactional +14155550231 \(number) queued 1 GSM-7 1"])
        #expect(try row.string("idempotency_key") == "booking-7")
        #expect(try row.string("contact_phone") == "+14155550231")

        // One `send` job, found by the message id as its idempotency key, for the message's tenant.
        let key = f.queue.keys.idempotencyPrefix("sms") + f.a.id + ":" + messageID
        let jobID = try #require(try await f.queue.redis.run("GET", key).string)
        let job = try #require(try await f.queue.record(jobID))
        #expect(job.kind == "send" && job.tenant == f.a.id)
        let args = try JSONValue.parse(job.args ?? "{}")
        #expect(args["message_id"] == .string(messageID) && args["from"] == .string(number) && args["segments"] == .number(1))
        #expect(Int(try await f.queue.redis.run("HGET", f.queue.keys.stats("sms"), "enqueued:send").string ?? "0") == 1)
    }

    @Test func aWhatsAppConversationIsAnsweredOnWhatsApp() async throws {
        let (f, number) = try await Self.fixture()
        try await f.test(.live) { client in
            // The tenant registered the bare number; the contact writes to it on WhatsApp.
            try await Self.inbound(client, from: "whatsapp:+14155550241", to: "whatsapp:" + number, body: "Hola")
            let conversation = try #require(try await Self.list(client, "?contact=whatsapp:+14155550241", key: f.a.read).items.first)
            #expect(conversation["channel"] == .string("whatsapp") && conversation["number"] == .string("whatsapp:" + number))
            let id = try #require(conversation["id"]?.stringValue)
            let sent = try await client.call(.post, "/v1/conversations/\(id)/messages", key: f.a.admin, json: #"{"body": "Hola, Ana!"}"#)
            #expect(sent.status == 202, "\(sent.body.text)")
        }
        let rows = try await Self.rows(f, "SELECT to_phone, from_sender, author, encoding FROM messages WHERE tenant_id = $1", [f.a.id])
        #expect(
            try InboundTests.lines(rows, ["to_phone", "from_sender", "author", "encoding"]) == [
                "whatsapp:+14155550241 whatsapp:\(number) agent GSM-7"
            ])
    }

    @Test func aNumbersAISettingsAreSetWithPut() async throws {
        let f = try await APIFixture()
        let number = SenderNumberTests.freshNumber()
        let prompt = "You are the front desk of {{business_name}}. Today is {{date}}."
        try await f.test(.live) { client in
            // Not registered yet: registered to the tenant, with the settings.
            let created = try await client.call(
                .put, Self.path(number), key: f.a.admin, json: #"{"ai_reply": true, "prompt": "\#(prompt)"}"#)
            #expect(created.status == 201, "\(created.body.text)")
            #expect(created.body["number"] == .string(number) && created.body["tenant"] == .string(f.a.id))
            #expect(created.body["ai_reply"] == .bool(true) && created.body["ai_prompt"] == .string(prompt))
            // Then updated: what is left out is kept; a null prompt removes it.
            let off = try await client.call(.put, Self.path(number), key: f.a.admin, json: #"{"ai_reply": false}"#)
            #expect(off.status == 200 && off.body["ai_reply"] == .bool(false), "\(off.body.text)")
            #expect(off.body["ai_prompt"] == .string(prompt))
            #expect(off.body["id"] == created.body["id"])
            let cleared = try await client.call(.put, Self.path(number), key: f.a.admin, json: #"{"prompt": null}"#)
            #expect(cleared.status == 200 && cleared.body["ai_prompt"] == .null && cleared.body["ai_reply"] == .bool(false))
            let listed = try await client.call(.get, "/v1/numbers", key: f.a.admin)
            let entry = listed.body["numbers"]?.arrayValue?.first { $0["number"] == .string(number) }
            #expect(entry?["ai_reply"] == .bool(false) && entry?["ai_prompt"] == .null, "\(listed.body.text)")

            // Bad values are refused naming the field.
            let refusals: [(String, String)] = [
                (#"{"ai_reply": "yes"}"#, "ai_reply"), (#"{"prompt": ""}"#, "prompt"), (#"{"prompt": 42}"#, "prompt"),
                (#"{"prompt": "\#(String(repeating: "a", count: 20_001))"}"#, "prompt"), (#"{"ai": true}"#, "ai"),
                (#"{"tenant": "\#(f.b.id)"}"#, "tenant"),
            ]
            for (body, field) in refusals {
                let refused = try await client.call(.put, Self.path(number), key: f.a.admin, json: body)
                #expect(
                    refused.status == 422 && refused.body["error"]?["field"] == .string(field), "\(body.prefix(60)): \(refused.body.text)")
            }
            let badNumber = try await client.call(.put, "/v1/numbers/call-me", key: f.a.admin, json: #"{"ai_reply": true}"#)
            #expect(badNumber.status == 422 && badNumber.body["error"]?["field"] == .string("number"))
            // Another tenant's number: a conflict that does not say whose; a read key may not set.
            let taken = try await client.call(.put, Self.path(number), key: f.b.admin, json: #"{"ai_reply": true}"#)
            #expect(taken.status == 409 && taken.body["error"]?["code"] == .string("number_taken"), "\(taken.body.text)")
            #expect(try await client.call(.put, Self.path(number), key: f.a.read, json: #"{"ai_reply": true}"#).status == 403)
            // The operator names the tenant.
            let other = SenderNumberTests.freshNumber()
            let byOperator = try await client.call(
                .put, Self.path(other), key: APIFixture.operatorKey, json: #"{"tenant": "\#(f.b.id)", "ai_reply": true}"#)
            #expect(byOperator.status == 201 && byOperator.body["tenant"] == .string(f.b.id), "\(byOperator.body.text)")
        }
        let stored = try await Self.rows(f, "SELECT ai_reply, ai_prompt FROM sender_numbers WHERE number = $1", [number])
        #expect(try stored.first?.bool("ai_reply") == false)
        #expect(try stored.first?.string("ai_prompt") == nil)

        // The store directly: a prompt set, then kept when the call gives none.
        let numbers = SenderNumbers(pool: f.pool)
        let set = try await numbers.configure(number, tenantID: f.a.id, aiReply: true, prompt: .set("Be brief."))
        #expect(!set.created && set.number.aiReply && set.number.aiPrompt == "Be brief.")
        let kept = try await numbers.configure(number, tenantID: f.a.id, aiReply: nil)
        #expect(kept.number.aiReply && kept.number.aiPrompt == "Be brief.")
    }
}
