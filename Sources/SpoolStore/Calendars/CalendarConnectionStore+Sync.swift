import SpoolPostgres
import SpoolSupport

/// The state a `calendar-sync` job keeps between pages, so that a pass cut short by a crash resumes
/// (or restarts) without losing or doubling an appointment:
///
/// 1. `beginSync` starts a pass from the last complete pass's sync token (none: a full sync) with a new
///    generation, or takes up the pass in progress with its saved page and generation.
/// 2. For each page: `AppointmentStore.upsert` with the pass's generation, then `savePage` with the
///    next page token. A crash between the two fetches that page again, and its upsert changes nothing.
/// 3. `finishSync` stores the new sync token; a full pass also marks cancelled every appointment it did
///    not see (an older generation): the provider no longer has them.
/// 4. A 410 from the provider (the sync token expired): `resetForFullSync`, then `beginSync` again.
///
/// Every step after the first names the pass's generation and is refused (`.superseded`) once another
/// pass has begun or the connection was reset, so a job that lost its lease cannot write over a newer one.
extension CalendarConnectionStore {
    /// Starts or resumes the connection's sync pass (status `syncing`). Throws `.notFound` for no such
    /// live connection and `.needsReauth` when its refresh token was refused: nothing to sync with.
    public func beginSync(_ id: String) async throws -> CalendarSyncPass {
        try await pool.transaction { connection -> CalendarSyncPass in
            guard
                let row = try connection.query(
                    """
                    SELECT tenant_id, calendar_id, status, sync_generation, pass_started_at IS NOT NULL AS in_pass, pass_sync_token,
                           pass_page_token
                    FROM calendar_connections WHERE id = $1 AND disconnected_at IS NULL FOR UPDATE
                    """, [id]
                ).first
            else { throw Self.notFound(id) }
            let tenantID = try row.string("tenant_id")!
            let calendarID = try row.string("calendar_id")!
            if try row.enumeration("status", CalendarStatus.self) == .needsReauth {
                throw CalendarStoreError.needsReauth(
                    message: "calendar connection \(id) needs to be connected again (its refresh token was refused)")
            }
            if try row.bool("in_pass") == true {
                try connection.query("UPDATE calendar_connections SET status = 'syncing', updated_at = now() WHERE id = $1", [id])
                return CalendarSyncPass(
                    connectionID: id, tenantID: tenantID, calendarID: calendarID, syncToken: try row.string("pass_sync_token"),
                    pageToken: try row.string("pass_page_token"), generation: Int64(try row.int("sync_generation")!), resumed: true)
            }
            let started = try connection.query(
                """
                UPDATE calendar_connections SET sync_generation = sync_generation + 1, pass_started_at = now(), pass_sync_token = sync_token,
                       pass_page_token = NULL, status = 'syncing', updated_at = now()
                WHERE id = $1 RETURNING sync_generation, sync_token
                """, [id]
            ).first!
            return CalendarSyncPass(
                connectionID: id, tenantID: tenantID, calendarID: calendarID, syncToken: try started.string("sync_token"), pageToken: nil,
                generation: Int64(try started.int("sync_generation")!), resumed: false)
        }
    }

    /// Saves where the pass goes on from: the provider's `nextPageToken` after a page was upserted.
    public func savePage(_ id: String, nextPageToken: String, generation: Int64) async throws {
        let saved = try await pool.withConnection { connection in
            try connection.query(
                """
                UPDATE calendar_connections SET pass_page_token = $2, updated_at = now()
                WHERE id = $1 AND sync_generation = $3 AND pass_started_at IS NOT NULL AND disconnected_at IS NULL
                """, [id, nextPageToken, generation]
            ).affectedRows
        }
        if saved == 0 { throw Self.superseded(id, generation) }
    }

    /// Ends the pass: stores the provider's `nextSyncToken` for the next incremental sync, status `ok`,
    /// `last_synced_at` now, no error. With `fullSync` (the pass began without a sync token,
    /// `CalendarSyncPass.isFullSync`), every appointment this pass did not see is marked cancelled in the
    /// same transaction, and returned, so that their reminders can be cancelled.
    @discardableResult
    public func finishSync(_ id: String, nextSyncToken: String, generation: Int64, fullSync: Bool) async throws -> [AppointmentChange] {
        try await pool.transaction { connection -> [AppointmentChange] in
            guard
                try connection.query(
                    """
                    SELECT 1 FROM calendar_connections
                    WHERE id = $1 AND sync_generation = $2 AND pass_started_at IS NOT NULL AND disconnected_at IS NULL FOR UPDATE
                    """, [id, generation]
                ).first != nil
            else { throw Self.superseded(id, generation) }
            var gone: [AppointmentChange] = []
            if fullSync {
                gone = try connection.query(
                    """
                    UPDATE appointments SET status = 'cancelled', updated_at = now()
                    WHERE connection_id = $1 AND seen_generation < $2 AND status <> 'cancelled'
                    RETURNING \(Appointment.columns)
                    """, [id, generation]
                ).rows.map { row in
                    let appointment = try Appointment(row)
                    return AppointmentChange(kind: .cancelled, appointment: appointment, previousStartsAtMs: appointment.startsAtMs)
                }
            }
            // A connection whose token was refused at the last moment stays needs_reauth.
            try connection.query(
                """
                UPDATE calendar_connections SET sync_token = $2, pass_started_at = NULL, pass_sync_token = NULL, pass_page_token = NULL,
                       status = CASE WHEN status = 'needs_reauth' THEN status ELSE 'ok' END, last_synced_at = now(), last_error = NULL,
                       updated_at = now()
                WHERE id = $1
                """, [id, nextSyncToken])
            return gone
        }
    }

    /// Records a failed sync: status `error` and the message, cut to `maximumErrorCharacters` (a
    /// connection that needs re-authorisation keeps saying so, and why). The pass in progress is kept,
    /// for the next sync to resume. A connection disconnected meanwhile is left alone.
    public func recordError(_ id: String, message: String) async throws {
        let text = Self.clipped(message)
        try await pool.withConnection { connection -> Void in
            _ = try connection.query(
                """
                UPDATE calendar_connections SET status = CASE WHEN status = 'needs_reauth' THEN status ELSE 'error' END,
                       last_error = CASE WHEN status = 'needs_reauth' THEN last_error ELSE $2 END, updated_at = now()
                WHERE id = $1 AND disconnected_at IS NULL
                """, [id, text])
        }
    }

    /// Forgets the sync token and the pass in progress (the provider answered 410: the token expired):
    /// the next `beginSync` starts a full sync, with a new generation.
    public func resetForFullSync(_ id: String) async throws {
        let reset = try await pool.withConnection { connection in
            try connection.query(
                """
                UPDATE calendar_connections SET sync_token = NULL, pass_started_at = NULL, pass_sync_token = NULL, pass_page_token = NULL,
                       updated_at = now()
                WHERE id = $1 AND disconnected_at IS NULL
                """, [id]
            ).affectedRows
        }
        if reset == 0 { throw Self.notFound(id) }
    }

    static func superseded(_ id: String, _ generation: Int64) -> CalendarStoreError {
        CalendarStoreError.superseded(
            message:
                "calendar connection \(id.prefix(64)): sync pass \(generation) is no longer in progress (reset, superseded or disconnected)"
        )
    }
}
