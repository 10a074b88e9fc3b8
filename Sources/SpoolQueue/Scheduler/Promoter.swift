import SpoolRedis
import SpoolSupport

/// Moves due jobs from `scheduled` (delayed and snoozed) and `retry` to pending with `promote.lua`,
/// and releases jobs waiting for limiters that are due with `release_limited.lua`.
public struct Promoter: Sendable {
    let redis: RedisClient
    let keys: KeySpace
    let clock: any WallClock
    static let batch = 1000

    public init(redis: RedisClient, keys: KeySpace, clock: any WallClock) {
        self.redis = redis
        self.keys = keys
        self.clock = clock
    }

    /// Promotes everything due in `queues`; returns how many jobs moved, and when the first limiter
    /// with jobs waiting on it is due next (unix ms), if any is: a limiter's pace can be finer than
    /// the poll interval, and its jobs should not wait for the next poll.
    @discardableResult
    public func promote(queues: [String]) async throws -> (moved: Int, nextLimiterDue: Int64?) {
        var moved = 0
        var remaining = queues
        var nextDue: Int64?
        while !remaining.isEmpty {
            let now = clock.nowMillis()
            var calls: [ScriptCall] = []
            for queue in remaining {
                for source in [keys.scheduled(queue), keys.retry(queue)] {
                    calls.append(keys.promoteCall(queue, source: source, now: now, limit: Self.batch))
                }
                calls.append(keys.releaseLimitedCall(queue, now: now, limits: Self.batch, jobsPerLimit: Self.batch))
            }
            let replies = try await redis.run(calls)
            var again: [String] = []
            for (index, queue) in remaining.enumerated() {
                let counts = try replies[index * 3..<index * 3 + 2].map { try $0.checked("EVALSHA promote.lua").int ?? 0 }
                let released = try replies[index * 3 + 2].checked("EVALSHA release_limited.lua").array ?? []
                moved += counts.reduce(0, +) + (released.first?.int ?? 0)
                if counts.contains(where: { $0 >= Self.batch }) { again.append(queue) }
                if let score = released.last?.string.flatMap(Double.init), score >= 0 {
                    nextDue = min(nextDue ?? .max, Int64(score.rounded(.up)))
                }
            }
            remaining = again
        }
        return (moved, nextDue)
    }
}
