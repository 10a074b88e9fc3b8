import FoundationEssentials
import SpoolAPI
import SpoolPostgres
import SpoolQueue
import SpoolStore
import SpoolSupport
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The conversation chain under SIGKILL: voice notes from many contacts go webhook → transcription →
/// ai-reply → send across real `spool worker` processes, and a worker is killed while each step is at
/// the provider (transcriptions in flight, then chat calls, then sends) and replaced. In the end every
/// conversation has its transcript once and exactly one reply, which the provider accepted exactly
/// once.
///
/// What a kill costs: a transcription or chat call cut off mid-way is made again by the job's next run
/// (the provider offers no idempotency for them, and nothing was stored), so those counters may exceed
/// one per conversation by the calls in flight at a kill; the test prints them. The text itself goes
/// out once: `send` reconciles before it resends.
@Suite struct ConversationCrashTests {
    @Test func killingAWorkerAtEachStepCompletesEveryChainOnceAtTheProvider() async throws {
        let conversations = 20
        let w = try await InboundTests.world { $0.replyDebounce = .zero }
        defer { Task { await w.stop() } }
        try await AIReplyTests.setAIReply(w.f, number: w.number, on: true)
        // Each step takes a while at the provider, so that a kill lands on calls in flight.
        for (scope, latency) in [("transcription", 1500), ("chat", 1500), ("sms", 300)] {
            _ = try await w.sandbox.setFaults(#"{"scope": "\#(scope)", "latency_ms": \#(latency)}"#)
        }
        _ = try await w.sandbox.setFaults(#"{"sender_rates": {"\#(w.number)": 100000}}"#)
        try await w.f.queue.admin.setLimit("sms:sender:{from}", .rate(units: 1000, period: .seconds(1), burst: 100))
        let scheduler = SchedulerService(
            redis: w.f.queue.redis, settings: w.f.queue.settings, declaredQueues: ["ai", "sms"], logger: TestEnvironment.logger)
        let scheduling = Task { try await scheduler.run() }
        defer { scheduling.cancel() }

        let logs = FileManager.default.temporaryDirectory.appendingPathComponent("chain-\(w.f.queue.keys.prefix)").path
        func start(_ n: Int) throws -> ChildProcess {
            try SMSWorkerProcess.start(w.f, sandbox: w.sandbox, apiPort: w.port, log: logs + "-\(n).log", concurrency: 30, queues: "ai,sms")
        }
        var workers = try (0..<2).map(start)
        var started = 2

        let contacts = (0..<conversations).map { "+1415556\(CivilTime.pad(1000 + $0 + Int.random(in: 0..<8) * 1000, 4))" }
        for (index, contact) in contacts.enumerated() {
            _ = try await w.inbound([
                "from": .string(contact), "to": .string(w.number), "body": .string(""),
                "media": .array([
                    .object(["content_type": .string("audio/ogg"), "transcript": .string("Voice note \(index): please call me back")])
                ]),
            ])
        }

        // Kill a worker while each step is at the provider: when its calls have begun.
        var kills: [String] = []
        for (step, counter) in [("transcription", "transcription"), ("ai-reply", "chat"), ("send", "sms.create")] {
            try await waitUntil("\(step) calls to begin", timeout: .seconds(120)) {
                (try await w.sandbox.counters()["requests"]?[counter]?.intValue ?? 0) >= 3
            }
            let victim = Int.random(in: 0..<workers.count)
            workers[victim].signal(SIGKILL)
            workers[victim].wait()
            kills.append(step)
            workers[victim] = try start(started)
            started += 1
        }

        let sentReplies = """
            SELECT count(DISTINCT c.id) AS n FROM conversations c JOIN messages m ON m.conversation_id = c.id
            WHERE c.number = $1 AND c.contact = ANY($2::text[]) AND m.author = 'ai' AND m.status IN ('sent', 'delivered')
            """
        do {
            try await waitUntil("every conversation answered", timeout: .seconds(180)) {
                try await InboundTests.count(w.f, sentReplies, [w.number, PostgresArray(contacts)]) == conversations
            }
        } catch {
            let stats = try await w.f.queue.admin.stats()
            let counters = try await w.sandbox.counters()
            Issue.record("queues: \(stats); sandbox requests: \(counters["requests"]?.text ?? "-")")
            throw error
        }
        for worker in workers { worker.signal(SIGTERM); _ = worker.wait() }

        // One transcript per note, one reply per conversation, each accepted once by the provider.
        let transcripts = try await InboundTests.rows(
            w.f,
            """
            SELECT i.transcription_status, jsonb_array_length(i.transcripts) AS entries FROM inbound_messages i
            JOIN conversations c ON c.id = i.conversation_id WHERE c.number = $1 AND c.contact = ANY($2::text[])
            """, [w.number, PostgresArray(contacts)])
        #expect(transcripts.count == conversations)
        #expect(try transcripts.allSatisfy { try $0.string("transcription_status") == "done" && $0.int("entries") == 1 })
        let replies = try await InboundTests.rows(
            w.f,
            """
            SELECT c.contact, count(*) AS n FROM messages m JOIN conversations c ON c.id = m.conversation_id
            WHERE c.number = $1 AND c.contact = ANY($2::text[]) AND m.author = 'ai' GROUP BY c.contact
            """, [w.number, PostgresArray(contacts)])
        let perContact = try InboundTests.lines(replies, ["contact", "n"])
        #expect(replies.count == conversations && perContact.allSatisfy { $0.hasSuffix(" 1") }, "\(perContact)")
        let counters = try await w.sandbox.counters()
        #expect(counters["sms_duplicates"] == .number(0))
        for contact in contacts {
            let accepted = (counters["sms_accepted"]?.arrayValue ?? []).filter { $0["to"]?.stringValue == contact }
            #expect(accepted.count == 1 && accepted.first?["count"] == .number(1), "\(contact): \(accepted)")
        }
        let requests = counters["requests"]
        let transcriptions = requests?["transcription"]?.intValue ?? 0
        let chats = requests?["chat"]?.intValue ?? 0
        #expect(transcriptions >= conversations && chats >= conversations)
        print(
            "chain crash: kills during \(kills), \(conversations) conversations; provider calls: transcription \(transcriptions), chat \(chats), sms accepted \(counters["sms_accepted_total"] ?? .null)"
        )
    }
}
