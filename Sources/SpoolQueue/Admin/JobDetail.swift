import SpoolSupport

/// A job's page: its record, what each failed attempt ended in, and the jobs it is linked to.
public struct JobDetail: Sendable, Equatable {
    public var record: JobRecord
    /// Its last failed attempts, oldest first (at most `JobFailure.kept`; jobs that failed before this
    /// record was kept show only `record.lastError`).
    public var failures: [JobFailure]
    /// The job that asked for this one as a follow-up.
    public var parent: JobLink?
    /// The follow-up jobs it asked for when it completed.
    public var followUps: [JobLink]

    /// The arguments with secret-looking values masked, as a screen may show them.
    public var redactedArguments: String? { record.redactedArguments }
}

/// One failed attempt, as retry.lua, kill.lua and recover.lua record it in the job's `errors`.
public struct JobFailure: Sendable, Equatable, Codable {
    /// The attempts a job's hash keeps (`failures_kept` in lanes.lua).
    public static let kept = 10

    /// Which attempt failed, from 1.
    public var attempt: Int
    /// When, in unix milliseconds.
    public var at: Int64
    /// What came of it: `retry` (another attempt follows) or `dead`.
    public var outcome: String
    /// The error, or for `dead` the reason (and the error).
    public var error: String

    public init(attempt: Int, at: Int64, outcome: String, error: String) {
        self.attempt = attempt
        self.at = at
        self.outcome = outcome
        self.error = error
    }

    /// Reads the `errors` field; entries that do not read are left out (the record's `errors` keeps the text).
    public static func list(_ text: String?) -> [JobFailure] {
        guard let text, let items = (try? JSONValue.parse(text))?.arrayValue else { return [] }
        return items.compactMap { item in
            guard let attempt = item["attempt"]?.intValue, let at = item["at"]?.numberValue else { return nil }
            return JobFailure(
                attempt: attempt, at: Int64(at), outcome: item["outcome"]?.stringValue ?? "", error: item["error"]?.stringValue ?? "")
        }
    }
}

/// Another job a job's page links to, with where it is now.
public struct JobLink: Sendable, Equatable, Codable {
    public var id: String
    /// Nil when not known: a parent whose record has expired.
    public var queue: String?
    /// Nil when the job's record is gone: expired, or never stored (a follow-up answered by a unique
    /// job already waiting); `state` is then `unknown`.
    public var kind: String?
    public var state: JobState
}
