import Hummingbird
import SpoolQueue
import SpoolRedis
import SpoolSupport

/// `GET /dashboard/live`: what the overview's script polls every 2 s (operator only; a tenant admin
/// gets 404, as for every page of numbers shared by all tenants). Exactly one Redis round trip per
/// call, a single pipeline of:
/// - `SMEMBERS spool:queues`, to know next time of a queue that got its first job;
/// - the current minute and the one before from the timeline (`DashboardTimeline`);
/// - one `live_counts.lua` call per queue (declared, or seen by this process).
/// So an open overview costs half a round trip a second, and nothing while the tab is hidden (the
/// script stops polling).
///
/// It answers `{"queues": {"<name>": {pending, scheduled, active, retry, dead, processed, failed, state,
/// latency}}, "summary": {processed_per_second, failed_per_second, processed_this_minute,
/// failed_this_minute, pending, dead}}`; the rates are the last whole minute's.
struct DashboardLive: Sendable {
    let services: APIServices
    let seenQueues: SeenQueues

    func register(on group: RouterGroup<APIContext>) {
        group.get("/live") { _, context in try await live(context) }
    }

    private func live(_ context: APIContext) async throws -> Response {
        try context.visit().requireOperator()
        let keys = services.keys
        let now = services.clock.nowMillis()
        let queues = Set(services.admin.declaredQueues).union(seenQueues.current).sorted()
        var commands = [RedisCommand("SMEMBERS", keys.queues)]
        commands += DashboardTimeline.commands(keys: keys, nowMs: now, wholeMinutes: 1)
        commands += queues.map { DashboardLiveCounts.command(keys: keys, queue: $0) }
        let replies = try await services.redis.pipeline(commands)
        seenQueues.record(try replies[0].checked("SMEMBERS \(keys.queues)").array?.compactMap(\.string) ?? [])
        let timeline = DashboardTimeline(replies[1...2])
        var byName: [String: JSONValue] = [:]
        var pending = 0
        var dead = 0
        for (queue, reply) in zip(queues, replies.dropFirst(3)) {
            let counts = try DashboardLiveCounts(reply, nowMs: now)
            byName[queue] = counts.json
            pending += counts.pending
            dead += counts.dead
        }
        return APIResponse.json(
            200,
            .object([
                "queues": .object(byName),
                "summary": .object([
                    "processed_per_second": .string(DashboardFormat.rate(Double(timeline.lastWhole.processed) / 60)),
                    "failed_per_second": .string(DashboardFormat.rate(Double(timeline.lastWhole.failed) / 60)),
                    "processed_this_minute": .number(Double(timeline.current.processed)),
                    "failed_this_minute": .number(Double(timeline.current.failed)),
                    "pending": .number(Double(pending)), "dead": .number(Double(dead)),
                ]),
            ]))
    }
}
