import SpoolAPI
import SpoolJobs
import SpoolQueue
import SpoolStore
import SpoolSupport
import TestSupport
import Testing

/// Scheduled campaign launch (issue 16): `launch --at` enqueues one `campaign-launch` job for the
/// instant, and only a campaign still scheduled for that instant launches.
@Suite struct CampaignScheduleTests {
    func campaign(_ f: APIFixture, contacts: Int = 3) async throws -> Campaign {
        let zone = SMSCampaignTests.daytimeZone()
        var lines = ["phone,first_name,timezone,consent"]
        for n in 0..<contacts { lines.append("+1415555\(CivilTime.pad(3000 + n, 4)),Ann\(n),\(zone),yes") }
        _ = try await ContactImporter(pool: f.pool).run(tenantID: f.a.id, csv: Array(lines.joined(separator: "\n").utf8), dryRun: false)
        return try await CampaignStore(pool: f.pool, enqueuer: f.queue.enqueuer).create(
            tenantID: f.a.id, name: "Later", sender: f.a.sender, body: "Hi {{first_name}}")
    }

    func messages(_ f: APIFixture, _ campaign: Campaign) async throws -> Int {
        try await f.pool.withConnection {
            try $0.query("SELECT count(*) AS n FROM messages WHERE campaign_id = $1", [campaign.id]).first!.int("n")!
        }
    }

    @Test func aScheduledLaunchWaitsForItsInstantAndACancelOrANewTimeWins() async throws {
        let f = try await APIFixture(kinds: SMSCampaignTests.repositoryKinds)
        let store = CampaignStore(pool: f.pool, enqueuer: f.queue.enqueuer)
        let campaign = try await campaign(f)
        let now = SystemClock().nowMillis()
        let first = now + 3_600_000
        let scheduled = try await store.scheduleLaunch(id: campaign.id, atMs: first)
        #expect(scheduled.status == .scheduled && scheduled.launchAtMs == first)
        #expect(try await messages(f, campaign) == 0)
        // The job waits in Redis for its instant.
        let job = try await f.pool.withConnection {
            try $0.query("SELECT job_id FROM events WHERE campaign_id = $1 AND kind = 'campaign.scheduled'", [campaign.id]).first!.string("job_id")!
        }
        #expect(try await f.queue.admin.states(of: [(job, "default")]) == [.scheduled])

        // Moved: the first instant's job launches nothing, the second's launches.
        let second = now + 7_200_000
        _ = try await store.scheduleLaunch(id: campaign.id, atMs: second)
        #expect(try await store.launchScheduled(id: campaign.id, atMs: first) == nil)
        #expect(try await messages(f, campaign) == 0)
        let report = try #require(try await store.launchScheduled(id: campaign.id, atMs: second))
        #expect(report.queued == 3 && report.enqueued == 3)
        #expect(try await store.campaign(id: campaign.id)?.status == .running)
        // The same job again (its worker died before settling) goes on idempotently.
        let again = try #require(try await store.launchScheduled(id: campaign.id, atMs: second))
        #expect(again.queued == 3 && again.enqueued == 0)

        // Cancelled before its instant: the job finds nothing to launch.
        let other = try await CampaignStore(pool: f.pool, enqueuer: f.queue.enqueuer).create(
            tenantID: f.a.id, name: "Never", sender: f.a.sender, body: "Hi")
        _ = try await store.scheduleLaunch(id: other.id, atMs: first)
        #expect(try await store.control(id: other.id, .cancel).status == .cancelled)
        #expect(try await store.launchScheduled(id: other.id, atMs: first) == nil)
        #expect(try await messages(f, other) == 0)

        // A time in the past, or a campaign already running, is refused with the reason.
        let third = try await CampaignStore(pool: f.pool, enqueuer: f.queue.enqueuer).create(
            tenantID: f.a.id, name: "Past", sender: f.a.sender, body: "Hi")
        await #expect { _ = try await store.scheduleLaunch(id: third.id, atMs: now - 1_000) } throws: {
            ($0 as? CampaignStore.InputError)?.message.hasPrefix("at: ") == true && "\($0)".contains("not in the future")
        }
        await #expect { _ = try await store.scheduleLaunch(id: campaign.id, atMs: second) } throws: {
            ($0 as? CampaignStore.InputError)?.message.contains("is running") == true
        }
    }

    @Test func aWorkerLaunchesTheCampaignAtItsInstant() async throws {
        let f = try await APIFixture(kinds: SMSCampaignTests.repositoryKinds)
        let campaign = try await campaign(f, contacts: 5)
        var services = JobServices(postgres: f.pool, http: .init(name: "test"), twilio: nil)
        services.enqueuer = f.queue.enqueuer
        let at = SystemClock().nowMillis() + 1_500
        _ = try await CampaignStore(pool: f.pool, enqueuer: f.queue.enqueuer).scheduleLaunch(id: campaign.id, atMs: at)
        let worker = RunningWorker(f.queue, handlers: [CampaignLaunchHandler(services: services)], queues: ["default"])
        try await waitUntil("the campaign to launch", timeout: .seconds(60)) {
            try await CampaignStore(pool: f.pool, enqueuer: nil).campaign(id: campaign.id)?.status == .running
        }
        try await worker.stop()
        #expect(SystemClock().nowMillis() >= at)
        #expect(try await messages(f, campaign) == 5)
        let launched = try await f.pool.withConnection {
            try $0.query("SELECT count(*) AS n FROM events WHERE campaign_id = $1 AND kind = 'campaign.launched'", [campaign.id]).first!.int("n")!
        }
        #expect(launched == 1)
    }

    @Test func theAPISchedulesALaunchWithAtAndCancelsIt() async throws {
        let f = try await APIFixture(kinds: SMSCampaignTests.repositoryKinds)
        let campaign = try await campaign(f)
        let at = CivilTime(unixMillis: SystemClock().nowMillis() + 86_400_000).rfc3339
        try await f.test { client in
            let bad = try await client.call(.post, "/v1/campaigns/\(campaign.id)/launch", key: f.a.admin, json: #"{"at": "tomorrow"}"#)
            #expect(bad.status == 422 && bad.body["error"]?["field"]?.stringValue == "at")
            let scheduled = try await client.call(.post, "/v1/campaigns/\(campaign.id)/launch", key: f.a.admin, json: #"{"at": "\#(at)"}"#)
            #expect(scheduled.status == 202)
            #expect(scheduled.body["status"]?.stringValue == "scheduled" && scheduled.body["launch_at"]?.stringValue == at)
            // Another tenant's key does not see it.
            let foreign = try await client.call(.post, "/v1/campaigns/\(campaign.id)/cancel", key: f.b.admin)
            #expect(foreign.status == 404)
            let cancelled = try await client.call(.post, "/v1/campaigns/\(campaign.id)/cancel", key: f.a.admin)
            #expect(cancelled.status == 200 && cancelled.body["status"]?.stringValue == "cancelled")
        }
        #expect(try await messages(f, campaign) == 0)
    }
}
