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

/// The `transcription` kind end to end, against real PostgreSQL, Redis, the API over a socket and the
/// sandbox: the sandbox, acting as Twilio, posts a voice note to the inbound webhook, which stores it
/// and enqueues its transcription; a real worker downloads the note from the sandbox's media URL (Basic
/// auth, then the redirect to storage without it) and has the sandbox's OpenAI transcribe it.
@Suite struct TranscriptionTests {
    struct World: Sendable {
        let inbound: InboundTests.World
        let services: JobServices
        let worker: RunningWorker

        var f: APIFixture { inbound.f }
        var sandbox: RunningSandbox { inbound.sandbox }
        var number: String { inbound.number }

        func stop() async {
            try? await worker.stop()
            services.http.close()
            await inbound.stop()
        }
    }

    static func world() async throws -> World {
        let inbound = try await InboundTests.world()
        let services = JobServices(
            postgres: inbound.f.pool, http: HTTPClient(name: "test-providers"),
            twilio: TwilioConfiguration(
                baseURL: inbound.sandbox.baseURL, accountSid: RunningSandbox.accountSid, authToken: RunningSandbox.authToken,
                publicURL: "http://127.0.0.1:\(inbound.port)"),
            openai: OpenAIConfiguration(
                baseURL: inbound.sandbox.baseURL + "/v1", apiKey: OpenAIConfiguration.sandboxAPIKey, transcriptionModel: "whisper-1",
                transcriptionMillicentsPerMinute: 600, usesSandbox: true))
        let worker = RunningWorker(inbound.f.queue, handlers: [TranscriptionHandler(services: services)], concurrency: 4, queues: ["ai"])
        return World(inbound: inbound, services: services, worker: worker)
    }

    /// A message with these attachments, from a contact to the world's number: the sandbox's answer.
    static func send(_ w: World, media: [JSONValue], sid: String? = nil, body: String = "") async throws -> JSONValue {
        var fields: [String: JSONValue] = [
            "from": .string("+14155550180"), "to": .string(w.number), "body": .string(body), "media": .array(media),
        ]
        if let sid { fields["sid"] = .string(sid) }
        let answer = try await w.inbound.inbound(fields)
        #expect(answer["status"] == .number(200) && answer["twiml"] == .string(InboundTests.emptyTwiML), "\(answer.text)")
        return answer
    }

    struct Stored: Sendable {
        let id: String
        let status: String
        let entries: [JSONValue]
    }

    static func message(_ w: World, sid: String) async throws -> Stored? {
        let rows = try await InboundTests.rows(
            w.f, "SELECT id, transcription_status, transcripts::text AS transcripts FROM inbound_messages WHERE provider_sid = $1", [sid])
        guard let row = rows.first else { return nil }
        let entries = try JSONValue.parse(try row.string("transcripts") ?? "[]").arrayValue ?? []
        return Stored(id: try row.string("id") ?? "", status: try row.string("transcription_status") ?? "", entries: entries)
    }

    /// The message once its transcription is done or failed.
    static func settled(_ w: World, sid: String) async throws -> Stored {
        var found: Stored?
        try await waitUntil("the transcription of \(sid) to be done or failed", timeout: .seconds(60)) {
            found = try await message(w, sid: sid)
            return found?.status == "done" || found?.status == "failed"
        }
        return found!
    }

    /// The job the webhook enqueued for attachment `index`, by its idempotency key; nil when none was.
    static func jobID(_ w: World, messageID: String, index: Int) async throws -> String? {
        let key = w.f.queue.keys.idempotencyPrefix("ai") + w.f.a.id + ":transcription:\(messageID):\(index)"
        return try await w.f.queue.redis.run("GET", key).string
    }

    /// The job's record once it is in `state`.
    static func record(_ w: World, _ id: String, _ state: JobState) async throws -> JobRecord {
        try await waitUntil("job \(id) to be \(state.rawValue)", timeout: .seconds(30)) { try await w.f.queue.record(id)?.state == state }
        return try #require(try await w.f.queue.record(id))
    }

    @Test func aVoiceNoteIsTranscribedWithItsDurationAndCost() async throws {
        let w = try await Self.world()
        defer { Task { await w.stop() } }
        let words = "Can I move my appointment to Friday at three?"
        let answer = try await Self.send(
            w,
            media: [
                .object([
                    "content_type": .string("audio/ogg; codecs=opus"), "transcript": .string(words), "duration_seconds": .number(75.5),
                ])
            ])
        let sid = try #require(answer["sid"]?.stringValue)
        let stored = try await Self.settled(w, sid: sid)
        #expect(stored.status == "done")
        #expect(stored.entries.count == 1)
        let entry = try #require(stored.entries.first)
        #expect(entry["index"] == .number(0) && entry["status"] == .string("done"), "\(entry.text)")
        #expect(entry["text"] == .string(words))
        #expect(entry["duration_seconds"] == .number(75.5))
        // 75.5 s at 0.6 cents a minute: 0.755 cents, 755 thousandths of a cent.
        #expect(entry["cost_millicents"] == .number(755))
        #expect(entry["model"] == .string("whisper-1"))

        // One download (the media URL with the account's credentials, then storage without them) and
        // one transcription at the provider.
        let counters = try await w.sandbox.counters()
        #expect(counters["requests"]?["sms.media"] == .number(1))
        #expect(counters["requests"]?["media.storage"] == .number(1))
        #expect(counters["requests"]?["transcription"] == .number(1))

        // The job the webhook enqueued: the message's tenant, completed on its first attempt.
        let jobID = try #require(entry["job_id"]?.stringValue)
        #expect(try await Self.jobID(w, messageID: stored.id, index: 0) == jobID)
        let record = try await Self.record(w, jobID, .completed)
        #expect(record.tenant == w.f.a.id && record.attempt == 1 && record.kind == "transcription", "\(record)")
        #expect(
            try await InboundTests.count(
                w.f, "SELECT count(*) AS n FROM events WHERE inbound_message_id = $1 AND kind = 'transcription.done'", [stored.id]) == 1)

        // A job naming this message for another tenant was forged: dead, and the message is untouched.
        let forged = Job(
            id: "forged-\(stored.id)", queue: "ai", kind: "transcription",
            args: #"{"inbound_message_id":"\#(stored.id)","media_index":0}"#, attempt: 0, maxAttempts: 8, enqueuedAt: 0,
            tenant: w.f.b.id, leaseToken: "lease")
        let context = JobContext(redis: w.f.queue.redis, keys: w.f.queue.keys, clock: SystemClock(), logger: TestEnvironment.logger)
        await #expect {
            _ = try await TranscriptionHandler(services: w.services).perform(forged, context: context)
        } throws: { error in
            (error as? JobError)?.message.contains("does not belong to this job's tenant") == true
        }
        #expect(try await Self.message(w, sid: sid)?.entries == stored.entries)
    }

    @Test func theSameWebhookThreeTimesTranscribesOnce() async throws {
        let w = try await Self.world()
        defer { Task { await w.stop() } }
        let sid = InboundTests.freshSid()
        let words = "Is my order ready for pickup?"
        let media: [JSONValue] = [.object(["content_type": .string("audio/mpeg"), "transcript": .string(words)])]
        // Three deliveries at once (the sandbox re-sends the very same signed webhook for a sid it has
        // sent), then a fourth once the transcript is in.
        let answers: [JSONValue] = try await withThrowingTaskGroup(of: JSONValue.self) { group in
            for _ in 0..<3 { group.addTask { try await Self.send(w, media: media, sid: sid) } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(answers.allSatisfy { $0["sid"] == .string(sid) })
        let stored = try await Self.settled(w, sid: sid)
        _ = try await Self.send(w, media: media, sid: sid)
        #expect(stored.status == "done" && stored.entries.count == 1 && stored.entries.first?["text"] == .string(words))
        let jobID = try #require(stored.entries.first?["job_id"]?.stringValue)
        // Every delivery found the first one's job by its idempotency key.
        #expect(try await Self.jobID(w, messageID: stored.id, index: 0) == jobID)
        _ = try await Self.record(w, jobID, .completed)
        let counters = try await w.sandbox.counters()
        #expect(counters["requests"]?["transcription"] == .number(1))
        #expect(counters["requests"]?["sms.media"] == .number(1))
        #expect(counters["inbound_webhooks"]?["status 200"] == .number(4))
        #expect(try await InboundTests.count(w.f, "SELECT count(*) AS n FROM inbound_messages WHERE provider_sid = $1", [sid]) == 1)
    }

    @Test func onlyAudioAttachmentsAreTranscribed() async throws {
        let w = try await Self.world()
        defer { Task { await w.stop() } }
        let words = "Here is the photo of the damaged parcel."
        let answer = try await Self.send(
            w,
            media: [
                .object(["content_type": .string("image/jpeg")]),
                .object(["content_type": .string("audio/wav"), "transcript": .string(words), "duration_seconds": .number(10)]),
                .object(["content_type": .string("video/mp4")]),
            ], body: "See attached")
        let stored = try await Self.settled(w, sid: try #require(answer["sid"]?.stringValue))
        #expect(stored.status == "done")
        #expect(stored.entries.count == 1 && stored.entries.first?["index"] == .number(1), "\(stored.entries)")
        #expect(stored.entries.first?["text"] == .string(words))
        // 10 s at 0.6 cents a minute: 0.1 cents, which whole cents would round up to 1.
        #expect(stored.entries.first?["cost_millicents"] == .number(100))
        #expect(try await Self.jobID(w, messageID: stored.id, index: 0) == nil)
        #expect(try await Self.jobID(w, messageID: stored.id, index: 2) == nil)

        // No audio at all: no job, and nothing owed.
        let photo = try await Self.send(w, media: [.object(["content_type": .string("image/png")])])
        let photoSid = try #require(photo["sid"]?.stringValue)
        let plain = try #require(try await Self.message(w, sid: photoSid))
        #expect(plain.status == "none" && plain.entries.isEmpty)
        #expect(try await Self.jobID(w, messageID: plain.id, index: 0) == nil)
        let counters = try await w.sandbox.counters()
        #expect(counters["requests"]?["transcription"] == .number(1))
        #expect(counters["requests"]?["sms.media"] == .number(1))
    }

    @Test func unsupportedAndOversizedMediaAreDeadAndTheMessageSaysWhy() async throws {
        let w = try await Self.world()
        defer { Task { await w.stop() } }
        let cases: [(attachment: JSONValue, reason: String)] = [
            // Audio the transcription API does not read: refused before any download.
            (.object(["content_type": .string("audio/amr")]), "unsupported media: audio/amr"),
            // Announced as audio, served as something else.
            (
                .object(["content_type": .string("audio/ogg"), "served_content_type": .string("text/html; charset=utf-8")]),
                "unsupported media: the media was served as text/html"
            ),
            // One byte over OpenAI's 25 MiB: refused by its Content-Length, never read.
            (.object(["content_type": .string("audio/ogg"), "size_bytes": .number(Double(25 * 1024 * 1024 + 1))]), "oversized media"),
        ]
        for (attachment, reason) in cases {
            let answer = try await Self.send(w, media: [attachment])
            let stored = try await Self.settled(w, sid: try #require(answer["sid"]?.stringValue))
            #expect(stored.status == "failed", "\(reason)")
            let entry = try #require(stored.entries.first)
            #expect(entry["status"] == .string("failed"))
            #expect(entry["reason"]?.stringValue?.hasPrefix(reason) == true, "\(entry.text)")
            let record = try await Self.record(w, try #require(entry["job_id"]?.stringValue), .dead)
            #expect(record.deadReason?.hasPrefix(reason) == true, "\(record.deadReason ?? "-")")
            #expect(
                try await InboundTests.count(
                    w.f, "SELECT count(*) AS n FROM events WHERE inbound_message_id = $1 AND kind = 'transcription.failed'", [stored.id])
                    == 1)
        }
        let counters = try await w.sandbox.counters()
        // The AMR note was never downloaded; the other two were, as far as their types and sizes; none was uploaded.
        #expect(counters["requests"]?["sms.media"] == .number(2))
        #expect(counters["requests"]?["transcription"] == nil)
    }

    @Test func aRateLimitedTranscriptionCompletesLaterWithoutUsingAnAttempt() async throws {
        let w = try await Self.world()
        defer { Task { await w.stop() } }
        try await w.sandbox.setFaults(#"{"scope": "transcription", "burst_429": 1, "retry_after_seconds": 1}"#)
        let words = "Please call me back after five."
        let answer = try await Self.send(w, media: [.object(["content_type": .string("audio/mp4"), "transcript": .string(words)])])
        let stored = try await Self.settled(w, sid: try #require(answer["sid"]?.stringValue))
        #expect(stored.status == "done" && stored.entries.first?["text"] == .string(words))
        let record = try await Self.record(w, try #require(stored.entries.first?["job_id"]?.stringValue), .completed)
        // Completed on its first attempt: the 429 made it wait, and used none.
        #expect(record.attempt == 1 && (record.snoozes ?? 0) >= 1, "\(record)")
        let counters = try await w.sandbox.counters()
        #expect(counters["statuses"]?["transcription"]?["429"] == .number(1))
        #expect(counters["requests"]?["transcription"] == .number(2))
        // The account's limiter paused, for every worker.
        let pauses = try await w.f.queue.redis.run("HGET", w.f.queue.keys.limiter("openai:audio") + ":stats", "provider_pauses")
        #expect(pauses.string == "1")
    }

    @Test func aServerErrorIsRetriedWithBackoffAndCompletes() async throws {
        let w = try await Self.world()
        defer { Task { await w.stop() } }
        try await w.sandbox.setFaults(#"{"scope": "transcription", "burst_500": 1}"#)
        let words = "The delivery never arrived."
        let answer = try await Self.send(w, media: [.object(["content_type": .string("audio/webm"), "transcript": .string(words)])])
        let stored = try await Self.settled(w, sid: try #require(answer["sid"]?.stringValue))
        #expect(stored.status == "done" && stored.entries.first?["text"] == .string(words))
        let record = try await Self.record(w, try #require(stored.entries.first?["job_id"]?.stringValue), .completed)
        #expect(record.attempt == 2, "\(record)")
        #expect(record.lastError?.contains("HTTP 500") == true, "\(record.lastError ?? "-")")
        let counters = try await w.sandbox.counters()
        #expect(counters["statuses"]?["transcription"]?["500"] == .number(1))
        #expect(counters["requests"]?["transcription"] == .number(2))
    }
}
