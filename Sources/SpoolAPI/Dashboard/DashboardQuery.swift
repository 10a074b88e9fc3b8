import SpoolHTTP

/// The query string of a link the dashboard makes (a flash after an action, the next page): each
/// value percent-encoded, a space as `%20`, since Hummingbird's query reader takes `+` as itself.
enum DashboardQuery {
    static func encode(_ fields: [(String, String)]) -> String {
        fields.map { escape($0.0) + "=" + escape($0.1) }.joined(separator: "&")
    }

    /// `FormEncoding.escape` writes a space as `+` and a `+` as `%2B`: every `+` it writes is a space.
    static func escape(_ text: String) -> String {
        FormEncoding.escape(text).split(separator: "+", omittingEmptySubsequences: false).joined(separator: "%20")
    }
}
