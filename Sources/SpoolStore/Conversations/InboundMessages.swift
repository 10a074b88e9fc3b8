import SpoolPostgres
import SpoolQueue
import SpoolSupport

/// A message a contact sent to one of a tenant's numbers, as the provider's inbound webhook gives it.
public struct InboundMessage: Sendable, Equatable {
    /// The provider's id (Twilio's MessageSid): a retried webhook carries the same one.
    public var sid: String
    /// The contact's address as the provider wrote `From`.
    public var from: String
    /// The tenant's number as the provider wrote `To`.
    public var to: String
    public var body: String
    /// The name WhatsApp shows for the contact (`ProfileName`).
    public var profileName: String?
    public var media: [InboundMedia]

    public init(sid: String, from: String, to: String, body: String, profileName: String? = nil, media: [InboundMedia] = []) {
        self.sid = sid
        self.from = from
        self.to = to
        self.body = body
        self.profileName = profileName
        self.media = media
    }
}

/// One attachment of an inbound message: where the provider hosts it, and its type.
public struct InboundMedia: Sendable, Equatable {
    public var url: String
    public var contentType: String

    public init(url: String, contentType: String) {
        self.url = url
        self.contentType = contentType
    }

    /// An `audio/*` attachment (a voice note): the ones the transcription kind takes. Images,
    /// video, vCards and the rest are stored with the message and never transcribed.
    public var isAudio: Bool { Self.isAudio(contentType) }

    /// Whether a media type (parameters allowed, any case) is `audio/*`.
    public static func isAudio(_ contentType: String) -> Bool {
        contentType.trimmingSpaces.lowercased().hasPrefix("audio/")
    }
}

/// Who wrote: the address a conversation keeps (`+E164`, or `whatsapp:+E164` on WhatsApp) and the
/// phone number alone, which is what contacts and the do-not-contact list hold.
public struct InboundContact: Sendable, Equatable {
    public let address: String
    public let phone: String
    /// `sms` or `whatsapp`.
    public let channel: String

    /// nil when `text` is neither E.164 nor `whatsapp:` and E.164.
    public init?(_ text: String) {
        let trimmed = text.trimmingSpaces
        let whatsapp = trimmed.lowercased().hasPrefix("whatsapp:")
        guard let phone = try? PhoneNumber(e164: whatsapp ? String(trimmed.dropFirst("whatsapp:".count)) : trimmed) else { return nil }
        self.phone = phone.e164
        address = whatsapp ? "whatsapp:" + phone.e164 : phone.e164
        channel = whatsapp ? "whatsapp" : "sms"
    }
}

/// The keywords carriers and Twilio's Advanced Opt-Out honour, matched against the whole body,
/// trimmed, in any case: "stop" and " Stop\n" are STOP, "stop it" is a message.
public enum InboundKeyword: String, Sendable, Equatable {
    /// STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT: the contact opts out.
    case stop
    /// START, UNSTOP, YES: the contact opts back in.
    case start
    /// HELP: the tenant's help text is the answer.
    case help

    static let words: [String: InboundKeyword] = [
        "STOP": .stop, "STOPALL": .stop, "UNSUBSCRIBE": .stop, "CANCEL": .stop, "END": .stop, "QUIT": .stop,
        "START": .start, "UNSTOP": .start, "YES": .start, "HELP": .help,
    ]

    public static func of(_ body: String) -> InboundKeyword? {
        // Most messages are longer than any keyword with some space around it: not one of them.
        guard body.utf8.count <= 64 else { return nil }
        let word = String(body.drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed())
        return words[word.uppercased()]
    }
}

/// Inbound messages in PostgreSQL (`conversations`, `inbound_messages`): each stored once by its
/// provider id, in the transaction that finds or opens its conversation and applies its keyword.
///
/// Keywords act before anything else and only the first time a provider id is seen, so a retried STOP
/// webhook opts out once: STOP makes the contact `opted_out` (creating the contact when the tenant has
/// none) and adds the phone to `do_not_contact` with reason `stop_keyword`, so every later campaign
/// skips it through the existing gates; START makes it `opted_in` again and removes only the
/// `stop_keyword` entry (an operator's entry, with any other reason, stays); HELP changes nothing.
///
/// A new message with `audio/*` attachments that is not a keyword is stored with
/// `transcription_status` `pending`: a transcription is owed for each of them (see `Transcripts`).
public struct InboundMessages: Sendable {
    let pool: PostgresPool
    let clock: any WallClock

    public init(pool: PostgresPool, clock: any WallClock = SystemClock()) {
        self.pool = pool
        self.clock = clock
    }

    /// What `receive` did.
    public struct Received: Sendable, Equatable {
        public let messageID: String
        public let conversationID: String
        /// False when this provider id was stored before (a retried webhook): nothing changed.
        public let created: Bool
        public let keyword: InboundKeyword?
        /// For HELP, the answer: the tenant's help text, or a default naming the tenant.
        public let helpText: String?
        /// The positions in `media` of the audio attachments whose transcription jobs this delivery
        /// enqueues (`transcription:<message id>:<index>` is their idempotency key): every audio
        /// attachment of a new message that is not a keyword; for a provider id stored before, the
        /// same while its transcription is still `pending`, so that a retried webhook makes up for an
        /// enqueue that failed after the message was stored (the keys find the jobs already
        /// enqueued, so nothing runs twice); otherwise none.
        public let transcribe: [Int]
        /// The conversation's `ai-reply` is due: a message that is not a keyword, has no voice note
        /// (whose transcription job asks for the reply instead), to a number with AI replies on, in a
        /// conversation the AI answers. Also for a retried webhook: the reply job is unique per
        /// conversation and answers only what is new, so asking again never answers twice.
        public let replyDue: Bool
    }

    /// Stores `message` for `tenantID`, which holds `number` (the tenant's number as the conversation
    /// keeps it), in one transaction: the conversation is found or opened, the message inserted unless
    /// its provider id is already stored, and a keyword applied when the message is new.
    public func receive(_ message: InboundMessage, tenantID: String, number: String, contact: InboundContact) async throws -> Received {
        let keyword = InboundKeyword.of(message.body)
        let now = clock.nowMillis()
        let newMessageID = "in_" + JobID.make(now: now).lowercased()
        let newConversationID = "cv_" + JobID.make(now: now).lowercased()
        let media = JSONValue.array(
            message.media.map { .object(["url": .string($0.url), "content_type": .string($0.contentType)]) }
        ).text
        // Keywords never reach the AI: a voice note sent with STOP is stored, not transcribed.
        let audio = keyword == nil ? message.media.indices.filter { message.media[$0].isAudio } : []
        let transcriptionStatus = audio.isEmpty ? "none" : "pending"
        // Most messages are new and no keyword: one statement stores them (one round trip, one commit).
        // A repeat, a keyword or a race with the same webhook in flight takes the transaction below.
        if keyword == nil,
            let stored = try await pool.withConnection({ connection in
                try Self.storeNew(
                    message, id: newMessageID, conversationID: newConversationID, tenantID: tenantID, number: number, contact: contact,
                    media: media, transcriptionStatus: transcriptionStatus, connection)
            })
        {
            return Received(
                messageID: newMessageID, conversationID: stored.conversationID, created: true, keyword: nil, helpText: nil,
                transcribe: audio, replyDue: audio.isEmpty && stored.aiAnswers)
        }
        return try await pool.transaction { connection in
            if let stored = try Self.stored(sid: message.sid, connection) { return try Self.repeated(stored, connection) }
            let conversationID = try connection.query(
                """
                INSERT INTO conversations (id, tenant_id, contact, number, channel) VALUES ($1, $2, $3, $4, $5)
                ON CONFLICT (tenant_id, number, contact) DO UPDATE SET updated_at = now() RETURNING id
                """, [newConversationID, tenantID, contact.address, number, contact.channel]
            ).first!.string("id")!
            let inserted = try connection.query(
                """
                INSERT INTO inbound_messages (id, tenant_id, conversation_id, provider_sid, from_address, to_address, body, profile_name, media, keyword,
                                              transcription_status)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10, $11) ON CONFLICT (provider_sid) DO NOTHING RETURNING id
                """,
                [
                    newMessageID, tenantID, conversationID, message.sid, message.from, message.to, message.body, message.profileName,
                    media, keyword?.rawValue, transcriptionStatus,
                ])
            guard inserted.first != nil else {
                // The same webhook, in flight beside this one, was stored first (the insert waited for
                // it to commit): answer what it stored, and leave the keyword to it.
                guard let stored = try Self.stored(sid: message.sid, connection) else {
                    throw PostgresError(.server, "inbound message \(message.sid) conflicted but is not visible yet", sqlState: "40001")
                }
                return try Self.repeated(stored, connection)
            }
            var events: [(kind: String, payload: JSONValue)] = [
                (
                    kind: "inbound.received",
                    payload: .object([
                        "conversation_id": .string(conversationID), "channel": .string(contact.channel),
                        "keyword": keyword.map { .string($0.rawValue) } ?? .null, "media": .number(Double(message.media.count)),
                    ])
                )
            ]
            let consentPayload = JSONValue.object(["phone": .string(contact.phone), "conversation_id": .string(conversationID)])
            switch keyword {
            case .stop?:
                try Self.setConsent("opted_out", source: "stop_keyword", tenantID: tenantID, phone: contact.phone, connection)
                try connection.query(
                    "INSERT INTO do_not_contact (tenant_id, phone, reason) VALUES ($1, $2, 'stop_keyword') ON CONFLICT DO NOTHING",
                    [tenantID, contact.phone])
                events.append((kind: "consent.opted_out", payload: consentPayload))
            case .start?:
                try Self.setConsent("opted_in", source: "start_keyword", tenantID: tenantID, phone: contact.phone, connection)
                try connection.query(
                    "DELETE FROM do_not_contact WHERE tenant_id = $1 AND phone = $2 AND reason = 'stop_keyword'", [tenantID, contact.phone])
                events.append((kind: "consent.opted_in", payload: consentPayload))
            case .help?, nil:
                break
            }
            for event in events {
                try connection.query(
                    "INSERT INTO events (tenant_id, inbound_message_id, kind, payload) VALUES ($1, $2, $3, $4::jsonb)",
                    [tenantID, newMessageID, event.kind, event.payload.text])
            }
            var helpText: String?
            if keyword == .help { helpText = try Self.helpText(tenantID: tenantID, connection) }
            let replyDue = keyword == nil && audio.isEmpty ? try Self.aiAnswers(conversationID, connection) : false
            return Received(
                messageID: newMessageID, conversationID: conversationID, created: true, keyword: keyword, helpText: helpText,
                transcribe: audio, replyDue: replyDue)
        }
    }

    /// Stores a new message that is no keyword in one statement: the conversation found or opened,
    /// the message, its `inbound.received` event, and whether the AI answers. Nil when nothing was
    /// stored because this provider id is stored already (or being stored beside this call): the
    /// transaction in `receive` then answers as for a repeat.
    static func storeNew(
        _ message: InboundMessage, id: String, conversationID: String, tenantID: String, number: String, contact: InboundContact,
        media: String, transcriptionStatus: String, _ connection: PostgresConnection
    ) throws -> (conversationID: String, aiAnswers: Bool)? {
        guard
            let row = try connection.query(
                """
                WITH existing AS (SELECT 1 FROM inbound_messages WHERE provider_sid = $4),
                conversation AS (
                    INSERT INTO conversations (id, tenant_id, contact, number, channel)
                    SELECT $3, $2, $11, $12, $13 WHERE NOT EXISTS (SELECT 1 FROM existing)
                    ON CONFLICT (tenant_id, number, contact) DO UPDATE SET updated_at = now()
                    RETURNING id, mode),
                message AS (
                    INSERT INTO inbound_messages (id, tenant_id, conversation_id, provider_sid, from_address, to_address, body, profile_name,
                                                  media, transcription_status)
                    SELECT $1, $2, c.id, $4, $5, $6, $7, $8, $9::jsonb, $10 FROM conversation c
                    ON CONFLICT (provider_sid) DO NOTHING
                    RETURNING id, conversation_id),
                event AS (
                    INSERT INTO events (tenant_id, inbound_message_id, kind, payload)
                    SELECT $2, m.id, 'inbound.received',
                           jsonb_build_object('conversation_id', m.conversation_id, 'channel', $13::text, 'keyword', NULL, 'media', $14::int)
                    FROM message m)
                SELECT m.conversation_id, c.mode = 'ai' AND EXISTS (
                           SELECT 1 FROM sender_numbers n WHERE n.tenant_id = $2 AND n.ai_reply
                             AND n.number IN ($12, regexp_replace($12, '^whatsapp:', ''))) AS answers
                FROM message m JOIN conversation c ON c.id = m.conversation_id
                """,
                [
                    id, tenantID, conversationID, message.sid, message.from, message.to, message.body, message.profileName, media,
                    transcriptionStatus, contact.address, number, contact.channel, message.media.count,
                ]
            ).first
        else { return nil }
        return (conversationID: try row.string("conversation_id")!, aiAnswers: try row.bool("answers") ?? false)
    }

    /// The default help text, for a tenant without one of its own (`tenants.help_text`).
    public static func defaultHelpText(tenantName: String) -> String {
        "\(tenantName): reply STOP to opt out, START to opt back in."
    }

    private struct Stored: Sendable {
        let id: String
        let conversationID: String
        let tenantID: String
        let keyword: InboundKeyword?
        /// The audio attachments' positions while a transcription is still owed; else empty.
        let pendingAudio: [Int]
        /// Whether the message has a voice note at all (its transcription asks for the reply).
        let hasAudio: Bool
    }

    private static func stored(sid: String, _ connection: PostgresConnection) throws -> Stored? {
        guard
            let row = try connection.query(
                """
                SELECT id, conversation_id, tenant_id, keyword, transcription_status, media::text AS media
                FROM inbound_messages WHERE provider_sid = $1
                """, [sid]
            ).first
        else { return nil }
        var pendingAudio: [Int] = []
        let mediaText = try row.string("media") ?? "[]"
        let types = ((try? JSONValue.parse(mediaText))?.arrayValue ?? []).map { $0["content_type"]?.stringValue ?? "" }
        let audio = types.indices.filter { InboundMedia.isAudio(types[$0]) }
        if try row.string("transcription_status") == "pending" { pendingAudio = audio }
        return Stored(
            id: try row.string("id")!, conversationID: try row.string("conversation_id")!, tenantID: try row.string("tenant_id")!,
            keyword: try row.string("keyword").flatMap { InboundKeyword(rawValue: $0) }, pendingAudio: pendingAudio,
            hasAudio: !audio.isEmpty)
    }

    /// A provider id stored before: nothing changes, and the answer is the one the first delivery got
    /// (a retried HELP gets the help text again: the provider retries when it had no answer).
    private static func repeated(_ stored: Stored, _ connection: PostgresConnection) throws -> Received {
        var helpText: String?
        if stored.keyword == .help { helpText = try Self.helpText(tenantID: stored.tenantID, connection) }
        let replyDue = stored.keyword == nil && !stored.hasAudio ? try aiAnswers(stored.conversationID, connection) : false
        return Received(
            messageID: stored.id, conversationID: stored.conversationID, created: false, keyword: stored.keyword, helpText: helpText,
            transcribe: stored.pendingAudio, replyDue: replyDue)
    }

    /// The conversation is the AI's and its number has AI replies on (a WhatsApp number registered as
    /// its bare E.164 included).
    static func aiAnswers(_ conversationID: String, _ connection: PostgresConnection) throws -> Bool {
        try connection.query(
            """
            SELECT c.mode = 'ai' AND EXISTS (
                SELECT 1 FROM sender_numbers n WHERE n.tenant_id = c.tenant_id AND n.ai_reply
                  AND n.number IN (c.number, regexp_replace(c.number, '^whatsapp:', ''))) AS answers
            FROM conversations c WHERE c.id = $1
            """, [conversationID]
        ).first?.bool("answers") ?? false
    }

    private static func setConsent(
        _ consent: String, source: String, tenantID: String, phone: String, _ connection: PostgresConnection
    ) throws {
        try connection.query(
            """
            INSERT INTO contacts (tenant_id, phone, consent, consent_source) VALUES ($1, $2, $3, $4)
            ON CONFLICT (tenant_id, phone) DO UPDATE SET consent = EXCLUDED.consent, consent_source = EXCLUDED.consent_source, updated_at = now()
            """, [tenantID, phone, consent, source])
    }

    private static func helpText(tenantID: String, _ connection: PostgresConnection) throws -> String {
        let row = try connection.query("SELECT name, help_text FROM tenants WHERE id = $1", [tenantID]).first
        if let text = try row?.string("help_text") { return text }
        return defaultHelpText(tenantName: try row?.string("name") ?? "This number")
    }
}
