import SpoolSupport
import SpoolRedis

/// Moves due jobs from `scheduled` (delayed and snoozed) and `retry` to pending with `promote.lua`.
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

    /// Promotes everything due in `queues`; returns how many jobs moved.
    @discardableResult
    public func promote(queues: [String]) async throws -> Int {
        var moved = 0
        var remaining = queues
        while !remaining.isEmpty {
            let now = clock.nowMillis()
            var calls: [ScriptCall] = []
            for queue in remaining {
                for source in [keys.scheduled(queue), keys.retry(queue)] {
                    calls.append(keys.promoteCall(queue, source: source, now: now, limit: Self.batch))
                }
            }
            let replies = try await redis.run(calls)
            var again: [String] = []
            for (index, queue) in remaining.enumerated() {
                let counts = try [replies[index * 2], replies[index * 2 + 1]].map { try $0.checked("EVALSHA promote.lua").int ?? 0 }
                moved += counts.reduce(0, +)
                if counts.contains(where: { $0 >= Self.batch }) { again.append(queue) }
            }
            remaining = again
        }
        return moved
    }
}
