import SpoolSupport

/// A dashboard session: who signed in, when, until when, and the secret its forms' CSRF tokens are
/// made from. It lives only in the `spool_session` cookie, signed with HMAC-SHA256 under the
/// `DashboardSigningKey`, so the server keeps nothing per session and any API process can check it.
///
/// Its text is `<payload hex>.<signature hex>` (hex keeps it within a cookie's characters). The payload
/// is one field per line: the version, `operator` or `tenant`, the tenant id (empty for the operator),
/// the key's id (for the operator, a stamp of the operator key: see `DashboardSessions`), the issue and
/// expiry times (unix ms), and the CSRF secret in hex. The key itself is never in it.
struct DashboardSession: Sendable, Equatable {
    enum Holder: Sendable, Equatable {
        case `operator`(stamp: String)
        case tenant(id: String, keyID: String)
    }

    let holder: Holder
    let issuedAtMs: Int64
    let expiresAtMs: Int64
    let csrfSecret: [UInt8]

    static let lifetimeMs: Int64 = 8 * 3_600_000
    static let version = "spool-dashboard-session-v1"
    /// Far more than a session's text (about 450 bytes): longer cookies are refused before any work.
    static let maximumTextLength = 2048

    /// A session starting now, with a fresh random CSRF secret.
    static func starting(_ holder: Holder, nowMs: Int64) -> DashboardSession {
        var generator = SystemRandomNumberGenerator()
        let secret = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        return DashboardSession(holder: holder, issuedAtMs: nowMs, expiresAtMs: nowMs + lifetimeMs, csrfSecret: secret)
    }

    func signed(key: [UInt8]) -> String {
        let who: [String]
        switch holder {
        case .operator(let stamp): who = ["operator", "", stamp]
        case .tenant(let id, let keyID): who = ["tenant", id, keyID]
        }
        let fields = [Self.version] + who + [String(issuedAtMs), String(expiresAtMs), Hashing.hex(csrfSecret)]
        let payload = Array(fields.joined(separator: "\n").utf8)
        return Hashing.hex(payload) + "." + Hashing.hex(Hashing.hmacSHA256(key: key, message: payload))
    }

    /// The session `text` carries when its signature is good and it has not expired; nil otherwise
    /// (forged, altered, malformed or expired: the caller treats them all as no session).
    static func verify(_ text: String, key: [UInt8], nowMs: Int64) -> DashboardSession? {
        guard text.utf8.count <= maximumTextLength else { return nil }
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, let payload = CalendarConnectState.bytes(hex: parts[0]),
            let signature = CalendarConnectState.bytes(hex: parts[1]),
            Hashing.constantTimeEqual(signature, Hashing.hmacSHA256(key: key, message: payload))
        else { return nil }
        let fields = String(decoding: payload, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        guard fields.count == 7, fields[0] == version, let issued = Int64(fields[4]), let expires = Int64(fields[5]),
            let secret = CalendarConnectState.bytes(hex: fields[6]), secret.count == 32,
            expires - issued <= lifetimeMs, nowMs < expires
        else { return nil }
        let holder: Holder
        switch fields[1] {
        case "operator" where fields[2].isEmpty && !fields[3].isEmpty:
            holder = .operator(stamp: String(fields[3]))
        case "tenant" where !fields[2].isEmpty && !fields[3].isEmpty:
            holder = .tenant(id: String(fields[2]), keyID: String(fields[3]))
        default:
            return nil
        }
        return DashboardSession(holder: holder, issuedAtMs: issued, expiresAtMs: expires, csrfSecret: secret)
    }

    /// The CSRF token of a form that posts to `path`: HMAC-SHA256 of the path under this session's
    /// secret, so a token is good for one action of one session only.
    func csrfToken(for path: String) -> String {
        Hashing.hex(Hashing.hmacSHA256(key: csrfSecret, message: Array(path.utf8)))
    }

    /// Whether `token` is this session's token for `path`, compared in constant time.
    func acceptsCSRF(_ token: String?, for path: String) -> Bool {
        guard let token else { return false }
        return Hashing.constantTimeEqual(Array(token.utf8), Array(csrfToken(for: path).utf8))
    }
}
