import SpoolRedis
import SpoolSupport

/// The operator's view of the queues: stats, job status, cancel, dead set and pause. Workers never use it.
public struct QueueAdmin: Sendable {
    public let redis: RedisClient
    public let keys: KeySpace
    public let declaredQueues: [String]
    let clock: any WallClock
    let completedTTL: Duration

    public init(redis: RedisClient, keys: KeySpace, declaredQueues: [String], completedTTL: Duration, clock: any WallClock = SystemClock())
    {
        self.redis = redis
        self.keys = keys
        self.declaredQueues = declaredQueues
        self.completedTTL = completedTTL
        self.clock = clock
    }

    /// Declared queues and every queue that has had a job, sorted.
    public func queues() async throws -> [String] {
        let seen = try await redis.run("SMEMBERS", keys.queues).array?.compactMap(\.string) ?? []
        return Array(Set(declaredQueues + seen)).sorted()
    }
}
