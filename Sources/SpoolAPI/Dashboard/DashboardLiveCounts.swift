import SpoolQueue
import SpoolRedis
import SpoolSupport

/// One queue's numbers for the live feed, from one call of `live_counts.lua`: pending (summed over its
/// lanes), the other states, the totals, paused, and the age of its oldest pending job.
struct DashboardLiveCounts: Sendable, Equatable {
    let pending: Int
    let scheduled: Int
    let active: Int
    let retry: Int
    let dead: Int
    let processed: Int
    let failed: Int
    let paused: Bool
    let oldestPendingAgeSeconds: Double

    static let script = RedisScript(name: "live_counts.lua", source: String(decoding: PackageResources.live_counts_lua, as: UTF8.self))

    /// The call for `queue`, as EVAL with its source: the feed's pipeline then never needs a second
    /// round trip after NOSCRIPT, and Redis still caches the compiled script.
    static func command(keys: KeySpace, queue q: String) -> RedisCommand {
        // The lane prefix and the job prefix are KEYS too: the script builds lanes and job hashes from
        // them (docs/architecture.md, "Keys and slots").
        script.evalCommand(
            keys: [
                keys.lanes(q), keys.scheduled(q), keys.active(q), keys.retry(q), keys.dead(q), keys.stats(q), keys.paused(q),
                keys.pending(q), keys.jobPrefix(q),
            ],
            arguments: [])
    }

    init(_ reply: RedisReply, nowMs: Int64) throws {
        let values = try reply.checked("EVAL live_counts.lua").array?.map { $0.int ?? 0 } ?? []
        guard values.count == 9 else { throw DashboardLiveCountsError(count: values.count) }
        pending = values[0]
        scheduled = values[1]
        active = values[2]
        retry = values[3]
        dead = values[4]
        processed = values[5]
        failed = values[6]
        paused = values[7] == 1
        oldestPendingAgeSeconds = values[8] == 0 ? 0 : Double(max(nowMs - Int64(values[8]), 0)) / 1000
    }

    /// As the feed sends it, with the same names the pages' `data-field` attributes use.
    var json: JSONValue {
        .object([
            "pending": .number(Double(pending)), "scheduled": .number(Double(scheduled)), "active": .number(Double(active)),
            "retry": .number(Double(retry)), "dead": .number(Double(dead)), "processed": .number(Double(processed)),
            "failed": .number(Double(failed)), "state": .string(paused ? "paused" : "running"),
            "latency": .string(DashboardFormat.age(seconds: oldestPendingAgeSeconds)),
        ])
    }
}

/// live_counts.lua answered something else than its nine numbers.
struct DashboardLiveCountsError: Error, Sendable, CustomStringConvertible {
    let count: Int
    var description: String { "live_counts.lua answered \(count) values, not 9" }
}
