import SpoolPostgres
import SpoolQueue
import SpoolSupport

/// A tenant's connected calendars (`calendar_connections`, migration 0016): connected, listed, shown
/// and disconnected here, synced through `beginSync`/`savePage`/`finishSync`
/// (CalendarConnectionStore+Sync), and their refresh tokens read, rotated and revoked through the
/// three methods the token broker needs (CalendarConnectionStore+Tokens).
///
/// 1. `create` stores a connection with its sealed refresh token and, in the same transaction, the
///    builtin schedule that syncs it (source `builtin`, kind `calendar-sync`, args `{"connection": id}`,
///    every `calendar_sync_every_seconds` of its tenant, else `syncEvery`). Connecting a calendar whose
///    live connection needs re-authorisation reconnects that one instead: a new token, status `ok`,
///    its schedule resumed, its sync token kept.
/// 2. `markNeedsReauth` pauses the schedule; `disconnect` deletes it, wipes the token and cancels the
///    connection's planned reminders.
///
/// With a `tenant`, only that tenant's connections are found: another tenant's is not found, as the API
/// answers 404 for it. With nil (the operator and Spool's own jobs), any tenant's.
public struct CalendarConnectionStore: Sendable {
    let pool: PostgresPool
    let enqueuer: Enqueuer?
    let clock: any WallClock
    /// How often a connection is synced when its tenant sets nothing (SPOOL_CALENDAR_SYNC_EVERY).
    public var syncEvery: ScheduleInterval

    public static let defaultSyncEvery = try! ScheduleInterval(seconds: 300)
    /// The kind that syncs a connection, and its schedule's.
    public static let syncKind = "calendar-sync"
    /// The longest error text kept (`last_error`); a provider's answer can be long.
    public static let maximumErrorCharacters = 2000
    /// The most connections `list` returns.
    public static let maximumList = 1000

    /// `enqueuer` is needed to connect (the sync schedule is checked as its jobs will be enqueued) and by
    /// `ensureSchedule`; syncing, tokens and reading need only PostgreSQL.
    public init(
        pool: PostgresPool, enqueuer: Enqueuer? = nil, syncEvery: ScheduleInterval = CalendarConnectionStore.defaultSyncEvery,
        clock: any WallClock = SystemClock()
    ) {
        self.pool = pool
        self.enqueuer = enqueuer
        self.syncEvery = syncEvery
        self.clock = clock
    }

    /// Enqueues a sync of the connection now, as Spool: its first on connecting (which also opens its
    /// push channel), or one asked for. The kind's `unique` option folds it into a sync already waiting.
    public func syncNow(_ id: String, tenant: String) async throws -> EnqueueResult {
        guard let enqueuer else { preconditionFailure("CalendarConnectionStore needs an Enqueuer to enqueue syncs") }
        return try await enqueuer.enqueue(EnqueueRequest(kind: Self.syncKind, args: Self.syncArgs(id), tenant: tenant))
    }

    /// The arguments of a connection's `calendar-sync` jobs, as JSON text.
    public static func syncArgs(_ connectionID: String) -> String { JSONValue.object(["connection": .string(connectionID)]).text }

    static func makeID(now: Int64) -> String { "cal_" + JobID.make(now: now).lowercased() }

    static func scheduleName(_ connectionID: String) -> String { "calendar-sync \(connectionID)" }

    // MARK: - Connecting

    /// Connects `calendarID` for `tenant` and returns the connection's id.
    /// - Parameters:
    ///   - sealedRefreshToken: seals the refresh token for the connection id it is given
    ///     (`SecretBox.seal(token, context: CalendarSecrets.refreshTokenContext(connection: id))`): the id is only known here, and
    ///     is the existing connection's when this reconnects one.
    /// Throws `CalendarStoreError.invalid` naming `calendar_id` or `tenant` (none such), `.duplicate`
    /// when the tenant has this calendar connected already (and it does not need re-authorisation).
    public func create(
        tenant: String, calendarID: String, sealedRefreshToken: @escaping @Sendable (_ connectionID: String) -> String
    ) async throws -> String {
        try Self.checkCalendarID(calendarID)
        try Self.checkTenant(tenant)
        let existing = try await pool.withConnection { connection -> LiveConnection? in
            try connection.query(
                """
                SELECT id, status FROM calendar_connections
                WHERE tenant_id = $1 AND provider = 'google' AND calendar_id = $2 AND disconnected_at IS NULL
                """, [tenant, calendarID]
            ).first.map(LiveConnection.init)
        }
        if let existing {
            guard existing.status == .needsReauth else { throw Self.duplicate(tenant: tenant, calendarID: calendarID, id: existing.id) }
            try await reconnect(existing.id, tenant: tenant, calendarID: calendarID, sealedRefreshToken: sealedRefreshToken)
            return existing.id
        }
        let now = clock.nowMillis()
        let id = Self.makeID(now: now)
        let scheduleID = ScheduleStore.makeID(now: now)
        let checked = try await syncSchedule(for: id, tenant: tenant)
        let sealed = sealedRefreshToken(id)
        do {
            try await pool.transaction { connection -> Void in
                _ = try ScheduleStore.insert(checked, id: scheduleID, tenantID: tenant, producer: .spool, source: .builtin, connection)
                try connection.query(
                    "INSERT INTO calendar_connections (id, tenant_id, calendar_id, refresh_token, schedule_id) VALUES ($1, $2, $3, $4, $5)",
                    [id, tenant, calendarID, sealed, scheduleID])
                try Self.recordEvent(connection, tenant: tenant, kind: "calendar.connected", connectionID: id)
            }
        } catch let error as PostgresError where error.isUniqueViolation {
            // Connected by another request at the same moment.
            throw Self.duplicate(tenant: tenant, calendarID: calendarID, id: nil)
        }
        return id
    }

    /// A new refresh token for a connection that needs re-authorisation, then its schedule resumed.
    private func reconnect(
        _ id: String, tenant: String, calendarID: String, sealedRefreshToken: @escaping @Sendable (String) -> String
    ) async throws {
        let sealed = sealedRefreshToken(id)
        let reconnected = try await pool.transaction { connection -> Bool in
            guard
                let row = try connection.query(
                    "SELECT status FROM calendar_connections WHERE id = $1 AND disconnected_at IS NULL FOR UPDATE", [id]
                ).first,
                try row.enumeration("status", CalendarStatus.self) == .needsReauth
            else { return false }
            // Its sync token and any pass in progress are kept: the next sync carries on where the last stopped.
            try connection.query(
                "UPDATE calendar_connections SET refresh_token = $2, status = 'ok', last_error = NULL, updated_at = now() WHERE id = $1",
                [id, sealed])
            try Self.recordEvent(connection, tenant: tenant, kind: "calendar.reconnected", connectionID: id)
            return true
        }
        // Reconnected (or disconnected) by another request meanwhile.
        guard reconnected else { throw Self.duplicate(tenant: tenant, calendarID: calendarID, id: id) }
        try await ensureSchedule(id)
    }

    /// Makes sure a live connection that does not need re-authorisation has its sync schedule, running:
    /// resumes a paused one, makes a missing one (deleted by hand). Idempotent, and safe from several
    /// processes at once.
    public func ensureSchedule(_ id: String) async throws {
        let found = try await pool.withConnection { connection -> ScheduleLink? in
            try connection.query(
                """
                SELECT c.tenant_id, c.status, c.schedule_id, s.paused
                FROM calendar_connections c LEFT JOIN schedules s ON s.id = c.schedule_id
                WHERE c.id = $1 AND c.disconnected_at IS NULL
                """, [id]
            ).first.map(ScheduleLink.init)
        }
        guard let found else { throw Self.notFound(id) }
        // Paused until it is connected again.
        guard found.status != .needsReauth else { return }
        guard let enqueuer else { preconditionFailure("CalendarConnectionStore.ensureSchedule needs an Enqueuer") }
        if let scheduleID = found.scheduleID {
            if found.paused {
                try await ScheduleStore(pool: pool, enqueuer: enqueuer, clock: clock).setPaused(scheduleID, tenantID: nil, paused: false)
            }
            return
        }
        let checked = try await syncSchedule(for: id, tenant: found.tenantID)
        let scheduleID = ScheduleStore.makeID(now: clock.nowMillis())
        let tenant = found.tenantID
        try await pool.transaction { connection -> Void in
            // Under the row's lock: another caller that made one first is seen here, and this one makes none.
            guard
                let row = try connection.query(
                    "SELECT schedule_id FROM calendar_connections WHERE id = $1 AND disconnected_at IS NULL FOR UPDATE", [id]
                ).first,
                try row.string("schedule_id") == nil
            else { return }
            _ = try ScheduleStore.insert(checked, id: scheduleID, tenantID: tenant, producer: .spool, source: .builtin, connection)
            try connection.query("UPDATE calendar_connections SET schedule_id = $2, updated_at = now() WHERE id = $1", [id, scheduleID])
        }
    }

    /// The sync schedule of connection `id`, checked as its jobs will be enqueued (by Spool, as the tenant's).
    private func syncSchedule(for id: String, tenant: String) async throws -> ScheduleStore.Checked {
        guard let enqueuer else { preconditionFailure("CalendarConnectionStore needs an Enqueuer to schedule syncs") }
        let every = try await syncInterval(tenant: tenant)
        // Connections made together (an import, the bench) would otherwise sync in the same second forever.
        let jitterMs = Int(min(every.milliseconds / 10, 60_000))
        let request = ScheduleRequest(
            name: Self.scheduleName(id), kind: Self.syncKind, args: Self.syncArgs(id), every: every.description, timezone: "UTC",
            jitterMs: jitterMs)
        do {
            return try await ScheduleStore(pool: pool, enqueuer: enqueuer, clock: clock).check(request, tenantID: tenant, producer: .spool)
        } catch ScheduleStoreError.invalid(let field, let message) {
            if field == "tenant" { throw CalendarStoreError.invalid(field: "tenant", message: "tenant: \(message)") }
            // This deployment cannot run syncs (no calendar-sync kind declared): a configuration error.
            throw CalendarStoreError.invalid(field: field, message: "calendar syncs cannot be scheduled: \(field): \(message)")
        }
    }

    /// The tenant's sync interval (`tenants.calendar_sync_every_seconds`), else `syncEvery`.
    private func syncInterval(tenant: String) async throws -> ScheduleInterval {
        let found = try await pool.withConnection { connection -> TenantInterval? in
            try connection.query("SELECT calendar_sync_every_seconds FROM tenants WHERE id = $1", [tenant]).first.map(TenantInterval.init)
        }
        guard let found else { throw CalendarStoreError.invalid(field: "tenant", message: "tenant: no tenant '\(tenant.prefix(64))'") }
        guard let seconds = found.seconds else { return syncEvery }
        return try ScheduleInterval(seconds: Int64(seconds))
    }

    // MARK: - Reading

    /// Live connections, by tenant then age; the operator's `tenant` nil lists every tenant's.
    public func list(tenant: String?) async throws -> [CalendarConnection] {
        try await pool.withConnection { connection in
            try connection.query(
                """
                SELECT \(CalendarConnection.columns) FROM calendar_connections c
                WHERE c.disconnected_at IS NULL AND ($1::text IS NULL OR c.tenant_id = $1)
                ORDER BY c.tenant_id, c.created_at, c.id LIMIT $2
                """, [tenant, Self.maximumList]
            ).rows.map(CalendarConnection.init)
        }
    }

    /// The live connection, or nil when there is none (or it is another tenant's than `tenant`).
    public func get(_ id: String, tenant: String?) async throws -> CalendarConnection? {
        guard !id.utf8.contains(0) else { return nil }
        return try await pool.withConnection { connection in
            try connection.query(
                """
                SELECT \(CalendarConnection.columns) FROM calendar_connections c
                WHERE c.id = $1 AND c.disconnected_at IS NULL AND ($2::text IS NULL OR c.tenant_id = $2)
                """, [id, tenant]
            ).first.map(CalendarConnection.init)
        }
    }

    // MARK: - Disconnecting

    /// Disconnects it: marked disconnected, its refresh token wiped and its pass dropped, its schedule
    /// deleted, its planned reminders cancelled, and an event `calendar.disconnected`, in one
    /// transaction. Its appointments stay, as history. Throws `.notFound` for no such live connection,
    /// or another tenant's.
    @discardableResult
    public func disconnect(_ id: String, tenant: String?) async throws -> CalendarDisconnection {
        guard !id.utf8.contains(0) else { throw Self.notFound(id) }
        let done = try await pool.transaction { connection -> CalendarDisconnection? in
            guard
                let row = try connection.query(
                    """
                    SELECT tenant_id, schedule_id, watch_channel_id, watch_token, watch_resource_id,
                           (extract(epoch FROM watch_expires_at) * 1000)::bigint AS watch_expires_at_ms
                    FROM calendar_connections WHERE id = $1 AND disconnected_at IS NULL AND ($2::text IS NULL OR tenant_id = $2)
                    FOR UPDATE
                    """, [id, tenant]
                ).first
            else { return nil }
            let tenantID = try row.string("tenant_id")!
            try connection.query(
                """
                UPDATE calendar_connections SET disconnected_at = now(), refresh_token = NULL, schedule_id = NULL, pass_started_at = NULL,
                       pass_sync_token = NULL, pass_page_token = NULL, updated_at = now()
                WHERE id = $1
                """, [id])
            if let scheduleID = try row.string("schedule_id") {
                try connection.query("DELETE FROM schedules WHERE id = $1", [scheduleID])
            }
            let jobs = try connection.query(
                """
                UPDATE appointment_reminders SET status = 'cancelled', updated_at = now()
                WHERE connection_id = $1 AND status = 'scheduled' RETURNING job_id
                """, [id]
            ).rows.compactMap { try $0.string("job_id") }
            try Self.recordEvent(connection, tenant: tenantID, kind: "calendar.disconnected", connectionID: id)
            var channel: CalendarWatchChannel?
            if let channelID = try row.string("watch_channel_id"), let token = try row.string("watch_token") {
                channel = CalendarWatchChannel(
                    channelID: channelID, token: token, resourceID: try row.string("watch_resource_id"),
                    expiresAtMs: Int64(try row.int("watch_expires_at_ms") ?? 0))
            }
            return CalendarDisconnection(connectionID: id, tenantID: tenantID, reminderJobIDs: jobs, channel: channel)
        }
        guard let done else { throw Self.notFound(id) }
        return done
    }

    // MARK: - Checks and rows

    /// A calendar id the provider could have: 1 to 1024 bytes, without control characters.
    public static func checkCalendarID(_ calendarID: String) throws(CalendarStoreError) {
        let bytes = calendarID.utf8.count
        guard (1...1024).contains(bytes) else {
            throw CalendarStoreError.invalid(field: "calendar_id", message: "calendar_id: must be 1 to 1024 bytes, got \(bytes)")
        }
        guard !calendarID.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw CalendarStoreError.invalid(
                field: "calendar_id", message: "calendar_id: \(calendarID.prefix(80).debugDescription) contains a control character")
        }
    }

    static func checkTenant(_ tenant: String) throws(CalendarStoreError) {
        guard (1...128).contains(tenant.utf8.count), !tenant.unicodeScalars.contains(where: { $0.properties.generalCategory == .control })
        else {
            throw CalendarStoreError.invalid(
                field: "tenant", message: "tenant: expected a tenant id, got \(tenant.prefix(64).debugDescription)")
        }
    }

    static func notFound(_ id: String) -> CalendarStoreError {
        CalendarStoreError.notFound(message: "calendar connection \(id.prefix(64)) not found")
    }

    static func duplicate(tenant: String, calendarID: String, id: String?) -> CalendarStoreError {
        CalendarStoreError.duplicate(
            message: "calendar_id: tenant \(tenant.prefix(64)) has calendar '\(calendarID.prefix(80))' connected already"
                + (id.map { " (\($0))" } ?? "") + "; disconnect it first")
    }

    /// Appends to the tenant's event log (`events`), in the caller's transaction.
    static func recordEvent(
        _ connection: PostgresConnection, tenant: String, kind: String, connectionID: String, fields: [String: JSONValue] = [:]
    ) throws {
        var payload = fields
        payload["connection_id"] = .string(connectionID)
        try connection.query(
            "INSERT INTO events (tenant_id, kind, payload) VALUES ($1, $2, $3::jsonb)", [tenant, kind, JSONValue.object(payload).text])
    }

    /// `text` cut to `maximumErrorCharacters`, without NUL bytes (which text columns cannot hold).
    static func clipped(_ text: String) -> String {
        let clean = text.utf8.contains(0) ? text.replacing("\u{0}", with: "") : text
        guard clean.unicodeScalars.count > maximumErrorCharacters else { return clean }
        var scalars = String.UnicodeScalarView()
        scalars.append(contentsOf: clean.unicodeScalars.prefix(maximumErrorCharacters))
        return String(scalars)
    }

    private struct LiveConnection: Sendable {
        let id: String
        let status: CalendarStatus
        init(_ row: PostgresRow) throws {
            id = try row.string("id")!
            status = try row.enumeration("status", CalendarStatus.self)!
        }
    }

    private struct ScheduleLink: Sendable {
        let tenantID: String
        let status: CalendarStatus
        let scheduleID: String?
        let paused: Bool
        init(_ row: PostgresRow) throws {
            tenantID = try row.string("tenant_id")!
            status = try row.enumeration("status", CalendarStatus.self)!
            scheduleID = try row.string("schedule_id")
            paused = try row.bool("paused") ?? false
        }
    }

    private struct TenantInterval: Sendable {
        let seconds: Int?
        init(_ row: PostgresRow) throws { seconds = try row.int("calendar_sync_every_seconds") }
    }
}
