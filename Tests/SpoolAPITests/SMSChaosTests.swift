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

/// The chaos test: a campaign of thousands of messages, worker processes killed with SIGKILL at
/// random moments and replaced. In the end every message is final, and the sandbox saw each exactly
/// once: zero duplicate sends, zero lost messages.
@Suite struct SMSChaosTests {
    static func count(_ f: APIFixture, _ campaign: String, _ statuses: [String]) async throws -> Int {
        try await f.pool.withConnection { connection in
            try connection.query(
                "SELECT count(*) AS n FROM messages WHERE campaign_id = $1 AND status = ANY($2::text[])",
                [campaign, PostgresArray(statuses)]
            ).first?.int("n") ?? 0
        }
    }

    @Test func killedWorkersNeitherLoseNorDoubleSendAnyMessage() async throws {
        let messages = 2_000
        let port = try LocalServer.freePort()
        let sandbox = try await RunningSandbox.start()
        let f = try await APIFixture(kinds: SMSCampaignTests.repositoryKinds) {
            $0.port = port
            $0.publicURL = "http://127.0.0.1:\(port)"
            $0.twilioAuthToken = RunningSandbox.authToken
        }
        let zone = SMSCampaignTests.daytimeZone()
        let csv =
            (["phone,first_name,timezone,consent"] + (0..<messages).map { "+1415\(CivilTime.pad(2_000_000 + $0, 7)),C\($0),\(zone),yes" })
            .joined(separator: "\n")
        try await sandbox.setFaults(#"{"latency_ms": 50, "jitter_ms": 20, "sender_rates": {"\#(f.a.sender)": 100000}}"#)
        #expect(try await ContactImporter(pool: f.pool).run(tenantID: f.a.id, csv: Array(csv.utf8), dryRun: false).inserted == messages)
        let store = CampaignStore(pool: f.pool, enqueuer: f.queue.enqueuer)
        let campaign = try await store.create(tenantID: f.a.id, name: "Chaos", sender: f.a.sender, body: "Hello {{first_name}}")
        #expect(try await store.launch(id: campaign.id).queued == messages)
        // 100 per second: the campaign sends for about 20 s, so the kills below land while it is
        // still sending even when this busy test process reads the counts late. (At 200/s a CI run
        // finished 1,700 messages before its third kill.)
        try await f.queue.admin.setLimit("sms:sender:{from}", .rate(units: 100, period: .seconds(1), burst: 10))
        let api = Task { try await f.server.runUntilCancelled() }
        defer { api.cancel() }

        let logs = FileManager.default.temporaryDirectory.appendingPathComponent("chaos-\(f.queue.keys.prefix)").path
        var workers = try (0..<3).map { try SMSWorkerProcess.start(f, sandbox: sandbox, apiPort: port, log: logs + "-\($0).log") }
        var started = 3
        var kills = 0
        // Kill a random worker each time another 100 messages have gone out, five times, replacing
        // each; none in the last 500, so every kill lands on a campaign still sending.
        for _ in 0..<5 {
            let before = try await Self.count(f, campaign.id, ["sent", "delivered"])
            if before >= messages - 500 { break }
            try await waitUntil("100 more messages sent", timeout: .seconds(60)) {
                try await Self.count(f, campaign.id, ["sent", "delivered"]) >= before + 100
            }
            let victim = Int.random(in: 0..<workers.count)
            workers[victim].signal(SIGKILL)
            workers[victim].wait()
            kills += 1
            workers[victim] = try SMSWorkerProcess.start(f, sandbox: sandbox, apiPort: port, log: logs + "-\(started).log")
            started += 1
        }
        do {
            // Final: sent, or delivered when its receipt came. A receipt the API could not take (a
            // busy machine) is not resent by the provider, so `sent` counts as final here.
            try await waitUntil("every message final", timeout: .seconds(120)) {
                try await Self.count(f, campaign.id, ["sent", "delivered"]) == messages
            }
        } catch {
            // Say where the rest are, and what the queue holds, before failing.
            let statuses = try await f.pool.withConnection {
                try $0.query("SELECT status, count(*) AS n FROM messages WHERE campaign_id = $1 GROUP BY status", [campaign.id]).rows
                    .map { "\(try $0.string("status")!): \(try $0.int("n")!)" }
            }
            let stats = try await f.queue.admin.stats()
            let errors = (0..<started).flatMap { n -> [String] in
                let text = FileManager.default.contents(atPath: logs + "-\(n).log").map { String(decoding: $0, as: UTF8.self) } ?? ""
                return text.split(separator: "\n").filter { $0.contains("error") }.suffix(3).map { "worker \(n): \($0.prefix(300))" }
            }
            let counters = try await sandbox.counters()
            Issue.record(
                """
                messages by status: \(statuses); queues: \(stats); sandbox: \(counters["statuses"] ?? .null), \
                callbacks delivered \(counters["callbacks_delivered"] ?? .null), failed \(counters["callbacks_failed"] ?? .null)
                \(errors.joined(separator: "\n"))
                """)
            throw error
        }
        for worker in workers { worker.signal(SIGTERM); _ = worker.wait() }
        // Every status callback answered or given up (two per message) before the API stops: NIO
        // traps when a server task is cancelled with a request still open.
        try await waitUntil("every status callback settled", timeout: .seconds(40)) {
            let c = try await sandbox.counters()
            return (c["callbacks_delivered"]?.intValue ?? 0) + (c["callbacks_failed"]?.intValue ?? 0) == 2
                * (c["sms_accepted_total"]?.intValue ?? 0)
        }
        let counters = try await sandbox.counters()
        await sandbox.stop()
        let delivered = try await Self.count(f, campaign.id, ["delivered"])
        print(
            "chaos: \(kills) kills, \(delivered) delivered, callbacks delivered \(counters["callbacks_delivered"] ?? .null), failed \(counters["callbacks_failed"] ?? .null) \(counters["callback_failures"] ?? .null)"
        )

        #expect(kills >= 3, "the workers finished before enough kills; the test proves little")
        #expect(try await Self.count(f, campaign.id, ["queued", "sending", "in_doubt"]) == 0)
        #expect(counters["sms_duplicates"] == .number(0))
        #expect(counters["sms_accepted_total"] == .number(Double(messages)))
        let withoutSid = try await f.pool.withConnection {
            try $0.query("SELECT count(*) AS n FROM messages WHERE campaign_id = $1 AND provider_sid IS NULL", [campaign.id]).first?.int(
                "n")
        }
        #expect(withoutSid == 0)
    }
}
