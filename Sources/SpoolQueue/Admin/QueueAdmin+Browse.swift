import SpoolRedis
import SpoolSupport

/// Lists of jobs by state, for the dashboard's Jobs pages, read page by page from the structures the
/// scripts keep, never by scanning keys:
///
/// - scheduled, retry and active are sorted sets by due time (by lease deadline for active), soonest
///   first; dead and completed by finish time, newest first. A page is ZRANGEBYSCORE from the cursor's
///   (score, id) on: O(log N + page) at any depth. Across queues, each queue's next page is read in one
///   round trip and merged. (A heartbeat moves an active job's deadline later: a page may show it
///   again, never skip it.)
/// - pending jobs wait in lanes (a list per tenant and queue), read lane by lane (queues and tenants in
///   name order) from each lane's oldest end, the order fetch takes them. A lane changes at both ends
///   between two pages, so the cursor's position in it is a hint checked against the job it names
///   (see `readLane`). `parked` lists the lanes of paused tenants the same way.
///
/// A page then reads each job's row with one HMGET, all in one pipeline. A kind or tenant filter is
/// applied to those rows, reading further in growing chunks until the page is full or it has read
/// `scanFactor` × limit jobs; a short page still hands on a cursor past what it read. Counts per state
/// are `stats()`'s kept counters, never counted here.
extension QueueAdmin {
    /// The page sizes `jobs` accepts.
    public static let pageLimits = 1...1000
    /// With a filter, a page reads at most this many times its limit.
    public static let scanFactor = 10
    /// How far from where the cursor says a lane's job is sought when the lane moved (see `readLane`).
    static let relocationWindow = 1000

    /// A page of jobs in one state: pending, parked, scheduled, retry, active, dead or completed.
    /// - Parameters:
    ///   - queue: one queue, or every queue (sets are merged in order; lanes are read queue by queue).
    ///   - kind: only jobs of this kind.
    ///   - tenant: only this tenant's jobs (for pending and parked, just its lanes are read).
    ///   - limit: most jobs on the page, 1 to 1000.
    ///   - after: the previous page's `next`.
    public func jobs(
        state: JobState, queue: String? = nil, kind: String? = nil, tenant: String? = nil, limit: Int = 50, after: JobCursor? = nil
    ) async throws -> JobPage {
        let scan = try await scanJobs(state: state, filter: JobFilter(queue: queue, kind: kind, tenant: tenant), limit: limit, after: after)
        return JobPage(jobs: scan.rows.filter(\.matches).map(\.job), next: scan.next, examined: scan.rows.count)
    }

    /// What a page read: every job it looked at, in order, each with the cursor just past it.
    struct JobScan {
        struct Row {
            let job: JobSummary
            let cursor: JobCursor
            let matches: Bool
        }
        var rows: [Row] = []
        var next: JobCursor?
    }

    /// Reads jobs in `state` after `after` until `limit` match `filter` or `scanFactor` × limit were read.
    func scanJobs(state: JobState, filter: JobFilter, limit: Int, after: JobCursor?) async throws -> JobScan {
        guard Self.pageLimits.contains(limit) else {
            throw JobBrowseError(field: "limit", "expected \(Self.pageLimits.lowerBound) to \(Self.pageLimits.upperBound), got \(limit)")
        }
        if let queue = filter.queue, !JobKindCatalog.isValidName(queue) {
            throw JobBrowseError(field: "queue", "'\(queue.prefix(80))' is not a queue name (1-64 of a-z 0-9 - _)")
        }
        if let after, after.state != state {
            throw JobBrowseError(
                field: "after", "the cursor '\(after.text.prefix(80))' pages \(after.state.rawValue) jobs, not \(state.rawValue)")
        }
        let queues: [String]
        if let queue = filter.queue { queues = [queue] } else { queues = try await self.queues() }
        switch state {
        case .pending, .parked:
            // A lane is one tenant's: only a kind filter needs rows read to tell.
            let budget = filter.kind == nil ? limit : limit * Self.scanFactor
            var start: LaneCursor?
            if case .lane(let queue, let tenant, let passed, let id)? = after?.position {
                start = LaneCursor(lane: Lane(queue: queue, tenant: tenant), passed: passed, id: id)
            }
            return try await scanLanes(state: state, queues: queues, filter: filter, limit: limit, budget: budget, after: start)
        case .scheduled, .retry, .active, .dead, .completed:
            let budget = filter.kind == nil && filter.tenant == nil ? limit : limit * Self.scanFactor
            var start: RankedEntry?
            if case .ranked(let score, let id)? = after?.position { start = RankedEntry(queue: "", id: id, score: score) }
            return try await scanRanked(state: state, queues: queues, filter: filter, limit: limit, budget: budget, after: start)
        case .limited, .cancelled, .unknown:
            throw JobBrowseError(
                field: "state",
                "'\(state.rawValue)' jobs are not listed; expected pending, parked, scheduled, retry, active, dead or completed")
        }
    }

    // MARK: - Sorted sets

    struct RankedEntry {
        let queue: String
        let id: String
        let score: Int64
    }

    private func rankedKey(_ state: JobState, _ queue: String) -> String {
        switch state {
        case .scheduled: return keys.scheduled(queue)
        case .retry: return keys.retry(queue)
        case .active: return keys.active(queue)
        case .dead: return keys.dead(queue)
        default: return keys.completed(queue)
        }
    }

    /// Dead and completed jobs read newest first; the others soonest due first.
    private static func isNewestFirst(_ state: JobState) -> Bool { state == .dead || state == .completed }

    /// Whether `entry` comes after `position` in the set's order. Redis orders equal scores by member,
    /// ascending (and descending in ZREVRANGEBYSCORE), so (score, id) is the set's own order.
    private static func comesAfter(_ entry: RankedEntry, _ position: RankedEntry?, newestFirst: Bool) -> Bool {
        guard let position else { return true }
        if entry.score != position.score { return newestFirst ? entry.score < position.score : entry.score > position.score }
        return newestFirst ? entry.id < position.id : entry.id > position.id
    }

    private func scanRanked(
        state: JobState, queues: [String], filter: JobFilter, limit: Int, budget: Int, after: RankedEntry?
    ) async throws -> JobScan {
        var scan = JobScan()
        var position = after
        var matched = 0
        var chunk = limit
        while matched < limit && scan.rows.count < budget {
            let (entries, more) = try await nextRanked(state, queues: queues, after: position, count: min(chunk, budget - scan.rows.count))
            let replies = try await redis.pipeline(entries.map { JobSummary.command(keys, queue: $0.queue, id: $0.id) })
            var full = false
            for (index, entry) in entries.enumerated() {
                let job = JobSummary(
                    id: entry.id, queue: entry.queue, state: state, score: entry.score, reply: try replies[index].checked("HMGET"))
                position = entry
                let matches = filter.matches(job)
                scan.rows.append(
                    JobScan.Row(job: job, cursor: JobCursor(state: state, .ranked(score: entry.score, id: entry.id)), matches: matches))
                if matches { matched += 1 }
                if matched == limit && index < entries.count - 1 {
                    full = true
                    break
                }
            }
            // Everything after the cursor has been read: there is no next page.
            if !full && !more {
                scan.next = nil
                return scan
            }
            chunk *= 2
        }
        scan.next = position.map { JobCursor(state: state, .ranked(score: $0.score, id: $0.id)) }
        return scan
    }

    /// The next `count` jobs after `position` across the queues' sets, in order, and whether more follow.
    /// Each queue's next count + 1 are read in one round trip: the first count + 1 of their merge are
    /// the next count + 1 overall.
    private func nextRanked(
        _ state: JobState, queues: [String], after position: RankedEntry?, count: Int
    ) async throws -> ([RankedEntry], Bool) {
        let newestFirst = Self.isNewestFirst(state)
        let want = count + 1
        let replies = try await redis.pipeline(
            queues.map { rangeCommand(rankedKey(state, $0), newestFirst, from: position?.score, offset: 0, count: want) })
        var all: [RankedEntry] = []
        for (queue, reply) in zip(queues, replies) {
            var raw = Self.rankedEntries(queue, try reply.checked("ZRANGEBYSCORE"))
            var taken = raw.filter { Self.comesAfter($0, position, newestFirst: newestFirst) }
            var offset = raw.count
            // The set holds more than a whole read of jobs at the cursor's very score, up to its id:
            // read on past them (the offset counts only jobs of that one score, so it stays small).
            while taken.count < want && raw.count == want, let position {
                let more = try await redis.run(
                    rangeCommand(rankedKey(state, queue), newestFirst, from: position.score, offset: offset, count: want))
                raw = Self.rankedEntries(queue, more)
                taken += raw.filter { Self.comesAfter($0, position, newestFirst: newestFirst) }
                offset += raw.count
            }
            all += taken.prefix(want)
        }
        all.sort { Self.comesAfter($1, $0, newestFirst: newestFirst) }
        return (Array(all.prefix(count)), all.count > count)
    }

    /// Jobs from `from` (inclusive; the set's start when nil) in the set's order, with their scores.
    private func rangeCommand(_ key: String, _ newestFirst: Bool, from score: Int64?, offset: Int, count: Int) -> RedisCommand {
        let tail = ["WITHSCORES", "LIMIT", String(offset), String(count)]
        if newestFirst { return RedisCommand("ZREVRANGEBYSCORE", [key, score.map { String($0) } ?? "+inf", "-inf"] + tail) }
        return RedisCommand("ZRANGEBYSCORE", [key, score.map { String($0) } ?? "-inf", "+inf"] + tail)
    }

    private static func rankedEntries(_ queue: String, _ reply: RedisReply) -> [RankedEntry] {
        let flat = reply.array ?? []
        return stride(from: 0, to: flat.count - 1, by: 2).map {
            RankedEntry(queue: queue, id: flat[$0].string ?? "", score: Int64(flat[$0 + 1].string.flatMap { Double($0) } ?? 0))
        }
    }

    // MARK: - Lanes

    struct Lane: Equatable {
        let queue: String
        let tenant: String
        var order: (String, String) { (queue, tenant) }
    }

    /// A position in a lane: how many of its jobs, from its oldest end, were passed, and the last of them.
    struct LaneCursor {
        let lane: Lane
        let passed: Int
        let id: String
    }

    /// Jobs read from one lane: `ids` oldest first, the first one `passed` + 1 from the lane's oldest end.
    private struct LaneSegment {
        let lane: Int
        let passed: Int
        let ids: [String]
        /// More jobs follow in this lane.
        let more: Bool
    }

    private func scanLanes(
        state: JobState, queues: [String], filter: JobFilter, limit: Int, budget: Int, after: LaneCursor?
    ) async throws -> JobScan {
        let lanes = try await lanesInOrder(parked: state == .parked, queues: queues, tenant: filter.tenant)
        var index = 0
        var passed = 0
        var lastID = ""
        if let after {
            // The cursor's lane, or the next one if it has emptied and left the ring since.
            index = lanes.firstIndex { $0.order >= after.lane.order } ?? lanes.count
            if index < lanes.count && lanes[index] == after.lane { (passed, lastID) = (after.passed, after.id) }
        }
        var scan = JobScan()
        var matched = 0
        var chunk = limit
        reading: while index < lanes.count && matched < limit && scan.rows.count < budget {
            let segments = try await readLanes(
                lanes, from: index, passed: passed, lastID: lastID, count: min(chunk, budget - scan.rows.count))
            let reads = segments.flatMap { segment in segment.ids.map { (queue: lanes[segment.lane].queue, id: $0) } }
            let replies = try await redis.pipeline(reads.map { JobSummary.command(keys, queue: $0.queue, id: $0.id) })
            var read = 0
            for segment in segments {
                let lane = lanes[segment.lane]
                index = segment.lane
                for (offset, id) in segment.ids.enumerated() {
                    let job = JobSummary(id: id, queue: lane.queue, state: state, score: nil, reply: try replies[read].checked("HMGET"))
                    read += 1
                    (passed, lastID) = (segment.passed + offset + 1, id)
                    let matches = filter.matches(job)
                    let cursor = JobCursor(state: state, .lane(queue: lane.queue, tenant: lane.tenant, passed: passed, id: id))
                    scan.rows.append(JobScan.Row(job: job, cursor: cursor, matches: matches))
                    if matches { matched += 1 }
                    if matched == limit {
                        if offset == segment.ids.count - 1 && !segment.more { (index, passed, lastID) = (segment.lane + 1, 0, "") }
                        break reading
                    }
                }
                // This lane is read to its end: what follows starts at the next lane.
                if !segment.more { (index, passed, lastID) = (segment.lane + 1, 0, "") }
            }
            chunk *= 2
        }
        if index < lanes.count {
            let lane = lanes[index]
            scan.next = JobCursor(state: state, .lane(queue: lane.queue, tenant: lane.tenant, passed: passed, id: lastID))
        }
        return scan
    }

    /// The lanes to read, in order: queue by queue, tenants by name ("" first, the jobs without one).
    /// Pending lanes are the ring's; parked lanes are the paused tenants' that fetch took out of it.
    private func lanesInOrder(parked: Bool, queues: [String], tenant: String?) async throws -> [Lane] {
        if let tenant {
            let replies = try await redis.pipeline(queues.map { RedisCommand("SISMEMBER", keys.parkedTenants($0), tenant) })
            return try zip(queues, replies).compactMap { queue, reply in
                try (reply.checked("SISMEMBER").int == 1) == parked ? Lane(queue: queue, tenant: tenant) : nil
            }
        }
        let replies = try await redis.pipeline(
            queues.map { parked ? RedisCommand("SMEMBERS", keys.parkedTenants($0)) : RedisCommand("LRANGE", keys.lanes($0), "0", "-1") })
        return try zip(queues, replies).flatMap { queue, reply in
            Set(try reply.checked("lanes").array?.compactMap(\.string) ?? []).sorted().map { Lane(queue: queue, tenant: $0) }
        }
    }

    /// Up to `count` jobs from the lanes in order, starting in `lanes[index]` after `passed` jobs: as many
    /// lanes as it takes, the lanes after the first read several at a time in one round trip (many small
    /// tenants' lanes must not cost a round trip each).
    private func readLanes(_ lanes: [Lane], from index: Int, passed: Int, lastID: String, count: Int) async throws -> [LaneSegment] {
        guard index < lanes.count else { return [] }
        let first = try await readLane(lanes[index], index: index, passed: passed, lastID: lastID, count: count)
        var segments = [first]
        var remaining = count - segments[0].ids.count
        var next = index + 1
        var width = 4
        while remaining > 0 && !segments[segments.count - 1].more && next < lanes.count {
            let batch = Array(lanes[next..<min(next + width, lanes.count)])
            let replies = try await redis.pipeline(
                batch.map { rangeCommand(keys.lane($0.queue, tenant: $0.tenant), passed: 0, count: remaining + 1) })
            for (offset, reply) in replies.enumerated() {
                let ids = Array((try reply.checked("LRANGE").array?.compactMap(\.string) ?? []).reversed())
                segments.append(LaneSegment(lane: next + offset, passed: 0, ids: Array(ids.prefix(remaining)), more: ids.count > remaining))
                remaining -= min(ids.count, remaining)
                if remaining == 0 { break }
            }
            next += batch.count
            width = min(width * 2, 64)
        }
        return segments
    }

    /// Up to `count` jobs of one lane after the first `passed` from its oldest end, oldest first.
    ///
    /// A lane is a list that changes at both ends: enqueue pushes new jobs on the left, fetch pops the
    /// oldest on the right, and a requeued job goes back on the right. So `passed` is only a hint. The
    /// job the cursor names is checked there in the same round trip as the read (the common case: the
    /// lane did not move); when the lane moved, it is sought within `relocationWindow` jobs either side.
    /// Not found there, it left the lane: fetch takes the oldest jobs first, so the ones before it are
    /// gone too, and the lane is read again from its oldest end. A page may then repeat a job (one
    /// requeued, or the jobs before one cancelled), never skip one. Every read is LRANGE near a
    /// position: its cost is the page and the window, not the depth.
    private func readLane(_ lane: Lane, index: Int, passed: Int, lastID: String, count: Int) async throws -> LaneSegment {
        let key = keys.lane(lane.queue, tenant: lane.tenant)
        var passed = passed
        if passed > 0 {
            let replies = try await redis.pipeline([
                RedisCommand("LINDEX", key, String(-passed)), rangeCommand(key, passed: passed, count: count + 1),
            ])
            if try replies[0].checked("LINDEX").string == lastID {
                return laneSegment(index, passed: passed, try replies[1].checked("LRANGE"), count: count)
            }
            passed = try await relocate(key, passed: passed, id: lastID)
        }
        let reply = try await redis.run(rangeCommand(key, passed: passed, count: count + 1))
        return laneSegment(index, passed: passed, reply, count: count)
    }

    /// Where `id`, last seen `passed` jobs from the lane's oldest end, is now; 0 (the oldest end) when it
    /// is not within the window.
    private func relocate(_ key: String, passed: Int, id: String) async throws -> Int {
        let low = max(passed - Self.relocationWindow, 1)
        let high = passed + Self.relocationWindow
        let window = try await redis.run("LRANGE", key, String(-high), String(-low)).array?.compactMap(\.string) ?? []
        // The window runs from the newest end to position `low`, its last item.
        var found: Int?
        for (offset, candidate) in window.enumerated() where candidate == id {
            let position = low + window.count - 1 - offset
            if found.map({ abs(position - passed) < abs($0 - passed) }) ?? true { found = position }
        }
        return found ?? 0
    }

    /// LRANGE of `count` jobs after the first `passed` from a lane's oldest (right) end.
    private func rangeCommand(_ key: String, passed: Int, count: Int) -> RedisCommand {
        RedisCommand("LRANGE", key, String(-(passed + count)), String(-(passed + 1)))
    }

    /// A read of count + 1 jobs as a segment of at most `count`, oldest first, saying whether more follow.
    private func laneSegment(_ index: Int, passed: Int, _ reply: RedisReply, count: Int) -> LaneSegment {
        let ids = Array((reply.array?.compactMap(\.string) ?? []).reversed())
        return LaneSegment(lane: index, passed: passed, ids: Array(ids.prefix(count)), more: ids.count > count)
    }
}
