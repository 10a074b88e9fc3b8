import HTTPTypes
import Hummingbird
import SpoolQueue
import SpoolSupport

/// `GET /v1/dead` (newest first, paged by the `before` cursor), `POST /v1/dead/{id}/retry`, `DELETE /v1/dead/{id}`.
/// A tenant sees and touches only its own dead jobs.
struct DeadRoutes: Sendable {
    let services: APIServices

    func register(on router: RouterGroup<APIContext>) {
        router.get("/dead") { request, context in try await list(request, context) }
        router.post("/dead/:id/retry") { _, context in try await act(context, retry: true) }
        router.delete("/dead/:id") { _, context in try await act(context, retry: false) }
    }

    private func list(_ request: Request, _ context: APIContext) async throws -> Response {
        let principal = try context.require(.read)
        let query = request.uri.queryParameters
        var limit = 50
        if let text = query["limit"] {
            guard let value = Int(text), (1...500).contains(value) else {
                throw APIError.invalid("limit", "expected an integer from 1 to 500")
            }
            limit = value
        }
        var after: QueueAdmin.DeadCursor?
        if let text = query["before"] {
            guard let cursor = QueueAdmin.DeadCursor(text: String(text)) else {
                throw APIError.invalid("before", "expected the next_before value of the previous page, such as 1795323171000:01M80...")
            }
            after = cursor
        }
        let jobs = try await services.admin.deadJobs(limit: limit, after: after, tenant: principal.tenantID)
        let items: [JSONValue] = jobs.map { job in
            .object([
                "id": .string(job.id), "queue": .string(job.queue), "kind": .string(job.kind), "attempts": .number(Double(job.attempts)),
                "reason": .string(job.reason), "last_error": .string(job.lastError), "died_at": .string(RFC3339.format(job.diedAt)),
                "tenant": job.tenant.map { .string($0) } ?? .null,
            ])
        }
        let next: JSONValue =
            jobs.count == limit ? .string(QueueAdmin.DeadCursor(diedAt: jobs.last!.diedAt, id: jobs.last!.id).text) : .null
        return APIResponse.json(200, .object(["jobs": .array(items), "next_before": next]))
    }

    private func act(_ context: APIContext, retry: Bool) async throws -> Response {
        let principal = try context.require(.admin)
        let id = context.parameters.get("id") ?? ""
        guard let record = try await services.admin.job(id), record.state == .dead, principal.owns(record.tenant) else {
            throw APIError.notFound("dead job \(id.prefix(64))")
        }
        let changed = retry ? try await services.admin.retryDead(ids: [id]) : try await services.admin.discardDead(ids: [id])
        guard changed == 1 else { throw APIError.notFound("dead job \(id.prefix(64))") }
        return APIResponse.json(200, .object(["id": .string(id), "status": .string(retry ? JobState.pending.rawValue : "discarded")]))
    }
}
