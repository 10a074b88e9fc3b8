/// The SecretBox contexts of a calendar connection's tokens. A token sealed for one connection and
/// purpose opens only there: copied to another row, or from the refresh token's column to the access
/// token's hash, it fails to open.
public enum CalendarSecrets {
    /// The refresh token in the connection's row (PostgreSQL).
    public static func refreshTokenContext(connection id: String) -> String { "calendar:\(id):refresh" }
    /// The shared access token in Redis (`spool:oauth:{cal:<id>}`).
    public static func accessTokenContext(connection id: String) -> String { "calendar:\(id):access" }
}
