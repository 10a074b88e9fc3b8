import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SpoolAPI
import SpoolPostgres
import SpoolStore
import SpoolSupport
import TestSupport
import Testing

/// Sender numbers belong to tenants: a tenant registers its own, cannot take or remove another's, and
/// its campaigns send only from its own (another tenant's would book that tenant's sms:sender limiter).
@Suite struct SenderNumberTests {
    /// An E.164 number no other test uses: every test shares one database.
    static func freshNumber() -> String { "+1415" + String(Int.random(in: 2_000_000...9_999_999)) }

    @Test func aTenantRegistersItsNumberAndNoOtherTenantCanTakeIt() async throws {
        let f = try await APIFixture()
        let number = Self.freshNumber()
        try await f.test(.live) { client in
            let added = try await client.call(.post, "/v1/numbers", key: f.a.admin, json: #"{"number": "\#(number)"}"#)
            #expect(added.status == 201, "\(added.body.text)")
            #expect(added.body["number"] == .string(number) && added.body["tenant"] == .string(f.a.id) && added.body["id"]?.intValue != nil)
            // Adding its own again changes nothing.
            let again = try await client.call(.post, "/v1/numbers", key: f.a.admin, json: #"{"number": "\#(number)"}"#)
            #expect(again.status == 200 && again.body["id"] == added.body["id"], "\(again.body.text)")

            // Another tenant is refused, without learning whose number it is.
            let taken = try await client.call(.post, "/v1/numbers", key: f.b.admin, json: #"{"number": "\#(number)"}"#)
            #expect(taken.status == 409 && taken.body["error"]?["code"] == .string("number_taken"), "\(taken.body.text)")
            #expect(!taken.body.text.contains(f.a.id))
            let operatorTaken = try await client.call(
                .post, "/v1/numbers", key: APIFixture.operatorKey,
                json: #"{"number": "\#(number)", "tenant": "\#(f.b.id)"}"#)
            #expect(operatorTaken.status == 409)

            // Bad input names the field; a read key may not register; a tenant's key names no other tenant.
            let bad = try await client.call(.post, "/v1/numbers", key: f.a.admin, json: #"{"number": "call me"}"#)
            #expect(bad.status == 422 && bad.body["error"]?["field"] == .string("number"), "\(bad.body.text)")
            let missing = try await client.call(.post, "/v1/numbers", key: f.a.admin, json: #"{}"#)
            #expect(missing.status == 422 && missing.body["error"]?["field"] == .string("number"))
            #expect(try await client.call(.post, "/v1/numbers", key: f.a.read, json: #"{"number": "\#(number)"}"#).status == 403)
            let otherTenant = try await client.call(
                .post, "/v1/numbers", key: f.a.admin, json: #"{"number": "\#(Self.freshNumber())", "tenant": "\#(f.b.id)"}"#)
            #expect(otherTenant.status == 422 && otherTenant.body["error"]?["field"] == .string("tenant"))
            let unknownTenant = try await client.call(
                .post, "/v1/numbers", key: APIFixture.operatorKey, json: #"{"number": "\#(Self.freshNumber())", "tenant": "tn_nobody"}"#)
            #expect(unknownTenant.status == 422 && unknownTenant.body["error"]?["field"] == .string("tenant"))
        }
        #expect(try await SenderNumbers(pool: f.pool).owner(of: number) == f.a.id)
    }

    @Test func numbersAreNormalisedAndCheckedInTheStore() async throws {
        let f = try await APIFixture()
        let numbers = SenderNumbers(pool: f.pool)
        let digits = String(Int.random(in: 2_000_000...9_999_999))
        let added = try await numbers.register(" +1 (415) \(digits.prefix(3))-\(digits.dropFirst(3)) ", tenantID: f.a.id)
        #expect(added.created && added.number.number == "+1415" + digits)
        #expect(try await numbers.register("+1415" + digits, tenantID: f.a.id).created == false)
        let whatsapp = try await numbers.add("WhatsApp:+1415" + String(Int.random(in: 2_000_000...9_999_999)), tenantID: f.a.id)
        #expect(whatsapp.number.hasPrefix("whatsapp:+1415"))
        for bad in ["", "+0123456789", "+1234567", "whatsapp:14155550100", "5555", "MG123", "+1415555010a"] {
            await #expect(throws: SenderNumberError.self, "\(bad)") { try await numbers.add(bad, tenantID: f.a.id) }
        }
        await #expect { try await numbers.add("+1415" + digits, tenantID: f.b.id) } throws: { error in
            (error as? SenderNumberError) == .conflict(message: "number: +1415\(digits) is registered to another tenant")
        }
        #expect(try await numbers.isOwned("+1415" + digits, by: f.a.id))
        #expect(try await numbers.isOwned("+1415" + digits, by: f.b.id) == false)
    }

    @Test func aCampaignSendsOnlyFromItsOwnTenantsNumber() async throws {
        let f = try await APIFixture()
        let number = Self.freshNumber()
        _ = try await SenderNumbers(pool: f.pool).add(number, tenantID: f.a.id)
        try await f.test(.live) { client in
            let campaign = { (from: String) in #"{"name": "Spring", "from": "\#(from)", "body": "Hi {{first_name}}"}"# }
            let stolen = try await client.call(.post, "/v1/campaigns", key: f.b.admin, json: campaign(number))
            #expect(stolen.status == 422 && stolen.body["error"]?["field"] == .string("from"), "\(stolen.body.text)")
            #expect(stolen.body["error"]?["message"]?.stringValue?.contains("not one of this tenant's sender numbers") == true)
            let unregistered = try await client.call(.post, "/v1/campaigns", key: f.a.admin, json: campaign(Self.freshNumber()))
            #expect(unregistered.status == 422 && unregistered.body["error"]?["field"] == .string("from"))
            let own = try await client.call(.post, "/v1/campaigns", key: f.a.admin, json: campaign(number))
            #expect(own.status == 201 && own.body["from"] == .string(number), "\(own.body.text)")
            let id = try #require(own.body["id"]?.stringValue)

            // A number removed after the campaign was made is not sent from: the launch is refused.
            #expect(try await client.call(.delete, "/v1/numbers/%2B\(number.dropFirst())", key: f.a.admin).status == 204)
            let launch = try await client.call(.post, "/v1/campaigns/\(id)/launch", key: f.a.admin)
            #expect(launch.status == 409 && launch.body["error"]?["code"] == .string("campaign_state"), "\(launch.body.text)")
            #expect(launch.body["error"]?["message"]?.stringValue?.contains("no longer one of this tenant's sender numbers") == true)
        }
        #expect(
            try await f.pool.withConnection {
                try $0.query("SELECT count(*) AS n FROM messages WHERE tenant_id = $1", [f.a.id]).first?.int("n")
            } == 0)
    }

    @Test func aTenantListsAndRemovesOnlyItsOwnNumbers() async throws {
        let f = try await APIFixture()
        let (mine, theirs) = (Self.freshNumber(), Self.freshNumber())
        let numbers = SenderNumbers(pool: f.pool)
        _ = try await numbers.add(mine, tenantID: f.a.id)
        _ = try await numbers.add(theirs, tenantID: f.b.id)
        try await f.test(.live) { client in
            let listed = try await client.call(.get, "/v1/numbers", key: f.a.admin)
            let entries = listed.body["numbers"]?.arrayValue ?? []
            #expect(
                listed.status == 200 && Set(entries.compactMap { $0["number"]?.stringValue }) == [mine, f.a.sender], "\(listed.body.text)")
            #expect(entries.allSatisfy { $0["tenant"] == .string(f.a.id) })
            // Naming another tenant does not widen a tenant's view.
            #expect(try await client.call(.get, "/v1/numbers?tenant=\(f.b.id)", key: f.a.admin).status == 422)
            let operatorView = try await client.call(.get, "/v1/numbers?tenant=\(f.b.id)", key: APIFixture.operatorKey)
            #expect(Set(operatorView.body["numbers"]?.arrayValue?.compactMap { $0["number"]?.stringValue } ?? []) == [theirs, f.b.sender])

            // Another tenant's number is not found, and stays.
            let foreign = try await client.call(.delete, "/v1/numbers/%2B\(theirs.dropFirst())", key: f.a.admin)
            #expect(foreign.status == 404, "\(foreign.body.text)")
            #expect(try await numbers.owner(of: theirs) == f.b.id)
            // A plus in a path is a plus.
            #expect(try await client.call(.delete, "/v1/numbers/\(mine)", key: f.a.admin).status == 204)
            #expect(try await client.call(.delete, "/v1/numbers/\(mine)", key: f.a.admin).status == 404)
            #expect(try await client.call(.delete, "/v1/numbers/%2B\(theirs.dropFirst())", key: f.b.read).status == 403)
            #expect(try await client.call(.delete, "/v1/numbers/%2B\(theirs.dropFirst())", key: APIFixture.operatorKey).status == 204)
            // A known path with another method: 405 naming the methods it takes.
            #expect(try await client.call(.put, "/v1/numbers", key: f.a.admin).status == 405)
        }
        #expect(try await numbers.owner(of: mine) == nil)
        #expect(try await numbers.owner(of: theirs) == nil)
    }

    /// Campaigns made before 0006 keep working: their senders are registered to the tenant of the
    /// earliest campaign that used each; senders of another shape are left out.
    /// A messaging service sid (MG and 32 hex digits: 34 characters) is a sender too: its campaigns
    /// launch, and their send jobs pass the kind's bounds on `from`.
    @Test func aCampaignFromAMessagingServiceLaunches() async throws {
        let f = try await APIFixture(kinds: SMSCampaignTests.repositoryKinds)
        let sid = "MG" + String((0..<32).map { _ in "0123456789abcdef".randomElement()! })
        _ = try await SenderNumbers(pool: f.pool).add(sid, tenantID: f.a.id)
        _ = try await ContactImporter(pool: f.pool).run(
            tenantID: f.a.id, csv: Array("phone,consent\n+14155550500,yes\n".utf8), dryRun: false)
        let store = CampaignStore(pool: f.pool, enqueuer: f.queue.enqueuer)
        let campaign = try await store.create(tenantID: f.a.id, name: "Service", sender: sid, body: "Hi")
        let launch = try await store.launch(id: campaign.id)
        #expect(launch.queued == 1 && launch.enqueued == 1)
    }

    @Test func theMigrationRegistersExistingCampaignSenders() async throws {
        let pool = PostgresPool(url: try TestPostgres.freshDatabase(), logger: TestEnvironment.logger)
        defer { pool.close() }
        try await Migrator(pool: pool, migrations: SpoolMigrations.all.filter { $0.version < 6 }).migrate()
        try await pool.withConnection { connection in
            try connection.execute(
                """
                INSERT INTO tenants (id, name) VALUES ('tn_first', 'First'), ('tn_second', 'Second');
                INSERT INTO campaigns (id, tenant_id, name, body, sender, created_at) VALUES
                    ('cmp_later', 'tn_second', 'Later', 'Hi', '+15005550006', now()),
                    ('cmp_earlier', 'tn_first', 'Earlier', 'Hi', '+15005550006', now() - interval '1 day'),
                    ('cmp_again', 'tn_first', 'Again', 'Hi', '+15005550006', now()),
                    ('cmp_short', 'tn_second', 'Short code', 'Hi', '55555', now()),
                    ('cmp_service', 'tn_second', 'Service', 'Hi', 'MG0123456789abcdef0123456789abcdef', now()),
                    ('cmp_odd', 'tn_first', 'Not a number', 'Hi', 'ACME', now());
                """)
        }
        #expect(try await Migrator(pool: pool).migrate().contains("0006_sender_numbers"))
        let registered = try await SenderNumbers(pool: pool).list(tenantID: nil).map { [$0.tenantID, $0.number] }
        #expect(
            registered == [["tn_first", "+15005550006"], ["tn_second", "55555"], ["tn_second", "MG0123456789abcdef0123456789abcdef"]])
        // And the campaigns made before can still launch their way: the owner check passes.
        #expect(try await SenderNumbers(pool: pool).isOwned("+15005550006", by: "tn_first"))
        #expect(try await SenderNumbers(pool: pool).isOwned("+15005550006", by: "tn_second") == false)
    }
}
