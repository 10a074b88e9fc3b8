/// What a provider's answer means for the job that asked, in the one vocabulary the settle step knows.
public enum ProviderVerdict: Sendable, Equatable {
    /// It worked.
    case success
    /// Worth trying again: a 5xx, a timeout, a dropped connection. `after` is the provider's own
    /// Retry-After when it sent one; otherwise the kind's backoff decides.
    case retryable(reason: String, after: Duration?)
    /// Not now: the provider's limit is spent until `untilMs` (unix ms). Uses no attempt.
    case rateLimited(untilMs: Int64, reason: String)
    /// The credentials are expired or revoked: refresh them and try once more.
    case authExpired(reason: String)
    /// Will never succeed as asked: an invalid number, an opted-out recipient, a spent quota.
    /// `code` is the provider's own error code ("21211", "insufficient_quota") or `http_<status>`.
    case permanent(code: String, reason: String)

    public var isSuccess: Bool { self == .success }
}
