import SpoolPostgres

/// Where a page of schedules starts: after the schedule of `owner` (a tenant id, or "" for the
/// operator's) named `name`, in the order of the index `schedules_owner_name`.
public struct ScheduleCursor: Sendable, Equatable {
    public let owner: String
    public let name: String

    public init(owner: String, name: String) {
        self.owner = owner
        self.name = name
    }

    /// The cursor that starts the page after `schedule`.
    public init(after schedule: Schedule) {
        self.init(owner: schedule.tenantID ?? "", name: schedule.name)
    }
}

extension ScheduleStore {
    /// Up to `limit` of the owner's schedules after `cursor` (from the first without one): the
    /// operator's first, then by tenant id, each owner's by name. `tenantID` nil is the operator, who
    /// sees every one. One range read of the index `schedules_owner_name`, however many there are:
    /// what the dashboard pages through, where `list` sorts them all.
    public func page(tenantID: String?, after cursor: ScheduleCursor?, limit: Int) async throws -> [Schedule] {
        let owner = cursor?.owner ?? ""
        let name = cursor?.name ?? ""
        return try await pool.withConnection { connection in
            try connection.query(
                """
                SELECT \(Schedule.columns) FROM schedules
                WHERE ($1::text IS NULL OR coalesce(tenant_id, '') = $1) AND (coalesce(tenant_id, ''), name) > ($2::text, $3::text)
                ORDER BY coalesce(tenant_id, ''), name LIMIT $4
                """, [tenantID, owner, name, limit]
            ).rows.map(Schedule.init)
        }
    }
}
