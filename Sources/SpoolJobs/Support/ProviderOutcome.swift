import SpoolHTTP
import SpoolQueue

extension ProviderVerdict {
    /// The job outcome for a provider's answer, the one mapping every handler uses:
    /// - rate-limited (429, Retry-After, a spent x-ratelimit window) → `throttled`: the job's limiter
    ///   `limit` (a declared template; nil for all its rate limits) pauses for every process until
    ///   then, and the job waits without using an attempt;
    /// - a spent account quota (`insufficient_quota` ...) → `quotaExhausted`: the queue pauses with an alert;
    /// - retryable (5xx, timeouts, dropped connections) → `retry`, after the provider's Retry-After if any;
    /// - expired credentials that a refresh did not fix, and every other refusal → `dead` with the code.
    /// `success` maps to `completed`; handlers usually act on success themselves first.
    public func outcome(limit: String? = nil) -> JobOutcome {
        switch self {
        case .success:
            return .completed
        case .retryable(let reason, let after):
            return .retry(error: reason, delay: after)
        case .rateLimited(let until, let reason):
            return .throttled(until: until, reason: reason, limit: limit)
        case .authExpired(let reason):
            return .dead(reason: "credentials refused after a refresh: \(reason)")
        case .permanent(let code, let reason):
            if ProviderClassifier.quotaCodes.contains(code) { return .quotaExhausted(reason: "\(code): \(reason)") }
            return .dead(reason: "provider refused (\(code)): \(reason)")
        }
    }
}
