import Hummingbird
import SpoolStore
import SpoolSupport

/// `GET /v1/usage?from=YYYY-MM-DD&to=YYYY-MM-DD&tenant=`: what a tenant used over a range of UTC days,
/// both included (`UsageReports`): its messages by purpose, with counts by status and what those
/// handed to the provider cost, its AI replies' tokens and cost per model, and its voice notes'
/// transcriptions. `to` is today (UTC) when left out, and `from` is `to`; at most 366 days.
///
/// Scope `read`. A tenant's key reports its own tenant, and naming another is a 422; the operator key
/// must name the tenant. A bad, reversed or too long range is a 422 naming `from` or `to`.
struct UsageRoutes: Sendable {
    let services: APIServices

    func register(on router: RouterGroup<APIContext>) {
        router.get("/usage") { request, context in try await usage(request, context) }
    }

    private func usage(_ request: Request, _ context: APIContext) async throws -> Response {
        let principal = try context.require(.read)
        let query = request.uri.queryParameters
        let given = query.get("tenant")
        if let given, given.isEmpty || given.utf8.contains(0) { throw APIError.invalid("tenant", "tenant: expected a tenant id") }
        let tenantID = try MessageRoutes.tenant(principal, given: given)
        let to = query.get("to") ?? CivilTime.date(services.clock.nowMillis())
        let from = query.get("from") ?? to
        do {
            let report = try await UsageReports(pool: services.pool).report(tenantID: tenantID, from: from, to: to)
            return APIResponse.json(200, report.json)
        } catch let error as UsageReportError {
            switch error {
            case .invalid(let field, _): throw APIError.invalid(field, error.description)
            }
        }
    }
}
