import Hummingbird
import SpoolHTTP
import SpoolSupport
import Synchronization
import TestSupport
import Testing

@testable import SpoolSandbox

/// The sandbox's provider APIs, driven through the HTTP client and classified as jobs will see them.
@Suite struct SandboxProviderTests {
    private func sms(
        _ sandbox: RunningSandbox, to: String, from: String = "+15557654321", body: String = "Hello",
        callback: String? = nil, token: String = RunningSandbox.authToken
    ) -> HTTPClientRequest {
        var fields = [("To", to), ("From", from), ("Body", body)]
        if let callback { fields.append(("StatusCallback", callback)) }
        return HTTPClientRequest(
            "POST", sandbox.baseURL + "/2010-04-01/Accounts/\(RunningSandbox.accountSid)/Messages.json",
            headers: ["Authorization": HTTPClientRequest.basicAuthorization(user: RunningSandbox.accountSid, password: token)],
            body: .form(fields))
    }

    @Test func twilioAcceptsAMessageAndRefusesBadOnesWithTheirCodes() async throws {
        let sandbox = try await RunningSandbox.start()
        let client = HTTPClient()
        defer { client.close() }
        let accepted = await client.call { _ in sms(sandbox, to: "+15551230001", body: "Hi {name} ✓") }
        #expect(accepted.verdict == .success)
        #expect(accepted.response?.status == 201)
        let json = try #require(accepted.response?.json)
        #expect(json["status"]?.stringValue == "queued" && json["sid"]?.stringValue?.hasPrefix("SM") == true)
        #expect(json["to"]?.stringValue == "+15551230001" && json["num_segments"]?.stringValue == "1")

        func code(_ request: HTTPClientRequest) async -> String? {
            if case .permanent(let code, _) = await client.call({ _ in request }).verdict { return code }
            return nil
        }
        #expect(await code(sms(sandbox, to: "555-1234", from: "+15550000001")) == "21211")
        #expect(await code(sms(sandbox, to: "+15005550004", from: "+15550000002")) == "21610")
        try await sandbox.setFaults(#"{"opted_out": ["+15551230002"]}"#)
        #expect(await code(sms(sandbox, to: "+15551230002", from: "+15550000003")) == "21610")
        #expect(await code(sms(sandbox, to: "+15551230003", body: "")) == "21602")
        guard case .authExpired = await client.call({ _ in sms(sandbox, to: "+15551230004", token: "wrong") }).verdict else {
            Issue.record("a wrong auth token is not a 401")
            return
        }
        let counters = try await sandbox.counters()
        #expect(counters["sms_accepted_total"]?.intValue == 1 && counters["sms_duplicates"]?.intValue == 0)
        await sandbox.stop()
    }

    /// As the official SDKs send a WhatsApp reply: `whatsapp:` on both addresses; a mixed pair is 21910.
    @Test func twilioSendsToWhatsAppFromAWhatsAppNumberOnly() async throws {
        let sandbox = try await RunningSandbox.start()
        let client = HTTPClient()
        defer { client.close() }
        let long = String(repeating: "a", count: 400)
        let accepted = await client.call { _ in sms(sandbox, to: "whatsapp:+15551230010", from: "whatsapp:+15557654321", body: long) }
        #expect(accepted.response?.status == 201)
        let json = try #require(accepted.response?.json)
        #expect(json["to"]?.stringValue == "whatsapp:+15551230010" && json["from"]?.stringValue == "whatsapp:+15557654321")
        #expect(json["num_segments"]?.stringValue == "1")
        guard case .permanent(let code, _) = await client.call({ _ in sms(sandbox, to: "whatsapp:+15551230011") }).verdict else {
            Issue.record("an SMS From with a WhatsApp To was accepted")
            return
        }
        #expect(code == "21910")
        guard case .permanent(let invalid, _) = await client.call({ _ in sms(sandbox, to: "whatsapp:5551230012") }).verdict else {
            Issue.record("a WhatsApp To without E.164 was accepted")
            return
        }
        #expect(invalid == "21211")
        await sandbox.stop()
    }

    /// A faults request restarts the fault dice; the sids of messages must not restart with them, or a
    /// list would page through the same message twice.
    @Test func messageSidsNeverRepeatAcrossFaultRequests() async throws {
        let sandbox = try await RunningSandbox.start()
        let client = HTTPClient()
        defer { client.close() }
        var sids: [String] = []
        for index in 0..<3 {
            try await sandbox.setFaults(#"{"seed": 1}"#)
            let sent = await client.call { _ in sms(sandbox, to: "+1555123200\(index)", from: "+1555000300\(index)") }
            sids.append(try #require(sent.response?.json?["sid"]?.stringValue))
        }
        #expect(Set(sids).count == 3)
        await sandbox.stop()
    }

    @Test func twilioHoldsEachSenderToItsThroughput() async throws {
        let sandbox = try await RunningSandbox.start()
        // One segment per 100 s, so that however slowly this test runs no allowance comes back mid-test;
        // a burst of 2 lets three through at once and refuses the fourth.
        try await sandbox.setFaults(#"{"sms_burst": 2, "sender_rates": {"+15557654321": 0.01}}"#)
        let client = HTTPClient()
        defer { client.close() }
        var verdicts: [ProviderVerdict] = []
        for index in 0..<4 { verdicts.append(await client.call { _ in sms(sandbox, to: "+1555123100\(index)") }.verdict) }
        #expect(verdicts.prefix(3).allSatisfy { $0 == .success })
        guard case .rateLimited(let until, let reason) = verdicts[3] else {
            Issue.record("fourth message not rate limited: \(verdicts[3])"); return
        }
        #expect(reason.contains("14107") && until > SystemClock().nowMillis() + 90_000)
        // Another sender is not held up by the first one's limit.
        #expect(await client.call { _ in sms(sandbox, to: "+15551231009", from: "+15559990000") }.verdict == .success)
        let counters = try await sandbox.counters()
        let perSecond = counters["sender_requests_per_second"]?["+15557654321"]?.objectValue?.values.compactMap(\.intValue).reduce(0, +)
        #expect(perSecond == 4)
        await sandbox.stop()
    }

    @Test func sendersGetTheThroughputOfTheirKindOfNumber() {
        #expect(SMSStore.baseRate(of: "+15557654321") == 1)
        #expect(SMSStore.baseRate(of: "+18005550100") == 3)
        #expect(SMSStore.baseRate(of: "+18885550100") == 3)
        #expect(SMSStore.baseRate(of: "12345") == 100)
        #expect(SMSStore.baseRate(of: "whatsapp:+15557654321") == 80)
        var store = SMSStore()
        // GCRA: at 1/s with no burst, one segment now, the next one second later; a 2-segment message costs two.
        #expect(store.takeThroughput(from: "s", segments: 2, perSecond: 1, burst: 0, nowMs: 0) == nil)
        #expect(store.takeThroughput(from: "s", segments: 1, perSecond: 1, burst: 0, nowMs: 1000) == 1000)
        #expect(store.takeThroughput(from: "s", segments: 1, perSecond: 1, burst: 0, nowMs: 2000) == nil)
    }

    @Test func twilioRefusesTooManyConcurrentRequestsWith20429() async throws {
        let sandbox = try await RunningSandbox.start()
        try await sandbox.setFaults(#"{"scope": "sms", "latency_ms": 2000, "max_concurrent_requests": 1}"#)
        let client = HTTPClient()
        defer { client.close() }
        async let first = client.call { _ in sms(sandbox, to: "+15551232001", from: "+15550001001") }
        async let second = client.call { _ in sms(sandbox, to: "+15551232002", from: "+15550001002") }
        let verdicts = await [first.verdict, second.verdict]
        #expect(verdicts.filter { $0 == .success }.count == 1)
        #expect(
            verdicts.contains {
                if case .rateLimited(_, let reason) = $0 { return reason.contains("20429") }; return false
            })
        await sandbox.stop()
    }

    @Test func statusCallbacksArriveSignedInOrder() async throws {
        let sandbox = try await RunningSandbox.start()
        let receiver = try await CallbackReceiver.start()
        let client = HTTPClient()
        defer { client.close() }
        try await sandbox.setFaults(#"{"undeliverable": ["+15551233002"]}"#)
        let callback = "http://127.0.0.1:\(receiver.port)/hooks/sms?ref=msg-1"
        #expect(await client.call { _ in sms(sandbox, to: "+15551233001", body: "one", callback: callback) }.verdict == .success)
        #expect(
            await client.call { _ in sms(sandbox, to: "+15551233002", from: "+15550002002", body: "two", callback: callback) }.verdict
                == .success)
        try await waitUntil("four callbacks") { receiver.received.count == 4 }
        let posts = receiver.received
        for post in posts {
            #expect(
                TwilioSignature.isValid(
                    signature: post.signature, url: callback, parameters: post.fields, authToken: RunningSandbox.authToken))
            #expect(!TwilioSignature.isValid(signature: post.signature, url: callback, parameters: post.fields, authToken: "other"))
        }
        func statuses(of to: String) -> [String] {
            posts.filter { post in post.fields.contains { $0 == ("To", to) } }.compactMap { post in
                post.fields.first { $0.0 == "MessageStatus" }?.1
            }
        }
        #expect(statuses(of: "+15551233001") == ["sent", "delivered"])
        #expect(statuses(of: "+15551233002") == ["sent", "undelivered"])
        let counters = try await sandbox.counters()
        guard case .array(let accepted)? = counters["sms_accepted"] else { Issue.record("no sms_accepted"); return }
        #expect(accepted.allSatisfy { $0["reference"]?.stringValue == "msg-1" && $0["count"]?.intValue == 1 })
        await receiver.stop()
        await sandbox.stop()
    }

    @Test func transcriptionIsAFunctionOfTheBytesAndCapsAt25MiB() async throws {
        let sandbox = try await RunningSandbox.start()
        let client = HTTPClient()
        defer { client.close() }
        func upload(_ bytes: [UInt8]) -> HTTPClientRequest {
            HTTPClientRequest(
                "POST", sandbox.baseURL + "/v1/audio/transcriptions",
                headers: ["Authorization": HTTPClientRequest.bearerAuthorization("sk-test-key")],
                body: .multipart([
                    .field("model", "whisper-1"), .file("file", filename: "voicemail.wav", contentType: "audio/wav", data: bytes),
                ]),
                timeout: .seconds(60))
        }
        let audio = (0..<50_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let first = try await client.send(upload(audio))
        let again = try await client.send(upload(audio))
        #expect(first.status == 200)
        #expect(first.json?["text"]?.stringValue == TranscriptionsAPI.transcript(of: audio))
        #expect(again.json?["text"] == first.json?["text"])
        let other = try await client.send(upload(audio.reversed()))
        #expect(other.json?["text"] != first.json?["text"])

        let tooBig = await client.call { _ in upload([UInt8](repeating: 7, count: 25 * 1024 * 1024 + 1)) }
        #expect(tooBig.response?.status == 413)
        guard case .permanent = tooBig.verdict else { Issue.record("413 is not permanent: \(tooBig.verdict)"); return }
        let unauthorized = try await client.send(
            HTTPClientRequest(
                "POST", sandbox.baseURL + "/v1/audio/transcriptions",
                body: .multipart([.field("model", "whisper-1")])))
        #expect(unauthorized.status == 401)
        await sandbox.stop()
    }

    @Test func chatCompletionsCarryRateLimitHeadersAndRefuseOverLimitAndWithoutQuota() async throws {
        let sandbox = try await RunningSandbox.start()
        try await sandbox.setFaults(#"{"chat_requests_per_minute": 2}"#)
        let client = HTTPClient()
        defer { client.close() }
        let chat = HTTPClientRequest(
            "POST", sandbox.baseURL + "/v1/chat/completions",
            headers: ["Authorization": HTTPClientRequest.bearerAuthorization("sk-test-key")],
            body: .json(#"{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Can we move my appointment?"}]}"#))
        let first = await client.call { _ in chat }
        #expect(first.verdict == .success)
        #expect(first.response?.headers["x-ratelimit-remaining-requests"] == "1")
        let reply = first.response?.json?["choices"]?.arrayValue?.first?["message"]?["content"]?.stringValue
        #expect(reply?.contains("Can we move my appointment?") == true)
        let second = await client.call { _ in chat }
        #expect(second.response?.json?["choices"]?.arrayValue?.first?["message"]?["content"]?.stringValue == reply)
        #expect(RateLimitHeaders(second.response!.headers).exhaustedUntilMs(nowMs: SystemClock().nowMillis()) != nil)
        guard case .rateLimited(let until, _) = await client.call({ _ in chat }).verdict else {
            Issue.record("third request not rate limited"); return
        }
        #expect(until > SystemClock().nowMillis() + 50_000)

        try await sandbox.setFaults(#"{"insufficient_quota": true}"#)
        #expect(
            await client.call { _ in chat }.verdict
                == .permanent(
                    code: "insufficient_quota",
                    reason: "HTTP 429 (insufficient_quota): You exceeded your current quota, please check your plan and billing details."))
        await sandbox.stop()
    }

    @Test func calendarPagesThenSyncsChangesAndExpiresTokens() async throws {
        let sandbox = try await RunningSandbox.start()
        let client = HTTPClient()
        defer { client.close() }
        let credentials = OAuthRefresher(
            client: client, tokenURL: sandbox.baseURL + "/token", clientID: "spool", clientSecret: "s",
            refreshToken: "refresh-1")
        func list(_ query: String) async -> ProviderResult {
            await client.call(credentials: credentials) { token in
                HTTPClientRequest(
                    "GET", sandbox.baseURL + "/calendar/v3/calendars/owner%40example.com/events?" + query,
                    headers: ["Authorization": HTTPClientRequest.bearerAuthorization(token ?? "")])
            }
        }
        var ids: [String] = []
        var query = "maxResults=12"
        var syncToken: String?
        var pages = 0
        while syncToken == nil {
            let page = await list(query)
            #expect(page.verdict == .success)
            let json = try #require(page.response?.json)
            ids += json["items"]?.arrayValue?.compactMap { $0["id"]?.stringValue } ?? []
            pages += 1
            if let next = json["nextPageToken"]?.stringValue { query = "maxResults=12&pageToken=\(FormEncoding.escape(next))" }
            syncToken = json["nextSyncToken"]?.stringValue
        }
        #expect(pages == 3 && ids.count == 30 && Set(ids).count == 30)

        try await changeCalendar(sandbox, client, #"{"add": 2, "update": 1, "delete": 1}"#)
        let changes = await list("syncToken=\(FormEncoding.escape(syncToken!))")
        let items = changes.response?.json?["items"]?.arrayValue ?? []
        #expect(items.count == 4)
        #expect(items.filter { $0["status"]?.stringValue == "cancelled" }.count == 1)

        // An expired access token: refreshed once, then the same call succeeds.
        try await sandbox.setFaults(#"{"expire_tokens": true}"#)
        #expect(await list("maxResults=1").verdict == .success)
        #expect(try await sandbox.counters()["requests"]?["token"]?.intValue == 2)

        // An expired sync token: 410, which the calendar job answers with a full sync.
        try await sandbox.setFaults(#"{"expire_sync_tokens": true}"#)
        guard case .permanent(let code, _) = await list("syncToken=\(FormEncoding.escape(syncToken!))").verdict else {
            Issue.record("an expired sync token is not permanent")
            return
        }
        #expect(code == "fullSyncRequired")
        await sandbox.stop()
    }

    @Test func aRevokedRefreshTokenIsPermanent() async throws {
        let sandbox = try await RunningSandbox.start()
        let client = HTTPClient()
        defer { client.close() }
        let credentials = OAuthRefresher(
            client: client, tokenURL: sandbox.baseURL + "/token", clientID: "spool", clientSecret: "s",
            refreshToken: "revoked")
        let result = await client.call(credentials: credentials) { token in
            HTTPClientRequest(
                "GET", sandbox.baseURL + "/calendar/v3/calendars/primary/events",
                headers: ["Authorization": HTTPClientRequest.bearerAuthorization(token ?? "")])
        }
        #expect(result.verdict == .permanent(code: "invalid_grant", reason: "HTTP 400 (invalid_grant): Token has been expired or revoked."))
        await sandbox.stop()
    }

    @Test func faultSettingsRefuseUnknownFieldsByName() async throws {
        let sandbox = try await RunningSandbox.start()
        await #expect { try await sandbox.setFaults(#"{"latency": 5}"#) } throws: { "\($0)".contains("unknown field 'latency'") }
        await #expect { try await sandbox.setFaults(#"{"error_rates": {"500": 2}}"#) } throws: { "\($0)".contains("error_rates.500") }
        await #expect { try await sandbox.setFaults(#"{"scope": "fax"}"#) } throws: { "\($0)".contains("field 'scope'") }
        await sandbox.stop()
    }

    private func changeCalendar(_ sandbox: RunningSandbox, _ client: HTTPClient, _ json: String) async throws {
        let response = try await client.send(
            HTTPClientRequest("POST", sandbox.baseURL + "/_sandbox/calendars/owner%40example.com/changes", body: .json(json)))
        #expect(response.status == 200)
    }
}

/// A webhook receiver for status callbacks: a Hummingbird server in this process on a free port.
final class CallbackReceiver: Sendable {
    struct Post: Sendable {
        let signature: String
        let fields: [(String, String)]
    }

    final class Log: Sendable {
        let posts = Mutex<[Post]>([])
        let port = Mutex<Int?>(nil)
    }

    let port: Int
    private let log: Log
    private let task: Task<Void, any Error>
    var received: [Post] { log.posts.withLock { $0 } }

    private init(port: Int, log: Log, task: Task<Void, any Error>) {
        self.port = port
        self.log = log
        self.task = task
    }

    static func start() async throws -> CallbackReceiver {
        let log = Log()
        let router = Router()
        router.post("/hooks/sms") { request, _ -> HTTPResponse.Status in
            var request = request
            let body = try await request.collectBody(upTo: 65_536)
            let fields = FormEncoding.decode(String(buffer: body))
            let signature = request.headers.first { $0.name.canonicalName == "x-twilio-signature" }?.value ?? ""
            log.posts.withLock { $0.append(Post(signature: signature, fields: fields)) }
            return .noContent
        }
        var quiet = TestEnvironment.logger
        quiet.logLevel = .critical  // cancelling the server at the end logs an error otherwise
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in log.port.withLock { $0 = channel.localAddress?.port } }, logger: quiet)
        let task = Task { try await app.run() }
        try await waitUntil("the callback receiver to listen") { log.port.withLock { $0 } != nil }
        return CallbackReceiver(port: log.port.withLock { $0 }!, log: log, task: task)
    }

    func stop() async {
        task.cancel()
        _ = await task.result
    }
}
