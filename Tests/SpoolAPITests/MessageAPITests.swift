import FoundationEssentials
import SpoolAPI
import SpoolHTTP
import SpoolJobs
import SpoolPostgres
import SpoolQueue
import SpoolRedis
import SpoolStore
import SpoolSupport
import Synchronization
import TestSupport
import Testing

/// The message API (`POST /v1/messages`, `GET /v1/messages/{id}`) end to end: the API over a real
/// socket, PostgreSQL, Redis, a worker running the `send` kind, and the sandbox in place of Twilio,
/// whose delivery receipts come back to the API.
@Suite struct MessageAPITests {
    struct World: Sendable {
        let f: APIFixture
        let sandbox: RunningSandbox
        let api: Task<Void, any Error>
        let worker: RunningWorker
        let client: HTTPClient
        let port: Int

        /// One request to the running API; the answer's status and parsed body.
        func call(
            _ method: String, _ path: String, key: String, json: JSONValue? = nil, idempotencyKey: String? = nil
        ) async throws -> (status: Int, body: JSONValue) {
            var headers: HeaderFields = ["Authorization": "Bearer \(key)"]
            if let idempotencyKey { headers.add("Idempotency-Key", idempotencyKey) }
            let response = try await client.send(
                HTTPClientRequest(
                    method, "http://127.0.0.1:\(port)" + path, headers: headers, body: json.map { HTTPClientBody.json($0.text) },
                    timeout: .seconds(60)))
            return (response.status, response.json ?? .string(response.text))
        }

        /// `POST /v1/messages` with tenant A's enqueue key.
        func send(_ fields: [String: String], idempotencyKey: String? = nil) async throws -> (status: Int, body: JSONValue) {
            try await call(
                "POST", "/v1/messages", key: f.a.enqueue, json: .object(fields.mapValues { JSONValue.string($0) }),
                idempotencyKey: idempotencyKey)
        }

        /// The message as `GET /v1/messages/{id}` shows it to tenant A.
        func message(_ id: String) async throws -> JSONValue {
            let answer = try await call("GET", "/v1/messages/\(id)", key: f.a.read)
            guard answer.status == 200 else { throw TestFailure("GET /v1/messages/\(id) answered \(answer.status): \(answer.body.text)") }
            return answer.body
        }

        /// How many times the sandbox accepted the message with this id (its client reference).
        func accepted(_ id: String) async throws -> Int {
            let entries = try await sandbox.counters()["sms_accepted"]?.arrayValue ?? []
            return entries.filter { $0["reference"] == .string(id) }.compactMap { $0["count"]?.intValue }.reduce(0, +)
        }

        func stop() async {
            _ = try? await worker.stop()
            api.cancel()
            _ = await api.result
            client.close()
            await sandbox.stop()
        }
    }

    static func world() async throws -> World {
        let sandbox = try await RunningSandbox.start()
        let (f, api, port) = try await APIFixture.serving(kinds: SMSCampaignTests.repositoryKinds) {
            $0.twilioAuthToken = RunningSandbox.authToken
        }
        // A handful of texts per test: the sender's 1 per second is not what these tests are about.
        try await f.queue.admin.setLimit("sms:sender:{from}", .rate(units: 1_000, period: .seconds(1), burst: 100))
        let worker = RunningWorker(
            f.queue, handlers: [SendHandler(services: SMSCampaignTests.services(f, sandbox: sandbox, apiPort: port))], concurrency: 4,
            queues: ["sms"])
        return World(f: f, sandbox: sandbox, api: api, worker: worker, client: HTTPClient(name: "message-api-tests"), port: port)
    }

    static func count(_ f: APIFixture, _ sql: String, _ parameters: [any PostgresBindable]) async throws -> Int {
        try await f.pool.withConnection { try $0.query(sql, parameters).first?.int("n") ?? 0 }
    }

    /// `send` jobs enqueued under the fixture's prefix, as `enqueue.lua` counts them.
    static func sendJobs(_ f: APIFixture) async throws -> Int {
        Int(try await f.queue.redis.run("HGET", f.queue.keys.stats("sms"), "enqueued:send").string ?? "0") ?? 0
    }

    @Test func aTransactionalMessageIsDeliveredOncePerIdempotencyKey() async throws {
        let w = try await Self.world()
        defer { Task { await w.stop() } }
        let fields = ["to": "+14155550800", "from": w.f.a.sender, "body": "Your code is 123456"]
        // The same key twice at once: one message, one job.
        let answers = try await withThrowingTaskGroup(of: (status: Int, body: JSONValue).self) { group in
            for _ in 0..<2 { group.addTask { try await w.send(fields, idempotencyKey: "code-42") } }
            var answers: [(status: Int, body: JSONValue)] = []
            for try await answer in group { answers.append(answer) }
            return answers
        }
        #expect(answers.map(\.status).sorted() == [200, 202], "\(answers.map(\.body.text))")
        let id = try #require(answers.first { $0.status == 202 }?.body["id"]?.stringValue)
        #expect(id.hasPrefix("msg_") && answers.allSatisfy { $0.body["id"] == .string(id) })
        #expect(answers.first { $0.status == 202 }?.body["status"] == .string("queued"))

        try await waitUntil("the message to be delivered", timeout: .seconds(60)) {
            try await w.message(id)["status"] == .string("delivered")
        }
        let shown = try await w.message(id)
        #expect(shown["purpose"] == .string("transactional") && shown["to"] == .string("+14155550800"))
        #expect(shown["from"] == .string(w.f.a.sender) && shown["body"] == .string("Your code is 123456"))
        #expect(shown["segments"] == .number(1) && shown["encoding"] == .string("GSM-7") && shown["cost_cents"] == .number(1))
        #expect(shown["tenant"] == .string(w.f.a.id) && shown["campaign"] == .null && shown["idempotency_key"] == .string("code-42"))
        #expect(shown["provider_sid"]?.stringValue?.hasPrefix("SM") == true && shown["sent_at"]?.stringValue != nil)
        #expect(shown["delivered_at"]?.stringValue != nil && shown["send_at"] == .null && shown["reason"] == .null)

        // Once more after delivery: the same message as it is now, nothing stored, nothing sent.
        let again = try await w.send(fields, idempotencyKey: "code-42")
        #expect(
            again.status == 200 && again.body["id"] == .string(id) && again.body["status"] == .string("delivered"), "\(again.body.text)")
        // The key with another body is a mistake, not a new message.
        var other = fields
        other["body"] = "Your code is 654321"
        let reused = try await w.send(other, idempotencyKey: "code-42")
        #expect(reused.status == 409 && reused.body["error"]?["code"] == .string("idempotency_key_reused"), "\(reused.body.text)")

        #expect(try await Self.count(w.f, "SELECT count(*) AS n FROM messages WHERE tenant_id = $1", [w.f.a.id]) == 1)
        #expect(try await Self.sendJobs(w.f) == 1)
        #expect(try await w.accepted(id) == 1)
        let counters = try await w.sandbox.counters()
        #expect(counters["sms_accepted_total"] == .number(1) && counters["sms_duplicates"] == .number(0))
    }

    @Test func consentAndQuietHoursHoldMarketingMessagesOnly() async throws {
        let w = try await Self.world()
        defer { Task { await w.stop() } }
        // A contact whose consent is unknown, in a zone where it is night now.
        let night = SMSCampaignTests.nightZone()
        let csv = "phone,first_name,timezone,consent\n+14155550810,Una,\(night),\n"
        _ = try await ContactImporter(pool: w.f.pool).run(tenantID: w.f.a.id, csv: Array(csv.utf8), dryRun: false)

        let reminder = try await w.send(["to": "+14155550810", "from": w.f.a.sender, "body": "Your table is ready"])
        let offer = try await w.send(
            ["to": "+14155550810", "from": w.f.a.sender, "body": "20% off tonight", "purpose": "marketing"])
        #expect(reminder.status == 202 && offer.status == 202, "\(reminder.body.text) \(offer.body.text)")
        let transactional = try #require(reminder.body["id"]?.stringValue)
        let marketing = try #require(offer.body["id"]?.stringValue)

        try await waitUntil("the reminder delivered and the offer skipped", timeout: .seconds(60)) {
            let sent = try await w.message(transactional)
            let held = try await w.message(marketing)
            return sent["status"] == .string("delivered") && held["status"] == .string("skipped")
        }
        let held = try await w.message(marketing)
        #expect(held["purpose"] == .string("marketing") && held["reason"] == .string("no_consent"), "\(held.text)")
        // Both rows are linked to the contact.
        let linked = try await Self.count(
            w.f,
            "SELECT count(*) AS n FROM messages m JOIN contacts c ON c.id = m.contact_id WHERE m.tenant_id = $1 AND c.phone = '+14155550810'",
            [w.f.a.id])
        #expect(linked == 2)
        #expect(try await w.accepted(transactional) == 1)
        #expect(try await w.accepted(marketing) == 0)
    }

    @Test func aDoNotContactRecipientIsSkippedWhateverThePurpose() async throws {
        let w = try await Self.world()
        defer { Task { await w.stop() } }
        _ = try await w.f.pool.withConnection {
            try $0.query(
                "INSERT INTO do_not_contact (tenant_id, phone, reason) VALUES ($1, '+14155550820', 'stop_keyword')", [w.f.a.id])
        }
        var ids: [String] = []
        for purpose in ["transactional", "marketing"] {
            let answer = try await w.send(["to": "+14155550820", "from": w.f.a.sender, "body": "Hello (\(purpose))", "purpose": purpose])
            #expect(answer.status == 202, "\(answer.body.text)")
            ids.append(try #require(answer.body["id"]?.stringValue))
        }
        try await waitUntil("both messages skipped", timeout: .seconds(60)) {
            var skipped = 0
            for id in ids {
                if try await w.message(id)["status"] == .string("skipped") { skipped += 1 }
            }
            return skipped == ids.count
        }
        for id in ids {
            #expect(try await w.message(id)["reason"] == .string("do_not_contact"))
        }
        #expect(try await w.sandbox.counters()["sms_accepted_total"] == .number(0))
    }

    @Test func badInputIsRefusedNamingTheFieldAndNothingIsStored() async throws {
        let w = try await Self.world()
        defer { Task { await w.stop() } }
        let (to, from) = ("+14155550830", w.f.a.sender)
        let cases: [(fields: [String: String], field: String)] = [
            (["from": from, "body": "Hi"], "to"),
            (["to": "4155550830", "from": from, "body": "Hi"], "to"),
            (["to": "+0123", "from": from, "body": "Hi"], "to"),
            (["to": to, "from": w.f.b.sender, "body": "Hi"], "from"),  // tenant B's number
            (["to": to, "from": "not a number", "body": "Hi"], "from"),
            (["to": to, "from": from, "body": ""], "body"),
            (["to": to, "from": from, "body": String(repeating: "a", count: 1_531)], "body"),  // 11 GSM-7 segments
            (["to": to, "from": from, "body": String(repeating: "✓", count: 671)], "body"),  // 11 UCS-2 segments
            (["to": to, "from": from, "body": String(repeating: "a", count: 1_601)], "body"),
            (["to": to, "from": from, "body": "Hi", "purpose": "urgent"], "purpose"),
            (["to": to, "from": from, "body": "Hi", "send_at": "tomorrow at noon"], "send_at"),
            (["to": to, "from": from, "body": "Hi", "sent_at": "2030-01-01T00:00:00Z"], "sent_at"),  // a misspelt send_at
            (["to": to, "from": from, "body": "Hi", "tenant": w.f.b.id], "tenant"),
        ]
        for (fields, field) in cases {
            let answer = try await w.send(fields, idempotencyKey: "bad-\(field)")
            #expect(answer.status == 422, "\(fields): \(answer.body.text)")
            #expect(answer.body["error"]?["field"] == .string(field), "\(fields): \(answer.body.text)")
        }
        let notJSON = try await w.call("POST", "/v1/messages", key: w.f.a.enqueue, json: .array([]))
        #expect(notJSON.status == 422 && notJSON.body["error"]?["field"] == .string("(body)"), "\(notJSON.body.text)")
        // A read key may look, not send.
        let reader = try await w.call(
            "POST", "/v1/messages", key: w.f.a.read, json: .object(["to": .string(to), "from": .string(from), "body": .string("Hi")]))
        #expect(reader.status == 403, "\(reader.body.text)")
        // The operator sends for the tenant it names, and must name one.
        let unnamed = try await w.call(
            "POST", "/v1/messages", key: APIFixture.operatorKey,
            json: .object(["to": .string(to), "from": .string(from), "body": .string("Hi")]))
        #expect(unnamed.status == 422 && unnamed.body["error"]?["field"] == .string("tenant"), "\(unnamed.body.text)")

        #expect(try await Self.count(w.f, "SELECT count(*) AS n FROM messages WHERE tenant_id = $1", [w.f.a.id]) == 0)
        #expect(try await Self.sendJobs(w.f) == 0)
    }

    @Test func aTenantSeesOnlyItsOwnMessages() async throws {
        let w = try await Self.world()
        defer { Task { await w.stop() } }
        let sent = try await w.send(["to": "+14155550840", "from": w.f.a.sender, "body": "For A only"])
        let id = try #require(sent.body["id"]?.stringValue)
        let other = try await w.call("GET", "/v1/messages/\(id)", key: w.f.b.admin)
        #expect(other.status == 404 && other.body["error"]?["code"] == .string("not_found"), "\(other.body.text)")
        #expect(try await w.call("GET", "/v1/messages/msg_nothing", key: w.f.a.read).status == 404)
        let own = try await w.call("GET", "/v1/messages/\(id)", key: w.f.a.read)
        #expect(own.status == 200 && own.body["id"] == .string(id))
        #expect(try await w.call("GET", "/v1/messages/\(id)", key: APIFixture.operatorKey).status == 200)
        // The operator sends for a tenant it names, from that tenant's numbers.
        let forB = try await w.call(
            "POST", "/v1/messages", key: APIFixture.operatorKey,
            json: .object([
                "to": .string("+14155550841"), "from": .string(w.f.b.sender), "body": .string("For B"), "tenant": .string(w.f.b.id),
            ]))
        #expect(forB.status == 202, "\(forB.body.text)")
        let idB = try #require(forB.body["id"]?.stringValue)
        #expect(try await w.call("GET", "/v1/messages/\(idB)", key: w.f.a.read).status == 404)
        #expect(try await w.call("GET", "/v1/messages/\(idB)", key: w.f.b.read).body["tenant"] == .string(w.f.b.id))
    }

    @Test func aMessageForLaterWaitsScheduledUntilItsTime() async throws {
        let w = try await Self.world()
        defer { Task { await w.stop() } }
        // Far enough ahead that a busy machine still finds the job waiting.
        let sendAt = SystemClock().nowMillis() + 10_000
        let when = CivilTime(unixMillis: sendAt).rfc3339
        let answer = try await w.send(["to": "+14155550850", "from": w.f.a.sender, "body": "See you at 9", "send_at": when])
        #expect(answer.status == 202 && answer.body["status"] == .string("queued"), "\(answer.body.text)")
        #expect(answer.body["send_at"] == .string(when))
        let id = try #require(answer.body["id"]?.stringValue)

        // Its job waits in the scheduled set, due at send_at, and nothing has reached the provider.
        let scheduled = try await w.f.queue.zsetScores(w.f.queue.keys.scheduled("sms"))
        #expect(scheduled.count == 1 && scheduled.first?.value == sendAt, "\(scheduled)")
        let jobID = try #require(scheduled.first?.key)
        let job = try #require(try await w.f.queue.record(jobID))
        #expect(job.state == .scheduled && job.kind == "send" && job.tenant == w.f.a.id && job.args?.contains(id) == true)
        #expect(try await w.accepted(id) == 0)
        #expect(try await w.message(id)["status"] == .string("queued"))

        try await waitUntil("the message to be delivered", timeout: .seconds(60)) {
            try await w.message(id)["status"] == .string("delivered")
        }
        // It went to the provider no earlier than asked.
        let began = try await w.f.pool.withConnection {
            try $0.query("SELECT (extract(epoch FROM sending_at) * 1000)::bigint AS ms FROM messages WHERE id = $1", [id]).first?.int("ms")
        }
        #expect(try #require(began) >= Int(sendAt))
        #expect(try await w.accepted(id) == 1)
    }
}
