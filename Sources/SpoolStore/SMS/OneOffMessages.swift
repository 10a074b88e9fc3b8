import SpoolPostgres
import SpoolQueue
import SpoolSMS
import SpoolSupport

/// One SMS a tenant's own service asks for, outside any campaign: a reply, a reminder, a code.
public struct OneOffMessage: Sendable, Equatable {
    /// The recipient, E.164.
    public var to: String
    /// One of the tenant's sender numbers.
    public var from: String
    public var body: String
    public var purpose: MessagePurpose
    /// When to send it (unix ms); nil or a time already past: at once.
    public var sendAtMs: Int64?
    /// The producer's key: the same key again is the same message, never a second one.
    public var idempotencyKey: String?

    public init(
        to: String, from: String, body: String, purpose: MessagePurpose = .transactional, sendAtMs: Int64? = nil,
        idempotencyKey: String? = nil
    ) {
        self.to = to
        self.from = from
        self.body = body
        self.purpose = purpose
        self.sendAtMs = sendAtMs
        self.idempotencyKey = idempotencyKey
    }
}

/// Why a one-off message was refused; nothing was stored.
public enum OneOffMessageError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The input is wrong; `field` names it.
    case invalid(field: String, message: String)
    /// The idempotency key already names a message with another recipient, sender, body or purpose.
    case keyReused(message: String)

    public var description: String {
        switch self {
        case .invalid(_, let message), .keyReused(let message): message
        }
    }
}

/// One-off messages (`POST /v1/messages`): the row, then its `send` job, enqueued as a campaign's
/// are (internal kind, the message id as the job's idempotency key, the job's tenant the message's).
/// The `send` kind applies the gates by the message's purpose, so nothing here decides whether it goes.
public struct OneOffMessages: Sendable {
    let pool: PostgresPool
    let enqueuer: Enqueuer
    let clock: any WallClock
    /// What one segment costs, in cents (SPOOL_SMS_SEGMENT_CENTS), as for campaigns.
    public var segmentCents = 1
    /// Campaign bodies' limits: Twilio takes 1,600 characters, and `Jobs/send.json` at most 10 segments.
    public static let maximumCharacters = 1600

    public init(pool: PostgresPool, enqueuer: Enqueuer, clock: any WallClock = SystemClock()) {
        self.pool = pool
        self.enqueuer = enqueuer
        self.clock = clock
    }

    public struct Sent: Sendable, Equatable {
        public let message: MessageRecord
        /// False when the idempotency key named an earlier message, which `message` is.
        public let created: Bool
    }

    /// Stores the message as `queued` and enqueues its `send` job (scheduled at `sendAtMs` when that is
    /// ahead). Throws `OneOffMessageError` for bad input and `EnqueueError` when this deployment's send
    /// kind refuses the job, in both cases with nothing stored.
    public func send(_ request: OneOffMessage, tenantID: String) async throws -> Sent {
        try await send(request, tenantID: tenantID, in: nil)
    }

    /// The conversation a message is written in, and who wrote it: `messages.conversation_id` and
    /// `author` (`ai`, `agent` or `system`).
    struct Thread: Sendable, Equatable {
        let conversationID: String
        let author: String
    }

    /// `send`, for a message written in a conversation (`ConversationStore.agentReply`). Its `to` is the
    /// conversation's contact as the conversation keeps it, so `whatsapp:+E164` from a WhatsApp number;
    /// its `from` the conversation's number, which the tenant must still hold (for WhatsApp, either as
    /// `whatsapp:+E164` or as the bare number, as the inbound webhook finds it). The conversation's row
    /// is locked and its `updated_at` bumped in the transaction that stores the message, and a repeated
    /// idempotency key must name a message of the same conversation. Throws
    /// `ConversationStoreError.notFound` when the conversation is not the tenant's.
    func send(_ request: OneOffMessage, tenantID: String, in thread: Thread?) async throws -> Sent {
        let checked = try Self.check(request, inConversation: thread != nil)
        let now = clock.nowMillis()
        let sendAt = request.sendAtMs.flatMap { $0 > now ? $0 : nil }
        let id = "msg_" + JobID.make(now: now).lowercased()
        // The kind's own checks first: a deployment whose send kind refuses the job stores no message
        // that could never go.
        try enqueuer.validate(
            Self.job(messageID: id, tenantID: tenantID, from: checked.from, segments: checked.encoding.segments, runAt: sendAt))
        let cents = checked.encoding.segments * segmentCents
        let (message, created) = try await pool.transaction { connection -> (MessageRecord, Bool) in
            guard try connection.query("SELECT 1 FROM tenants WHERE id = $1", [tenantID]).first != nil else {
                throw OneOffMessageError.invalid(field: "tenant", message: "tenant: no tenant '\(tenantID.prefix(64))'")
            }
            if let key = checked.idempotencyKey,
                let earlier = try MessageRecord.find(tenantID: tenantID, idempotencyKey: key, on: connection)
            {
                return (try Self.same(earlier, as: checked, in: thread, key: key), false)
            }
            if let thread {
                // The conversation comes first in its tenant's list again. The row stays locked until the
                // message is stored, as a takeover's update locks it.
                let bumped = try connection.query(
                    "UPDATE conversations SET updated_at = now() WHERE id = $1 AND tenant_id = $2", [thread.conversationID, tenantID])
                guard bumped.affectedRows == 1 else {
                    throw ConversationStoreError.notFound(message: "conversation \(thread.conversationID.prefix(64)) not found")
                }
            }
            // Another tenant's number would book that tenant's sms:sender limiter. Share-locked until the
            // row is written, so the number cannot be removed in between (it then has a message to send).
            // A WhatsApp conversation's number may be registered as the bare number (the inbound webhook
            // finds it either way); a one-off message's sender is never a WhatsApp one.
            var owned = try SenderNumbers.isOwned(checked.from, by: tenantID, on: connection)
            if !owned, checked.from.hasPrefix("whatsapp:") {
                owned = try SenderNumbers.isOwned(String(checked.from.dropFirst("whatsapp:".count)), by: tenantID, on: connection)
            }
            guard owned else {
                throw OneOffMessageError.invalid(
                    field: "from", message: "from: \(checked.from) is not one of this tenant's sender numbers; \(SenderNumbers.howToAdd)")
            }
            let inserted = try connection.query(
                """
                INSERT INTO messages (id, tenant_id, contact_id, to_phone, from_sender, body, segments, encoding, cost_cents, purpose,
                                      idempotency_key, send_at, conversation_id, author)
                VALUES ($1, $2, (SELECT c.id FROM contacts c WHERE c.tenant_id = $2 AND c.phone = $12), $3, $4, $5, $6, $7, $8, $9, $10,
                        to_timestamp($11::double precision / 1000), $13, $14)
                ON CONFLICT (tenant_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
                RETURNING id
                """,
                [
                    id, tenantID, checked.to, checked.from, checked.body, checked.encoding.segments, checked.encoding.scheme.rawValue,
                    cents, checked.purpose.rawValue, checked.idempotencyKey, sendAt, checked.contactPhone, thread?.conversationID,
                    thread?.author,
                ])
            // A request with the same key committed first: its message is this one.
            if inserted.first == nil, let key = checked.idempotencyKey,
                let earlier = try MessageRecord.find(tenantID: tenantID, idempotencyKey: key, on: connection)
            {
                return (try Self.same(earlier, as: checked, in: thread, key: key), false)
            }
            guard let stored = try MessageRecord.find(id: id, on: connection) else {
                throw PostgresError(.decoding, "message \(id) was not stored")
            }
            return (stored, true)
        }
        // A repeat enqueues again while the message waits: the first request may have stored the row
        // and failed before its job was enqueued. The job's idempotency key makes this a no-op otherwise.
        if message.status == .queued {
            let job = Self.job(
                messageID: message.id, tenantID: message.tenantID, from: message.from, segments: message.segments,
                runAt: message.sendAtMs)
            do {
                _ = try await enqueuer.enqueue(job)
            } catch {
                // Without a job the row would stay queued, and hold its sender number, for ever: it goes,
                // and the caller's retry (with the same key) makes it again.
                if created { _ = try? await discard(message.id) }
                throw error
            }
        }
        return Sent(message: message, created: created)
    }

    /// The message a repeated key names, when the repeat asks for the same message (in the same
    /// conversation, or outside any as before).
    private static func same(_ earlier: MessageRecord, as checked: Checked, in thread: Thread?, key: String) throws -> MessageRecord {
        guard earlier.to == checked.to, earlier.from == checked.from, earlier.body == checked.body, earlier.purpose == checked.purpose
        else {
            throw OneOffMessageError.keyReused(
                message:
                    "Idempotency-Key: '\(key.prefix(64))' was used for message \(earlier.id) with another to, from, body or purpose; "
                    + "use a new key for a new message")
        }
        guard earlier.conversationID == thread?.conversationID else {
            throw OneOffMessageError.keyReused(
                message:
                    "Idempotency-Key: '\(key.prefix(64))' was used for message \(earlier.id) "
                    + (earlier.conversationID == nil ? "outside any conversation" : "in another conversation")
                    + "; use a new key for a new message")
        }
        return earlier
    }

    private func discard(_ id: String) async throws {
        _ = try await pool.withConnection { connection in
            try connection.query("DELETE FROM messages WHERE id = $1 AND status = 'queued'", [id])
        }
    }

    static func job(messageID: String, tenantID: String, from: String, segments: Int, runAt: Int64?) -> EnqueueRequest {
        let args: JSONValue = .object([
            "message_id": .string(messageID), "from": .string(from), "segments": .number(Double(segments)),
        ])
        return EnqueueRequest(kind: "send", args: args.text, runAt: runAt, idempotencyKey: messageID, tenant: tenantID)
    }

    /// A request's fields once they hold: the sender as registered, the body's encoding.
    struct Checked: Sendable {
        let to: String
        /// The recipient's phone number alone, as contacts keep it: `to` without `whatsapp:`.
        let contactPhone: String
        let from: String
        let body: String
        let purpose: MessagePurpose
        let encoding: SMSEncoding
        let idempotencyKey: String?
    }

    /// The checks that need no database, each refusal naming its field. Only a message in a
    /// conversation may go to `whatsapp:+E164`, and then only from a WhatsApp number: a WhatsApp
    /// conversation keeps both addresses so.
    static func check(_ request: OneOffMessage, inConversation: Bool = false) throws -> Checked {
        let whatsapp = inConversation && request.to.hasPrefix("whatsapp:")
        let contactPhone = whatsapp ? String(request.to.dropFirst("whatsapp:".count)) : request.to
        do { _ = try PhoneNumber(e164: contactPhone) } catch {
            throw OneOffMessageError.invalid(field: "to", message: "to: \(error.message); give the recipient as + and 8 to 15 digits")
        }
        let from: String
        do { from = try SenderNumbers.normalise(request.from) } catch {
            let reason: String
            if case .invalid(_, let text) = error { reason = text } else { reason = error.description }
            throw OneOffMessageError.invalid(field: "from", message: "from: \(reason)")
        }
        // A bare phone number is texted by SMS, which a WhatsApp sender cannot send; a WhatsApp
        // recipient is written to from a WhatsApp number only.
        guard from.hasPrefix("whatsapp:") == whatsapp else {
            throw OneOffMessageError.invalid(
                field: "from",
                message: whatsapp
                    ? "from: \(from) is not a WhatsApp sender; a WhatsApp message goes from a whatsapp: number"
                    : "from: \(from) is a WhatsApp sender; an SMS goes from an SMS number")
        }
        let body = request.body
        // Counted as JSON Schema counts a string's length: Unicode code points.
        let characters = body.unicodeScalars.count
        guard (1...maximumCharacters).contains(characters) else {
            throw OneOffMessageError.invalid(field: "body", message: "body: must be 1-\(maximumCharacters) characters, got \(characters)")
        }
        guard !body.utf8.contains(0) else {
            throw OneOffMessageError.invalid(field: "body", message: "body: contains a NUL byte, which cannot be stored")
        }
        let encoding = SMSEncoding(body: body)
        guard encoding.segments <= SMSEncoding.maximumSegments else {
            throw OneOffMessageError.invalid(
                field: "body",
                message:
                    "body: takes \(encoding.segments) segments (\(encoding.scheme.rawValue)); at most \(SMSEncoding.maximumSegments), "
                    + "about 1,530 GSM-7 or 670 UCS-2 characters")
        }
        if let key = request.idempotencyKey, key.isEmpty || key.utf8.count > 256 {
            throw OneOffMessageError.invalid(field: "Idempotency-Key", message: "Idempotency-Key: must be 1-256 bytes")
        }
        return Checked(
            to: request.to, contactPhone: contactPhone, from: from, body: body, purpose: request.purpose, encoding: encoding,
            idempotencyKey: request.idempotencyKey)
    }
}
