import SpoolRedis
import SpoolSupport

/// What a bulk action on a filtered set of jobs did.
public struct BulkResult: Sendable, Equatable {
    /// Jobs it changed.
    public var changed: Int
    /// Jobs it found matching; more than `changed` when some moved on meanwhile (fetched before they
    /// could be cancelled, retried by someone else).
    public var matched: Int
    /// Where to go on: jobs past what this call read may match too. Nil once the set is read to its end.
    public var next: JobCursor?

    public var moreRemain: Bool { next != nil }
}

/// Bulk retry, discard and cancel for the dashboard's "all that match" buttons. Each call reads the
/// matching jobs as a page does (`scanJobs`: at most `limit` matches, at most `scanFactor` × limit jobs
/// read) and acts on them with the same scripts as one job at a time (dead_retry.lua, dead_discard.lua,
/// cancel.lua), so each job's guarantees hold: a job that moved on meanwhile is left alone. A call does
/// a bounded amount of work; the caller calls again with `next` while `moreRemain`.
extension QueueAdmin {
    /// Puts matching dead jobs back in pending with fresh attempts.
    public func retryDead(matching filter: JobFilter, limit: Int = 1000, after: JobCursor? = nil) async throws -> BulkResult {
        try await bulk(.dead, filter, limit: limit, after: after) { queue, ids in
            let moved = try await redis.run(keys.deadRetryCall(queue, now: clock.nowMillis(), ids: ids)).int ?? 0
            return .counted(moved)
        }
    }

    /// Deletes matching dead jobs for good.
    public func discardDead(matching filter: JobFilter, limit: Int = 1000, after: JobCursor? = nil) async throws -> BulkResult {
        try await bulk(.dead, filter, limit: limit, after: after) { queue, ids in
            let deleted = try await redis.run(keys.deadDiscardCall(queue, ids: ids)).int ?? 0
            return .counted(deleted)
        }
    }

    /// Cancels matching jobs that have not started: `state` is pending, parked, scheduled or retry.
    public func cancel(matching filter: JobFilter, state: JobState, limit: Int = 1000, after: JobCursor? = nil) async throws -> BulkResult {
        guard ([.pending, .parked, .scheduled, .retry] as [JobState]).contains(state) else {
            throw JobBrowseError(
                field: "state", "'\(state.rawValue)' jobs cannot be cancelled; expected pending, parked, scheduled or retry")
        }
        let keep = max(completedTTL.milliseconds / 1000, 60)
        return try await bulk(state, filter, limit: limit, after: after) { queue, ids in
            let now = clock.nowMillis()
            let replies = try await redis.run(ids.map { keys.cancelCall(queue, id: $0, now: now, keepSeconds: keep) })
            // cancel.lua answers 1, or the state that kept the job (it started, or finished, meanwhile).
            return .each(Set(zip(ids, replies).compactMap { id, reply in reply == .integer(1) ? id : nil }))
        }
    }

    /// What one script call changed: a count, or which ids (so that a lane's cursor can step around them).
    enum BulkChange {
        case counted(Int)
        case each(Set<String>)
    }

    /// Ids per script call: the scripts unpack their ids, and Lua's unpack has a stack limit.
    static let bulkBatch = 500

    private func bulk(
        _ state: JobState, _ filter: JobFilter, limit: Int, after: JobCursor?,
        act: (String, [String]) async throws -> BulkChange
    ) async throws -> BulkResult {
        let scan = try await scanJobs(state: state, filter: filter, limit: limit, after: after)
        let targets = scan.rows.filter(\.matches).map(\.job)
        var changed = 0
        var changedIDs: Set<String> = []
        for (queue, jobs) in Dictionary(grouping: targets, by: \.queue).sorted(by: { $0.key < $1.key }) {
            for start in stride(from: 0, to: jobs.count, by: Self.bulkBatch) {
                switch try await act(queue, jobs[start..<min(start + Self.bulkBatch, jobs.count)].map(\.id)) {
                case .counted(let count): changed += count
                case .each(let ids):
                    changed += ids.count
                    changedIDs.formUnion(ids)
                }
            }
        }
        return BulkResult(changed: changed, matched: targets.count, next: Self.cursor(after: scan, changed: changedIDs))
    }

    /// The next call's cursor. A set's cursor is a (score, id) position that holds whether or not its job
    /// is still there; a lane's names a job that must still be in its lane to be found, so when this
    /// call cancelled that very job, the cursor steps back to the last job read that is still there
    /// (the jobs cancelled after it are gone, so nothing is skipped), or to the start of the first lane
    /// read when every job read was cancelled.
    private static func cursor(after scan: JobScan, changed: Set<String>) -> JobCursor? {
        guard let next = scan.next, case .lane(_, _, _, let id) = next.position, changed.contains(id) else { return scan.next }
        if let kept = scan.rows.last(where: { !changed.contains($0.job.id) }) { return kept.cursor }
        guard let first = scan.rows.first, case .lane(let queue, let tenant, _, _) = first.cursor.position else { return next }
        return JobCursor(state: next.state, .lane(queue: queue, tenant: tenant, passed: 0, id: ""))
    }
}
