/// The dashboard's pages as the nav lists them, each shown only to whom may open it. A page for a
/// feature adds its case here with its rule, its template (`DashboardTemplate`) and its routes.
enum DashboardNav: CaseIterable, Sendable {
    case overview
    case queues
    case jobs
    case workers
    case limits
    case schedules
    case tenants
    case campaigns
    case conversations
    case calendars

    var label: String {
        switch self {
        case .overview: "Overview"
        case .queues: "Queues"
        case .jobs: "Jobs"
        case .workers: "Workers"
        case .limits: "Rate limits"
        case .schedules: "Schedules"
        case .tenants: "Tenants"
        case .campaigns: "Campaigns"
        case .conversations: "Conversations"
        case .calendars: "Calendars"
        }
    }

    var href: String {
        switch self {
        case .overview: "/dashboard"
        case .queues: "/dashboard/queues"
        case .jobs: "/dashboard/jobs"
        case .workers: "/dashboard/workers"
        case .limits: DashboardLimits.path
        case .schedules: DashboardSchedules.path
        case .tenants: DashboardTenants.path
        case .campaigns: DashboardCampaigns.path
        case .conversations: DashboardConversations.path
        case .calendars: DashboardCalendars.path
        }
    }

    /// The operator sees every page; a tenant admin only those limited to its own tenant.
    func isVisible(to principal: Principal) -> Bool {
        switch self {
        case .overview: true
        case .queues: principal.isOperator
        // A tenant admin's Jobs page lists its own tenant's jobs only.
        case .jobs: true
        case .workers: principal.isOperator
        // Limits are shared by every tenant, and the tenants page lists them all: the operator's.
        case .limits, .tenants: principal.isOperator
        // A tenant admin sees its own schedules.
        case .schedules: true
        // A tenant admin sees its own tenant's; the operator every tenant's.
        case .campaigns, .conversations, .calendars: true
        }
    }
}
