import SpoolRedis
import SpoolSupport

/// Keeps Redis from growing without bound: deletes completed jobs' records once their retention ends
/// (`trim_completed.lua`), and holds each dead set to its caps, entries and age (`trim_dead.lua`).
public struct Janitor: Sendable {
    let redis: RedisClient
    let keys: KeySpace
    let clock: any WallClock
    let completedTTL: Duration
    let deadMaxJobs: Int
    let deadMaxAge: Duration
    static let batch = 1000

    public init(redis: RedisClient, keys: KeySpace, clock: any WallClock, completedTTL: Duration, deadMaxJobs: Int, deadMaxAge: Duration) {
        self.redis = redis
        self.keys = keys
        self.clock = clock
        self.completedTTL = completedTTL
        self.deadMaxJobs = deadMaxJobs
        self.deadMaxAge = deadMaxAge
    }

    /// Trims every queue; returns how many records were deleted.
    @discardableResult
    public func sweep(queues: [String]) async throws -> Int {
        var deleted = 0
        for queue in queues {
            deleted += try await drain { now in
                keys.trimCompletedCall(queue, oldestKept: now - completedTTL.milliseconds, limit: Self.batch)
            }
            deleted += try await drain { now in
                keys.trimDeadCall(queue, oldestKept: now - deadMaxAge.milliseconds, maxEntries: deadMaxJobs, limit: Self.batch)
            }
        }
        return deleted
    }

    /// Repeats a trim while it keeps filling whole batches.
    private func drain(_ call: (Int64) -> ScriptCall) async throws -> Int {
        var total = 0
        while true {
            let count = try await redis.run(call(clock.nowMillis())).int ?? 0
            total += count
            if count < Self.batch { return total }
        }
    }
}
