import SpoolPostgres
import SpoolSMS

/// One row of `messages` as the message API shows it (`GET /v1/messages/{id}`): a campaign's message
/// or a one-off one. Times are unix ms.
public struct MessageRecord: Sendable, Equatable {
    public let id: String
    public let tenantID: String
    public let campaignID: String?
    public let to: String
    public let from: String
    public let body: String
    public let purpose: MessagePurpose
    public let status: MessageStatus
    /// Why it was skipped or failed.
    public let reason: String?
    /// The provider's error code, or the gates' (`invalid_number`).
    public let errorCode: String?
    public let segments: Int
    public let encoding: String
    public let costCents: Int
    public let providerSid: String?
    public let idempotencyKey: String?
    /// When it was asked to go; nil: at once.
    public let sendAtMs: Int64?
    public let createdAtMs: Int64
    public let sentAtMs: Int64?
    public let deliveredAtMs: Int64?
    public let failedAtMs: Int64?
    /// The conversation this message was written in, and by whom (`ai`, `agent` or `system`); nil for
    /// campaigns' and one-off messages.
    public let conversationID: String?
    public let author: String?

    /// The message with this id, whichever tenant's; nil when there is none.
    public static func load(id: String, pool: PostgresPool) async throws -> MessageRecord? {
        try await pool.withConnection { connection in try MessageRecord.find(id: id, on: connection) }
    }

    static func find(id: String, on connection: PostgresConnection) throws -> MessageRecord? {
        guard let row = try connection.query("SELECT \(columns) FROM messages WHERE id = $1", [id]).first else { return nil }
        return try decode(row)
    }

    /// The tenant's message made with this idempotency key, read in the caller's transaction.
    static func find(tenantID: String, idempotencyKey: String, on connection: PostgresConnection) throws -> MessageRecord? {
        guard
            let row = try connection.query(
                "SELECT \(columns) FROM messages WHERE tenant_id = $1 AND idempotency_key = $2", [tenantID, idempotencyKey]
            ).first
        else { return nil }
        return try decode(row)
    }

    static let columns = """
        id, tenant_id, campaign_id, to_phone, from_sender, body, purpose, status, reason, provider_error_code, segments, encoding,
        cost_cents, provider_sid, idempotency_key, (extract(epoch FROM send_at) * 1000)::bigint AS send_at_ms,
        (extract(epoch FROM queued_at) * 1000)::bigint AS created_at_ms, (extract(epoch FROM sent_at) * 1000)::bigint AS sent_at_ms,
        (extract(epoch FROM delivered_at) * 1000)::bigint AS delivered_at_ms, (extract(epoch FROM failed_at) * 1000)::bigint AS failed_at_ms,
        conversation_id, author
        """

    static func decode(_ row: PostgresRow) throws -> MessageRecord {
        MessageRecord(
            id: try row.string("id")!, tenantID: try row.string("tenant_id")!, campaignID: try row.string("campaign_id"),
            to: try row.string("to_phone")!, from: try row.string("from_sender")!, body: try row.string("body")!,
            purpose: try row.enumeration("purpose", MessagePurpose.self)!, status: try row.enumeration("status", MessageStatus.self)!,
            reason: try row.string("reason"), errorCode: try row.string("provider_error_code"), segments: try row.int("segments")!,
            encoding: try row.string("encoding")!, costCents: try row.int("cost_cents")!, providerSid: try row.string("provider_sid"),
            idempotencyKey: try row.string("idempotency_key"), sendAtMs: try row.int("send_at_ms").map(Int64.init),
            createdAtMs: Int64(try row.int("created_at_ms")!), sentAtMs: try row.int("sent_at_ms").map(Int64.init),
            deliveredAtMs: try row.int("delivered_at_ms").map(Int64.init), failedAtMs: try row.int("failed_at_ms").map(Int64.init),
            conversationID: try row.string("conversation_id"), author: try row.string("author"))
    }
}
