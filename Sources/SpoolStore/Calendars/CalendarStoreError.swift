/// Why a calendar request was refused; nothing changed. The API answers 422, 409 (duplicate,
/// needs_reauth, superseded) and 404.
public enum CalendarStoreError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The input is wrong; `field` names it, and `message` starts with it.
    case invalid(field: String, message: String)
    /// The tenant has this calendar connected already.
    case duplicate(message: String)
    /// No such live connection, or another tenant's.
    case notFound(message: String)
    /// The connection's refresh token was refused: it must be connected again first.
    case needsReauth(message: String)
    /// The sync pass named is no longer the connection's (reset for a full sync, or another began).
    case superseded(message: String)

    public var description: String {
        switch self {
        case .invalid(_, let message), .duplicate(let message), .notFound(let message), .needsReauth(let message),
            .superseded(let message):
            message
        }
    }
}
