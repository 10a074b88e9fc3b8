import SpoolPostgres
import SpoolSupport

/// Delivery receipts (Twilio's StatusCallback): a message's status moves forward only. Receipts come
/// out of order and more than once; `delivered` is never overwritten by a late `sent`.
public struct DeliveryReceipts: Sendable {
    let pool: PostgresPool

    public init(pool: PostgresPool) { self.pool = pool }

    /// How far along each status is; a receipt applies only when it moves the message further.
    static let rank: [String: Int] = ["queued": 0, "sending": 1, "in_doubt": 1, "sent": 2, "delivered": 3, "undelivered": 3, "failed": 3]

    public enum Outcome: Sendable, Equatable { case applied, ignored(current: String), unknownMessage }

    /// `reference` is our message id (from the callback URL), `sid` the provider's.
    public func apply(reference: String?, sid: String?, status: String, errorCode: String?) async throws -> Outcome {
        guard let target = Self.rank[status], target >= 2 else { return .ignored(current: "receipt status \(status)") }
        return try await pool.transaction { connection in
            let found = try connection.query(
                """
                SELECT id, tenant_id, campaign_id, status, provider_sid FROM messages
                WHERE ($1 <> '' AND id = $1) OR ($1 = '' AND provider_sid = $2) FOR UPDATE
                """, [reference ?? "", sid ?? ""]
            ).first
            guard let row = found, let id = try row.string("id"), let current = try row.string("status") else { return .unknownMessage }
            guard target > (Self.rank[current] ?? 3) else { return .ignored(current: current) }
            // A message Spool never handed to the provider cannot have a receipt: whatever claims so
            // is forged or mistaken, and must not stop the message from being sent.
            if current == "queued", try row.string("provider_sid") == nil { return .ignored(current: "queued, never sent") }
            // A receipt for another provider message than the one recorded is not this message's.
            if let recorded = try row.string("provider_sid"), let sid, !sid.isEmpty, recorded != sid { return .ignored(current: current) }
            let column = status == "sent" ? "sent_at" : status == "delivered" ? "delivered_at" : "failed_at"
            try connection.query(
                """
                UPDATE messages SET status = $2, provider_sid = coalesce(provider_sid, nullif($3, '')), provider_error_code = coalesce(nullif($4, ''), provider_error_code),
                       \(column) = now(), updated_at = now() WHERE id = $1
                """, [id, status, sid ?? "", errorCode ?? ""])
            try connection.query(
                "INSERT INTO events (tenant_id, campaign_id, message_id, kind, payload) VALUES ($1, $2, $3, $4, $5::jsonb)",
                [
                    try row.string("tenant_id")!, try row.string("campaign_id"), id, "receipt.\(status)",
                    JSONValue.object(["sid": .string(sid ?? ""), "error_code": .string(errorCode ?? "")]).text,
                ])
            return .applied
        }
    }
}
