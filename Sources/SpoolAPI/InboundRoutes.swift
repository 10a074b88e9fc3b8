import HTTPTypes
import Logging
import Hummingbird
import NIOCore
import SpoolQueue
import SpoolStore
import SpoolSupport

/// `POST /v1/webhooks/twilio/inbound`: a contact's SMS or WhatsApp message to one of a tenant's numbers
/// (Twilio's inbound-message webhook: `MessageSid`, `From`, `To`, `Body`, `NumMedia`, `MediaUrl{i}`,
/// `MediaContentType{i}`, WhatsApp's `whatsapp:+E164` addresses and `ProfileName`). Checked like the
/// receipts (`TwilioWebhookVerifier`); not behind API keys.
///
/// The tenant is whoever holds the `To` number (`SenderNumbers`; for WhatsApp the `whatsapp:` number,
/// else the bare one). The message is stored once per MessageSid with its conversation, its keyword
/// applied in the same transaction (`InboundMessages`), one `transcription` job is enqueued per audio
/// attachment, or for a text the conversation's `ai-reply` (when the number answers with the AI), and
/// the answer is TwiML at once: it never waits on a provider.
struct TwilioInboundRoutes: Sendable {
    let services: APIServices
    let verifier: TwilioWebhookVerifier
    let replyDebounce: Duration
    let replyEstimatedTokens: Int
    let logger: Logger
    /// Twilio sends at most 10 attachments with a message.
    static let maximumMedia = 10

    func register(on router: Router<APIContext>) {
        router.post("/v1/webhooks/twilio/inbound") { request, _ in try await inbound(request) }
    }

    private func inbound(_ request: Request) async throws -> Response {
        let fields = try await verifier.form(request, refusing: "inbound messages")
        let value = { (name: String) in fields.first { $0.0 == name }?.1 }
        func required(_ name: String) throws -> String {
            guard let text = value(name), !text.isEmpty else {
                throw APIError(status: 400, code: "missing_field", message: "\(name): required", field: name)
            }
            return text
        }
        let sid = try required("MessageSid")
        let from = try required("From")
        let to = try required("To")
        guard let contact = InboundContact(from) else {
            throw APIError.invalid("From", "From: '\(from.prefix(64))' is not E.164 (+ and 8 to 15 digits), nor whatsapp: and E.164")
        }
        var media: [InboundMedia] = []
        if let count = value("NumMedia"), !count.isEmpty {
            guard let number = Int(count), (0...Self.maximumMedia).contains(number) else {
                throw APIError.invalid(
                    "NumMedia", "NumMedia: expected an integer from 0 to \(Self.maximumMedia), got '\(count.prefix(20))'")
            }
            for index in 0..<number {
                let url = try required("MediaUrl\(index)")
                media.append(InboundMedia(url: url, contentType: value("MediaContentType\(index)") ?? ""))
            }
        }
        guard let holder = try await owner(of: to) else {
            throw APIError(
                status: 404, code: "unknown_number",
                message: "To: \(to.prefix(64)) is not a number any tenant holds; \(SenderNumbers.howToAdd)", field: "To")
        }
        let profileName = value("ProfileName").flatMap { $0.isEmpty ? nil : $0 }
        let received = try await InboundMessages(pool: services.pool, clock: services.clock).receive(
            InboundMessage(sid: sid, from: from, to: to, body: value("Body") ?? "", profileName: profileName, media: media),
            tenantID: holder.tenantID, number: holder.number, contact: contact)
        try await enqueueTranscriptions(received, tenantID: holder.tenantID)
        if received.replyDue { try await enqueueReply(received, tenantID: holder.tenantID) }
        switch received.keyword {
        case .help?:
            return TwiML.message(received.helpText ?? "")
        case .stop?, .start?:
            // Twilio's Advanced Opt-Out answers STOP and START itself (its confirmation texts); a
            // second answer from here would text the contact twice.
            return TwiML.empty()
        case nil:
            return TwiML.empty()
        }
    }

    /// One `transcription` job per audio attachment (`audio/*`: a voice note) of a new message that is
    /// not a keyword; images, video, vCards and other attachments stay stored with the message and are
    /// not transcribed. The jobs carry the message's tenant and the idempotency key
    /// `transcription:<message id>:<index>`. A retried webhook (the same MessageSid) enqueues again only
    /// while the message's transcription is still `pending` (`Received.transcribe`), under the same
    /// keys: that finds the jobs already enqueued, and makes up for an enqueue that failed after the
    /// message was stored (Redis away: the webhook answered 503, and Twilio retries it).
    private func enqueueTranscriptions(_ received: InboundMessages.Received, tenantID: String) async throws {
        guard !received.transcribe.isEmpty else { return }
        let requests = received.transcribe.map { index in
            EnqueueRequest(
                kind: "transcription",
                args: JSONValue.object(["inbound_message_id": .string(received.messageID), "media_index": .number(Double(index))]).text,
                idempotencyKey: "transcription:\(received.messageID):\(index)", tenant: tenantID)
        }
        for result in try await services.enqueuer.enqueue(batch: requests) {
            if case .failure(let error) = result { throw error }
        }
    }

    /// The conversation's `ai-reply`, after the debounce: unique per conversation while pending, so the
    /// rest of a burst finds this job still waiting and adds nothing, and its one run answers them all.
    private func enqueueReply(_ received: InboundMessages.Received, tenantID: String) async throws {
        let request = EnqueueRequest(
            kind: "ai-reply",
            args: AIReplies.jobArguments(conversationID: received.conversationID, estimatedTokens: replyEstimatedTokens),
            runAt: services.clock.nowMillis() + replyDebounce.milliseconds, tenant: tenantID)
        do {
            _ = try await services.enqueuer.enqueue(request)
        } catch let error as EnqueueError {
            // This deployment's ai-reply kind refuses the job (not declared, or declared otherwise): the
            // message is stored, and answering 5xx would only make Twilio retry what cannot succeed.
            logger.error("the ai-reply job was refused; the message is stored unanswered", metadata: ["error": "\(error)"])
        }
    }

    /// The tenant holding `to` and the number as the conversation keeps it (`whatsapp:` kept on
    /// WhatsApp, so a reply goes from it); nil when no tenant holds it. A WhatsApp number registered
    /// as its bare E.164 is found too.
    private func owner(of to: String) async throws -> (tenantID: String, number: String)? {
        guard let number = try? SenderNumbers.normalise(to) else { return nil }
        let numbers = SenderNumbers(pool: services.pool)
        if let tenantID = try await numbers.owner(of: number) { return (tenantID, number) }
        if number.hasPrefix("whatsapp:"), let tenantID = try await numbers.owner(of: String(number.dropFirst("whatsapp:".count))) {
            return (tenantID, number)
        }
        return nil
    }
}

/// Twilio's answer language: the webhook's response says what to text back, if anything.
enum TwiML {
    static let declaration = #"<?xml version="1.0" encoding="UTF-8"?>"#

    /// `<Response/>`: nothing to send back.
    static func empty() -> Response { response(declaration + "<Response/>") }

    /// One text back to the sender.
    static func message(_ text: String) -> Response {
        response(declaration + "<Response><Message>" + escape(text) + "</Message></Response>")
    }

    /// XML text: the five markup characters as entities; control characters XML 1.0 cannot hold
    /// (all below U+0020 but tab, line feed and carriage return) are dropped.
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            case "\t", "\n", "\r": out.unicodeScalars.append(scalar)
            default: if scalar.value >= 0x20 { out.unicodeScalars.append(scalar) }
            }
        }
        return out
    }

    private static func response(_ xml: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/xml"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: xml)))
    }
}
