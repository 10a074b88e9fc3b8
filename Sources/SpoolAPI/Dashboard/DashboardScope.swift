import Hummingbird
import SpoolSupport

/// Whose records a tenant page (campaigns, conversations, calendars) lists: a tenant admin always its
/// own tenant's, whatever the query says; the operator every tenant's, or the one tenant it names with
/// `?tenant=` in the page's filter form.
struct DashboardScope: Sendable {
    /// The operator's filter form (a GET, so no CSRF token): where it goes and the tenant it names now.
    struct Filter: Sendable {
        let action: String
        /// "" for every tenant.
        let tenant: String
    }

    /// What the stores are asked for: the tenant, or nil for every tenant's (the operator unfiltered).
    let tenantID: String?
    /// The operator's filter; nil for a tenant admin, who has no other tenant to see.
    let filter: Filter?

    /// The operator sees whose each record is; a tenant admin sees only its own.
    var showsTenant: Bool { filter != nil }

    /// - Parameters:
    ///   - action: the page's own path, where the filter form goes and a refusal links back to.
    init(_ visit: DashboardVisit, query: Parameters, action: String) throws(DashboardRefusal) {
        if let own = visit.principal.tenantID {
            tenantID = own
            filter = nil
            return
        }
        let given = (query.get("tenant") ?? "").trimmingSpaces
        guard given.isEmpty || DashboardRecordID.isPlausible(given) else {
            throw DashboardRefusal(
                .unprocessableContent, heading: "Not a tenant",
                message: "tenant: '\(given.prefix(64))' is not a tenant id (letters, digits, underscores and hyphens, such as tn_01j…)",
                linkHref: action, linkText: "Show every tenant's")
        }
        tenantID = given.isEmpty ? nil : given
        filter = Filter(action: action, tenant: given)
    }

    /// The query that keeps this filter on the list's next page: `tenant` when the operator named one.
    var query: [(String, String)] {
        guard let tenant = filter?.tenant, !tenant.isEmpty else { return [] }
        return [("tenant", tenant)]
    }

    /// How the operator's pages name a record's tenant: its name and id, or the id alone when it has no
    /// name (`names` from `TenantStore.names(ids:)`).
    static func label(_ tenantID: String, names: [String: String]) -> String {
        names[tenantID].map { "\($0) (\(tenantID))" } ?? tenantID
    }
}
