import SpoolPostgres
import SpoolQueue
import SpoolSMS
import SpoolSupport

/// Who answers a conversation: the AI assistant, or a human agent who took it over.
public enum ConversationMode: String, Sendable, Codable, CaseIterable {
    case ai, human
}

/// One message of a conversation as the AI reads it: what the contact wrote (with the transcripts of
/// its voice notes in their place) or what was answered.
public struct ConversationTurn: Sendable, Equatable {
    public enum Role: String, Sendable { case contact, assistant }
    public let role: Role
    public let text: String
    public let atMs: Int64

    public init(role: Role, text: String, atMs: Int64) {
        self.role = role
        self.text = text
        self.atMs = atMs
    }
}

/// Everything the `ai-reply` kind needs to answer one conversation, read in one transaction.
public struct AIReplyContext: Sendable {
    public let conversationID: String
    public let tenantID: String
    /// The contact's address (`+E164`, or `whatsapp:+E164`): where the reply goes.
    public let contact: String
    /// The tenant's number the contact wrote to (`whatsapp:` kept): where the reply comes from.
    public let number: String
    public let mode: ConversationMode
    /// The number's `ai_reply` setting: off, no reply.
    public let aiReplyOn: Bool
    /// The number's system prompt template; nil: `ReplyPrompt.defaultTemplate`.
    public let promptTemplate: String?
    public let businessName: String
    public let tenantTimezone: String
    /// The contact's first name: the contact's own, else the first word of WhatsApp's profile name.
    public let firstName: String?
    /// The latest turns, oldest first (at most `AIReplies.historyLimit`); keywords left out.
    public let turns: [ConversationTurn]
    /// A message the contact sent after the last answer is still waiting for its transcription (whose
    /// job asks for a reply when it is done).
    public let transcriptionPending: Bool
    /// The contact wrote after the last answer (an AI or agent message, suppressed ones aside).
    public let unanswered: Bool
    /// The contact opted out (STOP, the tenant's do-not-contact list, or a contact whose consent is
    /// `opted_out`): no reply is written.
    public let optedOut: Bool
    /// When the newest message of the contact that this reply reads was stored (PostgreSQL's text
    /// for a timestamptz, exact to the microsecond); nil when the contact has sent none.
    public let answersThrough: String?
    /// The reply this job stored on an earlier run (it died before its settle), if any.
    public let storedReply: StoredReply?

    public struct StoredReply: Sendable, Equatable {
        public let messageID: String
        public let status: MessageStatus
        public let from: String
        public let segments: Int
    }

    public init(
        conversationID: String, tenantID: String, contact: String, number: String, mode: ConversationMode = .ai, aiReplyOn: Bool = true,
        promptTemplate: String? = nil, businessName: String, tenantTimezone: String = "UTC", firstName: String? = nil,
        turns: [ConversationTurn], transcriptionPending: Bool = false, unanswered: Bool = true, optedOut: Bool = false,
        answersThrough: String? = nil, storedReply: StoredReply? = nil
    ) {
        self.conversationID = conversationID
        self.tenantID = tenantID
        self.contact = contact
        self.number = number
        self.mode = mode
        self.aiReplyOn = aiReplyOn
        self.promptTemplate = promptTemplate
        self.businessName = businessName
        self.tenantTimezone = tenantTimezone
        self.firstName = firstName
        self.turns = turns
        self.transcriptionPending = transcriptionPending
        self.unanswered = unanswered
        self.optedOut = optedOut
        self.answersThrough = answersThrough
        self.storedReply = storedReply
    }
}

/// What the AI produced, as the provider counted it.
public struct AIUsage: Sendable, Equatable {
    public var model: String
    public var promptTokens: Int
    public var completionTokens: Int
    /// Thousandths of a cent, rounded up.
    public var costMillicents: Int

    public init(model: String, promptTokens: Int, completionTokens: Int, costMillicents: Int) {
        self.model = model
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
        self.costMillicents = costMillicents
    }
}

/// The `ai-reply` kind's reads and writes in PostgreSQL: a conversation's context, the AI's reply
/// stored as an outbound message (with its tokens and cost, and the tenant's daily `ai_usage`), and a
/// conversation handed to a human when the AI refuses.
///
/// A reply is stored under the idempotency key `ai-reply:<job id>`: a run that died after storing
/// finds its reply again and hands the same message to `send`, never a second one. A reply stored
/// while the conversation is already a human's is stored `suppressed` at once (the `send` kind checks
/// again when it hands the text to the provider, see `MessageStore.begin`).
public struct AIReplies: Sendable {
    let pool: PostgresPool
    /// What one segment costs, in cents (SPOOL_SMS_SEGMENT_CENTS), as for every message.
    public var segmentCents = 1
    /// The turns read for a reply, newest first; the token budget then keeps what fits.
    public static let historyLimit = 50

    public init(pool: PostgresPool, segmentCents: Int = 1) {
        self.pool = pool
        self.segmentCents = segmentCents
    }

    public static func idempotencyKey(jobID: String) -> String { "ai-reply:\(jobID)" }

    /// The conversation's context for a reply by job `jobID`; nil when there is no such conversation.
    public func context(conversationID: String, jobID: String) async throws -> AIReplyContext? {
        try await pool.withConnection { connection in
            guard
                let row = try connection.query(
                    """
                    SELECT c.id, c.tenant_id, c.contact, c.number, c.mode, t.name, t.timezone,
                           n.ai_reply, n.ai_prompt, k.first_name,
                           (k.consent = 'opted_out' OR EXISTS (SELECT 1 FROM do_not_contact d
                                   WHERE d.tenant_id = c.tenant_id AND d.phone = regexp_replace(c.contact, '^whatsapp:', ''))) AS opted_out,
                           (SELECT max(i.created_at)::text FROM inbound_messages i
                            WHERE i.conversation_id = c.id AND i.keyword IS NULL) AS answers_through,
                           (SELECT i.profile_name FROM inbound_messages i WHERE i.conversation_id = c.id AND i.profile_name IS NOT NULL
                            ORDER BY i.created_at DESC LIMIT 1) AS profile_name
                    FROM conversations c JOIN tenants t ON t.id = c.tenant_id
                    LEFT JOIN LATERAL (SELECT s.ai_reply, s.ai_prompt FROM sender_numbers s
                                       WHERE s.tenant_id = c.tenant_id AND s.number IN (c.number, regexp_replace(c.number, '^whatsapp:', ''))
                                       ORDER BY s.number = c.number DESC LIMIT 1) n ON true
                    LEFT JOIN contacts k ON k.tenant_id = c.tenant_id AND k.phone = regexp_replace(c.contact, '^whatsapp:', '')
                    WHERE c.id = $1
                    """, [conversationID]
                ).first
            else { return nil }
            let tenantID = try row.string("tenant_id")!
            let turns = try Self.turns(conversationID: conversationID, connection)
            let pending = try Self.pendingAfterLastAnswer(conversationID: conversationID, connection)
            let stored = try connection.query(
                "SELECT id, status, from_sender, segments FROM messages WHERE tenant_id = $1 AND idempotency_key = $2",
                [tenantID, Self.idempotencyKey(jobID: jobID)]
            ).first.map { reply in
                AIReplyContext.StoredReply(
                    messageID: try reply.string("id")!, status: try reply.enumeration("status", MessageStatus.self)!,
                    from: try reply.string("from_sender")!, segments: try reply.int("segments")!)
            }
            let firstName = try row.string("first_name").flatMap { $0.isEmpty ? nil : $0 }
                ?? row.string("profile_name").flatMap { $0.split(separator: " ").first.map(String.init) }
            return AIReplyContext(
                conversationID: conversationID, tenantID: tenantID, contact: try row.string("contact")!,
                number: try row.string("number")!, mode: try row.enumeration("mode", ConversationMode.self)!,
                aiReplyOn: try row.bool("ai_reply") ?? false, promptTemplate: try row.string("ai_prompt"),
                businessName: try row.string("name")!, tenantTimezone: try row.string("timezone")!, firstName: firstName,
                turns: turns, transcriptionPending: pending.transcription, unanswered: pending.unanswered,
                optedOut: try row.bool("opted_out") ?? false, answersThrough: try row.string("answers_through"), storedReply: stored)
        }
    }

    /// The latest turns, oldest first: the contact's messages (keywords left out, transcripts in place of
    /// voice notes) and the answers (AI and agent messages that were not suppressed).
    static func turns(conversationID: String, _ connection: PostgresConnection) throws -> [ConversationTurn] {
        let rows = try connection.query(
            """
            (SELECT 'contact' AS role, i.body, i.transcripts::text AS transcripts, i.transcription_status AS status,
                    (extract(epoch FROM i.created_at) * 1000)::bigint AS at_ms, i.id
             FROM inbound_messages i WHERE i.conversation_id = $1 AND i.keyword IS NULL
             ORDER BY i.created_at DESC, i.id DESC LIMIT $2)
            UNION ALL
            (SELECT 'assistant', m.body, NULL, m.status, (extract(epoch FROM m.queued_at) * 1000)::bigint, m.id
             FROM messages m WHERE m.conversation_id = $1 AND m.status <> 'suppressed'
             ORDER BY m.queued_at DESC, m.id DESC LIMIT $2)
            ORDER BY at_ms DESC, id DESC LIMIT $2
            """, [conversationID, historyLimit])
        var turns: [ConversationTurn] = []
        for row in rows.rows {
            let role = ConversationTurn.Role(rawValue: try row.string("role")!)!
            var text = try row.string("body") ?? ""
            if role == .contact, let transcripts = try row.string("transcripts") {
                text = Self.withTranscripts(text, transcripts: transcripts, status: try row.string("status") ?? "none")
            }
            guard !text.isEmpty else { continue }
            turns.append(ConversationTurn(role: role, text: text, atMs: Int64(try row.int("at_ms")!)))
        }
        return turns.reversed()
    }

    /// A contact's message as the AI reads it: its text, then each voice note's transcript (or a note
    /// that one could not be transcribed).
    static func withTranscripts(_ body: String, transcripts: String, status: String) -> String {
        var parts = body.isEmpty ? [] : [body]
        let entries = (try? JSONValue.parse(transcripts))?.arrayValue ?? []
        for entry in entries.sorted(by: { ($0["index"]?.intValue ?? 0) < ($1["index"]?.intValue ?? 0) }) {
            if entry["status"]?.stringValue == "done", let text = entry["text"]?.stringValue, !text.isEmpty {
                parts.append("(voice note) " + text)
            } else if entry["status"]?.stringValue == "failed" {
                parts.append("(a voice note that could not be transcribed)")
            }
        }
        if parts.isEmpty && status == "pending" { parts.append("(a voice note, not transcribed yet)") }
        return parts.joined(separator: "\n")
    }

    /// A transcription still pending after this long is not waited for: its job was lost or keeps
    /// waiting for a provider, and the contact's other messages deserve an answer (the note reads as
    /// not transcribed yet).
    public static let transcriptionWait = "30 minutes"

    /// Whether the contact wrote after the last answer, and whether such a message still waits for a
    /// transcription. An AI reply has answered the messages up to its `answers_through` (what its
    /// prompt read), an agent's up to when it was written: a message that arrived while a reply was
    /// being written is still unanswered.
    static func pendingAfterLastAnswer(
        conversationID: String, _ connection: PostgresConnection
    ) throws -> (unanswered: Bool, transcription: Bool) {
        let row = try connection.query(
            """
            WITH answered AS (
                SELECT max(coalesce(answers_through, queued_at)) AS at FROM messages
                WHERE conversation_id = $1 AND author IN ('ai', 'agent') AND status <> 'suppressed')
            SELECT count(*) AS unanswered,
                   count(*) FILTER (WHERE i.transcription_status = 'pending' AND i.created_at > now() - interval '\(transcriptionWait)') AS pending
            FROM inbound_messages i, answered a
            WHERE i.conversation_id = $1 AND i.keyword IS NULL AND (a.at IS NULL OR i.created_at > a.at)
            """, [conversationID]
        ).first
        return (unanswered: (try row?.int("unanswered") ?? 0) > 0, transcription: (try row?.int("pending") ?? 0) > 0)
    }

    /// What `store` did.
    public enum Stored: Sendable, Equatable {
        /// The reply waits for its `send` job.
        case queued(messageID: String, from: String, segments: Int)
        /// The conversation was a human's by now: kept, never sent.
        case suppressed(messageID: String)
        /// Another answer (another job's reply, an agent's) already covers every message this one read:
        /// nothing was stored.
        case superseded
    }

    /// Stores the AI's reply as an outbound message of the conversation, with its usage, the tenant's
    /// daily `ai_usage` and an `ai.reply` event, in one transaction. The conversation row is locked
    /// first, so a takeover either came before (the reply is stored suppressed) or waits for this
    /// transaction (and `send` then finds the conversation a human's). Idempotent per job.
    public func store(
        _ body: String, usage: AIUsage, context: AIReplyContext, jobID: String, nowMs: Int64
    ) async throws -> Stored {
        let encoding = SMSEncoding(body: body)
        let key = Self.idempotencyKey(jobID: jobID)
        let id = "msg_" + JobID.make(now: nowMs).lowercased()
        return try await pool.transaction { connection in
            guard
                let mode = try connection.query(
                    "SELECT mode FROM conversations WHERE id = $1 AND tenant_id = $2 FOR UPDATE", [context.conversationID, context.tenantID]
                ).first?.enumeration("mode", ConversationMode.self)
            else { throw PostgresError(.decoding, "conversation \(context.conversationID) vanished") }
            if let earlier = try connection.query(
                "SELECT id, status, from_sender, segments FROM messages WHERE tenant_id = $1 AND idempotency_key = $2",
                [context.tenantID, key]
            ).first {
                let earlierID = try earlier.string("id")!
                if try earlier.string("status") == MessageStatus.suppressed.rawValue { return .suppressed(messageID: earlierID) }
                return .queued(messageID: earlierID, from: try earlier.string("from_sender")!, segments: try earlier.int("segments")!)
            }
            // Two replies written at once (a message arrived while the first was being written): the one
            // that read less gives way when the other already covers what it read.
            if let through = context.answersThrough,
                try connection.query(
                    """
                    SELECT 1 FROM messages WHERE conversation_id = $1 AND author IN ('ai', 'agent') AND status <> 'suppressed'
                      AND coalesce(answers_through, queued_at) >= $2::timestamptz LIMIT 1
                    """, [context.conversationID, through]
                ).first != nil
            {
                return .superseded
            }
            let status: MessageStatus = mode == .human ? .suppressed : .queued
            try connection.query(
                """
                INSERT INTO messages (id, tenant_id, contact_id, to_phone, from_sender, body, segments, encoding, cost_cents, purpose,
                                      idempotency_key, conversation_id, author, status, reason,
                                      ai_model, ai_prompt_tokens, ai_completion_tokens, ai_cost_millicents, answers_through)
                VALUES ($1, $2, (SELECT k.id FROM contacts k WHERE k.tenant_id = $2 AND k.phone = regexp_replace($3, '^whatsapp:', '')),
                        $3, $4, $5, $6, $7, $8, 'transactional', $9, $10, 'ai', $11, $12, $13, $14, $15, $16, $17::timestamptz)
                """,
                [
                    id, context.tenantID, context.contact, context.number, body, encoding.segments, encoding.scheme.rawValue,
                    encoding.segments * segmentCents, key, context.conversationID, status.rawValue,
                    status == .suppressed ? "human_takeover" : nil, usage.model, usage.promptTokens, usage.completionTokens,
                    usage.costMillicents, context.answersThrough,
                ])
            try Self.addUsage(usage, tenantID: context.tenantID, nowMs: nowMs, connection)
            try connection.query("UPDATE conversations SET updated_at = now() WHERE id = $1", [context.conversationID])
            try connection.query(
                "INSERT INTO events (tenant_id, message_id, job_id, kind, payload) VALUES ($1, $2, $3, $4, $5::jsonb)",
                [
                    context.tenantID, id, jobID, status == .suppressed ? "ai.reply_suppressed" : "ai.reply",
                    JSONValue.object([
                        "conversation_id": .string(context.conversationID), "model": .string(usage.model),
                        "prompt_tokens": .number(Double(usage.promptTokens)),
                        "completion_tokens": .number(Double(usage.completionTokens)),
                        "cost_millicents": .number(Double(usage.costMillicents)),
                    ]).text,
                ])
            if status == .suppressed { return .suppressed(messageID: id) }
            return .queued(messageID: id, from: context.number, segments: encoding.segments)
        }
    }

    /// Hands the conversation to a human because the AI would not answer (a refusal, a content
    /// filter): mode `human` with the reason, and a `conversation.handover` event, once (a run again
    /// after its settle was lost, or a conversation already taken over, changes nothing). The refused
    /// call's tokens, which the provider bills, go to the tenant's `ai_usage`.
    public func handOver(_ context: AIReplyContext, reason: String, usage: AIUsage?, jobID: String, nowMs: Int64) async throws {
        try await pool.transaction { connection in
            let changed = try connection.query(
                """
                UPDATE conversations SET mode = 'human', mode_changed_at = now(), mode_reason = $2, updated_at = now()
                WHERE id = $1 AND mode = 'ai' RETURNING id
                """, [context.conversationID, reason])
            guard changed.first != nil else { return }
            if let usage { try Self.addUsage(usage, tenantID: context.tenantID, nowMs: nowMs, connection) }
            try connection.query(
                "INSERT INTO events (tenant_id, job_id, kind, payload) VALUES ($1, $2, 'conversation.handover', $3::jsonb)",
                [
                    context.tenantID, jobID,
                    JSONValue.object(["conversation_id": .string(context.conversationID), "reason": .string(reason)]).text,
                ])
        }
    }

    /// Adds one call to the tenant's `ai_usage` for its UTC day and model.
    static func addUsage(_ usage: AIUsage, tenantID: String, nowMs: Int64, _ connection: PostgresConnection) throws {
        try connection.query(
            """
            INSERT INTO ai_usage (tenant_id, day, model, requests, prompt_tokens, completion_tokens, cost_millicents)
            VALUES ($1, $2::date, $3, 1, $4, $5, $6)
            ON CONFLICT (tenant_id, day, model) DO UPDATE SET requests = ai_usage.requests + 1,
                prompt_tokens = ai_usage.prompt_tokens + EXCLUDED.prompt_tokens,
                completion_tokens = ai_usage.completion_tokens + EXCLUDED.completion_tokens,
                cost_millicents = ai_usage.cost_millicents + EXCLUDED.cost_millicents
            """, [tenantID, CivilTime.date(nowMs), usage.model, usage.promptTokens, usage.completionTokens, usage.costMillicents])
    }
}

extension AIReplies {
    /// The `ai-reply` job's arguments (`Jobs/ai-reply.json`) for a conversation: `estimated_tokens` is
    /// what the tenant's token limiter is charged up front, the prompt budget plus the reply cap.
    public static func jobArguments(conversationID: String, estimatedTokens: Int) -> String {
        JSONValue.object([
            "conversation_id": .string(conversationID),
            "estimated_tokens": .number(Double(min(max(1, estimatedTokens), maximumEstimatedTokens))),
        ]).text
    }

    /// `Jobs/ai-reply.json`'s maximum for `estimated_tokens`: a bigger budget is charged this much.
    public static let maximumEstimatedTokens = 1_000_000
}
