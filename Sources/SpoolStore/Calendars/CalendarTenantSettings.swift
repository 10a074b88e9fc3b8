import SpoolPostgres
import SpoolSupport

/// A tenant's calendar settings in one place: how often its calendars sync, and its reminders
/// (`ReminderSettingsStore`). What `GET|PUT /v1/calendars/settings` and `spool calendar settings` show.
public struct CalendarTenantSettings: Sendable, Equatable {
    /// The tenant's own sync interval; nil: the deployment's (SPOOL_CALENDAR_SYNC_EVERY).
    public var syncEverySeconds: Int?
    public var reminders: ReminderSettings

    public var json: JSONValue {
        guard case .object(var fields) = reminders.json else { return reminders.json }
        fields["sync_every_seconds"] = syncEverySeconds.map { .number(Double($0)) } ?? .null
        return .object(fields)
    }
}

extension CalendarConnectionStore {
    /// The tenant's settings; throws `.invalid(field: "tenant")` for no such tenant.
    public func settings(tenant: String) async throws -> CalendarTenantSettings {
        guard let reminders = try await ReminderSettingsStore(pool: pool).settings(tenant: tenant) else {
            throw CalendarStoreError.invalid(field: "tenant", message: "tenant: no tenant '\(tenant.prefix(64))'")
        }
        let seconds = try await pool.withConnection { connection in
            try connection.query("SELECT calendar_sync_every_seconds FROM tenants WHERE id = $1", [tenant]).first?.int(
                "calendar_sync_every_seconds")
        }
        return CalendarTenantSettings(syncEverySeconds: seconds, reminders: reminders)
    }

    /// Changes the tenant's reminders (`ReminderSettingsStore.update`): each argument given.
    public func updateReminders(tenant: String, leadsMinutes: [Int]?, template: String?, from: ReminderSender) async throws {
        guard leadsMinutes != nil || template != nil || from != .keep else { return }
        _ = try await ReminderSettingsStore(pool: pool).update(tenant: tenant, leadsMinutes: leadsMinutes, template: template, from: from)
    }

    /// Sets how often the tenant's calendars sync (nil: the deployment's interval again), 1 minute to 1
    /// day, and moves the schedules of its connections to it at once: each one's next tick comes no
    /// later than one new interval from now.
    public func setSyncEvery(tenant: String, seconds: Int?) async throws {
        if let seconds, !(60...86_400).contains(seconds) {
            throw CalendarStoreError.invalid(
                field: "sync_every", message: "sync_every: \(seconds) s is out of range; from 1 minute to 1 day (60 to 86400 seconds)")
        }
        let everyMs = Int64(seconds ?? Int(syncEvery.seconds)) * 1000
        try await pool.transaction { connection -> Void in
            guard try connection.query("UPDATE tenants SET calendar_sync_every_seconds = $2 WHERE id = $1", [tenant, seconds]).affectedRows == 1
            else { throw CalendarStoreError.invalid(field: "tenant", message: "tenant: no tenant '\(tenant.prefix(64))'") }
            try connection.query(
                """
                UPDATE schedules s SET every_ms = $2::bigint, jitter_ms = LEAST($2::bigint / 10, 60000)::integer,
                       next_run_ms = LEAST(s.next_run_ms, (extract(epoch FROM clock_timestamp()) * 1000)::bigint + $2::bigint), updated_at = now()
                FROM calendar_connections c
                WHERE c.tenant_id = $1 AND c.disconnected_at IS NULL AND s.id = c.schedule_id AND s.source = 'builtin'
                """, [tenant, everyMs])
        }
    }
}
