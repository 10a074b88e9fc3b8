/// Ids and cursors the dashboard reads from its paths and queries (a schedule's id, a tenant's, a
/// schedule's name in a cursor). What cannot be one (too long, or with a control character such as a
/// NUL, which PostgreSQL cannot take) is answered 404 without a query, as the API answers it.
enum DashboardID {
    /// An id: 1-128 bytes without control characters.
    static func isPlausible(_ id: String) -> Bool {
        !id.isEmpty && isClean(id, maxBytes: 128)
    }

    /// Text of at most `maxBytes` bytes without control characters (empty allowed).
    static func isClean(_ text: String, maxBytes: Int) -> Bool {
        text.utf8.count <= maxBytes && !text.utf8.contains(where: { $0 < 0x20 || $0 == 0x7f })
    }
}
