import HTTPTypes
import Hummingbird
import SpoolStore
import SpoolSupport

/// `GET /dashboard/tenants` (operator; a tenant admin gets 404, and sees its own name and kill switch
/// on its overview): each tenant with its state and who paused it, its zone, what it has spent today
/// and this month against its budget caps, and its sender numbers; 100 a page by id, the next page
/// after a cursor (`?after=`).
///
/// The kill switch: `POST /dashboard/tenants/{id}/pause` with `confirm=yes`, after its confirmation
/// page (`GET` of the same path; a post without the field answers that page and pauses nothing), and
/// `POST /dashboard/tenants/{id}/resume`. Both go through `TenantStore.setPaused` as the operator,
/// as `POST /v1/tenants/{id}/pause|resume` does: PostgreSQL first, then the copy in Redis that
/// workers read (`QueueAdmin.pauseTenant`/`resumeTenant`). They answer 303 back to the page with
/// the tenant's id in the query, shown once as the flash line.
///
/// Reads: `TenantStore.summaries`, one statement over a range of the primary key.
struct DashboardTenants: Sendable {
    let services: APIServices
    let pages: DashboardPages

    static let path = "/dashboard/tenants"
    static let pageSize = 100

    struct Row: Sendable {
        let id: String
        let name: String
        let timezone: String
        let state: String
        /// "by the operator" or "by the tenant" while paused; empty otherwise.
        let pausedBy: String
        let spentToday: String
        let spentThisMonth: String
        let numbers: Int
        let created: String
        /// The kill switch's confirmation page, while it runs.
        let pauseHref: String?
        let resumeForm: DashboardFormAction?
    }

    struct View: Sendable {
        let tenants: [Row]
        let nextPage: String?
    }

    func register(on group: RouterGroup<APIContext>) {
        group.get("/tenants") { request, context in try await list(request, context) }
        group.get("/tenants/:id/pause") { _, context in try await askToPause(context) }
        group.post("/tenants/:id/pause") { _, context in try await pause(context) }
        group.post("/tenants/:id/resume") { _, context in try await resume(context) }
    }

    static func actionPath(_ id: String, _ action: String) -> String { "\(path)/\(id)/\(action)" }

    private func list(_ request: Request, _ context: APIContext) async throws -> Response {
        let visit = try context.visit()
        try visit.requireOperator()
        let query = request.uri.queryParameters
        let after = query.get("after")
        if let after, !DashboardID.isPlausible(after) { throw DashboardRefusal.notFound }
        var summaries = try await services.tenants.summaries(after: after, limit: Self.pageSize + 1, nowMs: services.clock.nowMillis())
        var nextPage: String?
        if summaries.count > Self.pageSize {
            summaries.removeLast()
            nextPage = Self.path + "?" + DashboardQuery.encode([("after", summaries[summaries.count - 1].tenant.id)])
        }
        let flash = try await Self.flash(query, tenants: services.tenants)
        let layout = DashboardLayout(visit: visit, current: .tenants, flash: flash)
        let view = View(tenants: summaries.map { Self.row($0, visit: visit) }, nextPage: nextPage)
        return pages.render(.tenants, page: view, layout: layout)
    }

    static func row(_ summary: TenantSummary, visit: DashboardVisit) -> Row {
        let tenant = summary.tenant
        var pausedBy = ""
        if tenant.paused, let actor = summary.pausedBy { pausedBy = actor == .operator ? "by the operator" : "by the tenant" }
        return Row(
            id: tenant.id, name: tenant.name, timezone: tenant.timezone, state: tenant.paused ? "paused" : "running", pausedBy: pausedBy,
            spentToday: spend(summary.spentTodayCents, cap: tenant.dailyBudgetCents),
            spentThisMonth: spend(summary.spentThisMonthCents, cap: tenant.monthlyBudgetCents), numbers: summary.numbers,
            created: String(tenant.createdAt.prefix(10)),
            pauseHref: tenant.paused ? nil : actionPath(tenant.id, "pause"),
            resumeForm: tenant.paused ? visit.formAction(actionPath(tenant.id, "resume")) : nil)
    }

    /// "120 of 500 cents", or "120 cents, no cap".
    static func spend(_ cents: Int, cap: Int?) -> String {
        guard let cap else { return "\(cents) cents, no cap" }
        return "\(cents) of \(cap) cents"
    }

    /// What the last pause or resume did, from the tenant as it is now.
    static func flash(_ query: Parameters, tenants: TenantStore) async throws -> String? {
        for (verb, paused) in [("paused", true), ("resumed", false)] {
            guard let id = query.get(verb), DashboardID.isPlausible(id) else { continue }
            guard let tenant = try await tenants.tenant(id: id), tenant.paused == paused else { return nil }
            return paused
                ? "Tenant \(tenant.name) paused: its jobs wait, unfetched, until it is resumed."
                : "Tenant \(tenant.name) resumed: its waiting jobs are handed back to the workers."
        }
        return nil
    }

    /// The tenant `id` names; 404 for a tenant admin (this is the operator's page) and for no tenant.
    private func named(_ context: APIContext) async throws -> (DashboardVisit, Tenant) {
        let visit = try context.visit()
        try visit.requireOperator()
        let id = context.parameters.get("id") ?? ""
        guard DashboardID.isPlausible(id), let tenant = try await services.tenants.tenant(id: id) else { throw DashboardRefusal.notFound }
        return (visit, tenant)
    }

    private func askToPause(_ context: APIContext) async throws -> Response {
        let (visit, tenant) = try await named(context)
        return confirmation(tenant, visit: visit)
    }

    private func pause(_ context: APIContext) async throws -> Response {
        let (visit, tenant) = try await named(context)
        guard DashboardConfirmation.isConfirmed(visit.form) else { return confirmation(tenant, visit: visit) }
        try await setPaused(tenant.id, true)
        return DashboardResponse.redirect(to: Self.path + "?" + DashboardQuery.encode([("paused", tenant.id)]))
    }

    private func resume(_ context: APIContext) async throws -> Response {
        let (_, tenant) = try await named(context)
        try await setPaused(tenant.id, false)
        return DashboardResponse.redirect(to: Self.path + "?" + DashboardQuery.encode([("resumed", tenant.id)]))
    }

    /// As the operator, so that the tenant's own key cannot lift this pause.
    private func setPaused(_ id: String, _ paused: Bool) async throws {
        guard try await services.tenants.setPaused(id: id, paused, by: .operator) != nil else { throw DashboardRefusal.notFound }
    }

    private func confirmation(_ tenant: Tenant, visit: DashboardVisit) -> Response {
        let page = DashboardConfirmation(
            heading: "Pause the tenant \(tenant.name)?",
            message: "The kill switch: the jobs of \(tenant.name) (\(tenant.id)) wait, unfetched, until it is resumed, so it sends "
                + "nothing meanwhile. Its own admin key cannot lift a pause the operator set.",
            button: "Pause the tenant", form: visit.formAction(Self.actionPath(tenant.id, "pause")), cancelHref: Self.path)
        return pages.render(.confirmation, page: page, layout: DashboardLayout(visit: visit, current: .tenants))
    }
}
