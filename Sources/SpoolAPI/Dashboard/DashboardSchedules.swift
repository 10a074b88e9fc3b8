import HTTPTypes
import Hummingbird
import SpoolStore
import SpoolSupport

/// `GET /dashboard/schedules`: the principal's schedules (the operator's: every one; a tenant
/// admin's: its own), each with its rule and zone, next and last run, last job (a link to its page),
/// runs, skipped ticks, whether it is paused and its last error; 100 a page, by owner and name, the
/// next page after a cursor (`?after_owner=<tenant id, empty for the operator's>&after=<name>`).
///
/// `POST /dashboard/schedules/{id}/pause|resume` and, after the confirmation page
/// (`GET /dashboard/schedules/{id}/delete`), `POST /dashboard/schedules/{id}/delete` with
/// `confirm=yes` act through `ScheduleStore` scoped as `/v1/schedules` scopes them: another tenant's
/// schedule is a 404. A schedule Spool made (source `builtin`: a calendar's sync) is not a tenant
/// admin's to delete (409); it may pause it.
///
/// Reads: one range of the index `schedules_owner_name`, and for the operator one read of the page's
/// tenants' names.
struct DashboardSchedules: Sendable {
    let services: APIServices
    let pages: DashboardPages

    static let path = "/dashboard/schedules"
    static let pageSize = 100

    struct Row: Sendable {
        let id: String
        let name: String
        let owner: String
        let source: String
        let kind: String
        let rule: String
        let zone: String
        let nextRun: String
        let lastRun: String
        let lastJob: String
        let lastJobHref: String?
        let runs: Int
        let skipped: Int
        let state: String
        let lastError: String?
        let pauseForm: DashboardFormAction?
        let resumeForm: DashboardFormAction?
        /// The confirmation page; nil when this principal may not delete it.
        let deleteHref: String?
    }

    struct View: Sendable {
        let schedules: [Row]
        /// The operator sees every owner's; a tenant admin only its own, so no owner column.
        let showsOwner: Bool
        let nextPage: String?
    }

    func register(on group: RouterGroup<APIContext>) {
        group.get("/schedules") { request, context in try await list(request, context) }
        group.post("/schedules/:id/pause") { _, context in try await setPaused(context, true) }
        group.post("/schedules/:id/resume") { _, context in try await setPaused(context, false) }
        group.get("/schedules/:id/delete") { _, context in try await askToDelete(context) }
        group.post("/schedules/:id/delete") { _, context in try await delete(context) }
    }

    private var store: ScheduleStore { ScheduleStore(pool: services.pool, enqueuer: services.enqueuer, clock: services.clock) }

    static func actionPath(_ id: String, _ action: String) -> String { "\(path)/\(id)/\(action)" }

    private func list(_ request: Request, _ context: APIContext) async throws -> Response {
        let visit = try context.visit()
        let tenantID = visit.principal.tenantID
        let query = request.uri.queryParameters
        var cursor: ScheduleCursor?
        if let name = query.get("after") {
            // A tenant admin's pages are all its own.
            let owner = tenantID ?? query.get("after_owner") ?? ""
            // Not a cursor this page made (a name is at most 200 characters): 404, not a query PostgreSQL would refuse.
            guard DashboardID.isClean(name, maxBytes: 800), DashboardID.isClean(owner, maxBytes: 128) else {
                throw DashboardRefusal.notFound
            }
            cursor = ScheduleCursor(owner: owner, name: name)
        }
        var schedules = try await store.page(tenantID: tenantID, after: cursor, limit: Self.pageSize + 1)
        var nextPage: String?
        if schedules.count > Self.pageSize {
            schedules.removeLast()
            let last = ScheduleCursor(after: schedules[schedules.count - 1])
            nextPage = Self.path + "?" + DashboardQuery.encode([("after_owner", last.owner), ("after", last.name)])
        }
        var names: [String: String] = [:]
        if tenantID == nil { names = try await services.tenants.names(ids: Array(Set(schedules.compactMap(\.tenantID)))) }
        let rows = schedules.map { schedule in
            let owner = schedule.tenantID.map { id in names[id].map { "\($0) (\(id))" } ?? id } ?? "operator"
            return Self.row(schedule, owner: owner, visit: visit)
        }
        let flash = try await Self.flash(query, store: store, tenantID: tenantID)
        let layout = DashboardLayout(visit: visit, current: .schedules, flash: flash)
        return pages.render(.schedules, page: View(schedules: rows, showsOwner: tenantID == nil, nextPage: nextPage), layout: layout)
    }

    static func row(_ schedule: Schedule, owner: String, visit: DashboardVisit) -> Row {
        Row(
            id: schedule.id, name: schedule.name, owner: owner, source: schedule.source.rawValue, kind: schedule.kind, rule: rule(schedule),
            zone: schedule.timezone, nextRun: schedule.paused ? "paused" : utc(schedule.nextRunMs), lastRun: utc(schedule.lastRunMs),
            lastJob: schedule.lastJobID ?? "", lastJobHref: schedule.lastJobID.map { "/dashboard/jobs/" + DashboardQuery.escape($0) },
            runs: schedule.runs, skipped: schedule.skipped, state: schedule.paused ? "paused" : "running",
            lastError: schedule.lastError.flatMap { $0.isEmpty ? nil : $0 },
            pauseForm: schedule.paused ? nil : visit.formAction(actionPath(schedule.id, "pause")),
            resumeForm: schedule.paused ? visit.formAction(actionPath(schedule.id, "resume")) : nil,
            deleteHref: mayDelete(schedule, visit.principal) ? actionPath(schedule.id, "delete") : nil)
    }

    /// "cron 0 9 * * *" or "every 5m".
    static func rule(_ schedule: Schedule) -> String {
        if let cron = schedule.cron { return "cron \(cron)" }
        let seconds = (schedule.everyMs ?? 0) / 1000
        return "every " + ((try? ScheduleInterval(seconds: seconds))?.description ?? "\(seconds)s")
    }

    /// As `/v1/schedules` lets it delete, except what Spool made and keeps: a tenant admin may not
    /// delete a builtin schedule (a calendar's sync goes with its connection).
    static func mayDelete(_ schedule: Schedule, _ principal: Principal) -> Bool {
        principal.isOperator || schedule.source != .builtin
    }

    /// A time in UTC to the minute, "2026-11-22 09:00 UTC"; "never" for none.
    static func utc(_ ms: Int64?) -> String {
        guard let ms else { return "never" }
        let time = CivilTime(unixMillis: ms)
        return "\(CivilTime.pad(time.year, 4))-\(CivilTime.pad(time.month))-\(CivilTime.pad(time.day)) "
            + "\(CivilTime.pad(time.hour)):\(CivilTime.pad(time.minute)) UTC"
    }

    /// The line that says what the last action did, from the schedule as it is now (so a link cannot
    /// make the page say anything else); deleting says no name, the schedule being gone.
    static func flash(_ query: Parameters, store: ScheduleStore, tenantID: String?) async throws -> String? {
        if query.get("deleted") != nil { return "Schedule deleted; jobs it enqueued run as they are." }
        for (verb, paused) in [("paused", true), ("resumed", false)] {
            guard let id = query.get(verb), DashboardID.isPlausible(id) else { continue }
            guard let schedule = try await store.find(id, tenantID: tenantID), schedule.paused == paused else { return nil }
            return paused
                ? "Schedule \(schedule.name) paused: no tick fires until it is resumed."
                : "Schedule \(schedule.name) resumed: next run \(utc(schedule.nextRunMs))."
        }
        return nil
    }

    /// The schedule `id` names, when this principal may see it; 404 otherwise, as the API answers.
    private func visible(_ context: APIContext) async throws -> (DashboardVisit, Schedule) {
        let visit = try context.visit()
        let id = context.parameters.get("id") ?? ""
        guard DashboardID.isPlausible(id), let schedule = try await store.find(id, tenantID: visit.principal.tenantID) else {
            throw DashboardRefusal.notFound
        }
        return (visit, schedule)
    }

    private func setPaused(_ context: APIContext, _ paused: Bool) async throws -> Response {
        let (visit, schedule) = try await visible(context)
        do {
            try await store.setPaused(schedule.id, tenantID: visit.principal.tenantID, paused: paused)
        } catch ScheduleStoreError.notFound {
            // Deleted since it was read.
            throw DashboardRefusal.notFound
        }
        return DashboardResponse.redirect(to: Self.path + "?" + DashboardQuery.encode([(paused ? "paused" : "resumed", schedule.id)]))
    }

    private func askToDelete(_ context: APIContext) async throws -> Response {
        let (visit, schedule) = try await visible(context)
        try Self.checkMayDelete(schedule, visit.principal)
        return confirmation(schedule, visit: visit)
    }

    private func delete(_ context: APIContext) async throws -> Response {
        let (visit, schedule) = try await visible(context)
        try Self.checkMayDelete(schedule, visit.principal)
        guard DashboardConfirmation.isConfirmed(visit.form) else { return confirmation(schedule, visit: visit) }
        do {
            try await store.delete(schedule.id, tenantID: visit.principal.tenantID)
        } catch ScheduleStoreError.notFound {
            throw DashboardRefusal.notFound
        }
        return DashboardResponse.redirect(to: Self.path + "?deleted=1")
    }

    static func checkMayDelete(_ schedule: Schedule, _ principal: Principal) throws(DashboardRefusal) {
        guard mayDelete(schedule, principal) else {
            throw DashboardRefusal(
                .conflict, heading: "Kept by Spool",
                message: "Spool made this schedule and keeps it (a calendar's sync goes with its connection). Pause it instead, "
                    + "or disconnect the calendar.", linkHref: path, linkText: "Back to the schedules")
        }
    }

    private func confirmation(_ schedule: Schedule, visit: DashboardVisit) -> Response {
        var message =
            "It will enqueue no more \(schedule.kind) jobs (\(Self.rule(schedule)), \(schedule.timezone)). Jobs it enqueued already "
            + "run as they are. This cannot be undone."
        if schedule.source == .builtin { message += " Spool made this schedule, and makes it again when it needs it." }
        let page = DashboardConfirmation(
            heading: "Delete the schedule \(schedule.name)?", message: message, button: "Delete the schedule",
            form: visit.formAction(Self.actionPath(schedule.id, "delete")), cancelHref: Self.path)
        return pages.render(.confirmation, page: page, layout: DashboardLayout(visit: visit, current: .schedules))
    }
}
