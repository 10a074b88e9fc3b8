import FoundationEssentials
import HTTPTypes
import SpoolAPI
import SpoolHTTP
import SpoolPostgres
import SpoolQueue
import SpoolStore
import SpoolSupport
import Synchronization
import TestSupport
import Testing

/// Inbound messages (`POST /v1/webhooks/twilio/inbound`) against real PostgreSQL, Redis and the API
/// over a socket, with the sandbox acting as Twilio: it signs each webhook with its auth token over the
/// API's URL and posts it, as a contact's text or WhatsApp message would arrive.
@Suite struct InboundTests {
    /// The API listening on a free port and checking signatures with the sandbox's token over its own
    /// address, the sandbox posting inbound webhooks to it, and `number` held by tenant A.
    struct World: Sendable {
        let f: APIFixture
        let sandbox: RunningSandbox
        let api: Task<Void, any Error>
        let port: Int
        let number: String

        var inboundURL: String { "http://127.0.0.1:\(port)/v1/webhooks/twilio/inbound" }

        /// `POST /_sandbox/inbound`: the sandbox's answer, with the webhook's status and TwiML.
        func inbound(_ fields: [String: JSONValue]) async throws -> JSONValue {
            let response = try await sandbox.client.send(
                HTTPClientRequest(
                    "POST", sandbox.baseURL + "/_sandbox/inbound", body: .json(JSONValue.object(fields).text), timeout: .seconds(60)))
            guard response.status == 200, let answer = response.json else {
                throw TestFailure("/_sandbox/inbound answered \(response.status): \(response.text)")
            }
            return answer
        }

        func stop() async {
            api.cancel()
            _ = await api.result
            await sandbox.stop()
        }
    }

    static func world(configure: (inout APIServer.Configuration) -> Void = { _ in }) async throws -> World {
        let sandbox = try await RunningSandbox.start()
        let (f, api, port) = try await APIFixture.serving(kinds: SMSCampaignTests.repositoryKinds) {
            $0.twilioAuthToken = RunningSandbox.authToken
            configure(&$0)
        }
        let url = "http://127.0.0.1:\(port)/v1/webhooks/twilio/inbound"
        try await sandbox.setFaults(JSONValue.object(["inbound_url": .string(url)]).text)
        let number = try await registerNumber(f.pool, tenant: f.a.id)
        return World(f: f, sandbox: sandbox, api: api, port: port, number: number)
    }

    /// An E.164 number (or its `whatsapp:` form) no tenant holds yet, registered to `tenant`.
    static func registerNumber(_ pool: PostgresPool, tenant: String, whatsapp: Bool = false) async throws -> String {
        let numbers = SenderNumbers(pool: pool)
        for _ in 0..<100 {
            do {
                return try await numbers.add((whatsapp ? "whatsapp:" : "") + SenderNumberTests.freshNumber(), tenantID: tenant).number
            } catch SenderNumberError.conflict(_) { continue }
        }
        throw TestFailure("no free number after 100 tries")
    }

    /// A MessageSid no other test uses: every test shares one database, and provider ids are unique.
    static func freshSid() -> String { "SM" + (0..<32).map { _ in String(Int.random(in: 0..<16), radix: 16) }.joined() }

    static func rows(_ f: APIFixture, _ sql: String, _ parameters: [any PostgresBindable]) async throws -> [PostgresRow] {
        try await f.pool.withConnection { try $0.query(sql, parameters).rows }
    }

    static func count(_ f: APIFixture, _ sql: String, _ parameters: [any PostgresBindable]) async throws -> Int {
        try await f.pool.withConnection { try $0.query(sql, parameters).first?.int("n") ?? 0 }
    }

    /// Each row's `columns`, NULL as "-", joined by spaces: one line per row to compare.
    static func lines(_ rows: [PostgresRow], _ columns: [String]) throws -> [String] {
        try rows.map { row in try columns.map { try row.string($0) ?? "-" }.joined(separator: " ") }
    }

    static let emptyTwiML = #"<?xml version="1.0" encoding="UTF-8"?><Response/>"#

    @Test func aTextIsStoredWithItsConversation() async throws {
        let w = try await Self.world()
        defer { Task { await w.stop() } }
        let answer = try await w.inbound([
            "from": .string("+14155550111"), "to": .string(w.number), "body": .string("Hello, are you open today?"),
        ])
        #expect(answer["status"] == .number(200) && answer["twiml"] == .string(Self.emptyTwiML), "\(answer.text)")
        let sid = try #require(answer["sid"]?.stringValue)
        #expect(sid.hasPrefix("SM") && sid.count == 34)
        let rows = try await Self.rows(
            w.f,
            """
            SELECT m.id, m.tenant_id, m.from_address, m.to_address, m.body, m.profile_name, m.keyword, m.media::text AS media,
                   m.conversation_id, c.tenant_id AS conversation_tenant, c.contact, c.number, c.channel, c.mode
            FROM inbound_messages m JOIN conversations c ON c.id = m.conversation_id WHERE m.provider_sid = $1
            """, [sid])
        #expect(rows.count == 1)
        let row = try #require(rows.first)
        let columns = ["tenant_id", "conversation_tenant", "from_address", "to_address", "profile_name", "keyword", "media"]
        #expect(try Self.lines([row], columns) == [[w.f.a.id, w.f.a.id, "+14155550111", w.number, "-", "-", "[]"].joined(separator: " ")])
        #expect(try row.string("body") == "Hello, are you open today?")
        #expect(try Self.lines([row], ["contact", "number", "channel", "mode"]) == ["+14155550111 " + w.number + " sms ai"])
        let messageID = try #require(try row.string("id"))
        #expect(
            try await Self.count(
                w.f, "SELECT count(*) AS n FROM events WHERE inbound_message_id = $1 AND kind = 'inbound.received'", [messageID]) == 1)

        // The same contact again joins the conversation; another contact opens its own.
        _ = try await w.inbound(["from": .string("+14155550111"), "to": .string(w.number), "body": .string("And tomorrow?")])
        _ = try await w.inbound(["from": .string("+14155550112"), "to": .string(w.number), "body": .string("Hi")])
        let conversations = try await Self.rows(
            w.f,
            """
            SELECT c.contact, count(m.id) AS n FROM conversations c JOIN inbound_messages m ON m.conversation_id = c.id
            WHERE c.tenant_id = $1 GROUP BY c.contact ORDER BY c.contact
            """, [w.f.a.id])
        #expect(try Self.lines(conversations, ["contact", "n"]) == ["+14155550111 2", "+14155550112 1"])
        // Tenant B saw nothing.
        #expect(try await Self.count(w.f, "SELECT count(*) AS n FROM inbound_messages WHERE tenant_id = $1", [w.f.b.id]) == 0)
    }

    @Test func theSameWebhookThreeTimesIsStoredOnce() async throws {
        let w = try await Self.world()
        defer { Task { await w.stop() } }
        let sid = Self.freshSid()
        let fields: [String: JSONValue] = [
            "sid": .string(sid), "from": .string("+14155550113"), "to": .string(w.number), "body": .string("Is my order ready?"),
        ]
        // Three deliveries at once (the sandbox re-sends the very same signed webhook for a sid it has
        // sent), then a fourth after they are done.
        let answers: [JSONValue] = try await withThrowingTaskGroup(of: JSONValue.self) { group in
            for _ in 0..<3 { group.addTask { try await w.inbound(fields) } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        let again = try await w.inbound(fields)
        for answer in answers + [again] {
            #expect(answer["status"] == .number(200) && answer["twiml"] == .string(Self.emptyTwiML), "\(answer.text)")
            #expect(answer["sid"] == .string(sid))
        }
        #expect(try await Self.count(w.f, "SELECT count(*) AS n FROM inbound_messages WHERE provider_sid = $1", [sid]) == 1)
        #expect(try await Self.count(w.f, "SELECT count(*) AS n FROM conversations WHERE tenant_id = $1", [w.f.a.id]) == 1)
        #expect(
            try await Self.count(
                w.f,
                """
                SELECT count(*) AS n FROM events e JOIN inbound_messages m ON m.id = e.inbound_message_id
                WHERE m.provider_sid = $1 AND e.kind = 'inbound.received'
                """, [sid]) == 1)
        #expect(try await w.sandbox.counters()["inbound_webhooks"]?["status 200"] == .number(4))
    }

    @Test func forgedUnsignedAndIncompleteWebhooksStoreNothing() async throws {
        let w = try await Self.world()
        defer { Task { await w.stop() } }
        let sid = Self.freshSid()
        let fields = [
            ("MessageSid", sid), ("AccountSid", RunningSandbox.accountSid), ("From", "+14155550114"), ("To", w.number), ("Body", "STOP"),
        ]
        let url = w.inboundURL
        let forged = TwilioSignature.sign(url: url, parameters: fields, authToken: "not-the-auth-token")
        let good = TwilioSignature.sign(url: url, parameters: fields, authToken: RunningSandbox.authToken)
        let path = "/v1/webhooks/twilio/inbound"
        let form = "application/x-www-form-urlencoded"
        try await w.f.test { client in
            let refused = try await client.call(
                .post, path, key: nil, json: FormEncoding.encode(fields), contentType: form, headers: [("X-Twilio-Signature", forged)])
            #expect(refused.status == 403 && refused.body["error"]?["code"] == .string("bad_signature"), "\(refused.body.text)")
            let unsigned = try await client.call(.post, path, key: nil, json: FormEncoding.encode(fields), contentType: form)
            #expect(unsigned.status == 403 && unsigned.body["error"]?["code"] == .string("bad_signature"), "\(unsigned.body.text)")
            // A good signature over other fields: the body was changed on the way.
            let tampered = fields.map { $0.0 == "Body" ? ($0.0, "START") : $0 }
            let changed = try await client.call(
                .post, path, key: nil, json: FormEncoding.encode(tampered), contentType: form, headers: [("X-Twilio-Signature", good)])
            #expect(changed.status == 403, "\(changed.body.text)")
            // Signed, but without To: a 400 naming the field.
            let partial = fields.filter { $0.0 != "To" }
            let missing = try await client.call(
                .post, path, key: nil, json: FormEncoding.encode(partial), contentType: form,
                headers: [("X-Twilio-Signature", TwilioSignature.sign(url: url, parameters: partial, authToken: RunningSandbox.authToken))])
            #expect(missing.status == 400 && missing.body["error"]?["field"] == .string("To"), "\(missing.body.text)")
        }
        #expect(try await Self.count(w.f, "SELECT count(*) AS n FROM inbound_messages WHERE provider_sid = $1", [sid]) == 0)
        #expect(try await Self.count(w.f, "SELECT count(*) AS n FROM do_not_contact WHERE tenant_id = $1", [w.f.a.id]) == 0)
        #expect(try await Self.count(w.f, "SELECT count(*) AS n FROM contacts WHERE tenant_id = $1", [w.f.a.id]) == 0)

        // Without a token (and not in sandbox mode) inbound messages are refused, never checked.
        let unconfigured = try await APIFixture()
        try await unconfigured.test { client in
            let refused = try await client.call(
                .post, path, key: nil, json: FormEncoding.encode(fields), contentType: form, headers: [("X-Twilio-Signature", good)])
            #expect(refused.status == 503 && refused.body["error"]?["code"] == .string("not_configured"), "\(refused.body.text)")
        }
    }

    @Test func stopOptsOutOnceAndALaterCampaignSkipsTheContact() async throws {
        let w = try await Self.world()
        defer { Task { await w.stop() } }
        let zone = SMSCampaignTests.daytimeZone()
        let csv = "phone,first_name,timezone,consent\n+14155550120,Ann,\(zone),yes\n+14155550121,Bob,\(zone),yes\n"
        _ = try await ContactImporter(pool: w.f.pool).run(tenantID: w.f.a.id, csv: Array(csv.utf8), dryRun: false)
        let sid = Self.freshSid()
        // Retried: the opt-out happens once.
        for _ in 0..<2 {
            let answer = try await w.inbound([
                "sid": .string(sid), "from": .string("+14155550120"), "to": .string(w.number), "body": .string("  Stop \n"),
            ])
            #expect(answer["status"] == .number(200) && answer["twiml"] == .string(Self.emptyTwiML), "\(answer.text)")
        }
        // "stop" inside a sentence is a message, not a keyword.
        let chat = try await w.inbound([
            "from": .string("+14155550121"), "to": .string(w.number), "body": .string("Please stop by at noon"),
        ])
        #expect(chat["status"] == .number(200))
        let contacts = try await Self.rows(
            w.f, "SELECT phone, consent, consent_source FROM contacts WHERE tenant_id = $1 ORDER BY phone", [w.f.a.id])
        #expect(try Self.lines(contacts, ["phone", "consent"]) == ["+14155550120 opted_out", "+14155550121 opted_in"])
        #expect(try contacts.first?.string("consent_source") == "stop_keyword")
        let dnc = try await Self.rows(w.f, "SELECT phone, reason FROM do_not_contact WHERE tenant_id = $1", [w.f.a.id])
        #expect(try Self.lines(dnc, ["phone", "reason"]) == ["+14155550120 stop_keyword"])
        #expect(
            try await Self.count(w.f, "SELECT count(*) AS n FROM inbound_messages WHERE provider_sid = $1 AND keyword = 'stop'", [sid])
                == 1)
        #expect(
            try await Self.count(w.f, "SELECT count(*) AS n FROM events WHERE tenant_id = $1 AND kind = 'consent.opted_out'", [w.f.a.id])
                == 1)

        // A campaign launched afterwards skips the contact, through the usual do-not-contact gate.
        let store = CampaignStore(pool: w.f.pool, enqueuer: w.f.queue.enqueuer)
        let campaign = try await store.create(tenantID: w.f.a.id, name: "After STOP", sender: w.f.a.sender, body: "Hi {{first_name}}")
        let launch = try await store.launch(id: campaign.id)
        #expect(launch.queued == 1 && launch.skipped == 1)
        let messages = try await Self.rows(
            w.f, "SELECT to_phone, status, reason FROM messages WHERE campaign_id = $1 ORDER BY to_phone", [campaign.id])
        #expect(
            try Self.lines(messages, ["to_phone", "status", "reason"]) == ["+14155550120 skipped do_not_contact", "+14155550121 queued -"])
    }

    @Test func startAfterStopOptsBackInButKeepsAnOperatorsEntry() async throws {
        let w = try await Self.world()
        defer { Task { await w.stop() } }
        // +14155550131 was put on the list by an operator before it ever wrote.
        try await w.f.pool.withConnection { connection in
            try connection.query(
                "INSERT INTO do_not_contact (tenant_id, phone, reason) VALUES ($1, '+14155550131', 'operator')", [w.f.a.id])
        }
        let sequence = [("+14155550130", "STOP"), ("+14155550131", "unsubscribe"), ("+14155550130", "Start"), ("+14155550131", "YES")]
        for (phone, word) in sequence {
            let answer = try await w.inbound(["from": .string(phone), "to": .string(w.number), "body": .string(word)])
            #expect(answer["status"] == .number(200) && answer["twiml"] == .string(Self.emptyTwiML), "\(word): \(answer.text)")
        }
        let contacts = try await Self.rows(
            w.f, "SELECT phone, consent, consent_source FROM contacts WHERE tenant_id = $1 ORDER BY phone", [w.f.a.id])
        #expect(
            try Self.lines(contacts, ["phone", "consent", "consent_source"]) == [
                "+14155550130 opted_in start_keyword", "+14155550131 opted_in start_keyword",
            ])
        let dnc = try await Self.rows(w.f, "SELECT phone, reason FROM do_not_contact WHERE tenant_id = $1 ORDER BY phone", [w.f.a.id])
        #expect(try Self.lines(dnc, ["phone", "reason"]) == ["+14155550131 operator"])
        let keywords = try await Self.rows(
            w.f, "SELECT keyword FROM inbound_messages WHERE tenant_id = $1 ORDER BY created_at, id", [w.f.a.id])
        #expect(try Self.lines(keywords, ["keyword"]) == ["stop", "stop", "start", "start"])
        #expect(
            try await Self.count(w.f, "SELECT count(*) AS n FROM events WHERE tenant_id = $1 AND kind = 'consent.opted_in'", [w.f.a.id])
                == 2)
    }

    @Test func helpAnswersTheTenantsHelpTextAsTwiML() async throws {
        let w = try await Self.world()
        defer { Task { await w.stop() } }
        let message = { (text: String) in #"<?xml version="1.0" encoding="UTF-8"?><Response><Message>"# + text + "</Message></Response>" }
        let sid = Self.freshSid()
        let asked: [String: JSONValue] = [
            "sid": .string(sid), "from": .string("+14155550140"), "to": .string(w.number), "body": .string("help"),
        ]
        let help = try await w.inbound(asked)
        #expect(help["status"] == .number(200), "\(help.text)")
        #expect(help["twiml"] == .string(message(InboundMessages.defaultHelpText(tenantName: "Tenant A"))), "\(help.text)")
        // A retried HELP gets the same answer: the provider retries when it had none.
        let retried = try await w.inbound(asked)
        #expect(retried["twiml"] == help["twiml"])

        let text = "Acme & Sons <help@acme.test>: call 555-0100. Reply STOP to opt out."
        try await w.f.pool.withConnection { connection in
            try connection.query("UPDATE tenants SET help_text = $2 WHERE id = $1", [w.f.a.id, text])
        }
        let custom = try await w.inbound(["from": .string("+14155550140"), "to": .string(w.number), "body": .string(" HELP ")])
        #expect(
            custom["twiml"] == .string(message("Acme &amp; Sons &lt;help@acme.test&gt;: call 555-0100. Reply STOP to opt out.")),
            "\(custom.text)")
        // HELP changes no consent: no contact was made, nothing is on the list.
        #expect(try await Self.count(w.f, "SELECT count(*) AS n FROM contacts WHERE tenant_id = $1", [w.f.a.id]) == 0)
        #expect(try await Self.count(w.f, "SELECT count(*) AS n FROM do_not_contact WHERE tenant_id = $1", [w.f.a.id]) == 0)
        #expect(
            try await Self.count(w.f, "SELECT count(*) AS n FROM inbound_messages WHERE tenant_id = $1 AND keyword = 'help'", [w.f.a.id])
                == 2)
    }

    @Test func aNumberNoTenantHoldsIs404AndStoresNothing() async throws {
        let w = try await Self.world()
        defer { Task { await w.stop() } }
        let sid = Self.freshSid()
        let stray = "+1415" + String(Int.random(in: 1_000_000...1_999_999))  // below freshNumber's range: never registered
        let answer = try await w.inbound([
            "sid": .string(sid), "from": .string("+14155550150"), "to": .string(stray), "body": .string("Hello?"),
        ])
        #expect(answer["status"] == .number(404), "\(answer.text)")
        let error = try JSONValue.parse(answer["twiml"]?.stringValue ?? "")
        #expect(error["error"]?["code"] == .string("unknown_number") && error["error"]?["field"] == .string("To"), "\(answer.text)")
        #expect(try await Self.count(w.f, "SELECT count(*) AS n FROM inbound_messages WHERE provider_sid = $1", [sid]) == 0)
        #expect(
            try await Self.count(w.f, "SELECT count(*) AS n FROM conversations WHERE contact = '+14155550150' AND number = $1", [stray])
                == 0)
    }

    @Test func whatsAppAddressesAndProfileNamesAreStored() async throws {
        let w = try await Self.world()
        defer { Task { await w.stop() } }
        // The tenant registered the bare number: a WhatsApp message to it still finds the tenant.
        let first = try await w.inbound([
            "from": .string("whatsapp:+14155550160"), "to": .string("whatsapp:" + w.number), "body": .string("Hola"),
            "profile_name": .string("Ana María"),
        ])
        #expect(first["status"] == .number(200) && first["twiml"] == .string(Self.emptyTwiML), "\(first.text)")
        // A number registered in its whatsapp: form.
        let whatsapp = try await Self.registerNumber(w.f.pool, tenant: w.f.a.id, whatsapp: true)
        let second = try await w.inbound([
            "from": .string("whatsapp:+14155550161"), "to": .string(whatsapp), "body": .string("Hi"), "profile_name": .string("Bo"),
        ])
        #expect(second["status"] == .number(200), "\(second.text)")
        let rows = try await Self.rows(
            w.f,
            """
            SELECT m.from_address, m.to_address, m.profile_name, c.contact, c.number, c.channel
            FROM inbound_messages m JOIN conversations c ON c.id = m.conversation_id WHERE m.tenant_id = $1 ORDER BY m.from_address
            """, [w.f.a.id])
        let expected: [String] = [
            ["whatsapp:+14155550160", "whatsapp:" + w.number, "Ana María", "whatsapp:+14155550160", "whatsapp:" + w.number, "whatsapp"]
                .joined(separator: " "),
            ["whatsapp:+14155550161", whatsapp, "Bo", "whatsapp:+14155550161", whatsapp, "whatsapp"].joined(separator: " "),
        ]
        #expect(try Self.lines(rows, ["from_address", "to_address", "profile_name", "contact", "number", "channel"]) == expected)
    }

    @Test func mediaURLsAreStoredAndServedOnlyWithBasicAuth() async throws {
        let w = try await Self.world()
        defer { Task { await w.stop() } }
        let answer = try await w.inbound([
            "from": .string("+14155550170"), "to": .string(w.number), "body": .string(""),
            "media": .array([
                .object(["content_type": .string("audio/ogg"), "transcript": .string("Can I move my appointment to Friday?")]),
                .object(["content_type": .string("image/jpeg")]),
            ]),
        ])
        #expect(answer["status"] == .number(200), "\(answer.text)")
        let sid = try #require(answer["sid"]?.stringValue)
        let stored = try await Self.rows(w.f, "SELECT body, media::text AS media FROM inbound_messages WHERE provider_sid = $1", [sid])
        let row = try #require(stored.first)
        #expect(try row.string("body") == "")
        let media = try #require(try JSONValue.parse(try row.string("media") ?? "").arrayValue)
        #expect(media.map { $0["content_type"] } == [.string("audio/ogg"), .string("image/jpeg")])
        let prefix = "\(w.sandbox.baseURL)/2010-04-01/Accounts/\(RunningSandbox.accountSid)/Messages/\(sid)/Media/ME"
        let urls = media.compactMap { $0["url"]?.stringValue }
        #expect(urls.count == 2 && urls.allSatisfy { $0.hasPrefix(prefix) }, "\(urls)")
        let audio = try #require(urls.first)

        let client = w.sandbox.client
        let anonymous = try await client.send(HTTPClientRequest("GET", audio))
        #expect(anonymous.status == 401)
        let wrong = try await client.send(
            HTTPClientRequest(
                "GET", audio,
                headers: ["Authorization": HTTPClientRequest.basicAuthorization(user: RunningSandbox.accountSid, password: "wrong")]))
        #expect(wrong.status == 401)
        let account: HeaderFields = [
            "Authorization": HTTPClientRequest.basicAuthorization(user: RunningSandbox.accountSid, password: RunningSandbox.authToken)
        ]
        // As Twilio: the media URL redirects to pre-signed storage, which wants no credentials and
        // refuses a request that brings them as well.
        let redirect = try await client.send(HTTPClientRequest("GET", audio, headers: account))
        let storage = try #require(redirect.headers["Location"])
        #expect(redirect.status == 307 && storage.hasPrefix("\(w.sandbox.baseURL)/_sandbox/media/ME"), "\(redirect.status) \(storage)")
        let file = try await client.send(HTTPClientRequest("GET", storage))
        #expect(file.status == 200 && file.headers["Content-Type"] == "audio/ogg" && file.body.count == 4096)
        #expect(Array(file.body.prefix(4)) == Array("OggS".utf8))
        #expect(try await client.send(HTTPClientRequest("GET", storage, headers: account)).status == 400)
        let forged = storage.replacing("Signature=", with: "Signature=0")
        #expect(try await client.send(HTTPClientRequest("GET", forged)).status == 403)
        let resource = try await client.send(HTTPClientRequest("GET", audio + ".json", headers: account))
        #expect(resource.status == 200 && resource.json?["parent_sid"] == .string(sid))
        #expect(resource.json?["content_type"] == .string("audio/ogg"))
    }
}
