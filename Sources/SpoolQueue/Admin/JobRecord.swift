/// A job's record as `spool job ID` and `GET /v1/jobs/{id}` show it: the job's hash as the Lua scripts
/// write it, read into typed fields, corrected by the active and completed sets (fetch and ack leave
/// the hash alone on the hot path, so the sets are the truth for those two states).
public struct JobRecord: Sendable, Equatable {
    /// The hash's field names, spelled once on the Swift side; the scripts write the same words.
    public enum Field: String, Sendable, CaseIterable {
        case kind, args, tenant, state, attempt, result, snoozed, snoozes
        case maxAttempts = "max_attempts"
        case enqueuedAt = "enqueued_at"
        case runAt = "run_at"
        case finishedAt = "finished_at"
        case lastError = "last_error"
        case deadReason = "dead_reason"
        case idempotencyKey = "idempotency_key"
        case parentID = "parent_id"
        case limitedBy = "limited_by"
        case errors
        case followUps = "follow_ups"
        /// Not in the hash: the job's score in the active set while a worker holds its lease.
        case leaseDeadline = "lease_deadline"
    }

    public var id: String
    /// Not in the hash: the queue is part of the hash's key.
    public var queue: String
    public var state: JobState
    /// Nil only when the job's data was lost (recover.lua then leaves a dead record with a reason).
    public var kind: String?
    /// The arguments' JSON text as enqueued. Text, not parsed: a job that died of malformed
    /// arguments must still show them.
    public var args: String?
    public var tenant: String?
    /// Attempts used. Nil when the hash counts none yet: enqueue writes no 0 (memory per job), so
    /// nil reads as 0, and `spool job` shows the hash as it is.
    public var attempt: Int?
    public var maxAttempts: Int?
    /// Times are unix milliseconds, as the scripts store them.
    public var enqueuedAt: Int64?
    /// When a scheduled, retrying or waiting job is due; nil: runnable since `enqueuedAt`.
    public var runAt: Int64?
    /// When it completed, died or was cancelled.
    public var finishedAt: Int64?
    /// When the running worker's lease runs out; only while `active`.
    public var leaseDeadline: Int64?
    public var lastError: String?
    public var deadReason: String?
    /// What the handler returned: JSON, or plain text.
    public var result: String?
    public var idempotencyKey: String?
    /// The job that asked for this one as a follow-up.
    public var parentID: String?
    /// The limit key a `limited` job waits on.
    public var limitedBy: String?
    /// Why it last waited without using an attempt (a snooze, or a limiter's refusal).
    public var snoozed: String?
    /// How many times it waited so.
    public var snoozes: Int?
    /// Its last failed attempts as the scripts record them, JSON text (see `JobFailure`).
    public var errors: String?
    /// The follow-up jobs it asked for when it completed, as `<queue>/<id>` separated by spaces
    /// (complete.lua; see `JobDetail`).
    public var followUps: String?
    /// Fields this version does not know (written by a newer version, or by hand): kept so that
    /// `spool job`, a debugging view, still prints the whole hash.
    public var extra: [String: String]

    /// Reads a job from its hash (HGETALL's pairs) and from the sets written instead of it:
    /// `activeScore` is the job's score in the active set (its lease deadline), `completedScore` its
    /// score in the completed set (when it finished), and `parkedTenants` the tenants whose lanes
    /// fetch parked. A field that does not read as its type throws, naming the field and the value:
    /// a record read wrongly is worse than none.
    public init(
        id: String, queue: String, hash: [String: String], activeScore: String? = nil, completedScore: String? = nil,
        parkedTenants: Set<String> = []
    ) throws(JobRecordError) {
        var reader = HashReader(id: id, rest: hash)
        var state = try reader.state()
        var attempt = try reader.int(.attempt)
        var finishedAt = try reader.time(.finishedAt)
        var leaseDeadline: Int64?
        let tenant = reader.text(.tenant)
        if let activeScore {
            state = .active
            leaseDeadline = try reader.millis(.leaseDeadline, activeScore)
        } else if let completedScore {
            // ack.lua does not count the finishing attempt in the hash: the completed set stands for it.
            state = .completed
            finishedAt = try reader.millis(.finishedAt, completedScore)
            attempt = (attempt ?? 0) + 1
        } else if state == .pending, let tenant, parkedTenants.contains(tenant) {
            // Its tenant is paused and fetch parked the tenant's lane: the job waits there.
            state = .parked
        }
        self.id = id
        self.queue = queue
        self.state = state
        self.tenant = tenant
        self.attempt = attempt
        self.finishedAt = finishedAt
        self.leaseDeadline = leaseDeadline
        kind = reader.text(.kind)
        args = reader.text(.args)
        maxAttempts = try reader.int(.maxAttempts)
        enqueuedAt = try reader.time(.enqueuedAt)
        runAt = try reader.time(.runAt)
        lastError = reader.text(.lastError)
        deadReason = reader.text(.deadReason)
        result = reader.text(.result)
        idempotencyKey = reader.text(.idempotencyKey)
        parentID = reader.text(.parentID)
        limitedBy = reader.text(.limitedBy)
        snoozed = reader.text(.snoozed)
        snoozes = try reader.int(.snoozes)
        errors = reader.text(.errors)
        followUps = reader.text(.followUps)
        // Last: what no read above took.
        extra = reader.rest
    }

    /// Every field as text under its hash name, as `spool job` prints it: the known fields that are
    /// set (with the state and times the sets supply), and `extra`.
    public var textFields: [String: String] {
        var fields = extra
        func put(_ field: Field, _ value: String?) {
            if let value { fields[field.rawValue] = value }
        }
        put(.state, state.rawValue)
        put(.kind, kind)
        put(.args, args)
        put(.tenant, tenant)
        put(.attempt, attempt.map { String($0) })
        put(.maxAttempts, maxAttempts.map { String($0) })
        put(.enqueuedAt, enqueuedAt.map { String($0) })
        put(.runAt, runAt.map { String($0) })
        put(.finishedAt, finishedAt.map { String($0) })
        put(.leaseDeadline, leaseDeadline.map { String($0) })
        put(.lastError, lastError)
        put(.deadReason, deadReason)
        put(.result, result)
        put(.idempotencyKey, idempotencyKey)
        put(.parentID, parentID)
        put(.limitedBy, limitedBy)
        put(.snoozed, snoozed)
        put(.snoozes, snoozes.map { String($0) })
        put(.errors, errors)
        put(.followUps, followUps)
        return fields
    }
}

/// A job's hash holds a field this version cannot read as its type, e.g. `attempt` = "x".
public struct JobRecordError: Error, Sendable, Equatable, CustomStringConvertible {
    public let id: String
    public let field: JobRecord.Field
    public let value: String
    /// What the field should hold, e.g. "an integer".
    public let expected: String

    public var description: String { "job \(id): field \(field.rawValue) is \"\(value.prefix(80))\", expected \(expected)" }
}

/// Takes the known fields out of a hash one at a time, so that what is left is the record's `extra`.
private struct HashReader {
    let id: String
    var rest: [String: String]

    mutating func text(_ field: JobRecord.Field) -> String? {
        rest.removeValue(forKey: field.rawValue)
    }

    mutating func int(_ field: JobRecord.Field) throws(JobRecordError) -> Int? {
        guard let raw = text(field) else { return nil }
        guard let value = Int(raw) else { throw JobRecordError(id: id, field: field, value: raw, expected: "an integer") }
        return value
    }

    mutating func time(_ field: JobRecord.Field) throws(JobRecordError) -> Int64? {
        guard let raw = text(field) else { return nil }
        return try millis(field, raw)
    }

    /// Unix milliseconds, as the scripts store times and score the sets.
    func millis(_ field: JobRecord.Field, _ raw: String) throws(JobRecordError) -> Int64 {
        guard let value = Int64(raw) else {
            throw JobRecordError(id: id, field: field, value: raw, expected: "a time in unix milliseconds")
        }
        return value
    }

    /// Missing reads `unknown`; a word no script writes is an error, not a guess.
    mutating func state() throws(JobRecordError) -> JobState {
        guard let raw = text(.state) else { return .unknown }
        guard let state = JobState(rawValue: raw) else {
            throw JobRecordError(
                id: id, field: .state, value: raw, expected: "one of " + JobState.allCases.map(\.rawValue).joined(separator: ", "))
        }
        return state
    }
}
