import SpoolQueue
import SpoolRedis
import SpoolSupport

/// The diagnostic kind: does nothing, fast, for smoke tests and benchmarks. Its arguments can make it
/// misbehave on purpose, so that tests can exercise every outcome through a real worker.
public struct NoopHandler: JobKind {
    public let kind = "noop"

    /// `Jobs/noop.json`'s `args`, all optional.
    public struct Arguments: Decodable, Sendable {
        public enum Failure: String, Decodable, Sendable, CaseIterable { case retry, permanent, snooze }
        /// A follow-up job (see FollowUp).
        public struct Next: Decodable, Sendable {
            let kind: String
            let args: JSONValue?
            let queue: String?
            let delaySeconds: Double?
            enum CodingKeys: String, CodingKey { case kind, args, queue, delaySeconds = "delay_seconds" }
        }
        /// Sleep this long before answering (a slow job).
        let sleepMs: Int?
        /// Fail the first `failTimes` attempts (all when absent) this way.
        let fail: Failure?
        let failTimes: Int?
        /// Count each execution in the `noop:runs` hash, to prove exactly-once in tests.
        let mark: Bool?
        /// Push "<job id> <unix ms>" onto the `noop:notify` list when it starts, to time pickup.
        let notify: Bool?
        /// Follow-up jobs when it completes, at most 10.
        let then: [Next]?
        enum CodingKeys: String, CodingKey { case sleepMs = "sleep_ms", fail, failTimes = "fail_times", mark, notify, then }
    }

    /// Entries kept in `noop:notify`: enough for any benchmark's pickup timings.
    static let notifyKept = 100_000

    public init() {}

    public func perform(_ job: Job, arguments: Arguments, context: JobContext) async throws -> JobOutcome {
        // What it leaves in Redis is bounded: the lists keep their newest entries, and every key
        // expires a day after its last use.
        if arguments.mark == true {
            let runs = "\(context.keys.prefix):noop:runs"
            _ = try await context.redis.pipeline([RedisCommand("HINCRBY", runs, job.id, "1"), RedisCommand("EXPIRE", runs, "86400")])
        }
        if arguments.notify == true {
            let list = "\(context.keys.prefix):noop:notify"
            _ = try await context.redis.pipeline([
                RedisCommand("RPUSH", list, "\(job.id) \(context.clock.nowMillis())"),
                RedisCommand("LTRIM", list, String(-Self.notifyKept), "-1"), RedisCommand("EXPIRE", list, "86400"),
            ])
        }
        if let ms = arguments.sleepMs, ms > 0 {
            try await Task.sleep(for: .milliseconds(ms))
        }
        if let mode = arguments.fail, try await shouldFail(job, mode: mode, times: arguments.failTimes ?? Int.max, context: context) {
            switch mode {
            case .retry: return .retry(error: "noop asked to fail (attempt \(job.attempt + 1))", delay: .milliseconds(10))
            case .permanent: throw JobError.permanent("noop asked to fail permanently")
            case .snooze: return .snooze(until: context.clock.nowMillis() + 100, reason: "noop asked to snooze")
            }
        }
        let then = arguments.then ?? []
        guard then.count <= 10 else { throw JobError.malformedArgs("args.then: at most 10 follow-ups, got \(then.count)") }
        return .completed(
            result: nil,
            followUps: then.map {
                FollowUp(
                    kind: $0.kind, args: $0.args?.text ?? "{}", queue: $0.queue,
                    delay: $0.delaySeconds.map { .milliseconds(Int64($0 * 1000)) })
            })
    }

    /// Failures use attempts, so the attempt number counts them; snoozes use none, so they are counted apart.
    private func shouldFail(_ job: Job, mode: Arguments.Failure, times: Int, context: JobContext) async throws -> Bool {
        guard mode == .snooze else { return job.attempt < times }
        let counts = "\(context.keys.prefix):noop:snoozes"
        let replies = try await context.redis.pipeline([
            RedisCommand("HINCRBY", counts, job.id, "1"), RedisCommand("EXPIRE", counts, "86400"),
        ])
        let snoozes = try replies[0].checked("HINCRBY").int ?? 0
        return snoozes <= times
    }
}
