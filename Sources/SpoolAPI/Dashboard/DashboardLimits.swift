import HTTPTypes
import Hummingbird
import SpoolQueue
import SpoolSupport

/// `GET /dashboard/limits` (operator; a tenant admin gets 404, as limits are shared by every tenant):
/// each limiter used in the last hour with what it holds now (tokens, holders or units used), a
/// provider's pause in force, its postponed jobs and its admitted and denied counts; the run-time
/// settings; and a form per declared limit template.
///
/// The forms post to `POST /dashboard/limits/set` (fields `key`, and `rate`, `per`, `burst`, or
/// `concurrency`, or `quota` and `per`), read by `LimitChange.parse` with the checks and messages of
/// `PUT /v1/limits`, and `POST /dashboard/limits/clear` (field `key`), as `DELETE /v1/limits`. Both
/// answer 303 back to the page with what they did in the query, shown once as the flash line; a
/// refused value shows the page again, 422, its form holding the values as posted and the refusal
/// naming the field, and changes nothing.
///
/// Reads: `QueueAdmin.limiters()` (the hash of limiters seen, then one pipeline) and
/// `limitOverrides()` (one HGETALL); the templates are the declarations in memory.
struct DashboardLimits: Sendable {
    let services: APIServices
    let pages: DashboardPages

    static let path = "/dashboard/limits"
    static let setPath = "/dashboard/limits/set"
    static let clearPath = "/dashboard/limits/clear"

    struct LimiterRow: Sendable {
        let key: String
        let template: String
        let queue: String
        let limit: String
        /// Tokens, holders or units used, whichever its kind keeps.
        let holding: String
        /// "for 12 s" while a provider's pause holds it; empty otherwise.
        let pausedFor: String
        let postponed: Int
        let admitted: Int
        let denied: Int
        let providerPauses: Int
    }

    struct OverrideRow: Sendable {
        let key: String
        let limit: String
        let clearForm: DashboardFormAction
    }

    struct View: Sendable {
        let limiters: [LimiterRow]
        let overrides: [OverrideRow]
        let templates: [DashboardLimitForm]
        /// A refused post whose key has no form on the page (not a declared template).
        let refusal: String?
    }

    func register(on group: RouterGroup<APIContext>) {
        group.get("/limits") { request, context in try await show(request, context) }
        group.post("/limits/set") { _, context in try await set(context) }
        group.post("/limits/clear") { _, context in try await clear(context) }
    }

    private func show(_ request: Request, _ context: APIContext) async throws -> Response {
        let visit = try context.visit()
        try visit.requireOperator()
        return try await page(visit, query: request.uri.queryParameters, refused: nil)
    }

    /// Sets the limit, or shows the page again with the refusal.
    private func set(_ context: APIContext) async throws -> Response {
        let visit = try context.visit()
        try visit.requireOperator()
        let change: LimitChange
        do {
            change = try LimitChange.parse(DashboardLimitForm.object(visit.form), at: "limit")
        } catch {
            return try await page(visit, query: nil, refused: DashboardLimitForm.Refused(form: visit.form, refusal: error))
        }
        try await services.admin.setLimit(change.key, change.spec)
        return DashboardResponse.redirect(to: Self.path + "?" + DashboardQuery.encode([("set", change.key)]))
    }

    /// Drops a run-time setting: its declaration is in force again.
    private func clear(_ context: APIContext) async throws -> Response {
        let visit = try context.visit()
        try visit.requireOperator()
        guard let key = visit.form["key"], !key.isEmpty else {
            throw DashboardRefusal(
                .unprocessableContent, heading: "No limit named",
                message: "key: required, the limit key or template whose run-time setting to clear.", linkHref: Self.path,
                linkText: "Back to the limits")
        }
        guard try await services.admin.clearLimit(key) else {
            throw DashboardRefusal(
                .notFound, heading: "No run-time setting",
                message: "There is no run-time setting for this key: its declaration is in force.",
                linkHref: Self.path, linkText: "Back to the limits")
        }
        return DashboardResponse.redirect(to: Self.path + "?" + DashboardQuery.encode([("cleared", key)]))
    }

    private func page(_ visit: DashboardVisit, query: Parameters?, refused: DashboardLimitForm.Refused?) async throws -> Response {
        let now = services.clock.nowMillis()
        let limiters = try await services.admin.limiters()
        let overrides = try await services.admin.limitOverrides()
        let refusedKey = refused.flatMap { $0.form["key"] }
        let templates = Self.declared(services.enqueuer.catalog).map { declaration in
            DashboardLimitForm(
                template: declaration.template, kinds: declaration.kinds, declared: declaration.spec,
                runTime: overrides[declaration.template],
                visit: visit, refused: refusedKey == declaration.template ? refused : nil)
        }
        let shownWithItsForm = templates.contains { $0.template == refusedKey }
        let view = View(
            limiters: limiters.map { Self.row($0, nowMs: now) },
            overrides: overrides.sorted { $0.key < $1.key }.map {
                OverrideRow(key: $0.key, limit: $0.value.summary, clearForm: visit.formAction(Self.clearPath))
            },
            templates: templates,
            refusal: shownWithItsForm ? nil : refused?.refusal.message)
        let layout = DashboardLayout(visit: visit, current: .limits, flash: query.flatMap { Self.flash($0, overrides: overrides) })
        return pages.render(.limits, page: view, layout: layout, status: refused == nil ? .ok : .unprocessableContent)
    }

    /// Each declared template once, by its text, with the kinds that declare it; where two kinds
    /// declare it, the first kind's declaration (by kind name) is the one shown.
    static func declared(_ catalog: JobKindCatalog) -> [(template: String, spec: LimitSpec, kinds: [String])] {
        var found: [(template: String, spec: LimitSpec, kinds: [String])] = []
        for kind in catalog.kinds {
            for declaration in catalog[kind]?.limits ?? [] {
                if let index = found.firstIndex(where: { $0.template == declaration.key.text }) {
                    found[index].kinds.append(kind)
                } else {
                    found.append((template: declaration.key.text, spec: declaration.spec, kinds: [kind]))
                }
            }
        }
        return found.sorted { $0.template < $1.template }
    }

    static func row(_ state: LimiterState, nowMs: Int64) -> LimiterRow {
        var holding = ""
        if let tokens = state.tokens { holding = DashboardFormat.decimal(tokens, places: 1) + " tokens" }
        if let holders = state.holders { holding = "\(holders) held" }
        if let used = state.used { holding = "\(used) used" }
        let pausedFor = state.pausedUntil.map { "for " + DashboardFormat.age(seconds: Double(max($0 - nowMs, 0)) / 1000) } ?? ""
        return LimiterRow(
            key: state.key, template: state.template, queue: state.queue, limit: state.limit, holding: holding, pausedFor: pausedFor,
            postponed: state.postponed, admitted: state.admitted, denied: state.denied, providerPauses: state.providerPauses)
    }

    /// What the last set or clear did, said from what is in force now; only a key that could be one
    /// (1-200 bytes) is repeated.
    static func flash(_ query: Parameters, overrides: [String: LimitSpec]) -> String? {
        if let key = query.get("set"), key.utf8.count <= 200, let spec = overrides[key] {
            return "\(key) is now \(spec.summary); every worker applies it within a second."
        }
        if let key = query.get("cleared"), !key.isEmpty, key.utf8.count <= 200, overrides[key] == nil {
            return "The run-time setting for \(key) is cleared; its declaration is in force again."
        }
        return nil
    }
}
