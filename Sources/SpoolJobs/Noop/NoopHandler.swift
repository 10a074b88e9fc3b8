import SpoolSupport
import SpoolQueue
import SpoolRedis

/// The diagnostic kind: does nothing, fast, for smoke tests and benchmarks. Its arguments can make it
/// misbehave on purpose, so that tests can exercise every outcome through a real worker.
public struct NoopHandler: JobHandler {
    public let kind = "noop"

    // Arguments, all optional:
    //   sleep_ms    sleep this long before answering (a slow job)
    //   fail        "retry", "permanent" or "snooze": fail the first `fail_times` attempts (all when absent)
    //   mark        count each execution in the `noop:runs` hash, to prove exactly-once in tests
    //   notify      push "<job id> <unix ms>" onto the `noop:notify` list when it starts, to time pickup
    //   then        follow-up jobs when it completes: [{"kind": ..., "args": {...}, "delay_seconds": ...}], at most 10

    /// Entries kept in `noop:notify`: enough for any benchmark's pickup timings.
    static let notifyKept = 100_000

    public init() {}

    public func perform(_ job: Job, context: JobContext) async throws -> JobOutcome {
        let args = try JobArguments(job)
        // What it leaves in Redis is bounded: the lists keep their newest entries, and every key
        // expires a day after its last use.
        if try args.bool("mark") == true {
            let runs = "\(context.keys.prefix):noop:runs"
            _ = try await context.redis.pipeline([RedisCommand("HINCRBY", runs, job.id, "1"), RedisCommand("EXPIRE", runs, "86400")])
        }
        if try args.bool("notify") == true {
            let list = "\(context.keys.prefix):noop:notify"
            _ = try await context.redis.pipeline([
                RedisCommand("RPUSH", list, "\(job.id) \(context.clock.nowMillis())"),
                RedisCommand("LTRIM", list, String(-Self.notifyKept), "-1"), RedisCommand("EXPIRE", list, "86400"),
            ])
        }
        if let ms = try args.int("sleep_ms"), ms > 0 {
            try await Task.sleep(for: .milliseconds(ms))
        }
        if let mode = try args.string("fail"), try await shouldFail(job, mode: mode, times: args.int("fail_times") ?? Int.max, context: context) {
            switch mode {
            case "retry": return .retry(error: "noop asked to fail (attempt \(job.attempt + 1))", delay: .milliseconds(10))
            case "permanent": throw JobError.permanent("noop asked to fail permanently")
            case "snooze": return .snooze(until: context.clock.nowMillis() + 100, reason: "noop asked to snooze")
            default: throw JobError.malformedArgs("field 'fail': '\(mode)' is not retry, permanent or snooze")
            }
        }
        return .completed(result: nil, followUps: try followUps(args))
    }

    /// The follow-ups `then` asks for (see FollowUp): a way to exercise chains through a real worker.
    private func followUps(_ args: JobArguments) throws(JobError) -> [FollowUp] {
        guard let value = args.fields["then"], value != .null else { return [] }
        guard let items = value.arrayValue, items.count <= 10 else { throw .malformedArgs("field 'then': expected an array of at most 10 jobs") }
        var followUps: [FollowUp] = []
        for (index, item) in items.enumerated() {
            guard let kind = item["kind"]?.stringValue else { throw .malformedArgs("field 'then[\(index)].kind': required, a string") }
            let delay = item["delay_seconds"]?.numberValue.map { Duration.milliseconds(Int64($0 * 1000)) }
            followUps.append(FollowUp(kind: kind, args: item["args"]?.text ?? "{}", queue: item["queue"]?.stringValue, delay: delay))
        }
        return followUps
    }

    /// Failures use attempts, so the attempt number counts them; snoozes use none, so they are counted apart.
    private func shouldFail(_ job: Job, mode: String, times: Int, context: JobContext) async throws -> Bool {
        guard mode == "snooze" else { return job.attempt < times }
        let counts = "\(context.keys.prefix):noop:snoozes"
        let replies = try await context.redis.pipeline([RedisCommand("HINCRBY", counts, job.id, "1"), RedisCommand("EXPIRE", counts, "86400")])
        let snoozes = try replies[0].checked("HINCRBY").int ?? 0
        return snoozes <= times
    }
}
