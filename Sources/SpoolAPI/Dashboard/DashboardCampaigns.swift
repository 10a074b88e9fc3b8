import HTTPTypes
import Hummingbird
import SpoolHTTP
import SpoolStore
import SpoolSupport

/// A tenant's SMS campaigns (a tenant admin its own; the operator every tenant's, or one tenant's):
///
/// 1. `GET /dashboard/campaigns`: newest first, paged by a keyset cursor (`?cursor=`), each with its
///    status and, when scheduled, its launch time. Only the campaigns' own rows are read
///    (`CampaignStore.list`): a campaign's message counts come from its report, which counts that
///    campaign's messages, so they are on its own page, never one report per row.
/// 2. `GET /dashboard/campaigns/{id}`: its report (`CampaignReports.report`): a progress bar, its
///    messages by status, the skipped ones by reason, the delivery rate and the cost; and the actions
///    its status allows.
/// 3. `POST /dashboard/campaigns/{id}/pause|resume|cancel`: `CampaignStore.control`, as the API's
///    routes, then 303 back to the campaign with what was done (`?done=pause`), shown once. A cancel
///    without `confirm=yes` answers a page that asks first, whose form sends it.
///
/// Another tenant's campaign is a 404, as in the API (`SMSRoutes.owned`).
struct DashboardCampaigns: Sendable {
    let services: APIServices
    let pages: DashboardPages

    static let path = "/dashboard/campaigns"

    struct Row: Sendable {
        let name: String
        let href: String
        /// The operator's view only ("" otherwise, never shown).
        let tenant: String
        let status: String
        /// When a scheduled campaign launches; nil otherwise.
        let launchAt: String?
        let createdAt: String
    }

    struct ListView: Sendable {
        let campaigns: [Row]
        let showsTenant: Bool
        let filter: DashboardScope.Filter?
        let nextHref: String?
    }

    struct Count: Sendable {
        let label: String
        let count: Int
    }

    /// Messages that are done with (sent, delivered, failed, skipped...) out of all of them.
    struct Progress: Sendable {
        let total: Int
        let settled: Int
        let percent: String
    }

    struct Action: Sendable {
        let label: String
        let form: DashboardFormAction
        /// Drawn as a destructive button.
        let danger: Bool
    }

    struct DetailView: Sendable {
        let id: String
        let name: String
        let showsTenant: Bool
        let tenant: String
        let status: String
        let sender: String
        let body: String
        let launchAt: String?
        let progress: Progress?
        let statuses: [Count]
        let skipReasons: [Count]
        let deliveryRate: String
        let cost: String
        let actions: [Action]
    }

    struct CancelView: Sendable {
        let name: String
        let href: String
        let confirm: DashboardFormAction
    }

    func register(on group: RouterGroup<APIContext>) {
        group.get("/campaigns") { request, context in try await list(request, context) }
        group.get("/campaigns/:id") { request, context in try await show(request, context) }
        for action in [CampaignStore.Control.pause, .resume, .cancel] {
            group.post("/campaigns/:id/\(action.rawValue)") { _, context in try await control(context, action) }
        }
    }

    static func href(_ id: String) -> String { "\(path)/\(id)" }
    static func actionPath(_ id: String, _ action: CampaignStore.Control) -> String { "\(path)/\(id)/\(action.rawValue)" }

    private var store: CampaignStore { CampaignStore(pool: services.pool, enqueuer: services.enqueuer, clock: services.clock) }

    // MARK: - The list

    private func list(_ request: Request, _ context: APIContext) async throws -> Response {
        let visit = try context.visit()
        let query = request.uri.queryParameters
        let scope = try DashboardScope(visit, query: query, action: Self.path)
        let page: CampaignPage
        do {
            page = try await store.list(tenantID: scope.tenantID, cursor: query.get("cursor"))
        } catch let error as CampaignStore.InputError {
            throw DashboardRefusal(
                .unprocessableContent, heading: "Not understood", message: error.message, linkHref: Self.path,
                linkText: "Back to the newest campaigns")
        }
        var names: [String: String] = [:]
        if scope.showsTenant { names = try await services.tenants.names(ids: Array(Set(page.entries.map(\.campaign.tenantID)))) }
        let rows = page.entries.map { entry in
            Row(
                name: entry.campaign.name, href: Self.href(entry.campaign.id),
                tenant: scope.showsTenant ? DashboardScope.label(entry.campaign.tenantID, names: names) : "",
                status: entry.campaign.status.rawValue, launchAt: Self.launchAt(entry.campaign),
                createdAt: DashboardFormat.utc(entry.createdAtMs))
        }
        let next = page.nextCursor.map { Self.path + "?" + FormEncoding.encode(scope.query + [("cursor", $0)]) }
        let view = ListView(campaigns: rows, showsTenant: scope.showsTenant, filter: scope.filter, nextHref: next)
        return pages.render(.campaigns, page: view, layout: DashboardLayout(visit: visit, current: .campaigns))
    }

    // MARK: - One campaign

    private func show(_ request: Request, _ context: APIContext) async throws -> Response {
        let visit = try context.visit()
        let campaign = try await owned(context, visit)
        guard let report = try await CampaignReports(pool: services.pool).report(campaignID: campaign.id) else {
            throw DashboardRefusal.notFound
        }
        let current = report.campaign
        let open = [MessageStatus.queued, .sending, .inDoubt].reduce(0) { $0 + (report.byStatus[$1.rawValue] ?? 0) }
        let progress = report.total > 0 ? Self.progress(total: report.total, settled: report.total - open) : nil
        let statuses = MessageStatus.allCases.compactMap { status -> Count? in
            let count = report.byStatus[status.rawValue] ?? 0
            // A campaign's messages are never suppressed (that is an AI reply's fate): shown only if some are.
            return status == .suppressed && count == 0 ? nil : Count(label: status.rawValue, count: count)
        }
        let reasons = report.bySkipReason.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
        var names: [String: String] = [:]
        if visit.principal.isOperator { names = try await services.tenants.names(ids: [current.tenantID]) }
        let view = DetailView(
            id: current.id, name: current.name, showsTenant: visit.principal.isOperator,
            tenant: DashboardScope.label(current.tenantID, names: names), status: current.status.rawValue, sender: current.sender,
            body: current.body, launchAt: Self.launchAt(current), progress: progress, statuses: statuses,
            skipReasons: reasons.map { Count(label: $0.key.isEmpty ? "(no reason)" : $0.key, count: $0.value) },
            deliveryRate: report.deliveryRate.map { DashboardFormat.decimal($0 * 100, places: 1) + "%" } ?? "no receipts yet",
            cost: report.costCents == 1 ? "1 cent" : "\(report.costCents) cents",
            actions: Self.actions(for: current, visit))
        let layout = DashboardLayout(visit: visit, current: .campaigns, flash: Self.flash(request.uri.queryParameters))
        return pages.render(.campaign, page: view, layout: layout)
    }

    static func progress(total: Int, settled: Int) -> Progress {
        Progress(total: total, settled: settled, percent: DashboardFormat.decimal(Double(settled) * 100 / Double(total), places: 0) + "%")
    }

    /// What the campaign's status allows, as `CampaignStore.control` allows it.
    static func actions(for campaign: Campaign, _ visit: DashboardVisit) -> [Action] {
        var actions: [Action] = []
        if campaign.status == .running {
            actions.append(Action(label: "Pause", form: visit.formAction(actionPath(campaign.id, .pause)), danger: false))
        }
        if campaign.status == .paused {
            actions.append(Action(label: "Resume", form: visit.formAction(actionPath(campaign.id, .resume)), danger: false))
        }
        if [.draft, .scheduled, .running, .paused].contains(campaign.status) {
            actions.append(Action(label: "Cancel…", form: visit.formAction(actionPath(campaign.id, .cancel)), danger: true))
        }
        return actions
    }

    static func launchAt(_ campaign: Campaign) -> String? {
        guard campaign.status == .scheduled, let at = campaign.launchAtMs else { return nil }
        return DashboardFormat.utc(at)
    }

    /// The line that says what the last action did; only a known action is read from the query.
    static func flash(_ query: Parameters) -> String? {
        guard let done = query.get("done").flatMap(CampaignStore.Control.init(rawValue:)) else { return nil }
        switch done {
        case .pause: return "Campaign paused: its messages not yet sent wait until it is resumed."
        case .resume: return "Campaign resumed."
        case .cancel: return "Campaign cancelled: its messages not yet sent are skipped."
        }
    }

    // MARK: - Actions

    private func control(_ context: APIContext, _ action: CampaignStore.Control) async throws -> Response {
        let visit = try context.visit()
        let campaign = try await owned(context, visit)
        let path = Self.actionPath(campaign.id, action)
        // Cancelling cannot be undone: it is asked for twice, the second time from this page's form.
        if action == .cancel && visit.form["confirm"] != "yes" {
            let view = CancelView(name: campaign.name, href: Self.href(campaign.id), confirm: visit.formAction(path))
            return pages.render(.campaignCancel, page: view, layout: DashboardLayout(visit: visit, current: .campaigns))
        }
        do {
            _ = try await store.control(id: campaign.id, action)
        } catch let error as CampaignStore.InputError {
            throw DashboardRefusal(
                .conflict, heading: "Not done", message: error.message, linkHref: Self.href(campaign.id), linkText: "Back to the campaign")
        }
        return DashboardResponse.redirect(to: Self.href(campaign.id) + "?" + FormEncoding.encode([("done", action.rawValue)]))
    }

    /// The campaign named by the path, when this visit may see it; else 404, never 403.
    private func owned(_ context: APIContext, _ visit: DashboardVisit) async throws -> Campaign {
        let id = context.parameters.get("id") ?? ""
        guard DashboardRecordID.isPlausible(id), let campaign = try await store.campaign(id: id), visit.principal.owns(campaign.tenantID)
        else { throw DashboardRefusal.notFound }
        return campaign
    }
}
