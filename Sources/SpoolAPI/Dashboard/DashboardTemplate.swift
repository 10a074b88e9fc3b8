import Mustache

/// The dashboard's templates, `Templates/*.mustache`, compiled into the binary (Package.swift lists
/// each as a resource) and parsed once per process into one library, so that pages can extend the
/// layout (`{{<layout}}{{$body}}…{{/body}}{{/layout}}`). A template that does not parse is a defect of
/// the build, which any dashboard test meets first.
enum DashboardTemplate: String, CaseIterable, Sendable {
    case layout
    case login
    case refused
    case overview
    case tenantOverview = "tenant_overview"
    case queues
    case jobs
    case job
    case bulk
    case workers
    // Rate limits, schedules, tenants, and the confirmation their destructive actions ask for.
    case limits
    case schedules
    case tenants
    case confirmation
    // Campaigns, conversations, calendars: a tenant's own pages.
    case campaigns
    case campaign
    case campaignCancel = "campaign_cancel"
    case conversations
    case conversation
    case calendars

    var source: [UInt8] {
        switch self {
        case .layout: PackageResources.layout_mustache
        case .login: PackageResources.login_mustache
        case .refused: PackageResources.refused_mustache
        case .overview: PackageResources.overview_mustache
        case .tenantOverview: PackageResources.tenant_overview_mustache
        case .queues: PackageResources.queues_mustache
        case .jobs: PackageResources.jobs_mustache
        case .job: PackageResources.job_mustache
        case .bulk: PackageResources.bulk_mustache
        case .workers: PackageResources.workers_mustache
        case .limits: PackageResources.limits_mustache
        case .schedules: PackageResources.schedules_mustache
        case .tenants: PackageResources.tenants_mustache
        case .confirmation: PackageResources.confirmation_mustache
        case .campaigns: PackageResources.campaigns_mustache
        case .campaign: PackageResources.campaign_mustache
        case .campaignCancel: PackageResources.campaign_cancel_mustache
        case .conversations: PackageResources.conversations_mustache
        case .conversation: PackageResources.conversation_mustache
        case .calendars: PackageResources.calendars_mustache
        }
    }

    static let library: MustacheLibrary = {
        var library = MustacheLibrary()
        for template in DashboardTemplate.allCases {
            do {
                try library.register(String(decoding: template.source, as: UTF8.self), named: template.rawValue)
            } catch {
                preconditionFailure("Dashboard/Templates/\(template.rawValue).mustache does not parse: \(error)")
            }
        }
        return library
    }()
}
