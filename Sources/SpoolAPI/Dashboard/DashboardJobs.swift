import Hummingbird
import SpoolHTTP
import SpoolQueue
import SpoolSupport

/// `GET /dashboard/jobs?state=&queue=&kind=&tenant=&after=`: the jobs in one state, a page at a time.
/// Tabs name each state with its kept count (`DashboardJobCounts`), a GET form filters by queue, kind
/// and tenant, another opens a job by its id (`?id=`, answered with a redirect to its page), and the
/// bulk actions that fit the state link to their confirmation (`DashboardBulkActions`).
///
/// A page is `QueueAdmin.jobs(state:queue:kind:tenant:limit:after:)`: read from the cursor's position
/// on, never counted or scanned from the start, and "Next page" carries the page's `next` cursor. A
/// tenant admin sees only its own tenant's jobs: the tenant filter is forced to it.
struct DashboardJobs: Sendable {
    let services: APIServices
    let pages: DashboardPages

    struct Tab: Sendable {
        let label: String
        let href: String
        /// Nil where no count is kept (a tenant admin's states other than pending).
        let count: String?
        let current: Bool
    }

    struct BulkLink: Sendable {
        let label: String
        let href: String
    }

    struct Bulk: Sendable {
        let links: [BulkLink]
    }

    struct View: Sendable {
        let heading: String
        let stateName: String
        let tabs: [Tab]
        let rows: [DashboardJobRow]
        let timeHeading: String
        let emptyText: String
        let filterQueue: String
        let filterKind: String
        let filterTenant: String
        /// The operator picks a tenant; a tenant admin's is its own.
        let choosesTenant: Bool
        let clearHref: String?
        let firstHref: String?
        let nextHref: String?
        let shortPageNote: String?
        let bulk: Bulk?
    }

    func register(on group: RouterGroup<APIContext>) {
        group.get("/jobs") { request, context in try await list(request, context) }
    }

    private func list(_ request: Request, _ context: APIContext) async throws -> Response {
        let visit = try context.visit()
        let fields = FormEncoding.decode(request.uri.query ?? "")
        let value: (String) -> String? = { name in fields.first { $0.0 == name }?.1 }
        var flash = Self.flash(value)
        if let typed = value("id")?.trimmingSpaces, !typed.isEmpty {
            let id = typed.uppercased()
            if JobID.isValid(id) { return DashboardResponse.redirect(to: DashboardJobPage.path(id)) }
            flash = "No job has the id '\(typed.prefix(64))': a job's id is 26 letters and digits."
        }
        let query = try DashboardJobsQuery.read(value, principal: visit.principal)
        async let counted = DashboardJobCounts.read(services, principal: visit.principal, queue: query.queue)
        let page: JobPage
        do {
            page = try await services.admin.jobs(
                state: query.state, queue: query.queue, kind: query.kind, tenant: query.tenant, limit: DashboardJobsQuery.pageSize,
                after: query.after)
        } catch let error as JobBrowseError {
            throw DashboardJobsQuery.invalid(error.field, error.message)
        }
        let counts = try await counted
        let now = services.clock.nowMillis()
        let view = View(
            heading: "\(DashboardJobsQuery.label(query.state)) jobs", stateName: query.state.rawValue,
            tabs: DashboardJobsQuery.states.map { state in
                Tab(
                    label: DashboardJobsQuery.label(state), href: query.href(state: state), count: counts[state].map { String($0) },
                    current: state == query.state)
            },
            rows: page.jobs.map { DashboardJobRow($0, now: now) },
            timeHeading: DashboardJobRow.timeHeading(query.state),
            emptyText: page.next == nil
                ? "No \(query.state.rawValue) jobs" + (query.isFiltered ? " match these filters." : " here.")
                : "None of the jobs this page read matched; the next page reads on.",
            filterQueue: query.queue ?? "", filterKind: query.kind ?? "", filterTenant: query.tenantForced ? "" : query.tenant ?? "",
            choosesTenant: !query.tenantForced,
            clearHref: query.isFiltered ? DashboardJobsQuery(state: query.state, tenantForced: false).href() : nil,
            firstHref: query.after == nil ? nil : query.href(),
            nextHref: page.next.map { query.href(after: $0) },
            shortPageNote: page.next != nil && !page.jobs.isEmpty && page.jobs.count < DashboardJobsQuery.pageSize
                ? "This page read as far as one page may to find these; more matching jobs may follow." : nil,
            bulk: Self.bulk(query))
        return pages.render(.jobs, page: view, layout: DashboardLayout(visit: visit, current: .jobs, flash: flash))
    }

    /// The bulk actions that fit the state, each a link to its confirmation with the page's filters.
    static func bulk(_ query: DashboardJobsQuery) -> Bulk? {
        let actions = DashboardBulkAction.allCases.filter { $0.states.contains(query.state) }
        if actions.isEmpty { return nil }
        return Bulk(links: actions.map { BulkLink(label: $0.linkLabel, href: query.href($0.path)) })
    }

    /// What the last bulk action or discard did (`?done=<verb>&count=<n>`); only a known verb and a
    /// number are repeated.
    static func flash(_ value: (String) -> String?) -> String? {
        guard let verb = value("done"), ["retried", "discarded", "cancelled"].contains(verb),
            let count = value("count").flatMap({ Int($0) }), count >= 0
        else { return nil }
        return "\(count == 1 ? "1 job" : "\(count) jobs") \(verb)."
    }
}

extension DashboardJobsQuery {
    /// The first page of `state`, without filters.
    init(state: JobState, tenantForced: Bool) {
        self.init(state: state, queue: nil, kind: nil, tenant: nil, after: nil, tenantForced: tenantForced)
    }
}
