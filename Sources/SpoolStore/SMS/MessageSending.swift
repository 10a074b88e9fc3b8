import SpoolPostgres
import SpoolSupport

/// The two transitions around the provider call, batched across concurrent jobs: queued → sending
/// (with the attempt's token and the budget reservation) commits before the call, sending → sent
/// (with the provider's id) after it. Every row is checked against the state it moves from inside
/// the transaction, so batching changes how often PostgreSQL commits, never what may happen.
extension MessageStore {
    public enum Begin: Sendable, Equatable {
        case sending
        /// Over a cap: try again when this period starts (unix ms).
        case overBudget(retryAtMs: Int64, period: String)
        /// Another attempt moved it first.
        case notQueued(status: String)
        /// An AI reply whose conversation a human has now: stored `suppressed`, never sent.
        case suppressed
    }

    struct BeginRequest: Sendable {
        let message: MessageContext
        let token: String
        let jobID: String
        let nowMs: Int64
    }

    struct SentRequest: Sendable {
        let message: MessageContext
        let token: String?
        let sid: String
        let jobID: String
        let from: String
    }

    /// queued → sending with this attempt's token, reserving the cost against the tenant's daily and
    /// monthly caps, in one transaction. Spend rows are locked, so racing workers cannot overspend.
    /// This is the budget gate, gate 6 of `SendGates` (SpoolSMS), which decides the others before it.
    public func begin(_ message: MessageContext, token: String, jobID: String, nowMs: Int64) async throws -> Begin {
        try await begins.submit(BeginRequest(message: message, token: token, jobID: jobID, nowMs: nowMs))
    }

    /// sending → sent, only for the attempt that began it (`token`), or in_doubt → sent when a lookup
    /// at the provider found the message (`from: "in_doubt"`, no token).
    @discardableResult
    public func markSent(
        _ message: MessageContext, token: String?, sid: String, jobID: String, from: String = "sending"
    ) async throws -> Bool {
        try await sends.submit(SentRequest(message: message, token: token, sid: sid, jobID: jobID, from: from))
    }

    static func begin(_ pool: PostgresPool, _ requests: [BeginRequest]) async throws -> [Begin] {
        try await pool.transaction { connection in
            // Rows are locked in id order, and spend rows after them in key order: concurrent batches
            // take their locks in one order and cannot deadlock.
            let ids = Array(Set(requests.map(\.message.id))).sorted()
            var status: [String: String] = [:]
            for row in try connection.query(
                "SELECT id, status FROM messages WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE", [PostgresArray(ids)]
            ).rows {
                status[try row.string("id")!] = try row.string("status")
            }
            // Takeover: an AI reply goes only while its conversation is the AI's. The conversations are
            // share-locked until this commits, so a takeover (which updates the row) either came first
            // and is seen here, or waits, and finds the reply already handed to the provider.
            let conversations = Array(Set(requests.filter { $0.message.author == "ai" }.compactMap(\.message.conversationID))).sorted()
            var humanConversations = Set<String>()
            if !conversations.isEmpty {
                for row in try connection.query(
                    "SELECT id, mode FROM conversations WHERE id = ANY($1::text[]) ORDER BY id FOR SHARE", [PostgresArray(conversations)]
                ).rows where try row.string("mode") == "human" {
                    humanConversations.insert(try row.string("id")!)
                }
            }
            var results = [Begin](repeating: .notQueued(status: "missing"), count: requests.count)
            var candidates: [Int] = []
            var suppressed: [Int] = []
            for (index, request) in requests.enumerated() {
                let current = status[request.message.id] ?? "missing"
                guard current == "queued" else { results[index] = .notQueued(status: current); continue }
                if request.message.author == "ai", let conversation = request.message.conversationID, humanConversations.contains(conversation) {
                    status[request.message.id] = "suppressed"
                    results[index] = .suppressed
                    suppressed.append(index)
                    continue
                }
                // The same message twice in one batch: the first claims it.
                status[request.message.id] = "sending"
                candidates.append(index)
            }
            if !suppressed.isEmpty {
                try connection.query(
                    "UPDATE messages SET status = 'suppressed', reason = 'human_takeover', updated_at = now() WHERE id = ANY($1::text[])",
                    [PostgresArray(suppressed.map { requests[$0].message.id })])
            }
            var budget = try BudgetLedger(connection, requests: candidates.map { requests[$0] })
            var admitted: [Int] = []
            var events = suppressed.map { index in
                EventRow(
                    requests[index].message, jobID: requests[index].jobID, kind: "status.suppressed",
                    payload: .object(["reason": .string("human_takeover")]))
            }
            for index in candidates {
                let request = requests[index]
                if let refusal = budget.reserve(request) {
                    results[index] = .overBudget(retryAtMs: nextPeriod(refusal.period, nowMs: request.nowMs), period: refusal.period)
                    events.append(
                        EventRow(
                            request.message, jobID: request.jobID, kind: "gate.budget",
                            payload: .object([
                                "period": .string(refusal.period), "spent_cents": .number(Double(refusal.spent)),
                                "cap_cents": .number(Double(refusal.cap)),
                            ])))
                } else {
                    results[index] = .sending
                    admitted.append(index)
                    events.append(
                        EventRow(
                            request.message, jobID: request.jobID, kind: "status.sending",
                            payload: .object(["token": .string(request.token)])))
                }
            }
            try budget.save(connection)
            if !admitted.isEmpty {
                try connection.query(
                    """
                    UPDATE messages m SET status = 'sending', send_token = u.token, attempts = attempts + 1, sending_at = now(),
                           budget_day = u.day::date, updated_at = now()
                    FROM unnest($1::text[], $2::text[], $3::text[]) AS u(id, token, day) WHERE m.id = u.id
                    """,
                    [
                        PostgresArray(admitted.map { requests[$0].message.id }), PostgresArray(admitted.map { requests[$0].token }),
                        PostgresArray(admitted.map { CivilTime.date(requests[$0].nowMs) }),
                    ])
            }
            try insert(events, connection)
            return results
        }
    }

    static func markSent(_ pool: PostgresPool, _ requests: [SentRequest]) async throws -> [Bool] {
        try await pool.transaction { connection in
            // An empty token skips the token check: a reconciled message has no live attempt.
            let moved = try connection.query(
                """
                UPDATE messages m SET status = 'sent', provider_sid = u.sid, sent_at = now(), updated_at = now()
                FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS u(id, token, sid, from_status)
                WHERE m.id = u.id AND m.status = u.from_status AND (u.token = '' OR m.send_token = u.token)
                RETURNING m.id
                """,
                [
                    PostgresArray(requests.map(\.message.id)), PostgresArray(requests.map { $0.token ?? "" }),
                    PostgresArray(requests.map(\.sid)), PostgresArray(requests.map(\.from)),
                ])
            var sent = Set<String>()
            for row in moved.rows { sent.insert(try row.string("id")!) }
            var events: [EventRow] = []
            var recorded = Set<String>()
            var campaigns: [MessageContext] = []
            for request in requests where sent.contains(request.message.id) && recorded.insert(request.message.id).inserted {
                events.append(
                    EventRow(request.message, jobID: request.jobID, kind: "status.sent", payload: .object(["sid": .string(request.sid)])))
                if let campaign = request.message.campaignID, !campaigns.contains(where: { $0.campaignID == campaign }) {
                    campaigns.append(request.message)
                }
            }
            try insert(events, connection)
            for message in campaigns { try completeCampaignIfDone(connection, message) }
            // A duplicate of a message in the same batch reports what the first one did.
            var answered = Set<String>()
            return requests.map { request in sent.contains(request.message.id) && answered.insert(request.message.id).inserted }
        }
    }

    /// One row of `events`, written with others in one statement.
    struct EventRow {
        let tenantID: String
        let campaignID: String?
        let messageID: String
        let jobID: String?
        let kind: String
        let payload: JSONValue

        init(_ message: MessageContext, jobID: String?, kind: String, payload: JSONValue) {
            tenantID = message.tenantID
            campaignID = message.campaignID
            messageID = message.id
            self.jobID = jobID
            self.kind = kind
            self.payload = payload
        }
    }

    static func insert(_ events: [EventRow], _ connection: PostgresConnection) throws {
        guard !events.isEmpty else { return }
        try connection.query(
            """
            INSERT INTO events (tenant_id, campaign_id, message_id, job_id, kind, payload)
            SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::jsonb[])
            """,
            [
                PostgresArray(events.map(\.tenantID)), PostgresArray(events.map(\.campaignID)), PostgresArray(events.map(\.messageID)),
                PostgresArray(events.map(\.jobID)), PostgresArray(events.map(\.kind)), PostgresArray(events.map(\.payload.text)),
            ])
    }
}

/// The spend of the tenants in one batch, per day and month with a cap, locked for the transaction:
/// each message is admitted only while its cost still fits under both caps.
struct BudgetLedger {
    struct Key: Hashable, Comparable {
        let tenant: String
        let period: String
        let starts: String
        static func < (a: Key, b: Key) -> Bool { (a.tenant, a.period, a.starts) < (b.tenant, b.period, b.starts) }
    }

    struct Refusal {
        let period: String
        let spent: Int
        let cap: Int
    }

    private var spent: [Key: Int] = [:]
    private var added: [Key: Int] = [:]

    init(_ connection: PostgresConnection, requests: [MessageStore.BeginRequest]) throws {
        var keys = Set<Key>()
        for request in requests {
            for (key, cap) in Self.keys(request) where cap != nil { keys.insert(key) }
        }
        for key in keys.sorted() {
            try connection.query(
                "INSERT INTO budget_spend (tenant_id, period, starts) VALUES ($1, $2, $3::date) ON CONFLICT DO NOTHING",
                [key.tenant, key.period, key.starts])
            spent[key] =
                try connection.query(
                    "SELECT spent_cents FROM budget_spend WHERE tenant_id = $1 AND period = $2 AND starts = $3::date FOR UPDATE",
                    [key.tenant, key.period, key.starts]
                ).first?.int("spent_cents") ?? 0
        }
    }

    /// Reserves the message's cost under every cap it has, or says which cap it would break.
    mutating func reserve(_ request: MessageStore.BeginRequest) -> Refusal? {
        let capped = Self.keys(request).compactMap { key, cap in cap.map { (key, $0) } }
        for (key, cap) in capped where spent[key, default: 0] + request.message.costCents > cap {
            return Refusal(period: key.period, spent: spent[key, default: 0], cap: cap)
        }
        for (key, _) in capped {
            spent[key, default: 0] += request.message.costCents
            added[key, default: 0] += request.message.costCents
        }
        return nil
    }

    func save(_ connection: PostgresConnection) throws {
        for (key, cents) in added.sorted(by: { $0.key < $1.key }) where cents > 0 {
            try connection.query(
                "UPDATE budget_spend SET spent_cents = spent_cents + $4 WHERE tenant_id = $1 AND period = $2 AND starts = $3::date",
                [key.tenant, key.period, key.starts, cents])
        }
    }

    private static func keys(_ request: MessageStore.BeginRequest) -> [(Key, Int?)] {
        let day = CivilTime.date(request.nowMs)
        let month = String(day.prefix(8)) + "01"
        let message = request.message
        return [
            (Key(tenant: message.tenantID, period: "day", starts: day), message.dailyBudgetCents),
            (Key(tenant: message.tenantID, period: "month", starts: month), message.monthlyBudgetCents),
        ]
    }
}
