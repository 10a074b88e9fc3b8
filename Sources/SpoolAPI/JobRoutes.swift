import HTTPTypes
import Hummingbird
import SpoolQueue
import SpoolSupport

/// `POST /v1/jobs`, `GET /v1/jobs/{id}`, `DELETE /v1/jobs/{id}`: enqueue through the same Enqueuer the
/// CLI uses, read a job's status, cancel it. Another tenant's job is a 404.
struct JobRoutes: Sendable {
    let services: APIServices
    static let maximumBody = 1 << 20

    func register(on router: RouterGroup<APIContext>) {
        router.post("/jobs") { request, context in try await enqueue(request, context) }
        router.get("/jobs/:id") { _, context in try await status(context) }
        router.delete("/jobs/:id") { _, context in try await cancel(context) }
    }

    private func enqueue(_ request: Request, _ context: APIContext) async throws -> Response {
        let principal = try context.require(.enqueue)
        var request = request
        let body = try await RequestBody.json(&request, limit: Self.maximumBody)
        let header = request.headers[.idempotencyKey]
        let job = try JobSubmission.parse(
            body, principal: principal, headerIdempotencyKey: header, declaredQueues: services.declaredQueues,
            nowMs: services.clock.nowMillis())
        let result: EnqueueResult
        do { result = try await services.enqueuer.enqueue(job) } catch let error as EnqueueError {
            throw APIError.invalid(error.field, error.message)
        }
        return APIResponse.json(
            result.created ? 202 : 200,
            .object([
                "id": .string(result.id), "queue": .string(result.queue),
                "status": .string(try await services.status(of: result)), "duplicate": .bool(!result.created),
            ]))
    }

    private func status(_ context: APIContext) async throws -> Response {
        let principal = try context.require(.read)
        let record = try await ownedJob(context, principal)
        return APIResponse.json(200, Self.resource(record))
    }

    private func cancel(_ context: APIContext) async throws -> Response {
        let principal = try context.require(.enqueue)
        let record = try await ownedJob(context, principal)
        switch try await services.admin.cancel(record.id) {
        case .cancelled:
            return APIResponse.json(200, .object(["id": .string(record.id), "status": .string(JobState.cancelled.rawValue)]))
        case .notFound:
            throw APIError.notFound("job \(record.id)")
        case .notCancellable(let state):
            throw APIError(
                status: 409, code: "not_cancellable",
                message: "job \(record.id) is \(state); only pending, scheduled, retrying or parked jobs can be cancelled")
        }
    }

    private func ownedJob(_ context: APIContext, _ principal: Principal) async throws -> JobRecord {
        let id = context.parameters.get("id") ?? ""
        guard let record = try await services.admin.job(id), principal.owns(record.tenant) else {
            throw APIError.notFound("job \(id.prefix(64))")
        }
        return record
    }

    /// A job's record as the API shows it; times are RFC 3339.
    static func resource(_ record: JobRecord) -> JSONValue {
        func time(_ ms: Int64?) -> JSONValue { ms.map { .string(RFC3339.format($0)) } ?? .null }
        func text(_ value: String?) -> JSONValue { value.map { .string($0) } ?? .null }
        let args = record.args.flatMap { try? JSONValue.parse($0) } ?? .null
        var result: JSONValue = .null
        if let stored = record.result { result = (try? JSONValue.parse(stored)) ?? .string(stored) }
        return .object([
            "id": .string(record.id), "kind": text(record.kind), "queue": .string(record.queue), "status": .string(record.state.rawValue),
            "tenant": text(record.tenant), "args": args, "attempts": .number(Double(record.attempt ?? 0)),
            "max_attempts": .number(Double(record.maxAttempts ?? 0)), "last_error": text(record.lastError),
            "dead_reason": text(record.deadReason), "enqueued_at": time(record.enqueuedAt), "run_at": time(record.runAt),
            "finished_at": time(record.finishedAt), "result": result, "idempotency_key": text(record.idempotencyKey),
            "parent_id": text(record.parentID),
        ])
    }
}

extension HTTPField.Name {
    static let idempotencyKey = HTTPField.Name("Idempotency-Key")!
}
