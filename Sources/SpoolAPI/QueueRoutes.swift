import Hummingbird
import HTTPTypes
import SpoolQueue
import SpoolSupport
import Synchronization

/// `GET /v1/queues` (sizes, latency, throughput) and `POST /v1/queues/{q}/pause|resume` (admin).
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
        let now = monotonicNow()
        var items: [JSONValue] = []
        for queue in stats {
            let throughput = services.throughput.record(queue: queue.queue, processed: queue.processed, failed: queue.failed, at: now)
            items.append(.object([
                "name": .string(queue.queue), "paused": .bool(queue.paused),
                "sizes": .object([
                    "pending": .number(Double(queue.pending)), "scheduled": .number(Double(queue.scheduled)),
                    "active": .number(Double(queue.active)), "retry": .number(Double(queue.retry)), "dead": .number(Double(queue.dead)),
                    "parked": .number(Double(try await services.admin.parkedCount(queue: queue.queue))),
                ]),
                "latency_seconds": .number(queue.oldestPendingAgeSeconds),
                "processed_total": .number(Double(queue.processed)), "failed_total": .number(Double(queue.failed)),
                "throughput_per_second": .number(throughput),
            ]))
        }
        return APIResponse.json(200, .object(["queues": .array(items)]))
    }

    private func setPaused(_ context: APIContext, _ paused: Bool) async throws -> Response {
        _ = try context.require(.admin)
        let name = context.parameters.get("queue") ?? ""
        guard try await services.admin.queues().contains(name) else { throw APIError.notFound("queue \(name.prefix(64))") }
        if paused { try await services.admin.pause(queue: name) } else { try await services.admin.resume(queue: name) }
        return APIResponse.json(200, .object(["name": .string(name), "paused": .bool(paused)]))
    }
}

/// Jobs per second per queue, from the processed counters seen over the last minute of requests and
/// of the /metrics scrapes.
final class ThroughputSampler: Sendable {
    private struct Sample { let at: Duration; let settled: Int }
    private let samples = Mutex<[String: [Sample]]>([:])
    static let window: Duration = .seconds(60)

    func record(queue: String, processed: Int, failed: Int, at now: Duration) -> Double {
        samples.withLock { samples in
            var list = samples[queue, default: []]
            list.append(Sample(at: now, settled: processed + failed))
            list.removeAll { now - $0.at > Self.window }
            samples[queue] = list
            guard let first = list.first, let last = list.last, last.at - first.at >= .seconds(1) else { return 0 }
            return Double(max(0, last.settled - first.settled)) / (last.at - first.at).secondsDouble
        }
    }
}
