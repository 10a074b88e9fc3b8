import Hummingbird
import SpoolQueue

/// `GET /dashboard/workers` (operator; a tenant admin gets 404): each live worker process, as its
/// heartbeat registers it (`QueueAdmin.workerProcesses()`, two round trips): host, pid, queues,
/// concurrency, when it started and last beat, and its busy slots, each with the job it runs (a link to
/// the job's page) and for how long. A process that stopped beating drops out after three of its
/// intervals.
struct DashboardWorkers: Sendable {
    let services: APIServices
    let pages: DashboardPages

    struct Slot: Sendable {
        let jobID: String
        let jobHref: String
        let kind: String
        let queue: String
        let tenant: String
        let runningFor: String
    }

    struct Worker: Sendable {
        let processID: String
        let host: String
        let pid: String
        let queues: String
        let busyText: String
        let leasedText: String
        let startedAt: DashboardMoment?
        let lastBeat: DashboardMoment
        let slots: [Slot]
    }

    struct View: Sendable {
        let processes: [Worker]
        let processCount: Int
        let busySlots: Int
        let totalSlots: Int
    }

    func register(on group: RouterGroup<APIContext>) {
        group.get("/workers") { _, context in try await list(context) }
    }

    private func list(_ context: APIContext) async throws -> Response {
        let visit = try context.visit()
        try visit.requireOperator()
        let found = try await services.admin.workerProcesses()
        let now = services.clock.nowMillis()
        let processes = found.map { process in
            Worker(
                processID: process.id, host: process.host, pid: process.pid.map { String($0) } ?? "unknown",
                queues: process.queues.isEmpty ? "none" : process.queues.joined(separator: ", "),
                busyText: "\(process.busy.count) of \(process.concurrency) slots busy",
                leasedText: "\(process.leased) \(process.leased == 1 ? "job" : "jobs") leased (running, prefetched or settling)",
                startedAt: DashboardMoment.at(process.startedAt, now: now), lastBeat: DashboardMoment(process.lastBeat, now: now),
                slots: process.busy.map { slot in
                    Slot(
                        jobID: slot.jobID, jobHref: DashboardJobPage.path(slot.jobID), kind: slot.kind, queue: slot.queue,
                        tenant: slot.tenant ?? "", runningFor: DashboardFormat.age(seconds: Double(max(now - slot.startedAt, 0)) / 1000))
                })
        }
        let view = View(
            processes: processes, processCount: processes.count, busySlots: found.reduce(0) { $0 + $1.busy.count },
            totalSlots: found.reduce(0) { $0 + $1.concurrency })
        return pages.render(.workers, page: view, layout: DashboardLayout(visit: visit, current: .workers))
    }
}
