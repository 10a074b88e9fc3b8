import SpoolPostgres
import SpoolQueue
import SpoolSupport

/// One attachment of an inbound message, as the transcription kind reads it before it runs.
public struct InboundAttachment: Sendable, Equatable {
    public let messageID: String
    public let tenantID: String
    /// The conversation the message belongs to: the one a reply answers once its transcripts are in.
    public let conversationID: String
    /// The message's `transcription_status` now: `pending` while any audio attachment waits.
    public let messageStatus: String
    /// The conversation is the AI's and its number answers with the AI: a reply is due once the
    /// transcripts are in.
    public let aiAnswers: Bool
    public let index: Int
    /// nil when the message has no attachment at `index`.
    public let media: InboundMedia?
    /// What is recorded for this attachment already, if anything.
    public let recorded: TranscriptEntry?
}

/// What is recorded for one attachment in `inbound_messages.transcripts`.
public struct TranscriptEntry: Sendable, Equatable {
    public enum Status: String, Sendable { case done, failed }
    public var index: Int
    public var status: Status
    public var text: String?
    public var durationSeconds: Double?
    /// Thousandths of a cent, rounded up.
    public var costMillicents: Int?
    public var model: String?
    public var reason: String?
    public var jobID: String?

    public init(
        index: Int, status: Status, text: String? = nil, durationSeconds: Double? = nil, costMillicents: Int? = nil,
        model: String? = nil, reason: String? = nil, jobID: String? = nil
    ) {
        self.index = index
        self.status = status
        self.text = text
        self.durationSeconds = durationSeconds
        self.costMillicents = costMillicents
        self.model = model
        self.reason = reason
        self.jobID = jobID
    }

    var json: JSONValue {
        var fields: [String: JSONValue] = ["index": .number(Double(index)), "status": .string(status.rawValue)]
        // PostgreSQL's jsonb refuses the NUL character.
        if let text { fields["text"] = .string(text.replacing("\u{0}", with: "")) }
        if let durationSeconds { fields["duration_seconds"] = .number(durationSeconds) }
        if let costMillicents { fields["cost_millicents"] = .number(Double(costMillicents)) }
        if let model { fields["model"] = .string(model) }
        if let reason { fields["reason"] = .string(reason.replacing("\u{0}", with: "")) }
        if let jobID { fields["job_id"] = .string(jobID) }
        return .object(fields)
    }

    init?(_ json: JSONValue) {
        guard let index = json["index"]?.intValue, let status = json["status"]?.stringValue.flatMap(Status.init(rawValue:)) else {
            return nil
        }
        self.init(
            index: index, status: status, text: json["text"]?.stringValue, durationSeconds: json["duration_seconds"]?.numberValue,
            costMillicents: json["cost_millicents"]?.intValue, model: json["model"]?.stringValue, reason: json["reason"]?.stringValue,
            jobID: json["job_id"]?.stringValue)
    }
}

/// The transcripts of inbound voice notes (`inbound_messages.transcripts` and `transcription_status`,
/// migration 0009): what the transcription kind reads before it runs and records after.
///
/// Each record locks the message's row, replaces the attachment's entry and sums the entries up
/// into the message's status, in one transaction, so two attachments of one message transcribed at
/// once both land. A failure never replaces a transcript already done. Each record is an event
/// (`transcription.done`, `transcription.failed`).
public struct Transcripts: Sendable {
    let pool: PostgresPool

    public init(pool: PostgresPool) { self.pool = pool }

    /// The attachment at `index` of message `messageID`; nil when there is no such message.
    public func attachment(messageID: String, index: Int) async throws -> InboundAttachment? {
        try await pool.withConnection { (connection: PostgresConnection) -> InboundAttachment? in
            guard
                let row = try connection.query(
                    """
                    SELECT tenant_id, conversation_id, transcription_status, media::text AS media, transcripts::text AS transcripts
                    FROM inbound_messages WHERE id = $1
                    """,
                    [messageID]
                ).first
            else { return nil }
            let media = try Self.media(try row.string("media"))
            let entries = try Self.entries(try row.string("transcripts"))
            return InboundAttachment(
                messageID: messageID, tenantID: try row.string("tenant_id") ?? "",
                conversationID: try row.string("conversation_id") ?? "", messageStatus: try row.string("transcription_status") ?? "none",
                aiAnswers: try InboundMessages.aiAnswers(try row.string("conversation_id") ?? "", connection),
                index: index,
                media: media.indices.contains(index) ? media[index] : nil, recorded: entries.first { $0.index == index })
        }
    }

    /// Records what became of one attachment and returns the message's transcription status now.
    @discardableResult
    public func record(_ entry: TranscriptEntry, messageID: String) async throws -> String {
        try await pool.transaction { (connection: PostgresConnection) -> String in
            guard
                let row = try connection.query(
                    "SELECT tenant_id, media::text AS media, transcripts::text AS transcripts, transcription_status FROM inbound_messages WHERE id = $1 FOR UPDATE",
                    [messageID]
                ).first
            else { throw PostgresError(.decoding, "inbound message \(messageID.prefix(64)) does not exist") }
            let tenantID = try row.string("tenant_id") ?? ""
            var entries = try Self.entries(try row.string("transcripts"))
            if entry.status == .failed, entries.contains(where: { $0.index == entry.index && $0.status == .done }) {
                return try row.string("transcription_status") ?? "done"
            }
            entries.removeAll { $0.index == entry.index }
            entries.append(entry)
            entries.sort { $0.index < $1.index }
            let status = Self.status(media: try Self.media(try row.string("media")), entries: entries)
            try connection.query(
                "UPDATE inbound_messages SET transcripts = $2::jsonb, transcription_status = $3 WHERE id = $1",
                [messageID, JSONValue.array(entries.map(\.json)).text, status])
            var payload: [String: JSONValue] = ["index": .number(Double(entry.index)), "message_status": .string(status)]
            if let duration = entry.durationSeconds { payload["duration_seconds"] = .number(duration) }
            if let cost = entry.costMillicents { payload["cost_millicents"] = .number(Double(cost)) }
            if let reason = entry.reason { payload["reason"] = .string(String(reason.replacing("\u{0}", with: "").prefix(500))) }
            try connection.query(
                "INSERT INTO events (tenant_id, inbound_message_id, job_id, kind, payload) VALUES ($1, $2, $3, $4, $5::jsonb)",
                [tenantID, messageID, entry.jobID, "transcription.\(entry.status.rawValue)", JSONValue.object(payload).text])
            return status
        }
    }

    /// The message's status from its entries: `pending` while an audio attachment (or one a job was
    /// run for) has none, then `done` when all are done, else `failed`.
    static func status(media: [InboundMedia], entries: [TranscriptEntry]) -> String {
        let owed = Set(media.indices.filter { media[$0].isAudio }).union(entries.map(\.index))
        if owed.isEmpty { return "none" }
        let byIndex = Dictionary(entries.map { ($0.index, $0.status) }, uniquingKeysWith: { _, last in last })
        if owed.contains(where: { byIndex[$0] == nil }) { return "pending" }
        return byIndex.values.allSatisfy { $0 == .done } ? "done" : "failed"
    }

    static func media(_ text: String?) throws -> [InboundMedia] {
        let items = try JSONValue.parse(text ?? "[]").arrayValue ?? []
        return items.map { InboundMedia(url: $0["url"]?.stringValue ?? "", contentType: $0["content_type"]?.stringValue ?? "") }
    }

    static func entries(_ text: String?) throws -> [TranscriptEntry] {
        (try JSONValue.parse(text ?? "[]").arrayValue ?? []).compactMap { TranscriptEntry($0) }
    }
}
