import SpoolPostgres
import SpoolSMS
import SpoolSupport

/// The numbers operators watch: one campaign's report, and a tenant's dashboard.
public struct CampaignReports: Sendable {
    let pool: PostgresPool

    public init(pool: PostgresPool) { self.pool = pool }

    public struct Report: Sendable, Encodable, Equatable {
        public var campaign: Campaign
        /// What its messages are sent as: a campaign's are always marketing (migration 0008 checks it).
        public let purpose = MessagePurpose.marketing
        public var total = 0
        public var byStatus: [String: Int] = [:]
        public var bySkipReason: [String: Int] = [:]
        /// delivered / (delivered + undelivered + failed); nil before any receipt.
        public var deliveryRate: Double?
        /// Cents of messages that went out (sent, delivered, undelivered).
        public var costCents = 0
        /// Messages sent per minute, oldest first: (minute start, unix ms; count).
        public var sentPerMinute: [Minute] = []

        public struct Minute: Sendable, Encodable, Equatable { public let minute: Int64; public let sent: Int }

        enum CodingKeys: String, CodingKey {
            case campaign, purpose, total, byStatus = "by_status", bySkipReason = "by_skip_reason", deliveryRate = "delivery_rate"
            case costCents = "cost_cents", sentPerMinute = "sent_per_minute"
        }
    }

    /// The campaign's report from its kept counts (`campaign_counts`, `campaign_sent_minutes`, kept by
    /// triggers on `messages`, migration 0019): a few rows per campaign however many messages it has.
    public func report(campaignID: String) async throws -> Report? {
        try await pool.withConnection { connection in
            guard
                let campaign = try connection.query("SELECT \(CampaignStore.columns) FROM campaigns WHERE id = $1", [campaignID]).first.map(
                    CampaignStore.campaign)
            else {
                return nil
            }
            var report = Report(campaign: campaign)
            for row in try connection.query(
                """
                SELECT status, reason, sum(messages) AS n, sum(cost_cents) AS cost FROM campaign_counts
                WHERE campaign_id = $1 GROUP BY status, reason HAVING sum(messages) <> 0
                """, [campaignID]
            ).rows {
                let status = try row.string("status")!, count = try row.int("n") ?? 0
                report.total += count
                report.byStatus[status, default: 0] += count
                if status == "skipped" { report.bySkipReason[try row.string("reason") ?? "", default: 0] += count }
                if ["sent", "delivered", "undelivered"].contains(status) { report.costCents += try row.int("cost") ?? 0 }
            }
            let receipts = ["delivered", "undelivered", "failed"].reduce(0) { $0 + (report.byStatus[$1] ?? 0) }
            if receipts > 0 { report.deliveryRate = Double(report.byStatus["delivered"] ?? 0) / Double(receipts) }
            report.sentPerMinute = try connection.query(
                """
                SELECT minute, sum(sent) AS n FROM campaign_sent_minutes
                WHERE campaign_id = $1 GROUP BY 1 HAVING sum(sent) <> 0 ORDER BY 1
                """, [campaignID]
            ).rows.map { Report.Minute(minute: Int64(try $0.int("minute") ?? 0), sent: try $0.int("n") ?? 0) }
            return report
        }
    }

    public struct Dashboard: Sendable, Encodable, Equatable {
        public var contacts = 0
        public var activeCampaigns = 0
        public var sentToday = 0
        public var deliveryRate7Days: Double?

        enum CodingKeys: String, CodingKey {
            case contacts, activeCampaigns = "active_campaigns", sentToday = "sent_today", deliveryRate7Days = "delivery_rate_7d"
        }
    }

    public func dashboard(tenantID: String) async throws -> Dashboard {
        try await pool.withConnection { connection in
            let row = try connection.query(
                """
                SELECT (SELECT count(*) FROM contacts WHERE tenant_id = $1) AS contacts,
                       (SELECT count(*) FROM campaigns WHERE tenant_id = $1 AND status IN ('running', 'paused')) AS active,
                       (SELECT count(*) FROM messages WHERE tenant_id = $1 AND sent_at >= date_trunc('day', now())) AS sent_today,
                       (SELECT count(*) FILTER (WHERE status = 'delivered') FROM messages
                         WHERE tenant_id = $1 AND sent_at >= now() - interval '7 days') AS delivered,
                       (SELECT count(*) FILTER (WHERE status IN ('delivered', 'undelivered', 'failed')) FROM messages
                         WHERE tenant_id = $1 AND sent_at >= now() - interval '7 days') AS receipts
                """, [tenantID]
            ).first!
            var dashboard = Dashboard(
                contacts: try row.int("contacts") ?? 0, activeCampaigns: try row.int("active") ?? 0,
                sentToday: try row.int("sent_today") ?? 0)
            let receipts = try row.int("receipts") ?? 0
            if receipts > 0 { dashboard.deliveryRate7Days = Double(try row.int("delivered") ?? 0) / Double(receipts) }
            return dashboard
        }
    }
}
