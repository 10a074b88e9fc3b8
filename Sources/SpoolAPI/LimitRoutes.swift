import HTTPTypes
import Hummingbird
import SpoolQueue
import SpoolStore
import SpoolSupport

/// `GET /v1/limits` (limiters in use and run-time settings), and for the operator `PUT /v1/limits`
/// (set a limit for a key or a template) and `DELETE /v1/limits?key=` (back to the declaration).
/// Limits are shared by every tenant, like queues, so only the operator changes them.
struct LimitRoutes: Sendable {
    let services: APIServices
    static let operatorOnly = "limits are shared by all tenants; only the operator key changes them"

    func register(on router: RouterGroup<APIContext>) {
        router.get("/limits") { _, context in try await show(context) }
        router.put("/limits") { request, context in try await set(request, context) }
        router.delete("/limits") { request, context in try await clear(request, context) }
    }

    private func show(_ context: APIContext) async throws -> Response {
        let principal = try context.require(.read)
        var limiters = try await services.admin.limiters()
        var overrides = try await services.admin.limitOverrides()
        if let tenant = principal.tenantID {
            // A tenant sees the limiters on its own keys only: its tenant id, or a sender number it owns.
            let numbers = Set(try await SenderNumbers(pool: services.pool).list(tenantID: tenant).map(\.number))
            func owns(_ key: String, template: String) -> Bool {
                guard let values = (try? LimitKeyTemplate(template))?.values(in: key), !values.isEmpty else { return false }
                if let owner = values["tenant"], owner != tenant { return false }
                if let from = values["from"], !numbers.contains(from) { return false }
                return values["tenant"] != nil || values["from"] != nil
            }
            limiters = limiters.filter { owns($0.key, template: $0.template) }
            // Run-time settings for a template apply to every tenant alike; one for a single key only to its owner.
            overrides = overrides.filter { key, _ in
                key.contains("{") || limiters.contains { $0.key == key }
            }
        }
        return APIResponse.json(
            200,
            .object([
                "limiters": .array(limiters.map(Self.json)),
                "overrides": .object(overrides.mapValues(\.json)),
            ]))
    }

    private func set(_ request: Request, _ context: APIContext) async throws -> Response {
        try context.requireOperator(Self.operatorOnly)
        var request = request
        let body = try await RequestBody.json(&request, limit: 4096)
        let change: LimitChange
        do {
            change = try LimitChange.parse(body, at: "body")
        } catch {
            throw error.apiError
        }
        try await services.admin.setLimit(change.key, change.spec)
        return APIResponse.json(200, .object(["key": .string(change.key), "limit": change.spec.json]))
    }

    private func clear(_ request: Request, _ context: APIContext) async throws -> Response {
        try context.requireOperator(Self.operatorOnly)
        guard let key = request.uri.queryParameters.get("key"), !key.isEmpty else {
            throw APIError.invalid("key", "key: required query parameter, the key or template given to PUT /v1/limits")
        }
        guard try await services.admin.clearLimit(key) else { throw APIError.notFound("run-time limit for '\(key.prefix(200))'") }
        return APIResponse.json(200, .object(["key": .string(key), "cleared": .bool(true)]))
    }

    static func json(_ state: LimiterState) -> JSONValue {
        var object: [String: JSONValue] = [
            "key": .string(state.key), "template": .string(state.template), "queue": .string(state.queue), "kind": .string(state.kind),
            "limit": .string(state.limit), "postponed": .number(Double(state.postponed)), "admitted": .number(Double(state.admitted)),
            "denied": .number(Double(state.denied)), "provider_pauses": .number(Double(state.providerPauses)),
        ]
        if let tokens = state.tokens { object["tokens"] = .number(tokens) }
        if let holders = state.holders { object["holders"] = .number(Double(holders)) }
        if let used = state.used { object["used"] = .number(Double(used)) }
        if let paused = state.pausedUntil { object["paused_until"] = .number(Double(paused)) }
        return .object(object)
    }
}
