import FoundationEssentials
import HTTPTypes
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

/// The send kind's gates, budgets under races, templates, imports and receipts, against real
/// PostgreSQL and Redis (the provider is never reached: each case stops before it, or uses no worker).
@Suite struct SMSGateTests {
    struct World {
        let f: APIFixture
        let store: CampaignStore
        let messages: MessageStore
        let handler: SendHandler
        let context: JobContext
    }

    /// By default the provider is an address nothing listens on: a test that reached it would fail loudly.
    func world(_ f: APIFixture, sandbox: RunningSandbox? = nil) -> World {
        let twilio =
            sandbox.map {
                TwilioConfiguration(
                    baseURL: $0.baseURL, accountSid: RunningSandbox.accountSid, authToken: RunningSandbox.authToken,
                    publicURL: "http://127.0.0.1:9")
            } ?? TwilioConfiguration(baseURL: "http://127.0.0.1:9", accountSid: "AC1", authToken: "t", publicURL: "http://127.0.0.1:9")
        let services = JobServices(postgres: f.pool, http: HTTPClient(name: "gates"), twilio: twilio)
        return World(
            f: f, store: CampaignStore(pool: f.pool, enqueuer: f.queue.enqueuer), messages: MessageStore(pool: f.pool),
            handler: SendHandler(services: services),
            context: JobContext(redis: f.queue.redis, keys: f.queue.keys, clock: SystemClock(), logger: TestEnvironment.logger))
    }

    /// Imports `csv` for tenant A, launches a campaign, and returns the message ids by phone.
    func launch(_ w: World, csv: String, body: String = "Hello {{first_name}}") async throws -> (campaign: String, ids: [String: String]) {
        _ = try await ContactImporter(pool: w.f.pool).run(tenantID: w.f.a.id, csv: Array(csv.utf8), dryRun: false)
        let campaign = try await w.store.create(tenantID: w.f.a.id, name: "Gates", sender: w.f.a.sender, body: body)
        _ = try await w.store.launch(id: campaign.id)
        let rows = try await w.f.pool.withConnection {
            try $0.query("SELECT id, to_phone FROM messages WHERE campaign_id = $1", [campaign.id]).rows
        }
        return (campaign.id, Dictionary(uniqueKeysWithValues: try rows.map { (try $0.string("to_phone")!, try $0.string("id")!) }))
    }

    func run(_ w: World, _ messageID: String) async throws -> JobOutcome {
        let job = Job(
            id: "job-\(messageID)", queue: "sms", kind: "send",
            args: #"{"message_id":"\#(messageID)","from":"\#(w.f.a.sender)","segments":1}"#,
            attempt: 0, maxAttempts: 5, enqueuedAt: 0, tenant: w.f.a.id, leaseToken: "lease")
        do { return try await w.handler.perform(job, context: w.context) } catch let error as JobError {
            return .dead(reason: error.message)
        }
    }

    func status(_ w: World, _ id: String) async throws -> (String, String?) {
        try await w.f.pool.withConnection { connection in
            let row = try connection.query("SELECT status, reason FROM messages WHERE id = $1", [id]).first!
            return (try row.string("status")!, try row.string("reason"))
        }
    }

    @Test func pausedTenantsAndCampaignsWaitAndCancelledCampaignsSkip() async throws {
        let w = world(try await APIFixture(kinds: SMSCampaignTests.repositoryKinds))
        let zone = SMSCampaignTests.daytimeZone()
        let (campaign, ids) = try await launch(
            w, csv: "phone,first_name,timezone,consent\n+14155550100,A,\(zone),yes\n+14155550101,B,\(zone),yes\n")
        _ = try await w.f.tenants.setPaused(id: w.f.a.id, true)
        guard case .snooze(_, let reason) = try await run(w, ids["+14155550100"]!) else {
            Issue.record("a paused tenant's send must wait"); return
        }
        #expect(reason == "tenant paused")
        _ = try await w.f.tenants.setPaused(id: w.f.a.id, false)
        _ = try await w.store.control(id: campaign, .pause)
        guard case .snooze(_, let paused) = try await run(w, ids["+14155550100"]!) else {
            Issue.record("a paused campaign's send must wait"); return
        }
        #expect(paused == "campaign paused")
        #expect(try await status(w, ids["+14155550100"]!).0 == "queued")
        _ = try await w.store.control(id: campaign, .cancel)
        #expect(try await status(w, ids["+14155550101"]!) == ("skipped", "campaign_cancelled"))
        #expect(try await run(w, ids["+14155550101"]!) == .completed(result: "message already skipped"))
    }

    @Test func quietHoursPostponeToTheRecipientsMorning() async throws {
        let w = world(try await APIFixture(kinds: SMSCampaignTests.repositoryKinds))
        let night = SMSCampaignTests.nightZone()
        // A contact without a zone of its own: the number's zone decides, never the tenant's (Europe/Paris).
        // New York, Guam and Paris are never all in the day at once.
        let byNumber = [("+12125550201", "America/New_York"), ("+16715550201", "Pacific/Guam"), ("+33612345678", "Europe/Paris")]
        let (phone, numberZone) = byNumber.first {
            QuietHours().nextAllowed(nowMs: SystemClock().nowMillis(), zone: ZoneInfo.named($0.1)!) != nil
        }!
        let (_, ids) = try await launch(w, csv: "phone,first_name,timezone,consent\n+14155550200,N,\(night),yes\n\(phone),M,,yes\n")
        guard case .snooze(let until, let reason) = try await run(w, ids["+14155550200"]!) else {
            Issue.record("a night send must wait"); return
        }
        #expect(reason == "quiet hours in \(night)")
        let local = QuietHours().localMinute(until, ZoneInfo.named(night)!)
        #expect(local == 8 * 60)
        #expect(try await status(w, ids["+14155550200"]!).0 == "queued")
        guard case .snooze(let morning, let why) = try await run(w, ids[phone]!) else {
            Issue.record("a night send must wait by the number's zone"); return
        }
        #expect(why == "quiet hours in \(numberZone)")
        #expect(QuietHours().localMinute(morning, ZoneInfo.named(numberZone)!) == 8 * 60)
    }

    /// A number taken away from the tenant after launch (and perhaps given to another) sends nothing
    /// more; a number with messages still to send cannot be removed through the store.
    @Test func aSenderNoLongerTheTenantsSendsNothing() async throws {
        let w = world(try await APIFixture(kinds: SMSCampaignTests.repositoryKinds))
        let zone = SMSCampaignTests.daytimeZone()
        let (_, ids) = try await launch(w, csv: "phone,first_name,timezone,consent\n+14155550400,A,\(zone),yes\n")
        await #expect { try await SenderNumbers(pool: w.f.pool).remove(w.f.a.sender, tenantID: w.f.a.id) } throws: { error in
            guard case SenderNumberError.inUse = error else { return false }
            return "\(error)".contains("1 messages to send")
        }
        // Behind the store's back, as a bug or a hand edit might.
        try await w.f.pool.withConnection { try $0.query("DELETE FROM sender_numbers WHERE number = $1", [w.f.a.sender]) }
        #expect(
            try await run(w, ids["+14155550400"]!)
                == .completed(result: "skipped: \(w.f.a.sender) is no longer one of the tenant's sender numbers"))
        #expect(try await status(w, ids["+14155550400"]!) == ("skipped", "sender_not_owned"))
    }

    @Test func invalidNumbersDieAndOptOutsAndConsentSkip() async throws {
        let w = world(try await APIFixture(kinds: SMSCampaignTests.repositoryKinds))
        let zone = SMSCampaignTests.daytimeZone()
        let (_, ids) = try await launch(
            w, csv: "phone,first_name,timezone,consent\n+14155550300,A,\(zone),yes\n+14155550301,B,\(zone),yes\n")
        // A number made invalid behind the importer's back, and one added to do-not-contact after launch.
        try await w.f.pool.withConnection { connection in
            try connection.query("UPDATE messages SET to_phone = '+0123' WHERE id = $1", [ids["+14155550300"]!])
            try connection.query("INSERT INTO do_not_contact (tenant_id, phone, reason) VALUES ($1, '+14155550301', 'STOP')", [w.f.a.id])
        }
        guard case .dead(let reason) = try await run(w, ids["+14155550300"]!) else {
            Issue.record("an invalid number must be dead"); return
        }
        #expect(reason.contains("is not E.164"))
        #expect(try await status(w, ids["+14155550300"]!).0 == "failed")
        #expect(try await run(w, ids["+14155550301"]!) == .completed(result: "skipped: do not contact"))
        #expect(try await status(w, ids["+14155550301"]!) == ("skipped", "do_not_contact"))
    }

    @Test func providerThrottlingPostponesWithoutSendingAndPausesOnlyWhenToldHowLong() async throws {
        let sandbox = try await RunningSandbox.start()
        defer { Task { await sandbox.stop() } }
        let w = world(try await APIFixture(kinds: SMSCampaignTests.repositoryKinds), sandbox: sandbox)
        let zone = SMSCampaignTests.daytimeZone()
        let (_, ids) = try await launch(
            w,
            csv: "phone,first_name,timezone,consent\n+14155550400,A,\(zone),yes\n+14155550401,B,\(zone),yes\n+14155550402,C,\(zone),yes\n")
        let (first, second, third) = (ids["+14155550400"]!, ids["+14155550401"]!, ids["+14155550402"]!)

        // 20429 with no time to wait (too many requests in flight for the account): the job waits a
        // moment, the message is queued again, and no limiter is paused.
        try await sandbox.setFaults(#"{"scope": "sms", "latency_ms": 400, "max_concurrent_requests": 1}"#)
        let sent = SystemClock().nowMillis()
        async let a = run(w, first)
        async let b = run(w, second)
        let outcomes = try await [a, b]
        #expect(
            outcomes.filter {
                if case .completed = $0 { return true }; return false
            }.count == 1)
        guard
            let busy = outcomes.first(where: {
                if case .snooze = $0 { return true }; return false
            }),
            case .snooze(let until, let reason) = busy
        else { Issue.record("one send must wait: \(outcomes)"); return }
        // Later than the send (a busy machine may have reached it by now).
        #expect(reason.contains("20429") && until > sent)
        let statuses = try await [status(w, first).0, status(w, second).0].sorted()
        #expect(statuses == ["queued", "sent"])

        // A 429 with Retry-After: the sender's limiter pauses until then, for every process.
        try await sandbox.setFaults(
            #"{"scope": "sms", "latency_ms": 0, "max_concurrent_requests": 100, "burst_429": 1, "retry_after_seconds": 3}"#)
        let before = SystemClock().nowMillis()
        guard case .throttled(let resume, _, let limit) = try await run(w, third) else { Issue.record("a 429 must throttle"); return }
        #expect(limit == "sender")
        #expect(resume >= before + 2_000 && resume <= SystemClock().nowMillis() + 3_000)
        #expect(try await status(w, third).0 == "queued")
        #expect(try await sandbox.counters()["sms_accepted_total"] == .number(1))
    }

    @Test func aBudgetIsNeverOverspentWhenManyWorkersRace() async throws {
        let f = try await APIFixture(kinds: SMSCampaignTests.repositoryKinds)
        let tenant = try await f.tenants.create(name: "Budget", timezone: "UTC", dailyBudgetCents: 7)
        let zone = SMSCampaignTests.daytimeZone()
        let csv =
            "phone,first_name,timezone,consent\n"
            + (0..<40).map { "+1415555\(CivilTime.pad(4000 + $0, 4)),X,\(zone),yes" }.joined(separator: "\n")
        _ = try await ContactImporter(pool: f.pool).run(tenantID: tenant.id, csv: Array(csv.utf8), dryRun: false)
        let store = CampaignStore(pool: f.pool, enqueuer: f.queue.enqueuer)
        let campaign = try await store.create(
            tenantID: tenant.id, name: "Race", sender: try await APIFixture.registerSender(f.pool, tenant: tenant.id), body: "One segment")
        _ = try await store.launch(id: campaign.id)
        let messages = MessageStore(pool: f.pool)
        let ids = try await f.pool.withConnection {
            try $0.query("SELECT id FROM messages WHERE campaign_id = $1", [campaign.id]).rows.map { try $0.string("id")! }
        }
        // 40 sends race for a 7-cent daily cap at one cent each.
        let results = try await withThrowingTaskGroup(of: MessageStore.Begin.self) { group in
            for id in ids {
                group.addTask {
                    let context = try await messages.context(id)!
                    return try await messages.begin(context, token: "t-\(id)", jobID: "j", nowMs: SystemClock().nowMillis())
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(results.filter { $0 == .sending }.count == 7)
        #expect(
            results.allSatisfy {
                if case .overBudget(_, "day") = $0 { return true }; return $0 == .sending
            })
        let spent = try await f.pool.withConnection {
            try $0.query("SELECT spent_cents FROM budget_spend WHERE tenant_id = $1 AND period = 'day'", [tenant.id]).first?.int(
                "spent_cents")
        }
        #expect(spent == 7)
    }

    @Test func aTemplateFieldContactsLackStopsTheLaunch() async throws {
        let w = world(try await APIFixture(kinds: SMSCampaignTests.repositoryKinds))
        _ = try await ContactImporter(pool: w.f.pool).run(
            tenantID: w.f.a.id, csv: Array("phone,first_name,consent,city\n+14155550400,A,yes,Paris\n+14155550401,B,yes,\n".utf8),
            dryRun: false)
        let campaign = try await w.store.create(
            tenantID: w.f.a.id, name: "T", sender: w.f.a.sender, body: "Hi {{first_name}} from {{city}}")
        await #expect { try await w.store.launch(id: campaign.id) } throws: { error in
            "\(error)" == "body: {{city}} is empty for 1 contacts (e.g. +14155550401); fill it in or change the template"
        }
        #expect(
            try await w.f.pool.withConnection {
                try $0.query("SELECT count(*) AS n FROM messages WHERE campaign_id = $1", [campaign.id]).first?.int("n")
            } == 0)
        await #expect(throws: ContactImporter.InputError.self) {
            try await w.store.create(tenantID: w.f.a.id, name: "T", sender: w.f.a.sender, body: "Hi {{first name}")
        }
    }

    @Test func importsReportEveryBadRowByLineAndKeepTheGoodOnes() async throws {
        let f = try await APIFixture(kinds: SMSCampaignTests.repositoryKinds)
        let csv = """
            Phone,First Name,timezone,consent,plan
            +14155550500,Ann,America/New_York,yes,gold
            415-555-0501,Bob,Mars/Base,yes,
            12,Cy,,yes,
            "+1 (415) 555-0502","Dee, Jr.",,maybe,
            +14155550500,Ann again,,no,silver
            +14155550503,Eve
            """
        let importer = ContactImporter(pool: f.pool)
        let dry = try await importer.run(tenantID: f.a.id, csv: Array(csv.utf8), dryRun: true)
        #expect(
            dry.rejected == [
                .init(line: 3, reason: "timezone: 'Mars/Base' is not an IANA time zone"),
                .init(line: 4, reason: "phone: '12' has 2 digits; a North American number has 10"),
                .init(line: 5, reason: "consent: 'maybe' is not opted_in, opted_out or empty"),
                .init(line: 7, reason: "2 fields, the header has 5"),
            ])
        #expect(dry.valid == 1 && dry.duplicates == 1 && dry.inserted == 1)
        #expect(
            try await f.pool.withConnection {
                try $0.query("SELECT count(*) AS n FROM contacts WHERE tenant_id = $1", [f.a.id]).first?.int("n")
            } == 0)
        let real = try await importer.run(tenantID: f.a.id, csv: Array(csv.utf8), dryRun: false)
        #expect(real.inserted == 1 && real.rejected.count == 4)
        let row = try await f.pool.withConnection {
            try $0.query("SELECT first_name, consent, custom::text AS custom FROM contacts WHERE tenant_id = $1", [f.a.id]).first!
        }
        // The later duplicate wins.
        #expect(
            try row.string("first_name") == "Ann again" && row.string("consent") == "opted_out"
                && row.string("custom") == #"{"plan": "silver"}"#)
    }

    @Test func receiptsAreSignedIdempotentAndNeverMoveBackwards() async throws {
        let f = try await APIFixture(kinds: SMSCampaignTests.repositoryKinds) {
            $0.publicURL = "https://spool.example.test"; $0.twilioAuthToken = "secret-token"
        }
        let w = world(f)
        let zone = SMSCampaignTests.daytimeZone()
        let (_, ids) = try await launch(w, csv: "phone,first_name,timezone,consent\n+14155550600,A,\(zone),yes\n")
        let id = ids["+14155550600"]!
        try await f.pool.withConnection { try $0.query("UPDATE messages SET status = 'sent', provider_sid = 'SM1' WHERE id = $1", [id]) }
        let path = "/v1/webhooks/twilio/status?ref=\(id)"
        func post(_ status: String, signedWith token: String = "secret-token", signature override: String? = nil) async throws -> Int {
            let fields = [("MessageSid", "SM1"), ("MessageStatus", status)]
            let signature = override ?? TwilioSignature.sign(url: "https://spool.example.test" + path, parameters: fields, authToken: token)
            return try await f.test { client in
                try await client.call(
                    .post, path, key: nil, json: FormEncoding.encode(fields), contentType: "application/x-www-form-urlencoded",
                    headers: [("X-Twilio-Signature", signature)]
                ).status
            }
        }
        #expect(try await post("delivered", signedWith: "wrong-token") == 403)
        #expect(try await post("delivered", signature: "") == 403)
        #expect(try await status(w, id).0 == "sent")
        #expect(try await post("delivered") == 200)
        #expect(try await post("delivered") == 200)  // twice: no change
        #expect(try await post("sent") == 200)  // late and out of order: ignored
        #expect(try await status(w, id).0 == "delivered")
        let receipts = try await f.pool.withConnection {
            try $0.query("SELECT count(*) AS n FROM events WHERE message_id = $1 AND kind LIKE 'receipt.%'", [id]).first?.int("n")
        }
        #expect(receipts == 1)
    }
}
