import FoundationEssentials
import Hummingbird
import SpoolHTTP
import SpoolSMS
import SpoolSupport

/// Twilio's Messages resource: create (form-encoded, Basic auth), fetch by sid, and list by To/From
/// with Twilio's paging. Addresses are E.164 numbers for SMS, or `whatsapp:` and one for WhatsApp, and
/// a number writes only to its own channel (21910), as Twilio's.
///
/// A message is accepted as `queued`; when it names a StatusCallback, callbacks follow for `sent` and
/// then `delivered`, `undelivered` or `failed`, each signed like Twilio's. The `ref` query parameter
/// of the StatusCallback URL is taken as the sender's client reference and counted with To and Body.
struct TwilioMessagesAPI: Sendable {
    let state: SandboxState
    let callbacks: StatusCallbackSender
    static let maximumBody = 1600

    func register(on router: Router<BasicRequestContext>) {
        router.post("/2010-04-01/Accounts/:account/Messages.json") { request, context in
            try await create(request, account: context.parameters.get("account") ?? "")
        }
        router.get("/2010-04-01/Accounts/:account/Messages.json") { request, context in
            await list(request, account: context.parameters.get("account") ?? "")
        }
        router.get("/2010-04-01/Accounts/:account/Messages/:file") { request, context in
            await fetch(request, account: context.parameters.get("account") ?? "", file: context.parameters.get("file") ?? "")
        }
    }

    private func create(_ request: Request, account: String) async throws -> Response {
        // A sender's requests are counted in the second they arrive, before the simulated latency:
        // how long this process takes to wake up again is not the client's doing.
        let arrivedSecond = SandboxTime.nowMs() / 1000
        var request = request
        let decision = state.admit(.sms, endpoint: "sms.create")
        if let refusal = authenticate(request, account: account) { return refusal }
        let limit = state.withStore { $0.settings.maxConcurrentRequests }
        let admitted = state.withStore { store -> Bool in
            store.sms.inFlight[account, default: 0] += 1
            return store.sms.inFlight[account]! <= limit
        }
        defer { state.withStore { $0.sms.inFlight[account, default: 1] -= 1 } }
        try await sleep(milliseconds: decision.latencyMs)
        if !admitted { return Self.error(429, 20429, "Too Many Requests") }
        if let status = decision.injectedStatus { return Self.injected(status, retryAfter: decision.retryAfterSeconds) }

        guard let bytes = try await request.bodyBytes(limit: 64 * 1024) else { return Self.error(413, 20413, "Request entity too large") }
        let form = Dictionary(FormEncoding.decode(String(decoding: bytes, as: UTF8.self)), uniquingKeysWith: { first, _ in first })
        guard let to = form["To"], !to.isEmpty else { return Self.error(400, 21604, "A 'To' phone number is required.") }
        guard let from = form["From"] ?? form["MessagingServiceSid"], !from.isEmpty else {
            return Self.error(400, 21603, "A 'From' phone number is required.")
        }
        guard let body = form["Body"], !body.isEmpty else { return Self.error(400, 21602, "Message body is required.") }
        if body.count > Self.maximumBody {
            return Self.error(400, 21617, "The concatenated message body exceeds the 1600 character limit.")
        }
        guard SMSStore.isE164(SMSStore.number(of: to)) else {
            return Self.error(400, 21211, "The 'To' number \(to) is not a valid phone number.")
        }
        // A messaging service picks a sender of the recipient's channel; a number must be of it already.
        if form["From"] != nil, SMSStore.isWhatsApp(from) != SMSStore.isWhatsApp(to) {
            return Self.error(400, 21910, "Invalid 'From' and 'To' pair. 'From' and 'To' should be of the same channel")
        }
        if let magic = SMSStore.magicRecipients[to] { return Self.error(400, magic.code, magic.message) }
        var reference = ""
        if let callback = form["StatusCallback"] {
            guard LoopbackURL.isLoopback(callback) else {
                return Self.error(400, 21609, "Invalid StatusCallback url: the sandbox calls back loopback addresses only")
            }
            reference = LoopbackURL.queryValue("ref", in: callback) ?? ""
        }

        // WhatsApp has no segments: a message is one, whatever its length.
        let segments = SMSStore.isWhatsApp(to) ? 1 : SMSEncoding(body: body).segments
        let outcome = state.withStore { store -> Response? in
            // Read under the lock: requests then meet the sender's allowance in the order of their
            // times. A time read before it could be older than one an earlier holder used, and look
            // like a burst that never happened.
            let now = SandboxTime.nowMs()
            store.counters.senderRequests[from, default: [:]][arrivedSecond, default: 0] += 1
            if store.settings.optedOut.contains(to) { return Self.error(400, 21610, "Attempt to send to unsubscribed recipient") }
            let rate = store.settings.senderRates[from] ?? SMSStore.baseRate(of: from)
            if let wait = store.sms.takeThroughput(
                from: from, segments: segments, perSecond: rate, burst: store.settings.smsBurst, nowMs: now)
            {
                let seconds = max(1, Int((wait + 999) / 1000))
                return Self.error(
                    429, 14107, "Message rate limit exceeded for sender \(from): \(rate) segments per second",
                    headers: [("Retry-After", String(seconds))])
            }
            // From the system's generator, not the fault seed, which every faults request restarts: a sid
            // must never repeat, in one run or across runs, or paging and Spool's receipts would mix two messages up.
            let sid = InboundMessagesAPI.freshSid("SM")
            store.sms.messages[sid] = SMSStore.Message(
                sid: sid, accountSid: account, to: to, from: from, body: body, segments: segments, status: "queued", errorCode: nil,
                reference: reference, callbackURL: form["StatusCallback"], createdMs: now, updatedMs: now)
            store.sms.order.append(sid)
            store.counters.smsAccepted[SMSIdentity(to: to, body: body, reference: reference), default: 0] += 1
            store.counters.senderSegments[from, default: [:]][now / 1000, default: 0] += segments
            callbacks.schedule(sid: sid, store: &store)
            return SandboxResponse.json(201, Self.resource(store.sms.messages[sid]!))
        }
        return outcome!
    }

    /// Newest first, filtered by `To` and `From`, paged as Twilio pages (`TwilioPaging`).
    private func list(_ request: Request, account: String) async -> Response {
        _ = state.admit(.sms, endpoint: "sms.list")
        if let refusal = authenticate(request, account: account) { return refusal }
        let query = request.query
        let messages = state.withStore { store -> [SMSStore.Message] in
            store.sms.order.reversed().compactMap { sid -> SMSStore.Message? in
                guard let message = store.sms.messages[sid], message.accountSid == account,
                    query["To"].map({ $0 == message.to }) ?? true, query["From"].map({ $0 == message.from }) ?? true
                else { return nil }
                return message
            }
        }
        let filters = ["To", "From"].compactMap { name in query[name].map { (name, $0) } }
        return SandboxResponse.json(
            200,
            TwilioPaging.page(
                messages, sid: { $0.sid }, resource: { Self.resource($0) }, key: "messages",
                path: "/2010-04-01/Accounts/\(account)/Messages.json", query: query, filters: filters))
    }

    private func fetch(_ request: Request, account: String, file: String) async -> Response {
        _ = state.admit(.sms, endpoint: "sms.fetch")
        if let refusal = authenticate(request, account: account) { return refusal }
        let sid = file.hasSuffix(".json") ? String(file.dropLast(5)) : file
        guard let message = state.withStore({ $0.sms.messages[sid] }), message.accountSid == account else {
            return Self.error(404, 20404, "The requested resource /2010-04-01/Accounts/\(account)/Messages/\(sid).json was not found")
        }
        return SandboxResponse.json(200, Self.resource(message))
    }

    private func authenticate(_ request: Request, account: String) -> Response? {
        Self.authenticate(request, account: account, state: state)
    }

    /// HTTP Basic with the account SID and auth token; the SID must also be the one in the path.
    /// Every Twilio resource of the sandbox asks for it (messages, and inbound messages' media).
    static func authenticate(_ request: Request, account: String, state: SandboxState) -> Response? {
        guard let header = request.header("Authorization"), header.hasPrefix("Basic "),
            let decoded = Data(base64Encoded: String(header.dropFirst(6))).map({ Array($0) }),
            let colon = decoded.firstIndex(of: UInt8(ascii: ":")),
            String(decoding: decoded[..<colon], as: UTF8.self) == state.twilioAccountSid,
            Hashing.constantTimeEqual(Array(decoded[(colon + 1)...]), Array(state.twilioAuthToken.utf8)),
            account == state.twilioAccountSid
        else { return Self.error(401, 20003, "Authenticate") }
        return nil
    }

    static func resource(_ message: SMSStore.Message) -> JSONValue {
        let path = "/2010-04-01/Accounts/\(message.accountSid)/Messages/\(message.sid)"
        return .object([
            "sid": .string(message.sid), "account_sid": .string(message.accountSid), "api_version": .string("2010-04-01"),
            "to": .string(message.to), "from": .string(message.from), "body": .string(message.body),
            "status": .string(message.status), "num_segments": .string(String(message.segments)), "num_media": .string("0"),
            "direction": .string("outbound-api"), "messaging_service_sid": message.from.hasPrefix("MG") ? .string(message.from) : .null,
            "date_created": .string(SandboxTime.rfc2822(message.createdMs)),
            "date_updated": .string(SandboxTime.rfc2822(message.updatedMs)),
            "date_sent": message.status == "queued" ? .null : .string(SandboxTime.rfc2822(message.updatedMs)),
            "error_code": message.errorCode.map { .number(Double($0)) } ?? .null, "error_message": .null,
            "price": .null, "price_unit": .string("USD"), "uri": .string(path + ".json"),
            "subresource_uris": .object(["media": .string(path + "/Media.json")]),
        ])
    }

    static func error(_ status: Int, _ code: Int, _ message: String, headers: [(String, String)] = []) -> Response {
        SandboxResponse.json(
            status,
            .object([
                "code": .number(Double(code)), "message": .string(message), "status": .number(Double(status)),
                "more_info": .string("https://www.twilio.com/docs/errors/\(code)"),
            ]), headers: headers)
    }

    static func injected(_ status: Int, retryAfter: Int?) -> Response {
        let headers = retryAfter.map { [("Retry-After", String($0))] } ?? []
        switch status {
        case 429: return error(429, 20429, "Too Many Requests", headers: headers)
        case 500: return error(500, 20500, "Internal Server Error", headers: headers)
        case 503: return error(503, 20503, "Service Unavailable", headers: headers)
        default: return error(status, 20000 + status, "Injected fault", headers: headers)
        }
    }
}

func hex(_ value: UInt64) -> String {
    let text = String(value, radix: 16)
    return String(repeating: "0", count: 16 - text.count) + text
}

func sleep(milliseconds: Int) async throws {
    if milliseconds > 0 { try await Task.sleep(for: .milliseconds(milliseconds)) }
}
