import HTTPTypes
import Hummingbird
import SpoolStore
import SpoolSupport

/// `POST /v1/tenants/{id}/pause|resume`: the kill switch. A tenant's admin key acts on its own tenant;
/// the operator key on any. Another tenant is a 404.
struct TenantRoutes: Sendable {
    let services: APIServices

    func register(on router: RouterGroup<APIContext>) {
        router.post("/tenants/:id/pause") { _, context in try await setPaused(context, true) }
        router.post("/tenants/:id/resume") { _, context in try await setPaused(context, false) }
    }

    private func setPaused(_ context: APIContext, _ paused: Bool) async throws -> Response {
        let principal = try context.require(.admin)
        let id = context.parameters.get("id") ?? ""
        guard principal.owns(id) else { throw APIError.notFound("tenant \(id.prefix(64))") }
        let tenant: Tenant?
        do {
            tenant = try await services.tenants.setPaused(id: id, paused, by: principal.isOperator ? .operator : .tenant)
        } catch is TenantStore.PausedByOperator {
            throw APIError(
                status: 403, code: "paused_by_operator", message: "the operator paused this tenant; only the operator can resume it")
        }
        guard let tenant else { throw APIError.notFound("tenant \(id.prefix(64))") }
        return APIResponse.json(200, .object(["id": .string(tenant.id), "paused": .bool(tenant.paused)]))
    }
}
