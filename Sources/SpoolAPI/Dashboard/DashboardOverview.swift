import Hummingbird
import SpoolQueue
import SpoolRedis
import SpoolStore
import SpoolSupport

/// `GET /dashboard`. For the operator: processed and failed per second over the last hour (a chart),
/// each queue's depth and the age of its oldest job, and what needs attention (spent quotas, paused
/// queues and tenants, jobs that died in the last hour); the numbers then follow `/dashboard/live`.
/// For a tenant admin: its own jobs waiting in each queue and its kill switch, nothing shared.
///
/// Reads, all kept counts or bounded: `QueueAdmin.stats()` (three round trips), then at once the quota
/// alerts, the paused tenants, and one pipeline of the timeline's 61 minutes and each queue's deaths
/// in the hour (`ZCOUNT` on the dead set, scored by death time); then the paused tenants' names.
struct DashboardOverview: Sendable {
    let services: APIServices
    let pages: DashboardPages
    let seenQueues: SeenQueues

    struct QueueDepth: Sendable {
        let name: String
        let state: String
        let paused: Bool
        let pending: Int
        let scheduled: Int
        let active: Int
        let retry: Int
        let dead: Int
        let latency: String
    }

    struct Alert: Sendable {
        /// `bad` (work is lost or stopped) or `warn` (held on purpose): the CSS class.
        let level: String
        let text: String
    }

    struct OperatorView: Sendable {
        let liveURL = "/dashboard/live"
        let chart: DashboardChart
        let queues: [QueueDepth]
        let alerts: [Alert]
        let processedPerSecond: String
        let failedPerSecond: String
        let processedThisMinute: Int
        let failedThisMinute: Int
        let pending: Int
        let dead: Int
    }

    struct TenantView: Sendable {
        struct Waiting: Sendable {
            let queue: String
            let count: Int
        }
        let tenantName: String
        let tenantID: String
        let paused: Bool
        let waiting: [Waiting]
        let totalWaiting: Int
    }

    func register(on group: RouterGroup<APIContext>) {
        group.get("") { _, context in try await overview(context) }
    }

    private func overview(_ context: APIContext) async throws -> Response {
        let visit = try context.visit()
        let layout = DashboardLayout(visit: visit, current: .overview)
        guard let tenantID = visit.principal.tenantID else {
            let page = try await operatorView()
            return pages.render(.overview, page: page, layout: layout)
        }
        let page = try await tenantView(tenantID)
        return pages.render(.tenantOverview, page: page, layout: layout)
    }

    private func operatorView() async throws -> OperatorView {
        let now = services.clock.nowMillis()
        let stats = try await services.admin.stats()
        let queues = stats.map(\.queue)
        seenQueues.record(queues)
        async let quota = services.admin.alerts(queues: queues)
        async let pausedTenants = services.admin.pausedTenants()
        async let recent = recentActivity(queues: queues, nowMs: now)
        let (timeline, diedInTheHour) = try await recent
        let pausedIDs = try await pausedTenants
        let paused = pausedIDs.sorted()
        let names = try await services.tenants.names(ids: paused)
        let spent = try await quota
        let alerts = Self.alerts(
            stats: stats, quota: spent, pausedTenants: paused.map { (id: $0, name: names[$0]) }, diedInTheHour: diedInTheHour, nowMs: now)
        return OperatorView(
            chart: DashboardChart(timeline),
            queues: stats.map {
                QueueDepth(
                    name: $0.queue, state: $0.paused ? "paused" : "running", paused: $0.paused, pending: $0.pending,
                    scheduled: $0.scheduled, active: $0.active, retry: $0.retry, dead: $0.dead,
                    latency: DashboardFormat.age(seconds: $0.oldestPendingAgeSeconds))
            },
            alerts: alerts,
            processedPerSecond: DashboardFormat.rate(Double(timeline.lastWhole.processed) / 60),
            failedPerSecond: DashboardFormat.rate(Double(timeline.lastWhole.failed) / 60),
            processedThisMinute: timeline.current.processed, failedThisMinute: timeline.current.failed,
            pending: stats.reduce(0) { $0 + $1.pending }, dead: stats.reduce(0) { $0 + $1.dead })
    }

    /// The timeline's last hour and, per queue, the jobs that died in it: one pipeline.
    private func recentActivity(queues: [String], nowMs: Int64) async throws -> (DashboardTimeline, [Int]) {
        var commands = DashboardTimeline.commands(keys: services.keys, nowMs: nowMs, wholeMinutes: 60)
        let minutes = commands.count
        let since = String(nowMs - 3_600_000)
        commands += queues.map { RedisCommand("ZCOUNT", services.keys.dead($0), since, "+inf") }
        let replies = try await services.redis.pipeline(commands)
        let died = try replies[minutes...].map { try $0.checked("ZCOUNT dead").int ?? 0 }
        return (DashboardTimeline(replies[..<minutes]), died)
    }

    /// What needs attention, most serious first; every value is text, escaped by the template.
    static func alerts(
        stats: [QueueStats], quota: [String: [String: String]], pausedTenants: [(id: String, name: String?)], diedInTheHour: [Int],
        nowMs: Int64
    ) -> [Alert] {
        var alerts: [Alert] = []
        for queue in stats {
            guard let alert = quota[queue.queue] else { continue }
            let since = Int64(alert["since"] ?? "").map { " for " + DashboardFormat.age(seconds: Double(max(nowMs - $0, 0)) / 1000) } ?? ""
            alerts.append(
                Alert(
                    level: "bad",
                    text:
                        "Queue \(queue.queue) is paused\(since): the provider's quota for \(alert["kind"] ?? "its kind") is spent "
                        + "(\(alert["reason"] ?? "no reason given")). Resume the queue once the quota is back."))
        }
        for (queue, died) in zip(stats, diedInTheHour) where died > 0 {
            let jobs = died == 1 ? "1 job" : "\(died) jobs"
            alerts.append(Alert(level: "bad", text: "Queue \(queue.queue): \(jobs) died in the last hour (\(queue.dead) in its dead set)."))
        }
        for queue in stats where queue.paused && quota[queue.queue] == nil {
            alerts.append(Alert(level: "warn", text: "Queue \(queue.queue) is paused: its jobs wait, unfetched."))
        }
        for tenant in pausedTenants {
            let who = tenant.name.map { "\($0) (\(tenant.id))" } ?? tenant.id
            alerts.append(Alert(level: "warn", text: "Tenant \(who) is paused: its jobs wait, unfetched."))
        }
        return alerts
    }

    /// A tenant admin's own numbers: its jobs waiting in each queue's lane (one LLEN each, one
    /// pipeline) and whether it is paused.
    private func tenantView(_ tenantID: String) async throws -> TenantView {
        guard let tenant = try await services.tenants.tenant(id: tenantID) else { throw DashboardRefusal.signedOut }
        let queues = try await services.admin.queues()
        let replies = try await services.redis.pipeline(queues.map { RedisCommand("LLEN", services.keys.lane($0, tenant: tenantID)) })
        let waiting = try zip(queues, replies).map { TenantView.Waiting(queue: $0, count: try $1.checked("LLEN").int ?? 0) }
        return TenantView(
            tenantName: tenant.name, tenantID: tenant.id, paused: tenant.paused, waiting: waiting,
            totalWaiting: waiting.reduce(0) { $0 + $1.count })
    }
}
