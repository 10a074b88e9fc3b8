import Hummingbird
import SpoolHTTP
import SpoolQueue
import SpoolSupport

/// Bulk retry, discard and cancel of the jobs that match the Jobs page's filters, confirmed first:
///
/// 1. `GET /dashboard/bulk/{retry|discard|cancel}?state=&queue=&kind=&tenant=` is the confirmation: what
///    the action does, to which jobs, how many are in the state (a kept count), the first that match,
///    and a form that posts the same filters with `confirm=yes` and its CSRF token.
/// 2. `POST /dashboard/bulk/{action}` acts on at most `DashboardBulkAction.batch` matching jobs
///    (`QueueAdmin.retryDead(matching:)`, `discardDead(matching:)`, `cancel(matching:state:)`). When more
///    may remain, it answers 303 back to the confirmation, which goes on from the admin's cursor and
///    says "submit again"; else 303 to the Jobs page, saying how many jobs it changed. Without
///    `confirm=yes` it does nothing and shows the confirmation again.
///
/// A tenant admin's filter is forced to its tenant (`DashboardJobsQuery`): its bulk actions touch its
/// own jobs only.
struct DashboardBulkActions: Sendable {
    let services: APIServices
    let pages: DashboardPages

    /// Jobs the confirmation shows.
    static let previewSize = 10

    struct Hidden: Sendable {
        let name: String
        let value: String
    }

    struct View: Sendable {
        let heading: String
        let lines: [String]
        let consequence: String
        /// `bad` for what loses jobs, `warn` otherwise: the alert's CSS class.
        let level: String
        let form: DashboardFormAction
        let hidden: [Hidden]
        let button: String
        let backHref: String
        let rows: [DashboardJobRow]
        let timeHeading: String
        let previewHeading: String
    }

    func register(on group: RouterGroup<APIContext>) {
        group.get("/bulk/:action") { request, context in try await confirmation(request, context) }
        group.post("/bulk/:action") { _, context in try await submit(context) }
    }

    private func confirmation(_ request: Request, _ context: APIContext) async throws -> Response {
        let visit = try context.visit()
        let action = try Self.action(context)
        let fields = FormEncoding.decode(request.uri.query ?? "")
        let value: (String) -> String? = { name in fields.first { $0.0 == name }?.1 }
        let query = try Self.query(action, value, visit.principal)
        async let counted = DashboardJobCounts.read(services, principal: visit.principal, queue: query.queue)
        let preview: JobPage
        do {
            preview = try await services.admin.jobs(
                state: query.state, queue: query.queue, kind: query.kind, tenant: query.tenant, limit: Self.previewSize, after: query.after)
        } catch let error as JobBrowseError {
            throw DashboardJobsQuery.invalid(error.field, error.message)
        }
        let count = (try await counted)[query.state]
        let now = services.clock.nowMillis()
        let stateLabel = DashboardJobsQuery.label(query.state).lowercased()
        var lines = ["\(DashboardJobsQuery.label(query.state)) jobs of \(query.filterDescription)."]
        switch (count, query.tenantForced) {
        case (let count?, true):
            lines.append("Your tenant has \(count) \(stateLabel) \(count == 1 ? "job" : "jobs") in \(Self.queues(query)).")
        case (let count?, false):
            lines.append(
                "\(count) \(count == 1 ? "job is" : "jobs are") \(stateLabel) in \(Self.queues(query))"
                    + (query.kind != nil || query.tenant != nil ? ", before the kind and tenant filters." : "."))
        case (nil, _):
            lines.append("Counts of \(stateLabel) jobs are not kept per tenant: the first that match are listed below.")
        }
        lines.append(
            "One submission acts on at most \(DashboardBulkAction.batch) matching jobs; when more remain, this page says so "
                + "and you submit again.")
        if query.after != nil { lines.append("This submission goes on from where the last one stopped.") }
        let view = View(
            heading: "\(action.title) \(stateLabel) jobs",
            lines: lines, consequence: action.consequence, level: action.isDestructive ? "bad" : "warn",
            form: visit.formAction(action.path),
            hidden: query.fields(after: query.after).map { Hidden(name: $0.0, value: $0.1) },
            button: action.button, backHref: query.href(),
            rows: preview.jobs.map { DashboardJobRow($0, now: now) }, timeHeading: DashboardJobRow.timeHeading(query.state),
            previewHeading: preview.jobs.isEmpty
                ? "No matching job among the first read." : "The first matching jobs")
        let layout = DashboardLayout(visit: visit, current: .jobs, flash: Self.flash(action, value))
        return pages.render(.bulk, page: view, layout: layout)
    }

    private func submit(_ context: APIContext) async throws -> Response {
        let visit = try context.visit()
        let action = try Self.action(context)
        let form = visit.form
        let query = try Self.query(action, { form[$0] }, visit.principal)
        guard form["confirm"] == "yes" else { return DashboardResponse.redirect(to: query.href(action.path, after: query.after)) }
        let result: BulkResult
        do {
            result = try await action.run(services.admin, query)
        } catch let error as JobBrowseError {
            throw DashboardJobsQuery.invalid(error.field, error.message)
        }
        let done = [("done", action.verb), ("count", String(result.changed))]
        if let next = result.next { return DashboardResponse.redirect(to: query.href(action.path, after: next, extra: done)) }
        return DashboardResponse.redirect(to: query.href(extra: done))
    }

    private static func action(_ context: APIContext) throws(DashboardRefusal) -> DashboardBulkAction {
        guard let action = context.parameters.get("action").flatMap(DashboardBulkAction.init(rawValue:)) else { throw .notFound }
        return action
    }

    /// The filters, in a state the action acts on.
    private static func query(
        _ action: DashboardBulkAction, _ value: (String) -> String?, _ principal: Principal
    ) throws(DashboardRefusal) -> DashboardJobsQuery {
        let query = try DashboardJobsQuery.read(value, principal: principal, defaultState: action.states[0])
        guard action.states.contains(query.state) else {
            let states = action.states.map(\.rawValue).joined(separator: ", ")
            throw DashboardJobsQuery.invalid("state", "'\(action.rawValue)' acts on \(states) jobs, not \(query.state.rawValue)")
        }
        return query
    }

    private static func queues(_ query: DashboardJobsQuery) -> String {
        query.queue.map { "queue \($0)" } ?? "all queues"
    }

    /// After a submission that left more to do: what it did, and that another submission goes on.
    static func flash(_ action: DashboardBulkAction, _ value: (String) -> String?) -> String? {
        guard value("done") == action.verb, let count = value("count").flatMap({ Int($0) }), count >= 0 else { return nil }
        return "\(count == 1 ? "1 job" : "\(count) jobs") \(action.verb); more may remain: submit again to go on."
    }
}
