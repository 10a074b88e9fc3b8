import SpoolPostgres
import SpoolSupport

/// Where a connected calendar stands (`calendar_connections.status`).
public enum CalendarStatus: String, Sendable, Codable, CaseIterable {
    /// Synced, or waiting for its next sync.
    case ok
    /// A sync pass is in progress, or was cut short and the next sync resumes it.
    case syncing
    /// The provider refused the refresh token (`invalid_grant`): nothing is synced, and its schedule is
    /// paused, until someone connects the calendar again.
    case needsReauth = "needs_reauth"
    /// The last sync failed (`lastError`); the next one may succeed.
    case error
}

/// One live calendar connection as `spool calendar show` and `GET /v1/calendars/{id}` show it. The
/// tokens never leave the store's token methods. Times are unix milliseconds.
public struct CalendarConnection: Sendable, Equatable {
    /// Who hosts a connected calendar. Google only, for now; the column says so, so that another
    /// provider is a new case rather than a migration of every row.
    public enum Provider: String, Sendable, Codable, CaseIterable {
        case google
    }

    public let id: String
    public let tenantID: String
    public let provider: Provider
    /// The provider's calendar id: `primary`, or an address such as `team@group.calendar.google.com`.
    public let calendarID: String
    public let status: CalendarStatus
    /// Its appointments that are not cancelled.
    public let appointments: Int
    public let lastSyncedAtMs: Int64?
    public let lastError: String?
    /// The builtin schedule that syncs it periodically; nil when it has none (deleted by hand).
    public let scheduleID: String?
    /// When its push-notification channel expires; nil: it has none.
    public let watchExpiresAtMs: Int64?
    public let createdAtMs: Int64

    /// The API's and `--json`'s shape; times are RFC 3339 UTC.
    public var json: JSONValue {
        func time(_ ms: Int64?) -> JSONValue { ms.map { .string(CivilTime(unixMillis: $0).rfc3339) } ?? .null }
        func text(_ value: String?) -> JSONValue { value.map(JSONValue.string) ?? .null }
        return .object([
            "id": .string(id), "tenant": .string(tenantID), "provider": .string(provider.rawValue), "calendar_id": .string(calendarID),
            "status": .string(status.rawValue), "appointments": .number(Double(appointments)), "last_synced_at": time(lastSyncedAtMs),
            "last_error": text(lastError), "schedule_id": text(scheduleID), "watch_expires_at": time(watchExpiresAtMs),
            "created_at": .string(CivilTime(unixMillis: createdAtMs).rfc3339),
        ])
    }

    /// The columns `init(_:)` reads, from `calendar_connections c`, with the appointment count.
    static let columns = """
        c.id, c.tenant_id, c.provider, c.calendar_id, c.status, c.last_error, c.schedule_id,
        (extract(epoch FROM c.last_synced_at) * 1000)::bigint AS last_synced_at_ms,
        (extract(epoch FROM c.watch_expires_at) * 1000)::bigint AS watch_expires_at_ms,
        (extract(epoch FROM c.created_at) * 1000)::bigint AS created_at_ms,
        (SELECT count(*) FROM appointments a WHERE a.connection_id = c.id AND a.status <> 'cancelled') AS appointments
        """

    init(_ row: PostgresRow) throws {
        id = try row.string("id")!
        tenantID = try row.string("tenant_id")!
        provider = try row.enumeration("provider", Provider.self)!
        calendarID = try row.string("calendar_id")!
        status = try row.enumeration("status", CalendarStatus.self)!
        appointments = try row.int("appointments") ?? 0
        lastSyncedAtMs = try row.int("last_synced_at_ms").map(Int64.init)
        lastError = try row.string("last_error")
        scheduleID = try row.string("schedule_id")
        watchExpiresAtMs = try row.int("watch_expires_at_ms").map(Int64.init)
        createdAtMs = Int64(try row.int("created_at_ms")!)
    }
}

/// What disconnecting left for the caller to undo outside PostgreSQL.
public struct CalendarDisconnection: Sendable, Equatable {
    public let connectionID: String
    public let tenantID: String
    /// The delayed jobs of the reminders it cancelled, to cancel in the queue too (their rows say
    /// `cancelled` already, so a job that runs anyway sends nothing).
    public let reminderJobIDs: [String]
    /// Its push channel, to stop at the provider; nil: it had none.
    public let channel: CalendarWatchChannel?
}
