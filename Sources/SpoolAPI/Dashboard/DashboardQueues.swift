import HTTPTypes
import Hummingbird
import SpoolHTTP
import SpoolQueue

/// `GET /dashboard/queues` (operator; a tenant admin gets 404): each queue with its jobs by state, its
/// totals, its throughput over the last minute and its latency (the oldest pending job's age), and
/// `POST /dashboard/queues/{name}/pause|resume`, which answer 303 back to the page with what they did
/// in the query (`?paused=<name>`), shown once as the flash line.
///
/// Reads: `QueueAdmin.stats()` (three round trips) and `throughput` (one), whatever the number of jobs.
struct DashboardQueues: Sendable {
    let services: APIServices
    let pages: DashboardPages

    struct Row: Sendable {
        let name: String
        let state: String
        let paused: Bool
        let pending: Int
        let scheduled: Int
        let active: Int
        let retry: Int
        let dead: Int
        let processed: Int
        let failed: Int
        let throughput: String
        let latency: String
        /// The form that pauses it (running queues) or resumes it (paused ones).
        let pauseForm: DashboardFormAction?
        let resumeForm: DashboardFormAction?
    }

    struct View: Sendable {
        let queues: [Row]
    }

    func register(on group: RouterGroup<APIContext>) {
        group.get("/queues") { request, context in try await list(request, context) }
        group.post("/queues/:queue/pause") { _, context in try await setPaused(context, true) }
        group.post("/queues/:queue/resume") { _, context in try await setPaused(context, false) }
    }

    static func actionPath(_ queue: String, paused: Bool) -> String { "/dashboard/queues/\(queue)/\(paused ? "pause" : "resume")" }

    private func list(_ request: Request, _ context: APIContext) async throws -> Response {
        let visit = try context.visit()
        try visit.requireOperator()
        let stats = try await services.admin.stats()
        let rates = try await services.admin.throughput(queues: stats.map(\.queue))
        let rows = stats.map { queue in
            Row(
                name: queue.queue, state: queue.paused ? "paused" : "running", paused: queue.paused, pending: queue.pending,
                scheduled: queue.scheduled, active: queue.active, retry: queue.retry, dead: queue.dead, processed: queue.processed,
                failed: queue.failed, throughput: DashboardFormat.rate(rates[queue.queue] ?? 0),
                latency: DashboardFormat.age(seconds: queue.oldestPendingAgeSeconds),
                pauseForm: queue.paused ? nil : visit.formAction(Self.actionPath(queue.queue, paused: true)),
                resumeForm: queue.paused ? visit.formAction(Self.actionPath(queue.queue, paused: false)) : nil)
        }
        let layout = DashboardLayout(visit: visit, current: .queues, flash: Self.flash(request.uri.queryParameters))
        return pages.render(.queues, page: View(queues: rows), layout: layout)
    }

    /// The line that says what the last pause or resume did; only a valid queue name is repeated.
    static func flash(_ query: Parameters) -> String? {
        for verb in ["paused", "resumed"] {
            if let name = query.get(verb), JobKindCatalog.isValidName(name) { return "Queue \(name) \(verb)." }
        }
        return nil
    }

    /// Queues are shared by every tenant: the operator's alone to stop or start.
    private func setPaused(_ context: APIContext, _ paused: Bool) async throws -> Response {
        try context.visit().requireOperator()
        let name = context.parameters.get("queue") ?? ""
        guard JobKindCatalog.isValidName(name), try await services.admin.queues().contains(name) else { throw DashboardRefusal.notFound }
        if paused { try await services.admin.pause(queue: name) } else { try await services.admin.resume(queue: name) }
        return DashboardResponse.redirect(to: "/dashboard/queues?" + FormEncoding.encode([(paused ? "paused" : "resumed", name)]))
    }
}
