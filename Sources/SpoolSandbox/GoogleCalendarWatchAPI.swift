import Hummingbird
import SpoolHTTP
import SpoolSupport

/// Google Calendar v3 push channels: `events.watch` (`POST /calendar/v3/calendars/{calendar}/events/watch`)
/// opens a channel and answers the channel resource; `channels.stop` (`POST /calendar/v3/channels/stop`)
/// closes one with 204. The sandbox then posts `sync` at once and `exists` after each change to the
/// calendar (`PushNotificationSender`), to loopback addresses only.
struct GoogleCalendarWatchAPI: Sendable {
    let state: SandboxState
    let notifier: PushNotificationSender
    /// Google's default channel lifetime, a week.
    static let defaultTTLSeconds: Int64 = 604_800
    /// The longest lifetime granted; a longer request gets this, as Google caps it silently.
    static let maximumTTLSeconds: Int64 = 30 * 86_400
    /// Fields of Google's Channel resource; any other is refused by name.
    static let channelFields: Set<String> = [
        "id", "token", "type", "address", "params", "expiration", "kind", "resourceId", "resourceUri", "payload",
    ]

    func register(on router: Router<BasicRequestContext>) {
        router.post("/calendar/v3/calendars/:calendar/events/watch") { request, context in
            try await watch(request, calendarID: FormEncoding.unescape(context.parameters.get("calendar") ?? ""))
        }
        router.post("/calendar/v3/channels/stop") { request, _ in try await stop(request) }
    }

    /// What a watch request asks for, checked.
    struct WatchRequest {
        let id: String
        let address: String
        let token: String?
        /// The expiration asked for, as unix milliseconds; nil for the default lifetime.
        let expirationMs: Int64?
        let ttlSeconds: Int64?

        static func parse(_ json: JSONValue) throws(GoogleRequestError) -> WatchRequest {
            guard let fields = json.objectValue else {
                throw GoogleRequestError("The request body must be a JSON object.", reason: "parseError")
            }
            for name in fields.keys.sorted() where !GoogleCalendarWatchAPI.channelFields.contains(name) {
                throw GoogleRequestError("Invalid JSON payload received. Unknown name \"\(name)\": Cannot find field.")
            }
            guard let id = fields["id"]?.stringValue, !id.isEmpty else {
                throw GoogleRequestError("Required field: id", reason: "required")
            }
            guard id.count <= 64, id.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_+/=".contains($0)) }) else {
                throw GoogleRequestError("Invalid channel id '\(id.prefix(80))': at most 64 of A-Z a-z 0-9 - _ + / =")
            }
            guard let type = fields["type"]?.stringValue else { throw GoogleRequestError("Required field: type", reason: "required") }
            guard type == "web_hook" || type == "webhook" else {
                throw GoogleRequestError("Invalid value for type: '\(type.prefix(40))'; expected web_hook")
            }
            guard let address = fields["address"]?.stringValue, !address.isEmpty else {
                throw GoogleRequestError("Required field: address", reason: "required")
            }
            guard LoopbackURL.isLoopback(address), !address.contains(where: { $0.isNewline }) else {
                throw GoogleRequestError(
                    "Unauthorized WebHook callback channel: \(address.prefix(200)) (the sandbox notifies addresses on this machine only: 127.0.0.0/8, [::1], localhost)",
                    reason: "push.webhookUrlUnauthorized")
            }
            var token: String?
            if let value = fields["token"], value != .null {
                guard let text = value.stringValue, text.utf8.count <= 256, !text.contains(where: { $0.isNewline }) else {
                    throw GoogleRequestError("Invalid value for token: expected a string of at most 256 bytes on one line")
                }
                token = text
            }
            var ttl: Int64?
            if let params = fields["params"], params != .null {
                guard let object = params.objectValue else { throw GoogleRequestError("Invalid value for params: expected an object") }
                if let value = object["ttl"] {
                    guard let seconds = Self.integer(value), seconds > 0 else {
                        throw GoogleRequestError(
                            "Invalid value for params.ttl: \(value.text.prefix(40)); expected a positive number of seconds")
                    }
                    ttl = seconds
                }
            }
            var expiration: Int64?
            if let value = fields["expiration"], value != .null {
                guard let ms = Self.integer(value), ms > 0 else {
                    throw GoogleRequestError("Invalid value for expiration: \(value.text.prefix(40)); expected unix milliseconds")
                }
                expiration = ms
            }
            return WatchRequest(id: id, address: address, token: token, expirationMs: expiration, ttlSeconds: ttl)
        }

        /// Google writes 64-bit numbers as strings and takes either.
        private static func integer(_ value: JSONValue) -> Int64? {
            if let number = value.intValue { return Int64(number) }
            return value.stringValue.flatMap { Int64($0) }
        }
    }

    private func watch(_ request: Request, calendarID: String) async throws -> Response {
        var request = request
        if let refusal = try await GoogleCalendarGate(state: state).refusal(request, endpoint: "calendar.watch") { return refusal }
        guard let bytes = try await request.bodyBytes(limit: 64 * 1024) else {
            return GoogleErrors.error(413, "Request too large.", reason: "requestTooLarge", status: "INVALID_ARGUMENT")
        }
        let watch: WatchRequest
        do {
            watch = try WatchRequest.parse(try JSONValue.parse(bytes: bytes))
        } catch let error as GoogleRequestError {
            return error.response
        } catch {
            return GoogleErrors.invalid("Parse Error", reason: "parseError")
        }
        let now = SandboxTime.nowMs()
        let latest = now + Self.maximumTTLSeconds * 1000
        let expiration = min(watch.expirationMs ?? now + (watch.ttlSeconds ?? Self.defaultTTLSeconds) * 1000, latest)
        guard expiration > now else { return GoogleErrors.invalid("Invalid value for expiration: it is not in the future") }
        let channel = WatchChannels.Channel(
            id: watch.id, resourceID: Self.resourceID(calendarID),
            resourceURI: "\(state.baseURL ?? "")/calendar/v3/calendars/\(FormEncoding.escape(calendarID))/events?alt=json",
            calendarID: calendarID, address: watch.address, token: watch.token, expirationMs: expiration)
        let opened = state.withStore { store -> Bool in
            guard store.channels.open(channel, nowMs: now) else { return false }
            store.counters.calendarWatches += 1
            notifier.enqueue(.sync, channelID: channel.id, store: &store, nowMs: now)
            return true
        }
        guard opened else { return GoogleErrors.invalid("Channel id \(watch.id) not unique", reason: "channelIdNotUnique") }
        var resource: [String: JSONValue] = [
            "kind": .string("api#channel"), "id": .string(channel.id), "resourceId": .string(channel.resourceID),
            "resourceUri": .string(channel.resourceURI), "expiration": .string(String(expiration)),
        ]
        if let token = channel.token { resource["token"] = .string(token) }
        return SandboxResponse.json(200, .object(resource))
    }

    private func stop(_ request: Request) async throws -> Response {
        var request = request
        if let refusal = try await GoogleCalendarGate(state: state).refusal(request, endpoint: "calendar.channels_stop") { return refusal }
        guard let bytes = try await request.bodyBytes(limit: 64 * 1024), let json = try? JSONValue.parse(bytes: bytes),
            let fields = json.objectValue
        else { return GoogleErrors.invalid("Parse Error", reason: "parseError") }
        guard let id = fields["id"]?.stringValue, !id.isEmpty else { return GoogleErrors.invalid("Required field: id", reason: "required") }
        guard let resourceID = fields["resourceId"]?.stringValue, !resourceID.isEmpty else {
            return GoogleErrors.invalid("Required field: resourceId", reason: "required")
        }
        let stopped = state.withStore { store -> Bool in
            guard store.channels.stop(id: id, resourceID: resourceID, nowMs: SandboxTime.nowMs()) else { return false }
            store.counters.calendarChannelsStopped += 1
            return true
        }
        guard stopped else { return GoogleErrors.notFound("Channel '\(id.prefix(80))' not found for resource '\(resourceID.prefix(80))'") }
        return Response(status: .noContent)
    }

    /// Google's opaque id of the watched resource: the same for every channel on one calendar.
    static func resourceID(_ calendarID: String) -> String {
        "sandbox-" + String(Hashing.sha1Hex(calendarID.utf8).prefix(20))
    }
}
