/// What a handler says happened. Only the `Acker` turns an outcome into a change in Redis.
public enum JobOutcome: Sendable, Equatable {
    /// Done; `result` is kept with the job for status queries. `followUps` are enqueued exactly once,
    /// with the completion (see FollowUp), carrying this job's tenant and its id as their parent.
    case completed(result: String? = nil, followUps: [FollowUp] = [])
    /// Failed in a way worth trying again, after `delay` or the kind's backoff when nil.
    case retry(error: String, delay: Duration? = nil)
    /// Not now, and not a failure: runs again at `until` (unix ms) without using an attempt.
    case snooze(until: Int64, reason: String)
    /// Will never succeed: straight to the dead set with the reason.
    case dead(reason: String)
    /// The provider said "not before `until`" (a 429 with Retry-After, a spent x-ratelimit window): the
    /// job's limiter named `limit` (a declaration's `name`, such as `sender`, or its key template; nil
    /// for all of the job's rate limits) is paused until then for every process, and the job waits for it
    /// without using an attempt.
    case throttled(until: Int64, reason: String, limit: String? = nil)
    /// The provider account has no quota or money left (OpenAI's `insufficient_quota`): waiting does
    /// not help. The kind's queue is paused with an alert until an operator resumes it, and the job
    /// goes back to the front of its lane, unrun and without using an attempt.
    case quotaExhausted(reason: String)

    public static let completed = JobOutcome.completed(result: nil, followUps: [])

    /// Every label, as `job_results.outcome`'s check constraint lists them (a test compares the two).
    public static let labels = ["completed", "retry", "snoozed", "dead", "throttled", "quota_exhausted"]

    /// A short word for logs and metrics.
    public var label: String {
        switch self {
        case .completed: return "completed"
        case .retry: return "retry"
        case .snooze: return "snoozed"
        case .dead: return "dead"
        case .throttled: return "throttled"
        case .quotaExhausted: return "quota_exhausted"
        }
    }
}

/// Errors a handler throws to steer the outcome; any other thrown error is a retry.
public struct JobError: Error, Sendable, CustomStringConvertible {
    public enum Code: Sendable { case malformedArgs, permanent }
    public let code: Code
    public let message: String

    /// The arguments cannot be understood: dead, with the reason.
    public static func malformedArgs(_ message: String) -> JobError { JobError(code: .malformedArgs, message: message) }
    /// The work can never succeed (a provider's permanent error): dead, with the reason.
    public static func permanent(_ message: String) -> JobError { JobError(code: .permanent, message: message) }

    public var description: String { message }
}
