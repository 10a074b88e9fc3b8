import SpoolHTTP
import SpoolQueue
import SpoolSupport

/// What the Jobs page lists and its bulk actions act on: a state, the filters (queue, kind, tenant)
/// and where the page starts (`after`), read from a query string or a form with the same field names,
/// and written back into the page's links and hidden fields.
///
/// A tenant admin's tenant is forced: whatever the request says, it lists and acts on its own jobs
/// only, as the API's dead list does.
struct DashboardJobsQuery: Sendable, Equatable {
    /// The states with a tab, in the order a job goes through them.
    static let states: [JobState] = [.pending, .scheduled, .retry, .active, .dead, .completed]
    /// Jobs on one page.
    static let pageSize = 50

    var state: JobState
    var queue: String?
    var kind: String?
    var tenant: String?
    var after: JobCursor?
    /// The tenant is the principal's own, not a choice: links and forms leave it out.
    var tenantForced: Bool

    var filter: JobFilter { JobFilter(queue: queue, kind: kind, tenant: tenant) }

    /// Whether a filter narrows the list (the tenant admin's own tenant does not count: it is not a choice).
    var isFiltered: Bool { queue != nil || kind != nil || (tenant != nil && !tenantForced) }

    /// Reads the fields `value` gives: `state` (`defaultState` when absent), `queue`, `kind`, `tenant`
    /// and `after`. A bad value is refused with 400, naming the field and the value.
    static func read(
        _ value: (String) -> String?, principal: Principal, defaultState: JobState = .pending
    ) throws(DashboardRefusal) -> DashboardJobsQuery {
        var state = defaultState
        if let text = given(value("state")) {
            guard let named = JobState(rawValue: text), states.contains(named) else {
                throw invalid("state", "'\(text.prefix(40))' is not one of " + states.map(\.rawValue).joined(separator: ", "))
            }
            state = named
        }
        let queue = given(value("queue"))
        if let queue, !JobKindCatalog.isValidName(queue) {
            throw invalid("queue", "'\(queue.prefix(80))' is not a queue name (1-64 of a-z 0-9 - _)")
        }
        let kind = given(value("kind"))
        if let kind, !JobKindCatalog.isValidName(kind) {
            throw invalid("kind", "'\(kind.prefix(80))' is not a kind name (1-64 of a-z 0-9 - _)")
        }
        var tenant = given(value("tenant"))
        if let tenant, tenant.utf8.count > 128 { throw invalid("tenant", "'\(tenant.prefix(80))…' is longer than 128 bytes") }
        if let own = principal.tenantID { tenant = own }
        var after: JobCursor?
        if let text = given(value("after")) {
            guard let cursor = JobCursor(text: text) else {
                throw invalid("after", "'\(text.prefix(80))' is not a cursor of a page of jobs; start again from the first page")
            }
            guard cursor.text.hasPrefix(state.rawValue + ".") else {
                throw invalid("after", "'\(text.prefix(80))' pages jobs of another state than \(state.rawValue)")
            }
            after = cursor
        }
        return DashboardJobsQuery(
            state: state, queue: queue, kind: kind, tenant: tenant, after: after, tenantForced: principal.tenantID != nil)
    }

    /// A field as typed, without surrounding spaces; nil when absent or blank.
    private static func given(_ text: String?) -> String? {
        guard let text = text?.trimmingSpaces, !text.isEmpty else { return nil }
        return text
    }

    /// A request the page cannot serve: 400, saying which field and why.
    static func invalid(_ field: String, _ message: String) -> DashboardRefusal {
        DashboardRefusal(
            .badRequest, heading: "Not a valid request", message: "\(field): \(message)", linkHref: "/dashboard/jobs",
            linkText: "Back to the jobs")
    }

    /// The fields that carry this query, with another state or start when given; the tenant only
    /// when it was chosen.
    func fields(state: JobState? = nil, after: JobCursor? = nil) -> [(String, String)] {
        var fields = [("state", (state ?? self.state).rawValue)]
        if let queue { fields.append(("queue", queue)) }
        if let kind { fields.append(("kind", kind)) }
        if let tenant, !tenantForced { fields.append(("tenant", tenant)) }
        if let after { fields.append(("after", after.text)) }
        return fields
    }

    /// A link to `path` with this query's filters, in `state` (this one by default), from `after`
    /// (the first page by default), and `extra` fields.
    func href(
        _ path: String = "/dashboard/jobs", state: JobState? = nil, after: JobCursor? = nil, extra: [(String, String)] = []
    ) -> String {
        path + "?" + FormEncoding.encode(fields(state: state, after: after) + extra)
    }

    /// How the page names a state.
    static func label(_ state: JobState) -> String {
        switch state {
        case .retry: "Retrying"
        default: state.rawValue.prefix(1).uppercased() + state.rawValue.dropFirst()
        }
    }

    /// The filters in words, for a confirmation: "kind noop, tenant acme" or "every job".
    var filterDescription: String {
        var parts: [String] = []
        if let queue { parts.append("queue \(queue)") }
        if let kind { parts.append("kind \(kind)") }
        if let tenant { parts.append(tenantForced ? "your tenant" : "tenant \(tenant)") }
        return parts.isEmpty ? "every queue, kind and tenant" : parts.joined(separator: ", ")
    }
}
