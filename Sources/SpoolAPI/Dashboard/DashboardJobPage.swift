import Hummingbird
import SpoolHTTP
import SpoolQueue
import SpoolSupport

/// `GET /dashboard/jobs/{id}`: one job (`QueueAdmin.jobDetail`) with its state, times and attempts,
/// its arguments with secret-looking values masked, its failed attempts newest first, its parent and
/// its follow-ups, and the actions its state allows, each a POST with its CSRF token that answers 303
/// back with what it did:
///
/// - dead: `POST /dashboard/jobs/{id}/retry` (`retryDead(ids:)`) and `/discard` (`discardDead(ids:)`,
///   with `confirm=yes`: it cannot be undone);
/// - pending, parked, scheduled, retrying or waiting for a limit: `POST /dashboard/jobs/{id}/cancel`
///   (`cancel(_:)`, with `confirm=yes`).
///
/// Another tenant's job is a 404 for a tenant admin, the same answer as a job that does not exist (the
/// API's isolation: the record's tenant is checked).
struct DashboardJobPage: Sendable {
    let services: APIServices
    let pages: DashboardPages

    static func path(_ id: String) -> String { "/dashboard/jobs/\(id)" }

    static let noSuchJob = DashboardRefusal(
        .notFound, heading: "Not found", message: "There is no such job here: it never existed, or its record has expired.",
        linkHref: "/dashboard/jobs", linkText: "Back to the jobs")

    /// The states a job can be cancelled in (cancel.lua).
    static let cancellable: [JobState] = [.pending, .parked, .scheduled, .retry, .limited]

    struct Fact: Sendable {
        let label: String
        let value: String
    }

    struct Time: Sendable {
        let label: String
        let moment: DashboardMoment
    }

    struct Failure: Sendable {
        let attempt: Int
        let when: DashboardMoment
        let outcome: String
        let message: String
    }

    struct Link: Sendable {
        let linkID: String
        let linkHref: String
        let summary: String
    }

    struct View: Sendable {
        let id: String
        let state: String
        let kind: String
        let queue: String
        let tenant: String
        let attempts: String
        let times: [Time]
        let facts: [Fact]
        let arguments: String
        let failures: [Failure]
        let noFailuresText: String
        let parent: Link?
        let followUps: [Link]
        let hasRelated: Bool
        let retryForm: DashboardFormAction?
        let discardForm: DashboardFormAction?
        let cancelForm: DashboardFormAction?
        let hasActions: Bool
        let listHref: String
        let listLabel: String
    }

    enum Action {
        case retry, discard, cancel
    }

    func register(on group: RouterGroup<APIContext>) {
        group.get("/jobs/:id") { request, context in try await show(request, context) }
        group.post("/jobs/:id/retry") { _, context in try await act(context, .retry) }
        group.post("/jobs/:id/discard") { _, context in try await act(context, .discard) }
        group.post("/jobs/:id/cancel") { _, context in try await act(context, .cancel) }
    }

    private func show(_ request: Request, _ context: APIContext) async throws -> Response {
        let visit = try context.visit()
        let id = context.parameters.get("id") ?? ""
        guard JobID.isValid(id), let detail = try await services.admin.jobDetail(id), visit.principal.owns(detail.record.tenant) else {
            throw Self.noSuchJob
        }
        let fields = FormEncoding.decode(request.uri.query ?? "")
        let flash = Self.flash { name in fields.first { $0.0 == name }?.1 }
        let layout = DashboardLayout(visit: visit, current: .jobs, flash: flash)
        return pages.render(.job, page: view(detail, visit: visit), layout: layout)
    }

    private func view(_ detail: JobDetail, visit: DashboardVisit) -> View {
        let record = detail.record
        let now = services.clock.nowMillis()
        let stamps: [(label: String, ms: Int64?)] = [
            ("Enqueued", record.enqueuedAt), ("Runs", record.runAt), ("Lease until", record.leaseDeadline), ("Finished", record.finishedAt),
        ]
        let times = stamps.compactMap { stamp in stamp.ms.map { Time(label: stamp.label, moment: DashboardMoment($0, now: now)) } }
        var facts: [Fact] = []
        func put(_ label: String, _ value: String?) {
            if let value, !value.isEmpty { facts.append(Fact(label: label, value: value)) }
        }
        put("Dead reason", record.deadReason)
        put("Last error", record.lastError)
        put("Waits for limit", record.limitedBy)
        put("Last wait", record.snoozed.map { reason in record.snoozes.map { "\(reason) (\($0) waits)" } ?? reason })
        put("Idempotency key", record.idempotencyKey)
        put("Result", record.result.map(Self.shown))
        let state = record.state
        let link = { (id: String, queue: String?, kind: String?, linked: JobState) -> Link in
            let summary = kind.map { "\($0), \(linked.rawValue)" + (queue.map { " in \($0)" } ?? "") } ?? "record gone"
            return Link(linkID: id, linkHref: Self.path(id), summary: summary)
        }
        let parent = detail.parent.map { link($0.id, $0.queue, $0.kind, $0.state) }
        let followUps = detail.followUps.map { link($0.id, $0.queue, $0.kind, $0.state) }
        let retryForm = state == .dead ? visit.formAction(Self.path(record.id) + "/retry") : nil
        let discardForm = state == .dead ? visit.formAction(Self.path(record.id) + "/discard") : nil
        let cancelForm = Self.cancellable.contains(state) ? visit.formAction(Self.path(record.id) + "/cancel") : nil
        let listed = DashboardJobsQuery.states.contains(state) ? state : .pending
        return View(
            id: record.id, state: state.rawValue, kind: record.kind ?? "(lost)", queue: record.queue, tenant: record.tenant ?? "none",
            attempts: "\(record.attempt ?? 0) of " + (record.maxAttempts.map { String($0) } ?? "?"),
            times: times, facts: facts, arguments: detail.redactedArguments.map(DashboardJSON.pretty(text:)) ?? "(none)",
            failures: detail.failures.reversed().map {
                Failure(attempt: $0.attempt, when: DashboardMoment($0.at, now: now), outcome: $0.outcome, message: $0.error)
            },
            noFailuresText: record.lastError == nil
                ? "No attempt has failed." : "No failed attempt was recorded apart from the last error.",
            parent: parent, followUps: followUps, hasRelated: parent != nil || !followUps.isEmpty,
            retryForm: retryForm, discardForm: discardForm, cancelForm: cancelForm,
            hasActions: retryForm != nil || discardForm != nil || cancelForm != nil,
            listHref: DashboardJobsQuery(state: listed, tenantForced: false).href(),
            listLabel: "\(DashboardJobsQuery.label(listed)) jobs")
    }

    /// A handler's result: JSON with secret-looking values masked, or its text.
    static func shown(_ result: String) -> String {
        guard let value = try? JSONValue.parse(result) else { return result }
        return DashboardJSON.pretty(ArgumentRedaction.redacted(value))
    }

    private func act(_ context: APIContext, _ action: Action) async throws -> Response {
        let visit = try context.visit()
        let id = context.parameters.get("id") ?? ""
        guard JobID.isValid(id), let record = try await services.admin.job(id), visit.principal.owns(record.tenant) else {
            throw Self.noSuchJob
        }
        let page = Self.path(id)
        if action != .retry && visit.form["confirm"] != "yes" { return Self.back(page, ("done", "unconfirmed")) }
        switch action {
        case .retry:
            guard record.state == .dead else { return Self.back(page, ("refused", record.state.rawValue)) }
            let moved = try await services.admin.retryDead(ids: [id])
            return Self.back(page, ("done", moved == 1 ? "retried" : "nothing"))
        case .discard:
            guard record.state == .dead else { return Self.back(page, ("refused", record.state.rawValue)) }
            guard try await services.admin.discardDead(ids: [id]) == 1 else { return Self.back(page, ("done", "nothing")) }
            let list = DashboardJobsQuery(state: .dead, tenantForced: false)
            return DashboardResponse.redirect(to: list.href(extra: [("done", "discarded"), ("count", "1")]))
        case .cancel:
            switch try await services.admin.cancel(id) {
            case .cancelled: return Self.back(page, ("done", "cancelled"))
            case .notCancellable(let state): return Self.back(page, ("refused", state))
            case .notFound: throw Self.noSuchJob
            }
        }
    }

    private static func back(_ page: String, _ field: (String, String)) -> Response {
        DashboardResponse.redirect(to: page + "?" + FormEncoding.encode([field]))
    }

    /// What the last action did; only known words are repeated.
    static func flash(_ value: (String) -> String?) -> String? {
        switch value("done") ?? "" {
        case "retried": return "Retried: the job is pending again, with a fresh set of attempts."
        case "cancelled": return "Cancelled: the job will not run."
        case "nothing": return "Nothing done: the job had moved on meanwhile."
        case "unconfirmed": return "Nothing done: tick the box to confirm."
        default: break
        }
        if let state = value("refused").flatMap(JobState.init(rawValue:)) { return "Nothing done: the job is \(state.rawValue) now." }
        return nil
    }
}
