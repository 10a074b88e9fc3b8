import FoundationEssentials
import SpoolHTTP
import SpoolJobs
import SpoolQueue
import SpoolStore
import SpoolSupport
import TestSupport
import Testing

@testable import SpoolAPI

/// A hostile tenant with its own keys against a running API and worker (real Redis, PostgreSQL and the
/// sandbox provider), one case per defect an adversarial review found (issue 12), while a second
/// tenant's campaign must finish in the time its own limit gives it.
@Suite struct AbuseTests {
    /// Over a real socket, as a hostile client would send it.
    struct Client: Sendable {
        let base: String
        let http = HTTPClient(name: "abuse")

        func call(_ method: String, _ path: String, key: String?, body: HTTPClientBody? = nil) async throws -> HTTPClientResponse {
            var headers: HeaderFields = [:]
            if let key { headers.set("Authorization", "Bearer " + key) }
            return try await http.send(HTTPClientRequest(method, base + path, headers: headers, body: body, timeout: .seconds(60)))
        }
    }

    static func field(_ response: HTTPClientResponse) -> String? { response.json?["error"]?["field"]?.stringValue }

    @Test func aHostileTenantCannotDelayAnotherTenantsCampaign() async throws {
        let port = try LocalServer.freePort()
        let sandbox = try await RunningSandbox.start()
        let f = try await APIFixture(kinds: SMSCampaignTests.repositoryKinds) {
            $0.port = port
            $0.publicURL = "http://127.0.0.1:\(port)/"  // a trailing slash must not break receipts
            $0.twilioAuthToken = RunningSandbox.authToken
            // Slow enough to refill that the machine's speed does not change the count below.
            $0.failedAuthenticationBurst = 20
            $0.failedAuthenticationsPerSecond = 0.2
        }
        let api = Task { try await f.server.runUntilCancelled() }
        defer { api.cancel() }
        let client = Client(base: "http://127.0.0.1:\(port)")
        try await waitUntil("the API to listen") { (try? await client.call("GET", "/health/live", key: nil))?.status == 200 }
        let (hostile, victim) = (f.a, f.b)

        // The victim's campaign: 40 messages on its own sender, limited to 20 per second.
        let zone = SMSCampaignTests.daytimeZone()
        let csv = (["phone,first_name,timezone,consent"] + (0..<40).map { "+1415555\(CivilTime.pad(3000 + $0, 4)),B\($0),\(zone),yes" })
            .joined(separator: "\n")
        _ = try await ContactImporter(pool: f.pool).run(tenantID: victim.id, csv: Array(csv.utf8), dryRun: false)
        try await f.queue.admin.setLimit("sms:sender:\(victim.sender)", .rate(units: 20, period: .seconds(1), burst: 5))
        let store = CampaignStore(pool: f.pool, enqueuer: f.queue.enqueuer)

        // 1, 2. The poison job and the booked sender: `send` is Spool's own kind, never a tenant's.
        let poison = #"{"kind":"send","args":{"message_id":"x","from":"\#(victim.sender)","segments":8999999999999999}}"#
        let forged = try await client.call("POST", "/v1/jobs", key: hostile.enqueue, body: .json(poison))
        #expect(forged.status == 422 && Self.field(forged) == "kind", "\(forged.text)")
        let booked = #"{"kind":"send","args":{"message_id":"x","from":"\#(victim.sender)","segments":1000000}}"#
        let asOperator = try await client.call("POST", "/v1/jobs", key: APIFixture.operatorKey, body: .json(booked))
        #expect(asOperator.status == 422 && Self.field(asOperator) == "kind")
        // ... and a campaign cannot borrow the victim's number.
        let borrowed = try await client.call(
            "POST", "/v1/campaigns", key: hostile.admin,
            body: .json(#"{"name":"x","from":"\#(victim.sender)","body":"hi"}"#))
        #expect(borrowed.status == 422 && Self.field(borrowed) == "from", "\(borrowed.text)")

        // 10. Diagnostics are the operator's.
        let noop = try await client.call("POST", "/v1/jobs", key: hostile.enqueue, body: .json(#"{"kind":"noop","args":{"notify":true}}"#))
        #expect(noop.status == 422 && Self.field(noop) == "kind")

        // 9. Made-up keys: refused, then refused without a database read once the address has failed often.
        for key in [victim.read, hostile.read] { #expect(try await client.call("GET", "/v1/queues", key: key).status == 200) }
        var statuses: [Int: Int] = [:]
        for n in 0..<150 {
            let key = "sk_" + String(repeating: "a", count: 24) + "." + String(repeating: String(n % 10), count: 48)
            statuses[try await client.call("GET", "/v1/queues", key: key).status, default: 0] += 1
        }
        #expect((20...40).contains(statuses[401] ?? 0) && statuses[429] ?? 0 >= 110, "\(statuses)")
        // A key found good before, from the same address, still works (a new key would wait out Retry-After).
        #expect(try await client.call("GET", "/v1/queues", key: victim.read).status == 200)

        // 8. Bad input is a 4xx, not "unavailable".
        let nul = try await client.call(
            "POST", "/v1/campaigns", key: hostile.admin,
            body: .json(#"{"name":"x","from":"\#(hostile.sender)","body":"a\u0000b"}"#))
        #expect(nul.status == 422, "\(nul.text)")

        // The victim launches; the hostile tenant floods the API and its own sender meanwhile.
        let campaign = try await store.create(tenantID: victim.id, name: "Victim", sender: victim.sender, body: "Hi {{first_name}}")
        let started = SystemClock().nowMillis()
        _ = try await store.launch(id: campaign.id)
        let worker = RunningWorker(
            f.queue, handlers: [SendHandler(services: SMSCampaignTests.services(f, sandbox: sandbox, apiPort: port))],
            concurrency: 8, queues: ["sms"])
        let flood = Task {
            let lines = Array(String(repeating: "1\n", count: 100_000).utf8)
            for _ in 0..<3 {
                _ = try await client.call(
                    "POST", "/v1/jobs/bulk", key: hostile.enqueue, body: .bytes(lines, contentType: "application/x-ndjson"))
            }
        }
        let reports = CampaignReports(pool: f.pool)
        try await waitUntil("the victim's campaign to be delivered", timeout: .seconds(60)) {
            (try await reports.report(campaignID: campaign.id)!.byStatus["delivered"] ?? 0) == 40
        }
        let took = SystemClock().nowMillis() - started
        print(
            "abuse: the victim's 40 messages at 20/s were delivered \(took) ms after launch, while the hostile tenant flooded; made-up keys: \(statuses)"
        )
        try await flood.value
        try await worker.stop()
        await sandbox.stop()
        // 40 messages at 20/s with a burst of 5 take about 1.75 s; receipts and two busy cores add
        // some. A stalled queue or a booked-ahead limiter would take minutes.
        #expect(took < 30_000, "the victim's campaign took \(took) ms")

        // 3. A tenant sees its own limiters only.
        let limits = try await client.call("GET", "/v1/limits", key: hostile.read)
        #expect(limits.status == 200)
        #expect(!limits.text.contains(victim.sender) && !limits.text.contains(victim.id), "\(limits.text.prefix(400))")
        let own = try await client.call("GET", "/v1/limits", key: victim.read)
        #expect(own.text.contains(victim.sender))
    }

    /// 4. A receipt cannot mark a message Spool never sent as delivered, and without a token (and not
    /// in sandbox mode) receipts are refused rather than checked against the sandbox's public one.
    @Test func receiptsCannotBeForged() async throws {
        let f = try await APIFixture(kinds: SMSCampaignTests.repositoryKinds) { $0.publicURL = "https://spool.example.test/" }
        try await f.test { client in
            let refused = try await client.call(
                .post, "/v1/webhooks/twilio/status", key: nil, json: "MessageStatus=delivered&MessageSid=SM1",
                contentType: "application/x-www-form-urlencoded", headers: [("X-Twilio-Signature", "x")])
            #expect(refused.status == 503 && refused.body["error"]?["code"] == .string("not_configured"))
        }
        let signed = try await APIFixture(kinds: SMSCampaignTests.repositoryKinds) {
            $0.publicURL = "https://spool.example.test/"
            $0.twilioAuthToken = "secret-token"
        }
        let csv = "phone,consent\n+14155550100,yes\n"
        _ = try await ContactImporter(pool: signed.pool).run(tenantID: signed.a.id, csv: Array(csv.utf8), dryRun: false)
        let store = CampaignStore(pool: signed.pool, enqueuer: signed.queue.enqueuer)
        let campaign = try await store.create(tenantID: signed.a.id, name: "Forged", sender: signed.a.sender, body: "Hi")
        _ = try await store.launch(id: campaign.id)
        let id = try await signed.pool.withConnection {
            try $0.query("SELECT id FROM messages WHERE campaign_id = $1", [campaign.id]).first!.string("id")!
        }
        // Signed with the real token over the URL without the slash, as the provider signs it.
        let path = "/v1/webhooks/twilio/status?ref=\(id)"
        let fields = [("MessageStatus", "delivered"), ("MessageSid", "SMforged")]
        let signature = TwilioSignature.sign(url: "https://spool.example.test" + path, parameters: fields, authToken: "secret-token")
        try await signed.test { client in
            let answer = try await client.call(
                .post, path, key: nil, json: "MessageStatus=delivered&MessageSid=SMforged",
                contentType: "application/x-www-form-urlencoded", headers: [("X-Twilio-Signature", signature)])
            #expect(answer.status == 200 && answer.body["result"] == .string("ignored: already queued, never sent"), "\(answer.body)")
        }
        let status = try await signed.pool.withConnection {
            try $0.query("SELECT status FROM messages WHERE id = $1", [id]).first!.string("status")
        }
        #expect(status == "queued")
    }

    /// 11. Repeating an idempotency key answers the stored job's state, not the new request's.
    @Test func anIdempotentRepeatAnswersTheStoredState() async throws {
        let f = try await APIFixture()
        try await f.test { client in
            let first = try await client.call(
                .post, "/v1/jobs", key: f.a.enqueue, json: #"{"kind":"noop","delay_seconds":600,"idempotency_key":"k1"}"#)
            #expect(first.status == 202 && first.body["status"] == .string("scheduled"))
            let again = try await client.call(.post, "/v1/jobs", key: f.a.enqueue, json: #"{"kind":"noop","idempotency_key":"k1"}"#)
            #expect(again.status == 200 && again.body["status"] == .string("scheduled") && again.body["duplicate"] == .bool(true))
        }
    }
}

/// The failed-authentication buckets: a token per lookup of a key not known good, given back when it
/// was good; IPv6 clients count by their /64.
@Suite struct FailedAuthenticationTests {
    @Test func tokensAreTakenBeforeTheLookupAndGivenBackForGoodKeys() {
        let failures = FailedAuthentications(burst: 3, perSecond: 0.001)
        #expect(failures.take("10.0.0.1") == nil && failures.take("10.0.0.1") == nil && failures.take("10.0.0.1") == nil)
        #expect(failures.take("10.0.0.1") ?? 0 >= 1)
        failures.giveBack("10.0.0.1")
        #expect(failures.take("10.0.0.1") == nil)
        #expect(failures.take("10.0.0.2") == nil)
    }

    @Test func theOperatorKeyMatchesOnlyItselfWhateverTheLength() {
        let key = Array("operator-key-for-tests-0123456789".utf8)
        #expect(KeyVerifier.isOperatorKey("operator-key-for-tests-0123456789".utf8, key))
        #expect(!KeyVerifier.isOperatorKey("operator-key-for-tests-012345678".utf8, key))
        #expect(!KeyVerifier.isOperatorKey("operator-key-for-tests-0123456789x".utf8, key))
        #expect(!KeyVerifier.isOperatorKey("".utf8, key))
        #expect(!KeyVerifier.isOperatorKey("operator-key-for-tests-0123456788".utf8, key))
    }

    @Test func anIPv6ClientCountsByItsSlash64() {
        #expect(FailedAuthentications.client("2001:db8:1:2:3:4:5:6") == "2001:db8:1:2::/64")
        #expect(FailedAuthentications.client("127.0.0.1") == "127.0.0.1")
        let failures = FailedAuthentications(burst: 1, perSecond: 0.001)
        #expect(failures.take("2001:db8:1:2::a") == nil)
        #expect(failures.take("2001:db8:1:2::b") != nil)
    }
}
