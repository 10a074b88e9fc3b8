/// What the shared access token of a calendar connection needs from the connection's row: its sealed
/// refresh token, a way to replace it when the provider rotates it, and a way to stop the connection
/// when the provider refuses it. The PostgreSQL store of calendar connections conforms to it; tests
/// use one in memory.
public protocol CalendarTokenStore: Sendable {
    /// The connection's sealed refresh token (SecretBox, context "calendar:<id>:refresh").
    func sealedRefreshToken(connection id: String) async throws -> String
    /// Replaces it after the provider rotated it.
    func replaceRefreshToken(connection id: String, sealed: String) async throws
    /// invalid_grant: the connection needs a person to reconnect it; no more syncs.
    func markNeedsReauth(connection id: String, reason: String) async throws
}
