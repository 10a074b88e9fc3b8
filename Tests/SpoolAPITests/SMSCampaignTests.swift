import FoundationEssentials
import SpoolAPI
import SpoolHTTP
import SpoolJobs
import SpoolPostgres
import SpoolQueue
import SpoolSMS
import SpoolStore
import SpoolSupport
import Synchronization
import TestSupport
import Testing

/// SMS campaigns end to end: real PostgreSQL, Redis, the sandbox provider, the API (for receipts) and
/// a worker running the `send` kind.
@Suite struct SMSCampaignTests {
    static let repositoryKinds: [JobKindSpec] = {
        let catalog = try! JobKindCatalog.load(directory: TestEnvironment.packageRoot + "/Jobs")
        return catalog.kinds.compactMap { catalog[$0] }
    }()

    /// A zone where it is daytime now, so that quiet hours do not hold the test's messages.
    static func daytimeZone(now: Int64 = SystemClock().nowMillis()) -> String {
        let zones = [
            "Europe/London", "Asia/Tokyo", "America/New_York", "America/Los_Angeles", "Pacific/Honolulu", "Asia/Kolkata",
            "Pacific/Kiritimati",
        ]
        return zones.first { QuietHours().nextAllowed(nowMs: now, zone: ZoneInfo.named($0)!) == nil }!
    }

    /// A zone where it is night now.
    static func nightZone(now: Int64 = SystemClock().nowMillis()) -> String {
        let zones = [
            "Europe/London", "Asia/Tokyo", "America/New_York", "America/Los_Angeles", "Pacific/Honolulu", "Asia/Kolkata",
            "Pacific/Kiritimati",
        ]
        return zones.first { QuietHours().nextAllowed(nowMs: now, zone: ZoneInfo.named($0)!) != nil }!
    }

    static func services(_ f: APIFixture, sandbox: RunningSandbox, apiPort: Int) -> JobServices {
        JobServices(
            postgres: f.pool, http: HTTPClient(name: "test-providers"),
            twilio: TwilioConfiguration(
                baseURL: sandbox.baseURL, accountSid: RunningSandbox.accountSid, authToken: RunningSandbox.authToken,
                publicURL: "http://127.0.0.1:\(apiPort)"))
    }

    @Test func aCampaignGoesFromImportToDeliveryReceiptsWithEveryGate() async throws {
        let port = try LocalServer.freePort()
        let sandbox = try await RunningSandbox.start()
        let f = try await APIFixture(kinds: Self.repositoryKinds) {
            $0.port = port
            $0.publicURL = "http://127.0.0.1:\(port)"
            $0.twilioAuthToken = RunningSandbox.authToken
        }
        let zone = Self.daytimeZone()
        var lines = ["phone,first_name,timezone,consent,city"]
        for n in 0..<20 { lines.append("(415) 555-\(CivilTime.pad(1000 + n, 4)),Ann\(n),\(zone),yes,Paris") }
        lines.append("+1 415 555 2000,NoConsent,\(zone),,Lyon")
        lines.append("415.555.2001,Stopped,\(zone),yes,Nice")
        lines.append("+15005550001,Invalid,\(zone),yes,Metz")  // the sandbox answers 21211
        lines.append("+15005550004,OptedOut,\(zone),yes,Brest")  // the sandbox answers 21610
        lines.append("not a phone,Bad,\(zone),yes,Nowhere")
        let importer = ContactImporter(pool: f.pool)
        let report = try await importer.run(tenantID: f.a.id, csv: Array(lines.joined(separator: "\n").utf8), dryRun: false)
        #expect(report.valid == 24 && report.inserted == 24 && report.rejected.map(\.line) == [26])
        _ = try await importer.run(tenantID: f.a.id, csv: Array("phone\n+14155552001\n".utf8), dryRun: false, stopList: true)

        let store = CampaignStore(pool: f.pool, enqueuer: f.queue.enqueuer)
        let campaign = try await store.create(
            tenantID: f.a.id, name: "Spring", sender: f.a.sender, body: "Hi {{first_name}}, see you in {{city}}!")
        let launch = try await store.launch(id: campaign.id)
        #expect(launch.queued == 22 && launch.skipped == 2 && launch.enqueued == 22)
        // Launching again changes nothing.
        let again = try await store.launch(id: campaign.id)
        #expect(again.queued == 22 && again.enqueued == 0)

        try await f.queue.admin.setLimit("sms:sender:{from}", .rate(units: 1_000, period: .seconds(1), burst: 100))
        let api = Task { try await f.server.runUntilCancelled() }
        defer { api.cancel() }
        let worker = RunningWorker(
            f.queue, handlers: [SendHandler(services: Self.services(f, sandbox: sandbox, apiPort: port))], concurrency: 8, queues: ["sms"])
        let reports = CampaignReports(pool: f.pool)
        try await waitUntil("every message to reach a final state with its receipt", timeout: .seconds(30)) {
            let report = try await reports.report(campaignID: campaign.id)!
            return (report.byStatus["delivered"] ?? 0) == 20 && report.campaign.status == .completed
        }
        try await worker.stop()
        await sandbox.stop()

        let final = try await reports.report(campaignID: campaign.id)!
        #expect(final.byStatus == ["delivered": 20, "failed": 2, "skipped": 2])
        // The report's kept counts agree with the messages themselves, after every status change.
        let counted = try await f.pool.withConnection {
            try $0.query("SELECT status, count(*) AS n FROM messages WHERE campaign_id = $1 GROUP BY status", [campaign.id]).rows.map {
                (try $0.string("status")!, try $0.int("n")!)
            }
        }
        #expect(Dictionary(uniqueKeysWithValues: counted) == final.byStatus)
        let sentMinutes = try await f.pool.withConnection {
            try $0.query("SELECT count(*) AS n FROM messages WHERE campaign_id = $1 AND sent_at IS NOT NULL", [campaign.id]).first!.int("n")!
        }
        #expect(final.sentPerMinute.map(\.sent).reduce(0, +) == sentMinutes)
        #expect(final.bySkipReason == ["no_consent": 1, "do_not_contact": 1])
        #expect(final.deliveryRate == 20.0 / 22.0)
        #expect(final.costCents == 20)
        // 21610 put the number on the do-not-contact list.
        let dnc = try await f.pool.withConnection {
            try $0.query("SELECT phone FROM do_not_contact WHERE tenant_id = $1 ORDER BY phone", [f.a.id]).rows.map {
                try $0.string("phone")!
            }
        }
        #expect(dnc == ["+14155552001", "+15005550004"])
        let body = try await f.pool.withConnection {
            try $0.query("SELECT body FROM messages WHERE to_phone = '+14155551003'").first?.string("body")
        }
        #expect(body == "Hi Ann3, see you in Paris!")
    }
}
