import SpoolRedis

/// One row of a list of jobs (the dashboard's Jobs pages): the fields a row shows, read with one HMGET
/// per job. The state is the structure the job was listed from, not the hash's `state`: fetch and ack
/// leave the hash alone, so the sets and lanes are the truth (as in `JobRecord`).
public struct JobSummary: Sendable, Codable, Equatable {
    public var id: String
    public var queue: String
    public var state: JobState
    /// Nil when the job's hash is gone (deleted by hand, or expired since it was listed).
    public var kind: String?
    public var tenant: String?
    /// Times are unix milliseconds.
    public var enqueuedAt: Int64?
    /// When a scheduled or retrying job is due (its score in that set).
    public var runAt: Int64?
    /// When a dead or completed job finished (its score in that set).
    public var finishedAt: Int64?
    /// When the running worker's lease runs out; only while `active`.
    public var leaseDeadline: Int64?
    /// Attempts used.
    public var attempt: Int
    public var maxAttempts: Int?
    public var lastError: String?
    public var deadReason: String?

    enum CodingKeys: String, CodingKey {
        case id, queue, state, kind, tenant, attempt
        case enqueuedAt = "enqueued_at"
        case runAt = "run_at"
        case finishedAt = "finished_at"
        case leaseDeadline = "lease_deadline"
        case maxAttempts = "max_attempts"
        case lastError = "last_error"
        case deadReason = "dead_reason"
    }

    /// The hash fields a summary is read from, in the order `init(id:queue:state:score:fields:)` reads them.
    static let fields: [String] =
        ([.kind, .tenant, .attempt, .maxAttempts, .enqueuedAt, .runAt, .finishedAt, .lastError, .deadReason]
        as [JobRecord.Field]).map(\.rawValue)

    /// The HMGET that reads one job's summary.
    static func command(_ keys: KeySpace, queue: String, id: String) -> RedisCommand {
        RedisCommand("HMGET", [keys.job(queue, id)] + fields)
    }

    /// Reads a summary from the HMGET reply of `fields`, and the job's score in the set it was listed from
    /// (nil for lanes). Lenient, unlike `JobRecord`: one odd hash must not blank a whole page, and the
    /// job's own page shows the field that does not read.
    init(id: String, queue: String, state: JobState, score: Int64?, reply: RedisReply) {
        let values = reply.array ?? []
        func text(_ index: Int) -> String? { index < values.count ? values[index].string : nil }
        func number(_ index: Int) -> Int64? { text(index).flatMap { Int64($0) } }
        self.id = id
        self.queue = queue
        self.state = state
        kind = text(0)
        tenant = text(1)
        attempt = text(2).flatMap { Int($0) } ?? 0
        maxAttempts = text(3).flatMap { Int($0) }
        enqueuedAt = number(4)
        runAt = number(5)
        finishedAt = number(6)
        lastError = text(7)
        deadReason = text(8)
        switch state {
        case .scheduled, .retry: runAt = score ?? runAt
        case .dead: finishedAt = score ?? finishedAt
        case .completed:
            // ack.lua does not count the finishing attempt in the hash: the completed set stands for it.
            finishedAt = score ?? finishedAt
            attempt += 1
        case .active: leaseDeadline = score
        default: break
        }
    }
}
