import SpoolQueue
import SpoolRedis

/// Settled jobs minute by minute, from the hashes every worker's JobMetricsPusher keeps
/// (`KeySpace.metricsMinute`): kept counts read with one HMGET a minute, all in one pipeline, never a
/// count of jobs. A processed job is one that completed; a failed one is an attempt that went to retry
/// or to the dead set (the outcome labels `completed`, `retry` and `dead`).
struct DashboardTimeline: Sendable, Equatable {
    struct Minute: Sendable, Equatable {
        var processed = 0
        var failed = 0
    }

    /// The whole minutes before the current one, oldest first.
    let whole: [Minute]
    /// The minute in progress, so far.
    let current: Minute

    static let fields = ["completed", "retry", "dead"]

    /// One HMGET for each of the `wholeMinutes` minutes before `nowMs`'s, oldest first, then one for the
    /// current minute: send them in the pipeline of the caller's other reads.
    static func commands(keys: KeySpace, nowMs: Int64, wholeMinutes: Int) -> [RedisCommand] {
        let minute = nowMs / 60_000
        return (0...wholeMinutes).map { index in
            RedisCommand("HMGET", [keys.metricsMinute(minute - Int64(wholeMinutes - index))] + fields)
        }
    }

    /// The timeline from the replies to `commands`, in their order.
    init(_ replies: some Collection<RedisReply>) {
        let minutes = replies.map(Self.minute)
        whole = Array(minutes.dropLast())
        current = minutes.last ?? Minute()
    }

    /// The last whole minute (zero when there is none).
    var lastWhole: Minute { whole.last ?? Minute() }

    private static func minute(_ reply: RedisReply) -> Minute {
        let values = (reply.array ?? []).map { $0.int ?? 0 }
        guard values.count == fields.count else { return Minute() }
        return Minute(processed: values[0], failed: values[1] + values[2])
    }
}
