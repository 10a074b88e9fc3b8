import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SpoolAPI
import SpoolPostgres
import SpoolQueue
import SpoolSMS
import SpoolStore
import SpoolSupport
import TestSupport
import Testing

/// The usage report (`GET /v1/usage`, `UsageReports`) over the API on a socket and real PostgreSQL:
/// rows written straight to the tables, as the send, ai-reply and transcription kinds leave them, for
/// tenant A around two UTC days (a leap day the second), and for tenant B inside them.
@Suite struct UsageReportTests {
    /// The report's range: 2024-02-28 and 2024-02-29, UTC. Long past, so that nothing another test
    /// writes now falls in it.
    static let range = "?from=2024-02-28&to=2024-02-29"

    struct Message {
        let purpose: String
        let status: String
        let cost: Int
        let queuedAt: String
    }

    static func execute(_ f: APIFixture, _ sql: String, _ parameters: [any PostgresBindable]) async throws {
        _ = try await f.pool.withConnection { try $0.query(sql, parameters) }
    }

    static func insert(_ f: APIFixture, tenant: String, sender: String, _ messages: [Message]) async throws {
        for (index, message) in messages.enumerated() {
            try await execute(
                f,
                """
                INSERT INTO messages (id, tenant_id, to_phone, from_sender, body, segments, encoding, cost_cents, status, purpose, queued_at)
                VALUES ($1, $2, '+14155550300', $3, 'Usage report test', 1, 'GSM-7', $4, $5, $6, $7::timestamptz)
                """,
                ["msg_usage_\(tenant)_\(index)", tenant, sender, message.cost, message.status, message.purpose, message.queuedAt])
        }
    }

    /// A conversation of `tenant`'s and its inbound messages: (created_at, transcripts as JSON text).
    static func inbound(_ f: APIFixture, tenant: String, _ messages: [(String, String)]) async throws {
        let conversation = "cv_usage_\(tenant)"
        try await execute(
            f, "INSERT INTO conversations (id, tenant_id, contact, number, channel) VALUES ($1, $2, '+14155550300', $3, 'sms')",
            [conversation, tenant, "+1555\(Int.random(in: 1_000_000...9_999_999))"])
        for (index, (createdAt, transcripts)) in messages.enumerated() {
            let status = transcripts == "[]" ? "none" : transcripts.contains("failed") ? "failed" : "done"
            try await execute(
                f,
                """
                INSERT INTO inbound_messages (id, tenant_id, conversation_id, provider_sid, from_address, to_address, body, transcripts,
                    transcription_status, created_at)
                VALUES ($1, $2, $3, $4, '+14155550300', '+15550000000', '', $5::jsonb, $6, $7::timestamptz)
                """,
                ["in_usage_\(tenant)_\(index)", tenant, conversation, InboundTests.freshSid(), transcripts, status, createdAt])
        }
    }

    static func aiUsage(_ f: APIFixture, tenant: String, _ rows: [(day: String, model: String, usage: [Int])]) async throws {
        for row in rows {
            try await execute(
                f,
                """
                INSERT INTO ai_usage (tenant_id, day, model, requests, prompt_tokens, completion_tokens, cost_millicents)
                VALUES ($1, $2::date, $3, $4, $5, $6, $7)
                """, [tenant, row.day, row.model, row.usage[0], row.usage[1], row.usage[2], row.usage[3]])
        }
    }

    /// Tenant A's rows in and around the range, and tenant B's inside it.
    static func seed(_ f: APIFixture) async throws {
        try await insert(
            f, tenant: f.a.id, sender: f.a.sender,
            [
                // In the range: the first instant of the first day, the last of the second.
                Message(purpose: "marketing", status: "delivered", cost: 2, queuedAt: "2024-02-28T00:00:00Z"),
                Message(purpose: "marketing", status: "sent", cost: 1, queuedAt: "2024-02-28T12:00:00Z"),
                Message(purpose: "marketing", status: "skipped", cost: 1, queuedAt: "2024-02-29T08:00:00Z"),
                Message(purpose: "transactional", status: "undelivered", cost: 3, queuedAt: "2024-02-29T23:59:59.999Z"),
                Message(purpose: "transactional", status: "failed", cost: 2, queuedAt: "2024-02-29T10:00:00Z"),
                Message(purpose: "transactional", status: "delivered", cost: 1, queuedAt: "2024-02-29T11:00:00Z"),
                // Outside: the day after, the day before, and 00:30 on the 28th in Paris (23:30 UTC the day before).
                Message(purpose: "transactional", status: "delivered", cost: 5, queuedAt: "2024-03-01T00:00:00Z"),
                Message(purpose: "marketing", status: "delivered", cost: 4, queuedAt: "2024-02-27T23:59:59Z"),
                Message(purpose: "marketing", status: "delivered", cost: 4, queuedAt: "2024-02-28T00:30:00+01:00"),
            ])
        try await insert(
            f, tenant: f.b.id, sender: f.b.sender,
            [
                Message(purpose: "marketing", status: "delivered", cost: 10, queuedAt: "2024-02-28T10:00:00Z"),
                Message(purpose: "transactional", status: "delivered", cost: 20, queuedAt: "2024-02-29T10:00:00Z"),
            ])
        try await aiUsage(
            f, tenant: f.a.id,
            [
                ("2024-02-28", "gpt-4o-mini", [2, 1000, 120, 23]), ("2024-02-29", "gpt-4o-mini", [1, 500, 60, 12]),
                ("2024-02-29", "gpt-4o", [1, 400, 50, 150]),
                ("2024-03-01", "gpt-4o-mini", [9, 9000, 900, 900]), ("2024-02-27", "gpt-4o-mini", [9, 9000, 900, 900]),
            ])
        try await aiUsage(f, tenant: f.b.id, [("2024-02-28", "gpt-4o-mini", [7, 7000, 700, 700])])
        try await inbound(
            f, tenant: f.a.id,
            [
                // One note done and one failed; two done; one the day after; a text.
                (
                    "2024-02-28T09:00:00Z",
                    #"[{"index": 0, "status": "done", "text": "a", "duration_seconds": 75.5, "cost_millicents": 755}, {"index": 1, "status": "failed", "reason": "x"}]"#
                ),
                (
                    "2024-02-29T18:00:00Z",
                    #"[{"index": 0, "status": "done", "text": "b", "duration_seconds": 10, "cost_millicents": 100}, {"index": 1, "status": "done", "text": "c", "duration_seconds": 4.25, "cost_millicents": 43}]"#
                ),
                (
                    "2024-03-01T00:00:00Z",
                    #"[{"index": 0, "status": "done", "text": "d", "duration_seconds": 30, "cost_millicents": 300}]"#
                ),
                ("2024-02-29T12:00:00Z", "[]"),
            ])
        try await inbound(
            f, tenant: f.b.id,
            [
                (
                    "2024-02-28T12:00:00Z",
                    #"[{"index": 0, "status": "done", "text": "e", "duration_seconds": 60, "cost_millicents": 600}]"#
                )
            ])
    }

    static func counts(_ byStatus: [String: Double]) -> JSONValue { .object(byStatus.mapValues { JSONValue.number($0) }) }

    static func ai(_ requests: Double, _ prompt: Double, _ completion: Double, _ cost: Double) -> [String: JSONValue] {
        [
            "requests": .number(requests), "prompt_tokens": .number(prompt), "completion_tokens": .number(completion),
            "cost_millicents": .number(cost),
        ]
    }

    @Test func aTenantsUsageIsCountedOverUTCDaysAndNoOtherTenantsRows() async throws {
        let f = try await APIFixture()
        try await Self.seed(f)
        try await f.test(.live) { client in
            let answer = try await client.call(.get, "/v1/usage" + Self.range, key: f.a.read)
            #expect(answer.status == 200, "\(answer.body.text)")
            let body = answer.body
            #expect(body["tenant"] == .string(f.a.id) && body["from"] == .string("2024-02-28") && body["to"] == .string("2024-02-29"))
            // Messages by the day they were queued; the cost only of those the provider took.
            let marketing = body["messages"]?["marketing"]
            #expect(marketing?["by_status"] == Self.counts(["delivered": 1, "sent": 1, "skipped": 1]), "\(body.text)")
            #expect(marketing?["cost_cents"] == .number(3))
            let transactional = body["messages"]?["transactional"]
            #expect(transactional?["by_status"] == Self.counts(["delivered": 1, "failed": 1, "undelivered": 1]), "\(body.text)")
            #expect(transactional?["cost_cents"] == .number(4))
            // AI usage per model and in all.
            var ai = Self.ai(4, 1900, 230, 185)
            ai["by_model"] = .object(["gpt-4o-mini": .object(Self.ai(3, 1500, 180, 35)), "gpt-4o": .object(Self.ai(1, 400, 50, 150))])
            #expect(body["ai"] == .object(ai), "\(body.text)")
            // Three notes transcribed (the failed one and the text are not), by the day they arrived.
            #expect(
                body["transcription"]
                    == .object(["notes": .number(3), "duration_seconds": .number(89.75), "cost_millicents": .number(898)]),
                "\(body.text)")

            // The store says the same; the operator naming A gets the same answer.
            let report = try await UsageReports(pool: f.pool).report(tenantID: f.a.id, from: "2024-02-28", to: "2024-02-29")
            #expect(report.json == body)
            #expect(report.messages[.marketing]?.costCents == 3 && report.ai.requests == 4 && report.transcription.notes == 3)
            let byOperator = try await client.call(.get, "/v1/usage" + Self.range + "&tenant=\(f.a.id)", key: APIFixture.operatorKey)
            #expect(byOperator.status == 200 && byOperator.body == body, "\(byOperator.body.text)")
            // A tenant's key may name its own tenant.
            let named = try await client.call(.get, "/v1/usage" + Self.range + "&tenant=\(f.a.id)", key: f.a.admin)
            #expect(named.status == 200 && named.body == body, "\(named.body.text)")

            // B's report counts only B's rows.
            let b = try await client.call(.get, "/v1/usage" + Self.range, key: f.b.read)
            #expect(b.status == 200, "\(b.body.text)")
            #expect(b.body["messages"]?["marketing"]?["cost_cents"] == .number(10))
            #expect(b.body["messages"]?["transactional"]?["by_status"] == Self.counts(["delivered": 1]))
            #expect(b.body["ai"]?["requests"] == .number(7) && b.body["transcription"]?["notes"] == .number(1), "\(b.body.text)")

            // One day: the 28th only.
            let day = try await client.call(.get, "/v1/usage?from=2024-02-28&to=2024-02-28", key: f.a.read)
            #expect(day.body["messages"]?["marketing"]?["by_status"] == Self.counts(["delivered": 1, "sent": 1]), "\(day.body.text)")
            #expect(day.body["messages"]?["transactional"]?["by_status"] == Self.counts([:]))
            #expect(day.body["ai"]?["requests"] == .number(2) && day.body["transcription"]?["notes"] == .number(1))
            #expect(day.body["transcription"]?["duration_seconds"] == .number(75.5))
        }
    }

    @Test func withoutDatesTheReportIsTodaysInUTC() async throws {
        let f = try await APIFixture()
        try await f.test(.live) { client in
            let before = CivilTime.date(SystemClock().nowMillis())
            let answer = try await client.call(.get, "/v1/usage", key: f.a.read)
            let after = CivilTime.date(SystemClock().nowMillis())
            #expect(answer.status == 200, "\(answer.body.text)")
            let day = try #require(answer.body["to"]?.stringValue)
            #expect((day == before || day == after) && answer.body["from"] == .string(day))
            #expect(answer.body["messages"]?["marketing"]?["by_status"] == .object([:]))
            #expect(answer.body["ai"]?["by_model"] == .object([:]) && answer.body["transcription"]?["notes"] == .number(0))
            // `from` alone runs to today; `to` alone is that one day.
            let tenDaysAgo = CivilTime.date(SystemClock().nowMillis() - 10 * 86_400_000)
            let since = try await client.call(.get, "/v1/usage?from=\(tenDaysAgo)", key: f.a.read)
            #expect(since.status == 200 && since.body["from"] == .string(tenDaysAgo), "\(since.body.text)")
            #expect(since.body["to"] == .string(before) || since.body["to"] == .string(after), "\(since.body.text)")
            // Up to today, a range started in 2024 is over 366 days.
            let long = try await client.call(.get, "/v1/usage?from=2024-02-28", key: f.a.read)
            #expect(long.status == 422 && long.body["error"]?["field"] == .string("to"), "\(long.body.text)")
            let one = try await client.call(.get, "/v1/usage?to=2024-02-29", key: f.a.read)
            #expect(one.status == 200 && one.body["from"] == .string("2024-02-29") && one.body["to"] == .string("2024-02-29"))
        }
    }

    @Test func badRangesAndTenantsAreRefusedNamingTheField() async throws {
        let f = try await APIFixture()
        try await f.test(.live) { client in
            let refusals: [(String, String, String)] = [
                ("?from=2024-02-30&to=2024-03-01", "from", "a day that does not exist"),
                ("?from=2024-2-3&to=2024-03-01", "from", "not YYYY-MM-DD"),
                ("?from=yesterday", "from", "not a date"),
                ("?from=2023-02-29&to=2023-03-01", "from", "no leap day in 2023"),
                ("?from=2024-03-01&to=2024-13-01", "to", "no 13th month"),
                ("?from=2024-03-02&to=2024-03-01", "to", "reversed"),
                ("?from=2024-01-01&to=2025-01-01", "to", "367 days"),
                ("?from=0000-01-01&to=0000-01-01", "from", "year 0"),
            ]
            for (query, field, why) in refusals {
                let answer = try await client.call(.get, "/v1/usage" + query, key: f.a.read)
                #expect(answer.status == 422, "\(why): \(answer.body.text)")
                #expect(answer.body["error"]?["field"] == .string(field), "\(why): \(answer.body.text)")
                #expect(answer.body["error"]?["code"] == .string("invalid_field"), "\(why): \(answer.body.text)")
            }
            // A leap year, 366 days, is the longest range.
            let year = try await client.call(.get, "/v1/usage?from=2024-01-01&to=2024-12-31", key: f.a.read)
            #expect(year.status == 200, "\(year.body.text)")

            // A tenant's key naming another tenant; the operator without a tenant, or with one that does not exist.
            for (query, key) in [
                (Self.range + "&tenant=\(f.b.id)", f.a.read), (Self.range + "&tenant=", f.a.read), (Self.range, APIFixture.operatorKey),
                (Self.range + "&tenant=tn_nobody", APIFixture.operatorKey),
            ] {
                let answer = try await client.call(.get, "/v1/usage" + query, key: key)
                #expect(answer.status == 422 && answer.body["error"]?["field"] == .string("tenant"), "\(query): \(answer.body.text)")
            }
            #expect(try await client.call(.get, "/v1/usage", key: nil).status == 401)
            let other = try await client.call(.post, "/v1/usage", key: f.a.admin)
            #expect(other.status == 405, "\(other.body.text)")
        }
        // The store refuses the same, naming the field.
        let reports = UsageReports(pool: f.pool)
        await #expect(throws: UsageReportError.invalid(field: "to", message: "to: 2024-02-28 is before from (2024-02-29)")) {
            try await reports.report(tenantID: f.a.id, from: "2024-02-29", to: "2024-02-28")
        }
        await #expect(throws: UsageReportError.invalid(field: "tenant", message: "tenant: no tenant 'tn_nobody'")) {
            try await reports.report(tenantID: "tn_nobody", from: "2024-02-28", to: "2024-02-29")
        }
        #expect(UsageReports.day("2024-02-29") == CivilTime.daysFromCivil(year: 2024, month: 2, day: 29))
        #expect(UsageReports.day("1970-01-01") == 0 && UsageReports.day("2023-02-29") == nil && UsageReports.day("2024-02-29 ") == nil)
    }

    @Test func theCampaignReportSaysItsMessagesAreMarketing() async throws {
        let f = try await APIFixture()
        let campaign = try await CampaignStore(pool: f.pool, enqueuer: nil).create(
            tenantID: f.a.id, name: "Spring", sender: f.a.sender, body: "Hi {{first_name}}")
        try await f.test(.live) { client in
            let answer = try await client.call(.get, "/v1/campaigns/\(campaign.id)/report", key: f.a.read)
            #expect(answer.status == 200 && answer.body["purpose"] == .string("marketing"), "\(answer.body.text)")
        }
    }
}
