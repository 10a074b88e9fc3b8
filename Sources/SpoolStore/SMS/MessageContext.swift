import SpoolPostgres
import SpoolSMS
import SpoolSupport

/// A message's row and everything its gates need, read in one query.
public struct MessageContext: Sendable {
    public let id: String
    public let tenantID: String
    public let campaignID: String?
    /// Marketing (every campaign's) or transactional: which gates apply.
    public let purpose: MessagePurpose
    public let to: String
    public let from: String
    public let body: String
    public let segments: Int
    public let costCents: Int
    public let status: MessageStatus
    public let sendToken: String?
    public let sendingAtMs: Int64?
    public let tenantPaused: Bool
    public let tenantTimezone: String
    public let dailyBudgetCents: Int?
    public let monthlyBudgetCents: Int?
    public let campaignStatus: CampaignStatus?
    public let contactTimezone: String?
    public let consent: String?
    public let doNotContact: Bool
    /// The sender is one of the message's tenant's numbers now (it may have been removed since launch).
    public let senderOwned: Bool
    /// A conversation's reply: the conversation, and who wrote it (an AI reply is suppressed when a
    /// human has taken the conversation over, see `MessageStore.begin`).
    public let conversationID: String?
    public let author: String?
}

extension MessageContext {
    /// What `SendGates` decides on. Draft, running and completed campaigns read as active: only a
    /// pause or a cancel holds a message back.
    public var gateInput: GateInput {
        let campaign: GateInput.Campaign? =
            switch campaignStatus {
            case .paused?: .paused
            case .cancelled?: .cancelled
            default: campaignID == nil ? nil : .active
            }
        // A WhatsApp reply goes to `whatsapp:+E164`; the gates judge the phone number.
        let phone = to.hasPrefix("whatsapp:") ? String(to.dropFirst("whatsapp:".count)) : to
        return GateInput(
            tenantPaused: tenantPaused, campaign: campaign, purpose: purpose, senderOwned: senderOwned, to: phone,
            doNotContact: doNotContact, consent: consent, contactTimezone: contactTimezone)
    }
}

extension MessageStore {
    /// The message with its tenant, campaign, contact and do-not-contact entry; nil when there is none.
    public func context(_ id: String) async throws -> MessageContext? {
        try await contexts.submit(id)
    }

    /// Contexts for many messages in one query, in the order asked.
    static func loadContexts(_ pool: PostgresPool, _ ids: [String]) async throws -> [MessageContext?] {
        let found = try await pool.withConnection { connection in
            try connection.query(
                """
                SELECT m.id, m.tenant_id, m.campaign_id, m.purpose, m.conversation_id, m.author, m.to_phone, m.from_sender, m.body, m.segments, m.cost_cents, m.status, m.send_token,
                       (extract(epoch FROM m.sending_at) * 1000)::bigint AS sending_at_ms,
                       t.paused, t.timezone, t.daily_budget_cents, t.monthly_budget_cents, c.status AS campaign_status,
                       k.timezone AS contact_timezone, k.consent,
                       EXISTS (SELECT 1 FROM do_not_contact d
                               WHERE d.tenant_id = m.tenant_id AND d.phone = regexp_replace(m.to_phone, '^whatsapp:', '')) AS dnc,
                       EXISTS (SELECT 1 FROM sender_numbers n
                               WHERE n.tenant_id = m.tenant_id
                                 AND n.number IN (m.from_sender, regexp_replace(m.from_sender, '^whatsapp:', ''))) AS sender_owned
                FROM messages m JOIN tenants t ON t.id = m.tenant_id
                LEFT JOIN campaigns c ON c.id = m.campaign_id LEFT JOIN contacts k ON k.id = m.contact_id
                WHERE m.id = ANY($1::text[])
                """, [PostgresArray(ids)]
            ).rows.map { row in
                MessageContext(
                    id: try row.string("id")!, tenantID: try row.string("tenant_id")!, campaignID: try row.string("campaign_id"),
                    purpose: try row.enumeration("purpose", MessagePurpose.self)!,
                    to: try row.string("to_phone")!, from: try row.string("from_sender")!, body: try row.string("body")!,
                    segments: try row.int("segments")!, costCents: try row.int("cost_cents")!,
                    status: try row.enumeration("status", MessageStatus.self)!,
                    sendToken: try row.string("send_token"), sendingAtMs: try row.int("sending_at_ms").map(Int64.init),
                    tenantPaused: try row.bool("paused")!, tenantTimezone: try row.string("timezone")!,
                    dailyBudgetCents: try row.int("daily_budget_cents"), monthlyBudgetCents: try row.int("monthly_budget_cents"),
                    campaignStatus: try row.enumeration("campaign_status", CampaignStatus.self),
                    contactTimezone: try row.string("contact_timezone"),
                    consent: try row.string("consent"), doNotContact: try row.bool("dnc")!, senderOwned: try row.bool("sender_owned")!,
                    conversationID: try row.string("conversation_id"), author: try row.string("author"))
            }
        }
        let byID = Dictionary(found.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        return ids.map { byID[$0] }
    }
}

extension PostgresRow {
    /// A text column read as one of an enum's cases; a value the enum does not know is a decoding
    /// error naming the column (the table's check constraint and the enum disagree).
    func enumeration<E: RawRepresentable>(_ column: String, _ type: E.Type) throws -> E? where E.RawValue == String {
        guard let text = try string(column) else { return nil }
        guard let value = E(rawValue: text) else { throw PostgresError(.decoding, "column \(column): '\(text)' is not a \(E.self)") }
        return value
    }
}
