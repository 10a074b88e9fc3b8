import Hummingbird
import SpoolHTTP
import SpoolSupport
import Synchronization
import TestSupport
import Testing

@testable import SpoolSandbox

/// Google Calendar push channels against the sandbox: events.watch, the notifications a receiver on
/// this machine gets for each change, and channels.stop.
@Suite struct GoogleCalendarWatchTests {
    private func accessToken(_ sandbox: RunningSandbox, _ client: HTTPClient) async throws -> String {
        let response = try await GoogleOAuthSandboxTests.refresh(sandbox, client, "watch-test")
        return try #require(response.json?["access_token"]?.stringValue)
    }

    private func post(
        _ sandbox: RunningSandbox, _ client: HTTPClient, token: String, _ path: String, _ json: String
    ) async throws
        -> HTTPClientResponse
    {
        try await client.send(
            HTTPClientRequest(
                "POST", sandbox.baseURL + path, headers: ["Authorization": HTTPClientRequest.bearerAuthorization(token)], body: .json(json))
        )
    }

    @Test func aWatchedCalendarNotifiesSyncThenEachChangeUntilStopped() async throws {
        let sandbox = try await RunningSandbox.start()
        let receiver = try await PushReceiver.start()
        let client = HTTPClient()
        defer { client.close() }
        let token = try await accessToken(sandbox, client)
        let address = "http://127.0.0.1:\(receiver.port)/v1/webhooks/google/calendar"
        let watchPath = "/calendar/v3/calendars/room%40example.com/events/watch"
        let before = SystemClock().nowMillis()

        let watched = try await post(
            sandbox, client, token: token, watchPath,
            #"{"id": "chan-1", "type": "web_hook", "address": "\#(address)", "token": "tenant=7", "params": {"ttl": "3600"}}"#)
        #expect(watched.status == 200)
        let channel = try #require(watched.json)
        #expect(channel["kind"]?.stringValue == "api#channel" && channel["id"]?.stringValue == "chan-1")
        #expect(channel["token"]?.stringValue == "tenant=7")
        let resourceID = try #require(channel["resourceId"]?.stringValue)
        #expect(channel["resourceUri"]?.stringValue?.contains("/calendar/v3/calendars/") == true)
        let expiration = try #require(channel["expiration"]?.stringValue.flatMap { Int64($0) })
        #expect(expiration >= before + 3_600_000 && expiration <= SystemClock().nowMillis() + 3_600_000)

        try await waitUntil("the sync notification") { receiver.received(on: "chan-1").count == 1 }
        let sync = receiver.received(on: "chan-1")[0]
        #expect(sync.state == "sync" && sync.number == "1")
        #expect(sync.token == "tenant=7" && sync.resourceID == resourceID && sync.bodyBytes == 0)
        #expect(sync.resourceURI == channel["resourceUri"]?.stringValue)
        #expect(sync.expiration == SandboxTime.rfc1123(expiration))

        // Each change to the calendar: one `exists`, numbered on.
        let change = try await client.send(
            HTTPClientRequest("POST", sandbox.baseURL + "/_sandbox/calendars/room%40example.com/changes", body: .json(#"{"update": 1}"#)))
        #expect(change.status == 200)
        try await waitUntil("the first exists notification") { receiver.received(on: "chan-1").count == 2 }
        let put = try await client.send(
            HTTPClientRequest(
                "PUT", sandbox.baseURL + "/_sandbox/calendars/room%40example.com/events/checkup-1",
                body: .json(#"{"start": "2030-01-15T14:00:00Z"}"#)))
        #expect(put.status == 201)
        try await waitUntil("the second exists notification") { receiver.received(on: "chan-1").count == 3 }
        #expect(receiver.received(on: "chan-1").map(\.state) == ["sync", "exists", "exists"])
        #expect(receiver.received(on: "chan-1").map(\.number) == ["1", "2", "3"])

        // Refusals: an address off this machine, a channel id in use, a type other than web_hook.
        let offMachine = try await post(
            sandbox, client, token: token, watchPath, #"{"id": "chan-x", "type": "web_hook", "address": "https://hooks.example.com/x"}"#)
        #expect(offMachine.status == 400)
        #expect(offMachine.json?["error"]?["errors"]?.arrayValue?.first?["reason"]?.stringValue == "push.webhookUrlUnauthorized")
        let duplicate = try await post(
            sandbox, client, token: token, watchPath, #"{"id": "chan-1", "type": "web_hook", "address": "\#(address)"}"#)
        #expect(duplicate.json?["error"]?["errors"]?.arrayValue?.first?["reason"]?.stringValue == "channelIdNotUnique")
        let wrongType = try await post(
            sandbox, client, token: token, watchPath, #"{"id": "chan-y", "type": "email", "address": "\#(address)"}"#)
        #expect(wrongType.status == 400)
        let unauthorized = try await post(
            sandbox, client, token: "not-a-token", watchPath, #"{"id": "chan-z", "type": "web_hook", "address": "\#(address)"}"#)
        #expect(unauthorized.status == 401)

        // A second channel on the same calendar; then chan-1 stops, and only chan-2 hears of the next change.
        #expect(
            try await post(sandbox, client, token: token, watchPath, #"{"id": "chan-2", "type": "web_hook", "address": "\#(address)"}"#)
                .status == 200)
        try await waitUntil("chan-2's sync notification") { receiver.received(on: "chan-2").count == 1 }
        let stop = #"{"id": "chan-1", "resourceId": "\#(resourceID)"}"#
        #expect(try await post(sandbox, client, token: token, "/calendar/v3/channels/stop", stop).status == 204)
        #expect(try await post(sandbox, client, token: token, "/calendar/v3/channels/stop", stop).status == 404)
        #expect(
            try await client.send(HTTPClientRequest("DELETE", sandbox.baseURL + "/_sandbox/calendars/room%40example.com/events/checkup-1"))
                .status == 200)
        try await waitUntil("chan-2's exists notification") { receiver.received(on: "chan-2").count == 2 }
        #expect(receiver.received(on: "chan-1").count == 3)
        #expect(receiver.received(on: "chan-2").last?.token == nil)

        // The sandbox counts a delivery once the receiver has answered it.
        try await waitUntil("five deliveries counted") {
            try await sandbox.counters()["calendar"]?["notifications_delivered"]?.intValue == 5
        }
        let counters = try await sandbox.counters()
        #expect(counters["calendar"]?["watches"]?.intValue == 2 && counters["calendar"]?["channels_stopped"]?.intValue == 1)
        #expect(counters["calendar"]?["notifications"]?["sync"]?.intValue == 2)
        #expect(counters["calendar"]?["notifications"]?["exists"]?.intValue == 3)
        #expect(counters["calendar"]?["notifications_failed"]?.intValue == 0)
        await receiver.stop()
        await sandbox.stop()
    }

    @Test func anExpiredChannelHearsNothingMore() async throws {
        let sandbox = try await RunningSandbox.start()
        let receiver = try await PushReceiver.start()
        let client = HTTPClient()
        defer { client.close() }
        let token = try await accessToken(sandbox, client)
        let address = "http://127.0.0.1:\(receiver.port)/v1/webhooks/google/calendar"
        let watchPath = "/calendar/v3/calendars/primary/events/watch"
        try await sandbox.setFaults(#"{"calendar_push_delay_ms": 0}"#)
        let shortLived = try await post(
            sandbox, client, token: token, watchPath,
            #"{"id": "short", "type": "web_hook", "address": "\#(address)", "params": {"ttl": 1}}"#)
        let expiration = try #require(shortLived.json?["expiration"]?.stringValue.flatMap { Int64($0) })
        #expect(
            try await post(sandbox, client, token: token, watchPath, #"{"id": "long", "type": "web_hook", "address": "\#(address)"}"#)
                .status == 200)
        try await waitUntil("the short channel to expire") { SystemClock().nowMillis() > expiration }
        let change = try await client.send(
            HTTPClientRequest("POST", sandbox.baseURL + "/_sandbox/calendars/primary/changes", body: .json(#"{"add": 1}"#)))
        #expect(change.status == 200)
        try await waitUntil("the long channel's exists notification") { receiver.received(on: "long").contains { $0.state == "exists" } }
        #expect(!receiver.received(on: "short").contains { $0.state == "exists" })
        // Its id is free again once it has expired.
        #expect(
            try await post(sandbox, client, token: token, watchPath, #"{"id": "short", "type": "web_hook", "address": "\#(address)"}"#)
                .status == 200)
        await receiver.stop()
        await sandbox.stop()
    }

    @Test func aFailedDeliveryIsCounted() async throws {
        let sandbox = try await RunningSandbox.start()
        let client = HTTPClient()
        defer { client.close() }
        let token = try await accessToken(sandbox, client)
        // A port nothing listens on: the connection is refused.
        let port = try LoopbackPort.free()
        let address = "http://127.0.0.1:\(port)/hook"
        let watched = try await post(
            sandbox, client, token: token, "/calendar/v3/calendars/primary/events/watch",
            #"{"id": "nobody-home", "type": "web_hook", "address": "\#(address)"}"#)
        #expect(watched.status == 200)
        try await waitUntil("the failed delivery to be counted") {
            try await sandbox.counters()["calendar"]?["notifications_failed"]?.intValue == 1
        }
        await sandbox.stop()
    }
}

/// A receiver for Google's push notifications: a Hummingbird server in this process on a free port,
/// keeping each notification's X-Goog-* headers.
final class PushReceiver: Sendable {
    struct Notification: Sendable {
        let channelID: String
        let token: String?
        let state: String
        let number: String
        let resourceID: String
        let resourceURI: String
        let expiration: String
        let bodyBytes: Int
    }

    final class Log: Sendable {
        let notifications = Mutex<[Notification]>([])
        let port = Mutex<Int?>(nil)
    }

    let port: Int
    private let log: Log
    private let task: Task<Void, any Error>

    private init(port: Int, log: Log, task: Task<Void, any Error>) {
        self.port = port
        self.log = log
        self.task = task
    }

    func received(on channelID: String) -> [Notification] {
        log.notifications.withLock { $0.filter { $0.channelID == channelID } }
    }

    static func start() async throws -> PushReceiver {
        let log = Log()
        let router = Router()
        router.post("/v1/webhooks/google/calendar") { request, _ -> HTTPResponse.Status in
            var request = request
            let body = try await request.collectBody(upTo: 65_536)
            let headers = request.headers
            func header(_ name: String) -> String? {
                headers.first { $0.name.canonicalName == name.lowercased() }?.value
            }
            let notification = Notification(
                channelID: header("X-Goog-Channel-ID") ?? "", token: header("X-Goog-Channel-Token"),
                state: header("X-Goog-Resource-State") ?? "", number: header("X-Goog-Message-Number") ?? "",
                resourceID: header("X-Goog-Resource-ID") ?? "", resourceURI: header("X-Goog-Resource-URI") ?? "",
                expiration: header("X-Goog-Channel-Expiration") ?? "", bodyBytes: body.readableBytes)
            log.notifications.withLock { $0.append(notification) }
            return .ok
        }
        var quiet = TestEnvironment.logger
        quiet.logLevel = .critical  // cancelling the server at the end logs an error otherwise
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in log.port.withLock { $0 = channel.localAddress?.port } }, logger: quiet)
        let task = Task { try await app.run() }
        try await waitUntil("the push receiver to listen") { log.port.withLock { $0 } != nil }
        return PushReceiver(port: log.port.withLock { $0 }!, log: log, task: task)
    }

    func stop() async {
        task.cancel()
        _ = await task.result
    }
}
