import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SpoolAPI
import SpoolStore
import SpoolSupport
import TestSupport
import Testing

/// Route tests in process, with Hummingbird's testing support, against real Redis and PostgreSQL.
@Suite struct APIRouteTests {
    @Test func enqueuesAndRepeatsAnIdempotencyKeyWithTheSameId() async throws {
        let f = try await APIFixture()
        try await f.test { client in
            let first = try await client.call(.post, "/v1/jobs", key: f.a.enqueue, json: #"{"kind": "noop", "args": {"sleep_ms": 1}}"#)
            #expect(first.status == 202 && first.body["status"] == .string("pending") && first.body["duplicate"] == .bool(false))
            let keyed = try await client.call(
                .post, "/v1/jobs", key: f.a.enqueue, json: #"{"kind": "noop"}"#, headers: [("Idempotency-Key", "order-1")])
            let again = try await client.call(.post, "/v1/jobs", key: f.a.enqueue, json: #"{"kind": "noop", "idempotency_key": "order-1"}"#)
            #expect(
                keyed.status == 202 && again.status == 200 && again.body["id"] == keyed.body["id"] && again.body["duplicate"] == .bool(true)
            )
            let delayed = try await client.call(.post, "/v1/jobs", key: f.a.enqueue, json: #"{"kind": "noop", "delay_seconds": 60}"#)
            #expect(delayed.status == 202 && delayed.body["status"] == .string("scheduled"))
            let status = try await client.call(.get, "/v1/jobs/\(first.body["id"]!.stringValue!)", key: f.a.read)
            #expect(status.status == 200 && status.body["kind"] == .string("noop") && status.body["tenant"] == .string(f.a.id))
            #expect(status.body["args"]?["sleep_ms"] == .number(1) && status.body["attempts"] == .number(0))
        }
        #expect(try await f.queue.pendingCount() == 2)
    }

    /// The longest campaign the schema allows, with every character escaped as JSON clients may do it
    /// (an emoji as a \uXXXX pair, 12 bytes), is accepted rather than refused as too large.
    @Test func theLongestValidCampaignFitsTheBodyLimit() async throws {
        let f = try await APIFixture()
        let emoji = #"\ud83d\ude0d"#
        let json =
            #"{"name": ""# + String(repeating: emoji, count: 200) + #"", "from": ""# + f.a.sender + #"", "body": ""#
            + String(repeating: emoji, count: 1_600) + #""}"#
        #expect(json.utf8.count > 20_000)
        try await f.test { client in
            let created = try await client.call(.post, "/v1/campaigns", key: f.a.admin, json: json)
            #expect(created.status == 201, "\(created.body)")
        }
    }

    /// Every kind of bad input: a 4xx that names the field and the problem, and nothing enqueued.
    @Test(
        arguments: [
            (#"{"kind": "nope"}"#, "application/json", 422, "kind", "unknown kind 'nope'"),
            (#"{"kind": "noop", "args": {"sleep_ms": "slow"}}"#, "application/json", 422, "args.sleep_ms", "expected integer"),
            (#"{"kind": "noop", "args": [1]}"#, "application/json", 422, "args", "expected an object"),
            (#"{"kind": "noop", "queue": "Not A Queue"}"#, "application/json", 422, "queue", "not a declared queue"),
            (#"{"kind": "noop", "queue": "made-up"}"#, "application/json", 422, "queue", "not a declared queue"),
            (#"{"kind": "noop", "run_at": "2020-01-01T00:00:00Z"}"#, "application/json", 422, "run_at", "in the past"),
            (#"{"kind": "noop", "run_at": "tomorrow"}"#, "application/json", 422, "run_at", "RFC 3339"),
            (#"{"kind": "noop", "run_at": "2099-01-01T00:00:00Z", "delay_seconds": 5}"#, "application/json", 422, "run_at", "not both"),
            (#"{"kind": "noop", "delay_seconds": -1}"#, "application/json", 422, "delay_seconds", "from 0"),
            (#"{"kind": "noop", "colour": "red"}"#, "application/json", 422, "colour", "unknown field"),
            (#"{"args": {}}"#, "application/json", 422, "kind", "required"),
            (#"{"kind": "noop", "tenant": "other"}"#, "application/json", 422, "tenant", "only the operator"),
            (#"["noop"]"#, "application/json", 422, "(body)", "expected a JSON object"),
            (#"{"kind": "noop""#, "application/json", 400, nil, "not valid JSON"),
            (#"{"kind": "noop"}"#, "text/plain", 415, nil, "Content-Type must be application/json"),
        ] as [(String, String, Int, String?, String)])
    func refusesBadInputNamingTheField(body: String, contentType: String, status: Int, field: String?, message: String) async throws {
        let f = try await APIFixture()
        try await f.test { client in
            let answer = try await client.call(.post, "/v1/jobs", key: f.a.enqueue, json: body, contentType: contentType)
            #expect(answer.status == status, "\(body): \(answer.body.text)")
            #expect(answer.body["error"]?["field"]?.stringValue == field, "\(answer.body.text)")
            #expect(answer.body["error"]?["message"]?.stringValue?.contains(message) == true, "\(answer.body.text)")
        }
        #expect(try await f.queue.pendingCount() == 0)
    }

    @Test func refusesOversizedBodiesAndMissingOrBadKeys() async throws {
        let f = try await APIFixture()
        try await f.test { client in
            let huge = #"{"kind": "noop", "args": {"pad": ""#.appending(String(repeating: "x", count: 1 << 20)) + #""}}"#
            let tooLarge = try await client.call(.post, "/v1/jobs", key: f.a.enqueue, json: huge)
            #expect(tooLarge.status == 413, "\(tooLarge.body.text.prefix(300))")
            let none = try await client.call(.post, "/v1/jobs", key: nil, json: #"{"kind": "noop"}"#)
            #expect(none.status == 401 && none.body["error"]?["message"]?.stringValue?.contains("missing API key") == true)
            #expect(try await client.call(.post, "/v1/jobs", key: "spool_not_a_key", json: #"{"kind": "noop"}"#).status == 401)
            let forged = String(f.a.enqueue.dropLast(4)) + "AAAA"
            #expect(try await client.call(.post, "/v1/jobs", key: forged, json: #"{"kind": "noop"}"#).status == 401)
            // A read key may look but not enqueue.
            let read = try await client.call(.post, "/v1/jobs", key: f.a.read, json: #"{"kind": "noop"}"#)
            #expect(read.status == 403 && read.body["error"]?["code"] == .string("insufficient_scope"))
            #expect(try await client.call(.get, "/v1/nowhere", key: f.a.read).status == 404)
        }
        #expect(try await f.queue.pendingCount() == 0)
    }

    @Test func onlyKeyShapedTextYieldsAKeyID() {
        let id = "01jq2x3y4z5a6b7c8d9e0f1g2h"
        let secret = String(repeating: "A", count: 43)
        #expect(APIKeySecret.id(in: "spool_\(id)_\(secret)") == id)
        #expect(APIKeySecret.id(in: "spool_\(id)-\(secret)") == nil)
        #expect(APIKeySecret.id(in: "spoo1_\(id)_\(secret)") == nil)
        #expect(APIKeySecret.id(in: "spool_\(id)_\(secret)A") == nil)
        #expect(APIKeySecret.id(in: "spool_\(id.dropLast())!_\(secret)") == nil)
        // Non-ASCII of the same byte length: é is two bytes.
        #expect(APIKeySecret.id(in: "spool_\(id.dropLast())é_\(secret.dropLast())") == nil)
    }

    @Test func aRevokedKeyStopsWorking() async throws {
        let f = try await APIFixture()
        let key = try await f.tenants.createKey(tenantID: f.a.id, scope: .enqueue)
        #expect(try await f.tenants.revokeKey(id: key.id))
        let status = try await f.test { client in try await client.call(.post, "/v1/jobs", key: key.key, json: #"{"kind": "noop"}"#).status
        }
        #expect(status == 401)
    }

    @Test func servesHealthTheOpenAPIDocumentAndMetrics() async throws {
        let f = try await APIFixture()
        try await f.test { client in
            let health = try await client.call(.get, "/health", key: nil)
            #expect(
                health.status == 200 && health.body["checks"]?["redis"] == .string("ok")
                    && health.body["checks"]?["postgres"] == .string("ok"))
            let document = try await client.call(.get, "/v1/openapi.json", key: nil)
            #expect(document.status == 200 && document.body["openapi"] == .string("3.1.0") && document.body["paths"]?["/v1/jobs"] != nil)
            _ = try await client.call(.post, "/v1/jobs", key: f.a.enqueue, json: #"{"kind": "noop"}"#)
            let metrics = try await client.call(.get, "/metrics", key: nil)
            let text = metrics.body.stringValue ?? ""
            #expect(metrics.status == 200)
            #expect(text.contains(#"spool_jobs_enqueued_total{kind="noop",queue="default"} 1"#), "\(text.prefix(2000))")
            #expect(text.contains(#"spool_queue_jobs{queue="default",state="pending"} 1"#))
            #expect(text.contains("hb_requests"))
            // A schedule's pass: its ticks of the next seconds are enqueued ahead.
            let name = "metrics-\(f.queue.keys.prefix)"
            _ = try await ScheduleStore(pool: f.pool, enqueuer: f.queue.enqueuer).create(
                ScheduleRequest(name: name, kind: "noop", every: "1s"), tenantID: f.a.id, producer: .tenant)
            let ticker = ScheduleTicker(pool: f.pool, enqueuer: f.queue.enqueuer, admin: f.queue.admin, logger: TestEnvironment.logger)
            #expect(try await ticker.tick().fired > 0)
            let scheduleText = try await client.call(.get, "/metrics", key: nil).body.stringValue ?? ""
            #expect(
                scheduleText.contains(#"spool_schedule_ticks_total{outcome="fired"}"#)
                    && scheduleText.contains(#"spool_schedules{state="active"}"#))
            #expect(scheduleText.contains(#"spool_schedule_last_run_seconds{schedule="\#(name)",tenant="\#(f.a.id)"}"#))
            #expect(
                scheduleText.contains(#"spool_schedule_lateness_seconds_bucket{le="0.01"}"#)
                    && scheduleText.contains("spool_schedule_lateness_seconds_count"))
        }
    }
}
