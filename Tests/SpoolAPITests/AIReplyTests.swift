import FoundationEssentials
import SpoolAPI
import SpoolHTTP
import SpoolJobs
import SpoolPostgres
import SpoolQueue
import SpoolStore
import SpoolSupport
import TestSupport
import Testing

/// The conversation path end to end, against real PostgreSQL, Redis, the API over a socket and the
/// sandbox (acting as Twilio and OpenAI): a contact's text or voice note arrives by webhook, the
/// `ai-reply` kind writes one answer with chat completions, and `send` hands it to the provider.
@Suite struct AIReplyTests {
    struct World: Sendable {
        let inbound: InboundTests.World
        let services: JobServices
        let worker: RunningWorker
        let scheduler: Task<Void, any Error>

        var f: APIFixture { inbound.f }
        var sandbox: RunningSandbox { inbound.sandbox }
        var number: String { inbound.number }

        func stop() async {
            scheduler.cancel()
            _ = await scheduler.result
            try? await worker.stop()
            services.http.close()
            await inbound.stop()
        }
    }

    /// The debounce is short so that tests are quick, and long enough that a burst posted one after
    /// another lands inside it even on a busy machine.
    static func world(debounce: Duration = .milliseconds(300)) async throws -> World {
        let inbound = try await InboundTests.world { $0.replyDebounce = debounce }
        var openai = OpenAIConfiguration(
            baseURL: inbound.sandbox.baseURL + "/v1", apiKey: OpenAIConfiguration.sandboxAPIKey, usesSandbox: true)
        openai.chatTimeout = .seconds(20)
        openai.replyDebounce = debounce
        var services = JobServices(
            postgres: inbound.f.pool, http: HTTPClient(name: "test-providers"),
            twilio: TwilioConfiguration(
                baseURL: inbound.sandbox.baseURL, accountSid: RunningSandbox.accountSid, authToken: RunningSandbox.authToken,
                publicURL: "http://127.0.0.1:\(inbound.port)"),
            openai: openai)
        services.enqueuer = inbound.f.queue.enqueuer
        let worker = RunningWorker(
            inbound.f.queue,
            handlers: [TranscriptionHandler(services: services), AIReplyHandler(services: services), SendHandler(services: services)],
            concurrency: 8, queues: ["ai", "sms"])
        // The debounced reply is a scheduled job: the scheduler promotes it.
        let scheduler = SchedulerService(
            redis: inbound.f.queue.redis, settings: inbound.f.queue.settings, declaredQueues: ["ai", "sms"], logger: TestEnvironment.logger)
        let task = Task { try await scheduler.run() }
        try await setAIReply(inbound.f, number: inbound.number, on: true)
        return World(inbound: inbound, services: services, worker: worker, scheduler: task)
    }

    static func setAIReply(_ f: APIFixture, number: String, on: Bool) async throws {
        _ = try await f.pool.withConnection { try $0.query("UPDATE sender_numbers SET ai_reply = $2 WHERE number = $1", [number, on]) }
    }

    /// A fresh contact: every test shares one database.
    static func freshContact() -> String { "+1415555" + String(Int.random(in: 1_000...9_999)) }

    static func text(_ w: World, from: String, _ body: String, sid: String? = nil) async throws -> JSONValue {
        var fields: [String: JSONValue] = ["from": .string(from), "to": .string(w.number), "body": .string(body)]
        if let sid { fields["sid"] = .string(sid) }
        let answer = try await w.inbound.inbound(fields)
        #expect(answer["status"] == .number(200), "\(answer.text)")
        return answer
    }

    struct Reply: Sendable {
        let id: String
        let body: String
        let status: String
        let promptTokens: Int?
        let completionTokens: Int?
        let cost: Int?
    }

    /// The AI's replies in the contact's conversation, oldest first.
    static func replies(_ w: World, contact: String) async throws -> [Reply] {
        try await InboundTests.rows(
            w.f,
            """
            SELECT m.id, m.body, m.status, m.ai_prompt_tokens, m.ai_completion_tokens, m.ai_cost_millicents
            FROM messages m JOIN conversations c ON c.id = m.conversation_id
            WHERE c.contact = $1 AND c.number = $2 AND m.author = 'ai' ORDER BY m.queued_at, m.id
            """, [contact, w.number]
        ).map { row in
            Reply(
                id: try row.string("id")!, body: try row.string("body")!, status: try row.string("status")!,
                promptTokens: try row.int("ai_prompt_tokens"), completionTokens: try row.int("ai_completion_tokens"),
                cost: try row.int("ai_cost_millicents"))
        }
    }

    /// The replies once one of them is in `status`; `sent` includes `delivered`, which the sandbox's
    /// receipt makes of it moments later.
    static func replies(_ w: World, contact: String, once status: String) async throws -> [Reply] {
        var found: [Reply] = []
        try await waitUntil("an AI reply to \(contact) to be \(status)", timeout: .seconds(60)) {
            found = try await replies(w, contact: contact)
            return found.contains { $0.status == status || (status == "sent" && $0.status == "delivered") }
        }
        return found
    }

    /// Texts the sandbox accepted for `to`.
    static func accepted(_ w: World, to: String) async throws -> [JSONValue] {
        (try await w.sandbox.counters()["sms_accepted"]?.arrayValue ?? []).filter { $0["to"]?.stringValue == to }
    }

    /// The contact's conversation with the world's number.
    static func conversationID(_ w: World, contact: String) async throws -> String {
        let rows = try await InboundTests.rows(
            w.f, "SELECT id FROM conversations WHERE contact = $1 AND number = $2", [contact, w.number])
        return try #require(try rows.first?.string("id"))
    }

    @Test func aTextGetsOneReplyThatGoesToTheProvider() async throws {
        let w = try await Self.world()
        defer { Task { await w.stop() } }
        let contact = Self.freshContact()
        _ = try await Self.text(w, from: contact, "Hi, can I book a table for four tonight?")
        let replies = try await Self.replies(w, contact: contact, once: "sent")
        #expect(replies.count == 1)
        let reply = try #require(replies.first)
        // The sandbox quotes the first eight words of the last thing the contact said.
        #expect(reply.body.contains("\"Hi, can I book a table for four\""), "\(reply.body)")
        #expect((reply.promptTokens ?? 0) > 0 && (reply.completionTokens ?? 0) > 0 && reply.cost != nil, "\(reply)")
        // Sent once, from the number the contact wrote to.
        let sent = try await Self.accepted(w, to: contact)
        #expect(sent.count == 1 && sent.first?["body"]?.stringValue == reply.body && sent.first?["count"] == .number(1), "\(sent)")
        #expect(try await w.sandbox.counters()["requests"]?["chat"] == .number(1))
        // The tenant's AI spend for the day.
        let usage = try await InboundTests.rows(
            w.f, "SELECT requests, prompt_tokens, completion_tokens FROM ai_usage WHERE tenant_id = $1", [w.f.a.id])
        #expect((try usage.first?.int("requests") ?? 0) >= 1)
        #expect(
            try await InboundTests.count(w.f, "SELECT count(*) AS n FROM events WHERE message_id = $1 AND kind = 'ai.reply'", [reply.id])
                == 1)
        let purpose = try await InboundTests.rows(w.f, "SELECT purpose, to_phone, from_sender FROM messages WHERE id = $1", [reply.id])
        #expect(try InboundTests.lines(purpose, ["purpose", "to_phone", "from_sender"]) == ["transactional \(contact) \(w.number)"])
    }

    @Test func aVoiceNoteIsTranscribedAndTheTranscriptDrivesTheReply() async throws {
        let w = try await Self.world()
        defer { Task { await w.stop() } }
        let contact = Self.freshContact()
        let words = "Please move my cleaning to Thursday morning"
        _ = try await w.inbound.inbound([
            "from": .string(contact), "to": .string(w.number), "body": .string(""),
            "media": .array([.object(["content_type": .string("audio/ogg"), "transcript": .string(words)])]),
        ])
        let replies = try await Self.replies(w, contact: contact, once: "sent")
        #expect(replies.count == 1)
        #expect(replies.first?.body.contains("Please move my cleaning to Thursday") == true, "\(replies)")
        let counters = try await w.sandbox.counters()
        #expect(counters["requests"]?["transcription"] == .number(1) && counters["requests"]?["chat"] == .number(1), "\(counters.text)")
    }

    @Test func theSameWebhookThreeTimesIsOneMessageAndOneReply() async throws {
        let w = try await Self.world()
        defer { Task { await w.stop() } }
        let contact = Self.freshContact()
        let sid = InboundTests.freshSid()
        for _ in 0..<3 { _ = try await Self.text(w, from: contact, "Do you deliver to 94110?", sid: sid) }
        _ = try await Self.replies(w, contact: contact, once: "sent")
        #expect(try await InboundTests.count(w.f, "SELECT count(*) AS n FROM inbound_messages WHERE provider_sid = $1", [sid]) == 1)
        // Every ai-reply job of the conversation settled, and one reply among them.
        try await Self.settledReplyJobs(w)
        #expect(try await Self.replies(w, contact: contact).count == 1)
        #expect(try await Self.accepted(w, to: contact).count == 1)
    }

    @Test func aBurstOfFiveMessagesGetsOneReplyToAllOfThem() async throws {
        let w = try await Self.world(debounce: .seconds(1))
        defer { Task { await w.stop() } }
        let contact = Self.freshContact()
        let lines = ["Hi", "I wanted to ask", "about my order", "number 4521", "is it shipped yet?"]
        // The queue is held while the burst arrives, as a debounce longer than a busy machine takes to
        // post five webhooks would: each message finds the first one's reply still waiting.
        try await w.f.queue.admin.pause(queue: "ai")
        for line in lines { _ = try await Self.text(w, from: contact, line) }
        try await w.f.queue.admin.resume(queue: "ai")
        let replies = try await Self.replies(w, contact: contact, once: "sent")
        try await Self.settledReplyJobs(w)
        #expect(try await Self.replies(w, contact: contact).count == 1, "\(replies.map(\.body))")
        #expect(replies.first?.body.contains("is it shipped yet?") == true)
    }

    @Test func aTakeoverWhileTheChatCallIsInFlightSendsNoAIReply() async throws {
        let w = try await Self.world(debounce: .zero)
        defer { Task { await w.stop() } }
        // Long enough for the takeover below to land while the call is in flight on a busy machine.
        _ = try await w.sandbox.setFaults(#"{"scope": "chat", "latency_ms": 6000}"#)
        let contact = Self.freshContact()
        _ = try await Self.text(w, from: contact, "Can someone call me back?")
        let conversation = try await Self.conversationID(w, contact: contact)
        // The chat call has begun when the sandbox has counted it; the answer takes 6 s.
        try await waitUntil("the chat call to begin", timeout: .seconds(30)) {
            try await w.sandbox.counters()["requests"]?["chat"] == .number(1)
        }
        _ = try await w.f.pool.withConnection {
            try $0.query("UPDATE conversations SET mode = 'human', mode_changed_at = now() WHERE id = $1", [conversation])
        }
        let replies = try await Self.replies(w, contact: contact, once: "suppressed")
        #expect(replies.count == 1 && replies.first?.status == "suppressed", "\(replies)")
        try await Self.settledReplyJobs(w)
        #expect(try await Self.accepted(w, to: contact).isEmpty)
    }

    @Test func aReplyStoredBeforeTheTakeoverIsSuppressedWhenSendHandsItOver() async throws {
        let w = try await Self.world(debounce: .zero)
        defer { Task { await w.stop() } }
        // Sends wait in the paused sms queue, so the takeover lands between the reply and its send.
        let contact = Self.freshContact()
        try await w.f.queue.admin.pause(queue: "sms")
        _ = try await Self.text(w, from: contact, "What time do you close?")
        let replies = try await Self.replies(w, contact: contact, once: "queued")
        let conversation = try await Self.conversationID(w, contact: contact)
        _ = try await w.f.pool.withConnection { try $0.query("UPDATE conversations SET mode = 'human' WHERE id = $1", [conversation]) }
        try await w.f.queue.admin.resume(queue: "sms")
        let after = try await Self.replies(w, contact: contact, once: "suppressed")
        #expect(after.map(\.id) == replies.map(\.id))
        #expect(try await Self.accepted(w, to: contact).isEmpty)
        let reasons = try await InboundTests.rows(w.f, "SELECT reason FROM messages WHERE id = $1", [after[0].id])
        #expect(try reasons.first?.string("reason") == "human_takeover")
    }

    @Test func stopOptsOutAndNoAIReplyIsAskedFor() async throws {
        let w = try await Self.world(debounce: .zero)
        defer { Task { await w.stop() } }
        let contact = Self.freshContact()
        _ = try await Self.text(w, from: contact, "STOP")
        let conversation = try await Self.conversationID(w, contact: contact)
        // The webhook enqueues the reply before it answers: none was, for a keyword.
        let unique = w.f.queue.keys.uniquePrefix("ai") + w.f.a.id + ":" + conversation
        #expect(try await w.f.queue.redis.run("EXISTS", unique).int == 0)
        // And a text after STOP is not answered: the contact opted out.
        _ = try await Self.text(w, from: contact, "why did you text me")
        try await Self.settledReplyJobs(w)
        #expect(try await Self.replies(w, contact: contact).isEmpty)
        #expect(try await w.sandbox.counters()["requests"]?["chat"] == nil)
    }

    @Test func rateLimitsFromTheChatAPIWaitWithoutUsingAttempts() async throws {
        let w = try await Self.world(debounce: .zero)
        defer { Task { await w.stop() } }
        _ = try await w.sandbox.setFaults(#"{"scope": "chat", "burst_429": 2, "retry_after_seconds": 1}"#)
        let contact = Self.freshContact()
        _ = try await Self.text(w, from: contact, "Are you open on Sunday?")
        let replies = try await Self.replies(w, contact: contact, once: "sent")
        #expect(replies.count == 1)
        let statuses = try await w.sandbox.counters()["statuses"]?["chat"]
        #expect(statuses?["429"] == .number(2) && statuses?["200"] == .number(1), "\(statuses?.text ?? "-")")
        // Throttled twice, run once: the job completed on its first attempt.
        let rows = try await InboundTests.rows(w.f, "SELECT job_id FROM events WHERE message_id = $1 AND kind = 'ai.reply'", [replies[0].id])
        let jobID = try #require(try rows.first?.string("job_id"))
        let record = try #require(try await w.f.queue.record(jobID))
        #expect(record.state == .completed && record.attempt == 1, "\(record)")
    }

    @Test func aPromptOverTheModelsContextIsTriedOnceMoreWithFewerMessages() async throws {
        let w = try await Self.world(debounce: .seconds(2))
        defer { Task { await w.stop() } }
        // Six messages of ~100 tokens each are over a 450-token context; the newest three are not.
        _ = try await w.sandbox.setFaults(#"{"chat_context_tokens": 450}"#)
        let contact = Self.freshContact()
        // All six in one reply's prompt: the queue is held while they arrive (see the burst test).
        try await w.f.queue.admin.pause(queue: "ai")
        for index in 0..<6 { _ = try await Self.text(w, from: contact, "part \(index) " + String(repeating: "z", count: 390)) }
        try await w.f.queue.admin.resume(queue: "ai")
        let replies = try await Self.replies(w, contact: contact, once: "sent")
        #expect(replies.count == 1)
        let chat = try await w.sandbox.counters()["chat"]
        #expect(chat?["context_length_exceeded"] == .number(1) && chat?["completed"] == .number(1), "\(chat?.text ?? "-")")
    }

    @Test func aRefusalHandsTheConversationToAHuman() async throws {
        let w = try await Self.world(debounce: .zero)
        defer { Task { await w.stop() } }
        _ = try await w.sandbox.setFaults(#"{"chat_refuse_words": ["lawsuit"]}"#)
        let contact = Self.freshContact()
        _ = try await Self.text(w, from: contact, "I am filing a lawsuit against you")
        let conversation = try await Self.conversationID(w, contact: contact)
        try await waitUntil("the conversation to be handed to a human", timeout: .seconds(60)) {
            try await InboundTests.rows(w.f, "SELECT mode FROM conversations WHERE id = $1", [conversation]).first?.string("mode") == "human"
        }
        let rows = try await InboundTests.rows(
            w.f, "SELECT mode_reason FROM conversations WHERE id = $1", [conversation])
        #expect(try rows.first?.string("mode_reason")?.contains("refused") == true)
        #expect(
            try await InboundTests.count(
                w.f, "SELECT count(*) AS n FROM events WHERE kind = 'conversation.handover' AND payload->>'conversation_id' = $1",
                [conversation]) == 1)
        #expect(try await Self.replies(w, contact: contact).isEmpty)
        #expect(try await Self.accepted(w, to: contact).isEmpty)
    }

    @Test func aMessageArrivingWhileTheReplyIsWrittenGetsItsOwnReply() async throws {
        let w = try await Self.world(debounce: .zero)
        defer { Task { await w.stop() } }
        _ = try await w.sandbox.setFaults(#"{"scope": "chat", "latency_ms": 1500}"#)
        let contact = Self.freshContact()
        _ = try await Self.text(w, from: contact, "Do you open at nine tomorrow?")
        try await waitUntil("the first chat call to begin", timeout: .seconds(30)) {
            try await w.sandbox.counters()["requests"]?["chat"] == .number(1)
        }
        // The first reply is being written: this message is not in its prompt.
        _ = try await Self.text(w, from: contact, "Also, is parking free?")
        try await waitUntil("two replies sent", timeout: .seconds(60)) {
            try await Self.replies(w, contact: contact).filter { $0.status == "sent" || $0.status == "delivered" }.count == 2
        }
        try await Self.settledReplyJobs(w)
        let replies = try await Self.replies(w, contact: contact)
        #expect(replies.count == 2, "\(replies.map(\.body))")
        #expect(replies.last?.body.contains("Also, is parking free?") == true, "\(replies.map(\.body))")
    }

    @Test func aVoiceNoteThatCannotBeTranscribedIsStillAnswered() async throws {
        let w = try await Self.world(debounce: .zero)
        defer { Task { await w.stop() } }
        let contact = Self.freshContact()
        // One byte over OpenAI's 25 MiB: the transcription is dead, and the message says so.
        _ = try await w.inbound.inbound([
            "from": .string(contact), "to": .string(w.number), "body": .string(""),
            "media": .array([.object(["content_type": .string("audio/ogg"), "transcript": .string("x"), "size_bytes": .number(26_214_401)])]),
        ])
        let replies = try await Self.replies(w, contact: contact, once: "sent")
        #expect(replies.count == 1)
        #expect(replies.first?.body.contains("could not be transcribed") == true, "\(replies.map(\.body))")
        let status = try await InboundTests.rows(
            w.f,
            "SELECT i.transcription_status FROM inbound_messages i JOIN conversations c ON c.id = i.conversation_id WHERE c.contact = $1",
            [contact])
        #expect(try status.first?.string("transcription_status") == "failed")
    }

    /// Waits until no ai-reply job is pending, scheduled or running in the `ai` queue.
    static func settledReplyJobs(_ w: World) async throws {
        try await waitUntil("every ai-reply job to settle", timeout: .seconds(60)) {
            let stats = try await w.f.queue.stats("ai")
            return stats.pending == 0 && stats.scheduled == 0 && stats.active == 0 && stats.retry == 0
        }
    }
}
