import HTTPTypes
import Hummingbird
import SpoolQueue
import SpoolSupport

/// `GET /v1/queues` (sizes, latency, throughput) and `POST /v1/queues/{q}/pause|resume` (operator).
struct QueueRoutes: Sendable {
    let services: APIServices

    func register(on router: RouterGroup<APIContext>) {
        router.get("/queues") { _, context in try await list(context) }
        router.post("/queues/:queue/pause") { _, context in try await setPaused(context, true) }
        router.post("/queues/:queue/resume") { _, context in try await setPaused(context, false) }
    }

    private func list(_ context: APIContext) async throws -> Response {
        _ = try context.require(.read)
        let stats = try await services.admin.stats()
        let rates = try await services.admin.throughput(queues: stats.map(\.queue))
        let parked = try await services.admin.parkedCounts(queues: stats.map(\.queue))
        var items: [JSONValue] = []
        for queue in stats {
            let throughput = rates[queue.queue] ?? 0
            items.append(
                .object([
                    "name": .string(queue.queue), "paused": .bool(queue.paused),
                    "sizes": .object([
                        "pending": .number(Double(queue.pending)), "scheduled": .number(Double(queue.scheduled)),
                        "active": .number(Double(queue.active)), "retry": .number(Double(queue.retry)), "dead": .number(Double(queue.dead)),
                        "parked": .number(Double(parked[queue.queue] ?? 0)),
                    ]),
                    "latency_seconds": .number(queue.oldestPendingAgeSeconds),
                    "processed_total": .number(Double(queue.processed)), "failed_total": .number(Double(queue.failed)),
                    "throughput_per_second": .number(throughput),
                ]))
        }
        return APIResponse.json(200, .object(["queues": .array(items)]))
    }

    /// Queues are shared by every tenant, so only the operator may stop or start one.
    private func setPaused(_ context: APIContext, _ paused: Bool) async throws -> Response {
        try context.requireOperator("queues are shared by all tenants; only the operator key pauses or resumes one")
        let name = context.parameters.get("queue") ?? ""
        guard try await services.admin.queues().contains(name) else { throw APIError.notFound("queue \(name.prefix(64))") }
        if paused { try await services.admin.pause(queue: name) } else { try await services.admin.resume(queue: name) }
        return APIResponse.json(200, .object(["name": .string(name), "paused": .bool(paused)]))
    }
}
