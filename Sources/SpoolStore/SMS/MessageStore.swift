import SpoolPostgres
import SpoolSupport

/// The message lifecycle in PostgreSQL: queued → sending → sent → delivered | undelivered | failed,
/// with skipped and in_doubt beside them. Each change is one transaction with its event row, and each
/// checks the state it moves from, so two attempts can never both send.
///
/// The hot path of a send (read the context, queued → sending, sending → sent) is shared by
/// concurrent jobs: each of the three runs as one statement or transaction for every job waiting on
/// it (`CallCoalescer`), so a worker with hundreds of sends in flight commits a few dozen times per
/// second rather than thousands. Keep one store per process for that to work.
public final class MessageStore: Sendable {
    let pool: PostgresPool
    let contexts: CallCoalescer<String, MessageContext?>
    let begins: CallCoalescer<BeginRequest, Begin>
    let sends: CallCoalescer<SentRequest, Bool>

    /// `lanes`: how many batches of each kind may be in flight at once (each holds a connection).
    public init(pool: PostgresPool, lanes: Int = 2, batchSize: Int = 500) {
        self.pool = pool
        contexts = CallCoalescer(batchSize: batchSize, lanes: lanes) { ids in try await Self.loadContexts(pool, ids) }
        begins = CallCoalescer(batchSize: batchSize, lanes: lanes) { requests in try await Self.begin(pool, requests) }
        sends = CallCoalescer(batchSize: batchSize, lanes: lanes) { requests in try await Self.markSent(pool, requests) }
    }

    /// States a message never leaves (except sent, which receipts move on).
    public static let final: Set<String> = ["sent", "delivered", "undelivered", "failed", "skipped"]

    /// sending → queued after an answer that says nothing was sent (429, 5xx), giving the spend back.
    public func requeue(_ message: MessageContext, token: String, jobID: String, reason: String) async throws {
        try await pool.transaction { connection in
            let moved = try connection.query(
                "UPDATE messages SET status = 'queued', send_token = NULL, updated_at = now() WHERE id = $1 AND status = 'sending' AND send_token = $2 RETURNING budget_day",
                [message.id, token])
            guard let row = moved.first else { return }
            try Self.refund(connection, message, day: try row.string("budget_day"))
            try Self.event(connection, message, jobID: jobID, kind: "status.queued", payload: .object(["reason": .string(reason)]))
        }
    }

    /// sending → failed (a permanent refusal), giving the spend back; an opted-out recipient (21610)
    /// joins the do-not-contact list in the same transaction.
    public func fail(_ message: MessageContext, token: String?, jobID: String, code: String, reason: String, optedOut: Bool) async throws {
        try await pool.transaction { connection in
            let moved = try connection.query(
                """
                UPDATE messages SET status = 'failed', provider_error_code = $3, reason = $4, failed_at = now(), updated_at = now()
                WHERE id = $1 AND (status = 'queued' OR (status = 'sending' AND send_token = $2)) RETURNING budget_day
                """, [message.id, token ?? "", code, String(reason.prefix(500))])
            guard let row = moved.first else { return }
            try Self.refund(connection, message, day: try row.string("budget_day"))
            if optedOut {
                try connection.query(
                    "INSERT INTO do_not_contact (tenant_id, phone, reason) VALUES ($1, $2, 'provider_opt_out') ON CONFLICT DO NOTHING",
                    [message.tenantID, message.to])
            }
            try Self.event(
                connection, message, jobID: jobID, kind: "status.failed",
                payload: .object(["code": .string(code), "reason": .string(reason)]))
            try Self.completeCampaignIfDone(connection, message)
        }
    }

    /// queued → skipped, with why (do-not-contact, no consent, campaign cancelled).
    public func skip(_ message: MessageContext, jobID: String, reason: String) async throws {
        try await transition(
            message, from: ["queued"], to: "skipped", token: nil, jobID: jobID, set: "reason = $4", extra: [reason],
            payload: .object(["reason": .string(reason)]))
    }

    /// sending (by a dead attempt) → in_doubt: it must be reconciled with the provider, never resent blindly.
    public func markInDoubt(_ message: MessageContext, jobID: String) async throws {
        try await transition(
            message, from: ["sending"], to: "in_doubt", token: message.sendToken, jobID: jobID, set: nil, extra: [],
            payload: .object(["dead_token": .string(message.sendToken ?? "")]))
    }

    /// in_doubt → queued: the provider has no such message, so sending it is safe.
    public func releaseDoubt(_ message: MessageContext, jobID: String) async throws {
        try await pool.transaction { connection in
            let moved = try connection.query(
                "UPDATE messages SET status = 'queued', send_token = NULL, updated_at = now() WHERE id = $1 AND status = 'in_doubt' RETURNING budget_day",
                [message.id])
            guard let row = moved.first else { return }
            try Self.refund(connection, message, day: try row.string("budget_day"))
            try Self.event(connection, message, jobID: jobID, kind: "reconcile.not_found", payload: .object([:]))
        }
    }

    /// Records a gate's decision that did not change the status (postponed: quiet hours, paused).
    public func note(_ message: MessageContext, jobID: String, kind: String, payload: JSONValue) async throws {
        try await pool.withConnection { connection in try Self.event(connection, message, jobID: jobID, kind: kind, payload: payload) }
    }

    @discardableResult
    private func transition(
        _ message: MessageContext, from: [String], to: String, token: String?, jobID: String, set: String?,
        extra: [String], payload: JSONValue
    ) async throws -> Bool {
        try await pool.transaction { connection in
            // An empty token skips the check ($3 is always used: libpq cannot type an unused parameter).
            let tokenCheck = " AND ($3 = '' OR send_token = $3)"
            let assignments = ["status = '\(to)'", "updated_at = now()"] + (set.map { [$0] } ?? [])
            let sql = "UPDATE messages SET \(assignments.joined(separator: ", ")) WHERE id = $1 AND status = ANY($2::text[])\(tokenCheck)"
            let parameters: [any PostgresBindable] = [message.id, PostgresArray(from), token ?? ""] + extra
            guard try connection.query(sql, parameters).affectedRows == 1 else { return false }
            try Self.event(connection, message, jobID: jobID, kind: "status.\(to)", payload: payload)
            if Self.final.contains(to) { try Self.completeCampaignIfDone(connection, message) }
            return true
        }
    }

    static func refund(_ connection: PostgresConnection, _ message: MessageContext, day: String?) throws {
        guard let day else { return }
        let month = String(day.prefix(8)) + "01"
        try connection.query(
            """
            UPDATE budget_spend SET spent_cents = greatest(spent_cents - $4, 0)
            WHERE tenant_id = $1 AND ((period = 'day' AND starts = $2::date) OR (period = 'month' AND starts = $3::date))
            """, [message.tenantID, day, month, message.costCents])
    }

    static func event(_ connection: PostgresConnection, _ message: MessageContext, jobID: String?, kind: String, payload: JSONValue) throws
    {
        try insert([EventRow(message, jobID: jobID, kind: kind, payload: payload)], connection)
    }

    /// A running campaign completes when none of its messages is still on its way; completion is an event.
    static func completeCampaignIfDone(_ connection: PostgresConnection, _ message: MessageContext) throws {
        guard let campaign = message.campaignID else { return }
        let open = try connection.query(
            "SELECT 1 FROM messages WHERE campaign_id = $1 AND status IN ('queued', 'sending', 'in_doubt') LIMIT 1", [campaign])
        guard open.rows.isEmpty else { return }
        let done = try connection.query(
            "UPDATE campaigns SET status = 'completed', completed_at = now() WHERE id = $1 AND status = 'running'", [campaign])
        if done.affectedRows == 1 {
            try connection.query(
                "INSERT INTO events (tenant_id, campaign_id, kind) VALUES ($1, $2, 'campaign.completed')", [message.tenantID, campaign])
        }
    }

    static func nextPeriod(_ period: String, nowMs: Int64) -> Int64 {
        let dayMs: Int64 = 86_400_000
        let today = nowMs / dayMs * dayMs
        if period == "day" { return today + dayMs }
        let time = CivilTime(unixMillis: nowMs)
        let (year, month) = (time.year, time.month)
        let next =
            month == 12
            ? CivilTime.daysFromCivil(year: year + 1, month: 1, day: 1) : CivilTime.daysFromCivil(year: year, month: month + 1, day: 1)
        return Int64(next) * dayMs
    }
}
