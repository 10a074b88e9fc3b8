import SpoolRedis
import SpoolSupport

/// Finds jobs whose lease expired (their worker was killed or hung) and hands them back with
/// `recover.lua`: to pending, or to the dead set when that lost attempt was their last.
public struct Recoverer: Sendable {
    let redis: RedisClient
    let keys: KeySpace
    let clock: any WallClock
    static let batch = 500

    public init(redis: RedisClient, keys: KeySpace, clock: any WallClock) {
        self.redis = redis
        self.keys = keys
        self.clock = clock
    }

    /// Recovers every expired lease in `queues`; returns (requeued, killed).
    @discardableResult
    public func recover(queues: [String]) async throws -> (requeued: Int, killed: Int) {
        var requeued = 0, killed = 0
        for queue in queues {
            while true {
                let reply = try await redis.run(keys.recoverCall(queue, now: clock.nowMillis(), limit: Self.batch))
                let counts = reply.array?.compactMap(\.int) ?? [0, 0]
                requeued += counts.first ?? 0
                killed += counts.last ?? 0
                if (counts.first ?? 0) + (counts.last ?? 0) < Self.batch { break }
            }
        }
        return (requeued, killed)
    }
}
