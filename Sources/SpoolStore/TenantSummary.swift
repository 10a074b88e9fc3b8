import SpoolPostgres
import SpoolSupport

/// A tenant as the dashboard's tenants page lists it: its row, who pulled its kill switch, what it
/// has spent against its budget caps today and this month (UTC, as the send job books it in
/// `budget_spend`), and how many sender numbers it holds.
public struct TenantSummary: Sendable, Equatable {
    public var tenant: Tenant
    /// nil while it runs.
    public var pausedBy: TenantStore.Actor?
    public var spentTodayCents: Int
    public var spentThisMonthCents: Int
    public var numbers: Int
}

extension TenantStore {
    /// Up to `limit` tenants by id after `after` (from the first when nil), each with its spend and
    /// its numbers: one statement, a range of the primary key, and per tenant two primary-key reads
    /// of `budget_spend` and a count on the index `sender_numbers_tenant_id`.
    public func summaries(after: String?, limit: Int, nowMs: Int64) async throws -> [TenantSummary] {
        let day = CivilTime.date(nowMs)
        let month = String(day.prefix(8)) + "01"
        return try await pool.withConnection { connection in
            try connection.query(
                """
                SELECT \(Self.columns), paused_by,
                    coalesce((SELECT spent_cents FROM budget_spend s
                              WHERE s.tenant_id = tenants.id AND s.period = 'day' AND s.starts = $2::date), 0) AS spent_day,
                    coalesce((SELECT spent_cents FROM budget_spend s
                              WHERE s.tenant_id = tenants.id AND s.period = 'month' AND s.starts = $3::date), 0) AS spent_month,
                    (SELECT count(*) FROM sender_numbers n WHERE n.tenant_id = tenants.id) AS numbers
                FROM tenants WHERE id > $1 ORDER BY id LIMIT $4
                """, [after ?? "", day, month, limit]
            ).rows.map { row in
                TenantSummary(
                    tenant: try Self.tenant(row), pausedBy: try row.enumeration("paused_by", TenantStore.Actor.self),
                    spentTodayCents: try row.int("spent_day") ?? 0, spentThisMonthCents: try row.int("spent_month") ?? 0,
                    numbers: try row.int("numbers") ?? 0)
            }
        }
    }
}
