import HTTPTypes
import Hummingbird
import SpoolQueue
import SpoolStore
import SpoolSupport

/// `POST /v1/schedules`, `GET /v1/schedules`, `GET /v1/schedules/preview`, `GET /v1/schedules/{id}`,
/// `POST /v1/schedules/{id}/pause`, `POST /v1/schedules/{id}/resume`, `DELETE /v1/schedules/{id}`:
/// recurring schedules, each enqueuing a job of its kind at every tick of a cron expression or an
/// interval (`ScheduleStore`; `ScheduleTicker` fires them).
///
/// Reading and previewing take scope `read`; making, pausing, resuming and deleting take `admin`. A
/// tenant's key makes schedules for its own tenant, whose jobs are enqueued as the tenant's (so a kind
/// only the operator or Spool itself may enqueue is refused, as `POST /v1/jobs` refuses it), and sees
/// only its own: another tenant's schedule is a 404, never a 403. The operator key's schedules are the
/// operator's (tenant null) unless it names a `tenant`; it sees every one.
struct ScheduleRoutes: Sendable {
    let services: APIServices
    static let knownFields: Set<String> = [
        "name", "cron", "every", "timezone", "kind", "args", "queue", "missed", "missed_limit", "overlap", "jitter_ms", "starts_at",
        "ends_at", "tenant",
    ]
    /// A body is a few hundred bytes; the jobs' args are bounded as an enqueue's are.
    static let bodyLimit = 64 << 10

    func register(on router: RouterGroup<APIContext>) {
        router.post("/schedules") { request, context in try await create(request, context) }
        router.get("/schedules") { request, context in try await list(request, context) }
        router.get("/schedules/preview") { request, context in try await preview(request, context) }
        router.get("/schedules/:id") { _, context in try await show(context) }
        router.post("/schedules/:id/pause") { _, context in try await setPaused(context, paused: true) }
        router.post("/schedules/:id/resume") { _, context in try await setPaused(context, paused: false) }
        router.delete("/schedules/:id") { _, context in try await remove(context) }
    }

    private var store: ScheduleStore { ScheduleStore(pool: services.pool, enqueuer: services.enqueuer, clock: services.clock) }

    /// 201 with the schedule, its first tick computed.
    private func create(_ request: Request, _ context: APIContext) async throws -> Response {
        let principal = try context.require(.admin)
        var request = request
        let body = try await RequestBody.json(&request, limit: Self.bodyLimit)
        let (scheduleRequest, given) = try Self.parse(body, declaredQueues: services.declaredQueues)
        // The operator's own unless it names a tenant; a tenant's key makes its own tenant's.
        let tenantID: String? = try principal.isOperator ? given : MessageRoutes.tenant(principal, given: given)
        let producer: Schedule.Producer = principal.isOperator ? .operator : .tenant
        let store = self.store
        let schedule = try await refusals { try await store.create(scheduleRequest, tenantID: tenantID, producer: producer) }
        return APIResponse.json(201, schedule.json)
    }

    /// `?tenant=`: the operator sees every schedule unless it names a tenant; a tenant's key its own.
    private func list(_ request: Request, _ context: APIContext) async throws -> Response {
        let principal = try context.require(.read)
        let given = request.uri.queryParameters.get("tenant")
        let tenantID: String? = try principal.isOperator && given == nil ? nil : MessageRoutes.tenant(principal, given: given)
        let schedules = try await store.list(tenantID: tenantID)
        return APIResponse.json(200, .object(["schedules": .array(schedules.map(\.json))]))
    }

    /// The schedule, and the state of the last job it enqueued.
    private func show(_ context: APIContext) async throws -> Response {
        let principal = try context.require(.read)
        let id = context.parameters.get("id") ?? ""
        guard Self.isScheduleID(id), let schedule = try await store.find(id, tenantID: principal.tenantID) else {
            throw APIError.notFound("schedule \(id.prefix(64))")
        }
        var state: String?
        if let job = schedule.lastJobID {
            state = try await services.admin.states(of: [(job, schedule.lastJobQueue ?? "default")]).first?.rawValue
        }
        return APIResponse.json(200, schedule.detailJSON(lastJobState: state))
    }

    /// Pause (no tick fires) or resume (from the next tick after now): 200 with the schedule as it is now.
    private func setPaused(_ context: APIContext, paused: Bool) async throws -> Response {
        let principal = try context.require(.admin)
        let id = context.parameters.get("id") ?? ""
        guard Self.isScheduleID(id) else { throw APIError.notFound("schedule \(id.prefix(64))") }
        let store = self.store
        let schedule = try await refusals { try await store.setPaused(id, tenantID: principal.tenantID, paused: paused) }
        return APIResponse.json(200, schedule.json)
    }

    /// 204; jobs it enqueued already run as they are.
    private func remove(_ context: APIContext) async throws -> Response {
        let principal = try context.require(.admin)
        let id = context.parameters.get("id") ?? ""
        guard Self.isScheduleID(id) else { throw APIError.notFound("schedule \(id.prefix(64))") }
        let store = self.store
        // A schedule Spool made (a calendar's sync) goes with what it serves: a tenant pauses it, or
        // disconnects the calendar; the operator may delete it (the dashboard follows the same rule).
        if let tenantID = principal.tenantID, let schedule = try await store.find(id, tenantID: tenantID), schedule.source == .builtin {
            throw APIError(
                status: 409, code: "kept_by_spool",
                message: "schedule \(id): Spool made it and keeps it (a calendar's sync goes with its connection); pause it instead, or disconnect the calendar")
        }
        try await refusals { try await store.delete(id, tenantID: principal.tenantID) }
        return Response(status: .noContent)
    }

    /// `?cron=|every=&tz=&from=&count=`: the next `count` (10; at most 1000) fire times after `from` (now)
    /// in UTC. The zone is `tz`, else a tenant key's tenant's (as a schedule it makes without one reads),
    /// else UTC.
    private func preview(_ request: Request, _ context: APIContext) async throws -> Response {
        let principal = try context.require(.read)
        let query = request.uri.queryParameters
        var count = 10
        if let text = query.get("count") {
            guard let value = Int(text), (1...ScheduleStore.maximumPreviewCount).contains(value) else {
                throw APIError.invalid(
                    "count", "count: expected an integer from 1 to \(ScheduleStore.maximumPreviewCount), got '\(text.prefix(20))'")
            }
            count = value
        }
        var from = services.clock.nowMillis()
        if let text = query.get("from") { from = try Self.time(text, field: "from") }
        let cron = query.get("cron"), every = query.get("every")
        if cron != nil && every != nil { throw APIError.invalid("every", "every: give cron or every, not both") }
        if cron == nil && every == nil { throw APIError.invalid("cron", "cron: required: a cron expression, or every (30s, 5m, 1h) instead") }
        var zone = query.get("tz")
        if zone == nil, let tenantID = principal.tenantID { zone = try await services.tenants.tenant(id: tenantID)?.timezone }
        let times: [Int64]
        do {
            times = try ScheduleStore.preview(cron: cron, every: every, timezone: zone, fromMs: from, count: count)
        } catch ScheduleStoreError.invalid(let field, let message) {
            // The zone is the query's `tz`.
            let name = field == "timezone" ? "tz" : field
            throw APIError.invalid(name, "\(name): \(message)")
        }
        return APIResponse.json(
            200, .object(["times": .array(times.map { JSONValue.string(RFC3339.format($0)) }), "timezone": .string(zone ?? "UTC")]))
    }

    /// The body as a request, and the `tenant` it names, if any. Every refusal names its field, and an
    /// unknown field is refused, so that a misspelt setting is not quietly ignored.
    static func parse(_ body: JSONValue, declaredQueues: Set<String>) throws(APIError) -> (ScheduleRequest, String?) {
        let fields = try RequestBody.fields(body, known: knownFields)
        func required(_ name: String) throws(APIError) -> String {
            guard let value = fields[name], value != .null else { throw APIError.invalid(name, "\(name): required, a string") }
            guard let text = value.stringValue else { throw APIError.invalid(name, "\(name): expected a string, got \(value.typeName)") }
            return text
        }
        func optional(_ name: String) throws(APIError) -> String? { try RequestBody.optionalString(fields, name) }
        func integer(_ name: String, _ range: ClosedRange<Int>) throws(APIError) -> Int? {
            guard let value = fields[name], value != .null else { return nil }
            guard let number = value.intValue, range.contains(number) else {
                throw APIError.invalid(
                    name, "\(name): expected an integer from \(range.lowerBound) to \(range.upperBound), got \(value.text.prefix(40))")
            }
            return number
        }
        let name = try required("name")
        let kind = try required("kind")
        let cron = try optional("cron")
        let every = try optional("every")
        if cron != nil && every != nil { throw APIError.invalid("every", "every: give cron or every, not both") }
        if cron == nil && every == nil { throw APIError.invalid("cron", "cron: required: a cron expression, or every (30s, 5m, 1h) instead") }
        let timezone = try optional("timezone")
        var args = "{}"
        if let value = fields["args"], value != .null {
            guard value.objectValue != nil else { throw APIError.invalid("args", "args: expected an object, got \(value.typeName)") }
            args = value.text
        }
        let queue = try optional("queue")
        if let queue, !declaredQueues.contains(queue) {
            throw APIError.invalid(
                "queue", "queue: '\(queue.prefix(64))' is not a declared queue; declared: \(declaredQueues.sorted().joined(separator: ", "))")
        }
        var missed = MissedTicks.skip
        if let word = try optional("missed") {
            guard let value = MissedTicks(rawValue: word) else {
                throw APIError.invalid("missed", "missed: '\(word.prefix(40))' is not skip, one or all")
            }
            missed = value
        }
        var overlap = OverlapPolicy.allow
        if let word = try optional("overlap") {
            guard let value = OverlapPolicy(rawValue: word) else {
                throw APIError.invalid("overlap", "overlap: '\(word.prefix(40))' is not allow or skip")
            }
            overlap = value
        }
        let missedLimit = try integer("missed_limit", 1...10_000) ?? 100
        let jitterMs = try integer("jitter_ms", 0...3_600_000) ?? 0
        var startsMs: Int64?
        if let text = try optional("starts_at") { startsMs = try time(text, field: "starts_at") }
        var endsMs: Int64?
        if let text = try optional("ends_at") { endsMs = try time(text, field: "ends_at") }
        let tenant = try optional("tenant")
        if let tenant, tenant.isEmpty || tenant.utf8.contains(0) { throw APIError.invalid("tenant", "tenant: expected a tenant id") }
        let request = ScheduleRequest(
            name: name, kind: kind, args: args, queue: queue, cron: cron, every: every, timezone: timezone, startsMs: startsMs,
            endsMs: endsMs, jitterMs: jitterMs, missed: missed, missedLimit: missedLimit, overlap: overlap)
        return (request, tenant)
    }

    /// An ISO 8601 time with its offset, as unix milliseconds; a refusal names `field` and says why.
    static func time(_ text: String, field: String) throws(APIError) -> Int64 {
        do {
            return try CivilTime.unixMillis(iso8601: text)
        } catch {
            throw APIError.invalid(field, "\(field): '\(text.prefix(60))' \(error); expected \(CivilTime.iso8601Form)")
        }
    }

    /// What a schedule id may be: ids are `sch_` and lowercase letters and digits; anything with a
    /// control character (a NUL, which PostgreSQL could not take) is no schedule's.
    static func isScheduleID(_ id: String) -> Bool {
        !id.isEmpty && id.utf8.count <= 128 && !id.utf8.contains(where: { $0 < 0x20 || $0 == 0x7f })
    }

    /// The store's refusals as the API answers them: 422 naming the field, 409 for a name the owner has
    /// already, 404.
    @discardableResult
    private func refusals<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as ScheduleStoreError {
            switch error {
            case .invalid(let field, _): throw APIError.invalid(field, error.description)
            case .conflict: throw APIError(status: 409, code: "name_taken", message: error.description, field: "name")
            case .notFound: throw APIError(status: 404, code: "not_found", message: error.description)
            }
        }
    }
}
