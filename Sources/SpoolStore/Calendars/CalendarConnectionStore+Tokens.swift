import SpoolPostgres
import SpoolSupport

/// What the shared access-token broker needs of a connection (`CalendarTokenStore`): its
/// sealed refresh token, the rotated one stored back, and a refused one turned into `needs_reauth`.
/// Then its push channel: saved when made or renewed, found by a notification's channel id.
extension CalendarConnectionStore: CalendarTokenStore {
    /// The connection's refresh token, sealed (`SecretBox`, context `CalendarSecrets.refreshTokenContext(connection:)`). Throws
    /// `.notFound` for no such live connection, and `.needsReauth` once the provider refused it: it must
    /// not be sent again.
    public func sealedRefreshToken(connection id: String) async throws -> String {
        let found = try await pool.withConnection { connection -> StoredToken? in
            try connection.query("SELECT status, refresh_token FROM calendar_connections WHERE id = $1 AND disconnected_at IS NULL", [id])
                .first.map(StoredToken.init)
        }
        guard let found, let sealed = found.sealed else { throw Self.notFound(id) }
        guard found.status != .needsReauth else {
            throw CalendarStoreError.needsReauth(
                message: "calendar connection \(id) needs to be connected again (its refresh token was refused)")
        }
        return sealed
    }

    /// Stores the refresh token the provider rotated to, sealed. Throws `.notFound` for no such live
    /// connection (disconnected meanwhile: the new token is dropped with it).
    public func replaceRefreshToken(connection id: String, sealed: String) async throws {
        let replaced = try await pool.withConnection { connection in
            try connection.query(
                "UPDATE calendar_connections SET refresh_token = $2, updated_at = now() WHERE id = $1 AND disconnected_at IS NULL",
                [id, sealed]
            ).affectedRows
        }
        if replaced == 0 { throw Self.notFound(id) }
    }

    /// The provider refused the refresh token (`invalid_grant`): status `needs_reauth` with `reason` as
    /// the last error, its sync schedule paused, and an event `calendar.needs_reauth` (once, however many
    /// workers saw the refusal), in one transaction. No sync is scheduled until it is connected again.
    public func markNeedsReauth(connection id: String, reason: String) async throws {
        let text = Self.clipped(reason)
        try await pool.transaction { connection -> Void in
            guard
                let row = try connection.query(
                    "SELECT tenant_id, status, schedule_id FROM calendar_connections WHERE id = $1 AND disconnected_at IS NULL FOR UPDATE",
                    [id]
                ).first
            else { throw Self.notFound(id) }
            try connection.query(
                "UPDATE calendar_connections SET status = 'needs_reauth', last_error = $2, updated_at = now() WHERE id = $1", [id, text])
            if let scheduleID = try row.string("schedule_id") {
                try connection.query("UPDATE schedules SET paused = true, updated_at = now() WHERE id = $1", [scheduleID])
            }
            if try row.enumeration("status", CalendarStatus.self) != .needsReauth {
                try Self.recordEvent(
                    connection, tenant: try row.string("tenant_id")!, kind: "calendar.needs_reauth", connectionID: id,
                    fields: ["reason": .string(text)])
            }
        }
    }

    // MARK: - Push channels

    /// Saves the connection's channel, made or renewed (replacing the one before). Throws `.notFound`
    /// for no such live connection.
    public func saveChannel(_ id: String, _ channel: CalendarWatchChannel) async throws {
        let saved = try await pool.withConnection { connection in
            try connection.query(
                """
                UPDATE calendar_connections SET watch_channel_id = $2, watch_token = $3, watch_resource_id = $4,
                       watch_expires_at = 'epoch'::timestamptz + $5::bigint * interval '1 millisecond', updated_at = now()
                WHERE id = $1 AND disconnected_at IS NULL
                """, [id, channel.channelID, channel.token, channel.resourceID, channel.expiresAtMs]
            ).affectedRows
        }
        if saved == 0 { throw Self.notFound(id) }
    }

    /// Forgets the connection's channel (stopped, or expired without renewal).
    public func clearChannel(_ id: String) async throws {
        try await pool.withConnection { connection -> Void in
            _ = try connection.query(
                """
                UPDATE calendar_connections SET watch_channel_id = NULL, watch_token = NULL, watch_resource_id = NULL, watch_expires_at = NULL,
                       updated_at = now()
                WHERE id = $1
                """, [id])
        }
    }

    /// The live connection a push notification's channel id names, with the token the notification must
    /// carry; nil when no live connection has that channel (an old or forged one).
    public func connection(forChannel channelID: String) async throws -> CalendarChannelOwner? {
        guard !channelID.utf8.contains(0) else { return nil }
        return try await pool.withConnection { connection in
            try connection.query(
                "SELECT \(Self.channelColumns) FROM calendar_connections WHERE watch_channel_id = $1 AND disconnected_at IS NULL",
                [channelID]
            ).first.map(Self.channelOwner)
        }
    }

    /// The live connection's channel; nil when it has none (or no such live connection).
    public func channel(of id: String) async throws -> CalendarWatchChannel? {
        try await pool.withConnection { connection in
            try connection.query(
                "SELECT \(Self.channelColumns) FROM calendar_connections WHERE id = $1 AND disconnected_at IS NULL AND watch_channel_id IS NOT NULL",
                [id]
            ).first.map { try Self.channelOwner($0).channel }
        }
    }

    /// Live connections whose channel expires before `beforeMs` (unix ms), soonest first: the ones to renew.
    public func channelsExpiring(beforeMs: Int64, limit: Int = 100) async throws -> [CalendarChannelOwner] {
        try await pool.withConnection { connection in
            try connection.query(
                """
                SELECT \(Self.channelColumns) FROM calendar_connections
                WHERE disconnected_at IS NULL AND watch_expires_at IS NOT NULL
                  AND watch_expires_at < 'epoch'::timestamptz + $1::bigint * interval '1 millisecond'
                ORDER BY watch_expires_at LIMIT $2
                """, [beforeMs, limit]
            ).rows.map(Self.channelOwner)
        }
    }

    static let channelColumns = """
        id, tenant_id, status, watch_channel_id, watch_token, watch_resource_id,
        (extract(epoch FROM watch_expires_at) * 1000)::bigint AS watch_expires_at_ms
        """

    static func channelOwner(_ row: PostgresRow) throws -> CalendarChannelOwner {
        CalendarChannelOwner(
            connectionID: try row.string("id")!, tenantID: try row.string("tenant_id")!,
            status: try row.enumeration("status", CalendarStatus.self)!,
            channel: CalendarWatchChannel(
                channelID: try row.string("watch_channel_id")!, token: try row.string("watch_token") ?? "",
                resourceID: try row.string("watch_resource_id"), expiresAtMs: Int64(try row.int("watch_expires_at_ms") ?? 0)))
    }

    private struct StoredToken: Sendable {
        let status: CalendarStatus
        let sealed: String?
        init(_ row: PostgresRow) throws {
            status = try row.enumeration("status", CalendarStatus.self)!
            sealed = try row.string("refresh_token")
        }
    }
}
