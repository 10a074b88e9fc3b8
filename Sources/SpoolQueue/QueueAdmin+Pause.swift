import SpoolSupport
import SpoolRedis

extension QueueAdmin {
    /// Stops workers from fetching the queue's jobs; enqueueing goes on and nothing is lost.
    public func pause(queue: String) async throws {
        try await redis.run("SET", keys.paused(queue), String(clock.nowMillis()))
    }

    public func resume(queue: String) async throws {
        try await redis.run("DEL", keys.paused(queue))
    }
}
