import SpoolRedis

extension QueueAdmin {
    /// A job's page: its record, its failed attempts, its parent and its follow-ups, in three round
    /// trips (the job, its parent, its follow-ups). Nil when no queue has the job.
    public func jobDetail(_ id: String) async throws -> JobDetail? {
        guard let record = try await job(id) else { return nil }
        var parent: JobLink?
        if let parentID = record.parentID, !parentID.isEmpty {
            // A parent may live in any queue: looked up like any job.
            let found = try await job(parentID)
            parent = JobLink(id: parentID, queue: found?.queue, kind: found?.kind, state: found?.state ?? .unknown)
        }
        let followUps = try await links(Self.followUpIDs(record.followUps))
        return JobDetail(record: record, failures: JobFailure.list(record.errors), parent: parent, followUps: followUps)
    }

    /// The `follow_ups` field's "<queue>/<id>" entries.
    static func followUpIDs(_ text: String?) -> [(queue: String, id: String)] {
        guard let text else { return [] }
        return text.split(separator: " ").compactMap { entry in
            let parts = entry.split(separator: "/", maxSplits: 1)
            guard parts.count == 2 else { return nil }
            return (queue: String(parts[0]), id: String(parts[1]))
        }
    }

    /// Kind and state of jobs whose queue is known, in one round trip (as `states(of:)`, with the kind).
    private func links(_ jobs: [(queue: String, id: String)]) async throws -> [JobLink] {
        if jobs.isEmpty { return [] }
        let fields = [JobRecord.Field.kind.rawValue, JobRecord.Field.state.rawValue]
        let replies = try await redis.pipeline(
            jobs.flatMap { job in
                [
                    RedisCommand("HMGET", [keys.job(job.queue, job.id)] + fields), RedisCommand("ZSCORE", keys.active(job.queue), job.id),
                    RedisCommand("ZSCORE", keys.completed(job.queue), job.id),
                ]
            })
        return try jobs.enumerated().map { index, job in
            let values = try replies[index * 3].checked("HMGET").array ?? []
            let kind = values.first?.string
            var state = (values.count > 1 ? values[1].string : nil).flatMap(JobState.init(rawValue:)) ?? .unknown
            if try replies[index * 3 + 1].checked("ZSCORE").string != nil { state = .active }
            if try replies[index * 3 + 2].checked("ZSCORE").string != nil { state = .completed }
            return JobLink(id: job.id, queue: job.queue, kind: kind, state: state)
        }
    }
}
