import SpoolRedis

/// Holds each dead set to its caps (entries and age) with `trim_dead.lua`, deleting trimmed jobs' data.
public struct Janitor: Sendable {
    let redis: RedisClient
    let keys: KeySpace
    let clock: any WallClock
    let maxJobs: Int
    let maxAge: Duration
    static let batch = 1000

    public init(redis: RedisClient, keys: KeySpace, clock: any WallClock, maxJobs: Int, maxAge: Duration) {
        self.redis = redis
        self.keys = keys
        self.clock = clock
        self.maxJobs = maxJobs
        self.maxAge = maxAge
    }

    @discardableResult
    public func trimDeadSets(queues: [String]) async throws -> Int {
        var dropped = 0
        for queue in queues {
            while true {
                let count = try await redis.run(keys.trimDeadCall(queue, oldestKept: clock.nowMillis() - maxAge.milliseconds,
                                                                  maxEntries: maxJobs, limit: Self.batch)).int ?? 0
                dropped += count
                if count < Self.batch { break }
            }
        }
        return dropped
    }
}
