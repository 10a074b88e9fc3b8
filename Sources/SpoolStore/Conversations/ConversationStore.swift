import SpoolPostgres
import SpoolQueue
import SpoolSMS
import SpoolSupport

/// Why a conversation request was refused; nothing changed. The API answers 422, 404 and 409.
public enum ConversationStoreError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The input is wrong; `field` names it, and `message` starts with it.
    case invalid(field: String, message: String)
    /// No such conversation, or another tenant's.
    case notFound(message: String)
    /// The idempotency key already names another message.
    case keyReused(message: String)
    /// The conversation's number is no longer one of its tenant's sender numbers: nothing can be sent
    /// from it.
    case numberNotHeld(message: String)

    public var description: String {
        switch self {
        case .invalid(_, let message), .notFound(let message), .keyReused(let message), .numberNotHeld(let message): message
        }
    }
}

/// Conversations as people read and answer them (`conversations`, `inbound_messages`, and the
/// `messages` written in them): the list of a tenant's conversations, one conversation with its
/// messages, human takeover and release, and a human agent's reply.
///
/// 1. `list` pages through conversations, the most recently active first.
/// 2. `show` gives one conversation and its latest messages, both directions merged, oldest first.
/// 3. `takeover` hands a conversation to a human (`mode` `human`), `release` back to the AI (`ai`).
///    Each locks the conversation's row for its update, so a send that reads the mode under FOR SHARE
///    in its queued → sending step waits for it, and then sees the new mode.
/// 4. `agentReply` stores an agent's message in the conversation and enqueues its `send` job, as a
///    one-off message is (`OneOffMessages`), so every gate, the budget and the no-double-send apply.
///
/// With a `tenantID`, only that tenant's conversations are found: another tenant's is not found, as
/// the API answers 404 for it. With nil (the operator), any tenant's.
public struct ConversationStore: Sendable {
    let pool: PostgresPool
    let enqueuer: Enqueuer?
    let clock: any WallClock
    /// What one segment costs, in cents (SPOOL_SMS_SEGMENT_CENTS), for agent replies.
    public var segmentCents = 1

    /// The most messages `show` returns: the latest ones.
    public static let maximumMessages = 200
    /// `list`'s page size when none is asked for, and the largest it takes.
    public static let defaultPageSize = 50
    public static let maximumPageSize = 200
    /// The longest reason a takeover or release keeps.
    public static let maximumReasonCharacters = 500
    /// Who wrote an agent's reply (`messages.author`).
    public static let agentAuthor = "agent"

    /// `enqueuer` is needed by `agentReply` only (reading and takeover need no Redis).
    public init(pool: PostgresPool, enqueuer: Enqueuer? = nil, clock: any WallClock = SystemClock()) {
        self.pool = pool
        self.enqueuer = enqueuer
        self.clock = clock
    }

    // MARK: - Values

    /// One conversation: a contact writing to one of a tenant's numbers. Times are unix ms.
    public struct Conversation: Sendable, Equatable {
        public let id: String
        public let tenantID: String
        /// The contact's address as the channel names it: `+E164`, or `whatsapp:+E164`.
        public let contact: String
        /// The tenant's number the contact writes to, as the conversation keeps it.
        public let number: String
        /// `sms` or `whatsapp`.
        public let channel: String
        /// `ai` (the AI answers, when the number's `ai_reply` is on) or `human` (taken over).
        public let mode: String
        /// Why it last changed hands; nil when none was given, or it never did.
        public let modeReason: String?
        public let modeChangedAtMs: Int64?
        public let createdAtMs: Int64
        public let updatedAtMs: Int64
        /// `updated_at` to the microsecond, which `list`'s cursor needs: a page's last row and the next
        /// page's first may be a microsecond apart.
        let updatedAtMicros: Int64

        /// As the API and `spool conversation --json` show it; times are RFC 3339 UTC.
        public var json: JSONValue {
            let reason: JSONValue = modeReason.map { JSONValue.string($0) } ?? .null
            let changedAt: JSONValue = modeChangedAtMs.map { JSONValue.string(CivilTime(unixMillis: $0).rfc3339) } ?? .null
            let fields: [String: JSONValue] = [
                "id": .string(id), "tenant": .string(tenantID), "contact": .string(contact), "number": .string(number),
                "channel": .string(channel), "mode": .string(mode), "mode_reason": reason, "mode_changed_at": changedAt,
                "created_at": .string(CivilTime(unixMillis: createdAtMs).rfc3339),
                "updated_at": .string(CivilTime(unixMillis: updatedAtMs).rfc3339),
            ]
            return .object(fields)
        }
    }

    /// One message of a conversation, either way.
    public struct Message: Sendable, Equatable {
        /// `in_...` for what the contact sent, `msg_...` for what was sent to the contact.
        public let id: String
        /// `inbound` or `outbound`.
        public let direction: String
        /// `contact` for inbound messages; `ai`, `agent` or `system` for outbound ones.
        public let author: String
        public let body: String
        /// An inbound message's voice notes as text: the transcripts done so far, in the order of the
        /// attachments, one per line; nil when there is none (yet).
        public let transcript: String?
        /// An inbound message's attachments as the provider gave them; none for outbound messages.
        public let media: [InboundMedia]
        /// Outbound: the message's status (`queued` ... `delivered`, `suppressed`). Inbound: `received`
        /// (nothing to transcribe), or its transcription's: `pending`, `done`, `failed`.
        public let status: String
        /// When it was received, or queued.
        public let createdAtMs: Int64

        public var json: JSONValue {
            let text: JSONValue = transcript.map { JSONValue.string($0) } ?? .null
            let attachments: [JSONValue] = media.map { item in
                JSONValue.object(["url": .string(item.url), "content_type": .string(item.contentType)])
            }
            let fields: [String: JSONValue] = [
                "id": .string(id), "direction": .string(direction), "author": .string(author), "body": .string(body),
                "transcript": text, "media": .array(attachments), "status": .string(status),
                "created_at": .string(CivilTime(unixMillis: createdAtMs).rfc3339),
            ]
            return .object(fields)
        }
    }

    /// A conversation and its latest messages, oldest first.
    public struct Detail: Sendable, Equatable {
        public let conversation: Conversation
        public let messages: [Message]

        /// The conversation's fields, and `messages`.
        public var json: JSONValue {
            var fields = conversation.json.objectValue ?? [:]
            fields["messages"] = .array(messages.map(\.json))
            return .object(fields)
        }
    }

    /// One page of `list`; `nextCursor` asks for the next, and is nil on the last page.
    public struct Page: Sendable, Equatable {
        public let conversations: [Conversation]
        public let nextCursor: String?
    }

    /// What `agentReply` did: the message, and whether this call stored it (false when the
    /// idempotency key named an earlier one, which `message` is, as it is now).
    public struct Reply: Sendable, Equatable {
        public let message: MessageRecord
        public let created: Bool
    }

    /// Where a page of `list` starts: after the conversation last updated at `micros` (unix µs) with
    /// this id, in the list's order. Its text is `<micros>:<id>`.
    struct Cursor: Sendable, Equatable {
        let micros: Int64
        let id: String

        var text: String { "\(micros):\(id)" }

        /// nil unless `text` is 1 to 18 digits, a colon, and an id of 1 to 64 lowercase letters, digits
        /// and underscores (what `cv_...` ids are made of).
        init?(text: String) {
            guard let colon = text.firstIndex(of: ":") else { return nil }
            let digits = text[..<colon]
            let id = text[text.index(after: colon)...]
            guard (1...18).contains(digits.utf8.count), digits.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }),
                let micros = Int64(digits), (1...64).contains(id.utf8.count),
                id.utf8.allSatisfy({ ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 122) || $0 == 95 })
            else { return nil }
            self.micros = micros
            self.id = String(id)
        }

        init(micros: Int64, id: String) {
            self.micros = micros
            self.id = id
        }
    }

    // MARK: - Reading

    /// One page of conversations, the most recently updated first (`updated_at`, then id, both
    /// descending), paged by keyset: `cursor` is the `nextCursor` of the page before.
    /// - Parameters:
    ///   - tenantID: the tenant whose conversations to list; nil: every tenant's.
    ///   - contact: only the conversations with this contact address, exactly: `+E164` for SMS,
    ///     `whatsapp:+E164` for WhatsApp.
    ///   - limit: 1 to `maximumPageSize`.
    ///   - cursor: where to start; nil: at the beginning.
    /// Refusals name their field: `contact`, `limit`, `cursor`.
    public func list(
        tenantID: String?, contact: String? = nil, limit: Int = ConversationStore.defaultPageSize, cursor: String? = nil
    ) async throws -> Page {
        var address: String?
        if let contact {
            guard let valid = Self.contactAddress(contact) else {
                throw ConversationStoreError.invalid(
                    field: "contact",
                    message: "contact: '\(contact.prefix(64))' is not +E164 or whatsapp:+E164 (+ and 8 to 15 digits, the first not 0)")
            }
            address = valid
        }
        guard (1...Self.maximumPageSize).contains(limit) else {
            throw ConversationStoreError.invalid(
                field: "limit", message: "limit: expected an integer from 1 to \(Self.maximumPageSize), got \(limit)")
        }
        var after: Cursor?
        if let cursor {
            guard let parsed = Cursor(text: cursor) else {
                throw ConversationStoreError.invalid(
                    field: "cursor", message: "cursor: '\(cursor.prefix(80))' is not the next_cursor of a previous page")
            }
            after = parsed
        }
        let filter = address
        let start = after
        let found = try await pool.withConnection { connection -> [Conversation] in
            try connection.query(
                """
                SELECT \(Self.columns) FROM conversations
                WHERE ($1::text IS NULL OR tenant_id = $1) AND ($2::text IS NULL OR contact = $2)
                  AND ($3::bigint IS NULL OR (updated_at, id) < ('epoch'::timestamptz + $3::bigint * interval '1 microsecond', $4::text))
                ORDER BY updated_at DESC, id DESC LIMIT $5::int
                """, [tenantID, filter, start?.micros, start?.id ?? "", limit + 1]
            ).rows.map(Self.conversation)
        }
        // One row more than asked says whether there is a next page, without a page that comes back empty.
        guard found.count > limit else { return Page(conversations: found, nextCursor: nil) }
        let page = Array(found.prefix(limit))
        let last = page[page.count - 1]
        return Page(conversations: page, nextCursor: Cursor(micros: last.updatedAtMicros, id: last.id).text)
    }

    /// The conversation, or nil when there is none (or it is another tenant's than `tenantID`).
    public func find(_ id: String, tenantID: String?) async throws -> Conversation? {
        guard !id.utf8.contains(0) else { return nil }
        return try await pool.withConnection { connection -> Conversation? in
            try Self.find(id, tenantID: tenantID, on: connection, lock: "")
        }
    }

    /// The conversation and its messages, oldest first: what the contact sent (`inbound_messages`) and
    /// what was sent to it (`messages` with this `conversation_id`), merged by when each was received or
    /// queued. At most the latest `maximumMessages` (200) are returned: an older history is cut, never
    /// the newest messages. nil when there is no such conversation, or it is another tenant's.
    public func show(_ id: String, tenantID: String?) async throws -> Detail? {
        guard !id.utf8.contains(0) else { return nil }
        return try await pool.withConnection { connection -> Detail? in
            guard let conversation = try Self.find(id, tenantID: tenantID, on: connection, lock: "") else { return nil }
            // Each side takes its latest messages from its own index, (conversation_id, created_at, id) and
            // (conversation_id, queued_at, id), read backwards; the merge keeps the latest of both.
            let rows = try connection.query(
                """
                SELECT direction, id, author, body, transcripts, media, status,
                       (extract(epoch FROM created_at) * 1000)::bigint AS created_at_ms
                FROM (
                    (SELECT 'inbound'::text AS direction, id, 'contact'::text AS author, body, transcripts::text AS transcripts,
                            media::text AS media, transcription_status AS status, created_at
                     FROM inbound_messages WHERE conversation_id = $1
                     ORDER BY created_at DESC, id DESC LIMIT \(Self.maximumMessages))
                    UNION ALL
                    (SELECT 'outbound'::text, id, author, body, NULL::text, '[]'::text, status, queued_at
                     FROM messages WHERE conversation_id = $1
                     ORDER BY queued_at DESC, id DESC LIMIT \(Self.maximumMessages))
                ) merged
                ORDER BY created_at DESC, id DESC LIMIT \(Self.maximumMessages)
                """, [conversation.id]
            ).rows
            let messages = try rows.reversed().map(Self.message)
            return Detail(conversation: conversation, messages: messages)
        }
    }

    // MARK: - Human takeover

    /// Hands the conversation to a human: `mode` `human`, `mode_changed_at` now, `mode_reason` the
    /// reason (or NULL), and an event `conversation.takeover` with `{"conversation_id", "by", "mode",
    /// "reason"?}`. Taking over a conversation a human already has changes nothing and writes no event:
    /// the answer is the conversation as it is (its first reason kept).
    /// - Parameters:
    ///   - by: who asked, for the event: an API key's id (`operator` for the operator key), or `cli`.
    /// Throws `ConversationStoreError.notFound` for no such conversation, or another tenant's, and
    /// `.invalid` naming `reason` for a reason over 500 characters, empty, or with a NUL byte.
    @discardableResult
    public func takeover(_ id: String, tenantID: String?, reason: String? = nil, by: String) async throws -> Conversation {
        try await changeMode(id, tenantID: tenantID, to: "human", event: "conversation.takeover", reason: reason, by: by)
    }

    /// Hands the conversation back to the AI (`mode` `ai`), with an event `conversation.release`; as
    /// `takeover`, releasing a conversation the AI already has changes nothing.
    @discardableResult
    public func release(_ id: String, tenantID: String?, reason: String? = nil, by: String) async throws -> Conversation {
        try await changeMode(id, tenantID: tenantID, to: "ai", event: "conversation.release", reason: reason, by: by)
    }

    /// A reason `takeover` and `release` keep: 1 to 500 characters, without a NUL byte.
    public static func checkReason(_ reason: String) throws(ConversationStoreError) {
        let characters = reason.unicodeScalars.count
        guard (1...maximumReasonCharacters).contains(characters) else {
            throw ConversationStoreError.invalid(
                field: "reason", message: "reason: must be 1 to \(maximumReasonCharacters) characters, got \(characters)")
        }
        guard !reason.utf8.contains(0) else {
            throw ConversationStoreError.invalid(field: "reason", message: "reason: contains a NUL byte, which cannot be stored")
        }
    }

    private func changeMode(
        _ id: String, tenantID: String?, to mode: String, event: String, reason: String?, by: String
    ) async throws -> Conversation {
        if let reason { try Self.checkReason(reason) }
        let changed = try await pool.transaction { connection -> Conversation? in
            guard !id.utf8.contains(0), let current = try Self.find(id, tenantID: tenantID, on: connection, lock: " FOR UPDATE") else {
                return nil
            }
            guard current.mode != mode else { return current }
            guard
                let updated = try connection.query(
                    """
                    UPDATE conversations SET mode = $2, mode_changed_at = now(), mode_reason = $3, updated_at = now()
                    WHERE id = $1 RETURNING \(Self.columns)
                    """, [current.id, mode, reason]
                ).first.map(Self.conversation)
            else { throw PostgresError(.decoding, "conversation \(current.id) was locked and is gone") }
            var payload: [String: JSONValue] = ["conversation_id": .string(current.id), "by": .string(by), "mode": .string(mode)]
            if let reason { payload["reason"] = .string(reason) }
            try connection.query(
                "INSERT INTO events (tenant_id, kind, payload) VALUES ($1, $2, $3::jsonb)",
                [current.tenantID, event, JSONValue.object(payload).text])
            return updated
        }
        guard let changed else { throw ConversationStoreError.notFound(message: "conversation \(id.prefix(64)) not found") }
        return changed
    }

    // MARK: - Agent replies

    /// A human agent's reply: stored as an outbound message of the conversation (author `agent`, purpose
    /// `transactional`, to the conversation's contact from its number, segments, encoding and cost as
    /// for any one-off message, linked to the tenant's contact with that phone), the conversation's
    /// `updated_at` bumped, then its `send` job enqueued as `OneOffMessages` does: the kind's checks
    /// first, the row, the job (the message id its idempotency key), and the row removed again if the
    /// job cannot be enqueued. An agent may reply in either mode; taking the conversation over first is
    /// what stops the AI from answering too.
    ///
    /// The same `idempotencyKey` (per tenant) again answers the first message as it is now and stores
    /// and sends nothing more; with another body, or in another conversation, it is `.keyReused`.
    /// Throws `ConversationStoreError` (`.notFound`, `.invalid` naming `body` or `Idempotency-Key`,
    /// `.keyReused`, `.numberNotHeld`) and `EnqueueError` when this deployment's send kind refuses the
    /// job, in every case with nothing stored. Needs the store to have been made with an `Enqueuer`.
    public func agentReply(conversationID: String, tenantID: String?, body: String, idempotencyKey: String?) async throws -> Reply {
        guard let enqueuer else { preconditionFailure("ConversationStore.agentReply needs an Enqueuer") }
        guard let conversation = try await find(conversationID, tenantID: tenantID) else {
            throw ConversationStoreError.notFound(message: "conversation \(conversationID.prefix(64)) not found")
        }
        var messages = OneOffMessages(pool: pool, enqueuer: enqueuer, clock: clock)
        messages.segmentCents = segmentCents
        let request = OneOffMessage(
            to: conversation.contact, from: conversation.number, body: body, purpose: .transactional, idempotencyKey: idempotencyKey)
        do {
            let sent = try await messages.send(
                request, tenantID: conversation.tenantID,
                in: OneOffMessages.Thread(conversationID: conversation.id, author: Self.agentAuthor))
            return Reply(message: sent.message, created: sent.created)
        } catch let error as OneOffMessageError {
            switch error {
            case .invalid(let field, let message) where field == "from" || field == "to":
                // The addresses are the conversation's own; what refuses them is the number having gone.
                throw ConversationStoreError.numberNotHeld(
                    message: "number: conversation \(conversation.id) cannot be answered from \(conversation.number) (\(message))")
            case .invalid(let field, let message):
                throw ConversationStoreError.invalid(field: field, message: message)
            case .keyReused(let message):
                throw ConversationStoreError.keyReused(message: message)
            }
        }
    }

    // MARK: - Rows

    /// `text` when it is a contact address a conversation keeps: `+E164`, or `whatsapp:+E164`, exactly.
    static func contactAddress(_ text: String) -> String? {
        let phone = text.hasPrefix("whatsapp:") ? String(text.dropFirst("whatsapp:".count)) : text
        guard (try? PhoneNumber(e164: phone)) != nil else { return nil }
        return text
    }

    static let columns = """
        id, tenant_id, contact, number, channel, mode, mode_reason, (extract(epoch FROM mode_changed_at) * 1000)::bigint AS mode_changed_at_ms,
        (extract(epoch FROM created_at) * 1000)::bigint AS created_at_ms, (extract(epoch FROM updated_at) * 1000000)::bigint AS updated_at_us
        """

    /// The conversation, read on `connection`; `lock` is "" or a locking clause (" FOR UPDATE").
    static func find(_ id: String, tenantID: String?, on connection: PostgresConnection, lock: String) throws -> Conversation? {
        try connection.query(
            "SELECT \(columns) FROM conversations WHERE id = $1 AND ($2::text IS NULL OR tenant_id = $2)\(lock)", [id, tenantID]
        ).first.map(conversation)
    }

    static func conversation(_ row: PostgresRow) throws -> Conversation {
        let micros = Int64(try row.int("updated_at_us")!)
        return Conversation(
            id: try row.string("id")!, tenantID: try row.string("tenant_id")!, contact: try row.string("contact")!,
            number: try row.string("number")!, channel: try row.string("channel")!, mode: try row.string("mode")!,
            modeReason: try row.string("mode_reason"), modeChangedAtMs: try row.int("mode_changed_at_ms").map(Int64.init),
            createdAtMs: Int64(try row.int("created_at_ms")!), updatedAtMs: micros / 1000, updatedAtMicros: micros)
    }

    static func message(_ row: PostgresRow) throws -> Message {
        let direction = try row.string("direction")!
        var transcript: String?
        var status = try row.string("status") ?? ""
        if direction == "inbound" {
            let texts = try Transcripts.entries(try row.string("transcripts")).filter { $0.status == .done }.compactMap(\.text)
            transcript = texts.isEmpty ? nil : texts.joined(separator: "\n")
            if status == "none" { status = "received" }
        }
        return Message(
            id: try row.string("id")!, direction: direction, author: try row.string("author") ?? "system", body: try row.string("body")!,
            transcript: transcript, media: try Transcripts.media(try row.string("media")), status: status,
            createdAtMs: Int64(try row.int("created_at_ms")!))
    }
}
