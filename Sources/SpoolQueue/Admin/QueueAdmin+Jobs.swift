import SpoolRedis
import SpoolSupport

extension QueueAdmin {
    /// The states of jobs whose queue is known (answers to repeated idempotency keys), in one round
    /// trip: `active` and `completed` from their sets (fetch and ack leave the hash alone), else the
    /// hash's state; `unknown` when the record has expired. A paused tenant's pending job reads
    /// `pending` here (`job(_:)` tells `parked` apart).
    public func states(of jobs: [(id: String, queue: String)]) async throws -> [JobState] {
        if jobs.isEmpty { return [] }
        let replies = try await redis.pipeline(
            jobs.flatMap { job in
                [
                    RedisCommand("HGET", keys.job(job.queue, job.id), JobRecord.Field.state.rawValue),
                    RedisCommand("ZSCORE", keys.active(job.queue), job.id), RedisCommand("ZSCORE", keys.completed(job.queue), job.id),
                ]
            })
        return try jobs.indices.map { index in
            let state = try replies[index * 3].checked("HGET").string
            if try replies[index * 3 + 1].checked("ZSCORE").string != nil { return .active }
            if try replies[index * 3 + 2].checked("ZSCORE").string != nil { return .completed }
            return state.flatMap(JobState.init(rawValue:)) ?? .unknown
        }
    }

    /// Finds a job by id in any queue; nil when no queue has it (never existed, or its record expired).
    public func job(_ id: String) async throws -> JobRecord? {
        guard JobID.isValid(id) else { return nil }
        let queues = try await queues()
        let replies = try await redis.pipeline(
            queues.flatMap {
                [
                    RedisCommand("HGETALL", keys.job($0, id)), RedisCommand("ZSCORE", keys.active($0), id),
                    RedisCommand("ZSCORE", keys.completed($0), id),
                    RedisCommand("SMEMBERS", keys.parkedTenants($0)),
                ]
            })
        for (index, queue) in queues.enumerated() {
            guard let flat = try replies[index * 4].checked("HGETALL").array, !flat.isEmpty else { continue }
            var hash: [String: String] = [:]
            for pair in stride(from: 0, to: flat.count - 1, by: 2) { hash[flat[pair].string ?? ""] = flat[pair + 1].string ?? "" }
            return try JobRecord(
                id: id, queue: queue, hash: hash, activeScore: replies[index * 4 + 1].string,
                completedScore: replies[index * 4 + 2].string,
                parkedTenants: Set(replies[index * 4 + 3].array?.compactMap(\.string) ?? []))
        }
        return nil
    }

    public enum CancelResult: Sendable, Equatable {
        case cancelled
        case notFound
        /// The job is running or already finished; the state says which.
        case notCancellable(state: String)
    }

    /// Cancels a job that is pending, scheduled or waiting to retry.
    public func cancel(_ id: String) async throws -> CancelResult {
        guard let record = try await job(id) else { return .notFound }
        let q = record.queue
        let reply = try await redis.run(
            keys.cancelCall(q, id: id, now: clock.nowMillis(), keepSeconds: max(completedTTL.milliseconds / 1000, 60)))
        if reply == .integer(1) { return .cancelled }
        guard let state = reply.string else { return .notFound }
        return .notCancellable(state: state)
    }
}
