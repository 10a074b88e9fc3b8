import SpoolQueue

/// One job as a row of the Jobs page and of a bulk action's preview. Every field is text the template
/// prints escaped; a value the job lacks is empty, not missing, so that a row never reads a field of
/// the page around it.
struct DashboardJobRow: Sendable {
    let id: String
    let href: String
    let kind: String
    let queue: String
    let tenant: String
    let enqueuedAt: DashboardMoment?
    /// The time that matters in the job's state (see `timeHeading`).
    let stateTime: DashboardMoment?
    let attempts: String
    /// The last error, or why the job died; cut to a line (the job's page has it whole).
    let error: String

    /// How long an error may be in a row.
    static let errorLength = 160

    init(_ job: JobSummary, now: Int64) {
        id = job.id
        href = DashboardJobPage.path(job.id)
        kind = job.kind ?? "(record gone)"
        queue = job.queue
        tenant = job.tenant ?? ""
        enqueuedAt = DashboardMoment.at(job.enqueuedAt, now: now)
        switch job.state {
        case .pending, .parked: stateTime = DashboardMoment.at(job.runAt ?? job.enqueuedAt, now: now)
        case .scheduled, .retry: stateTime = DashboardMoment.at(job.runAt, now: now)
        case .active: stateTime = DashboardMoment.at(job.leaseDeadline, now: now)
        default: stateTime = DashboardMoment.at(job.finishedAt, now: now)
        }
        attempts = "\(job.attempt)/" + (job.maxAttempts.map { String($0) } ?? "?")
        let text = job.state == .dead ? job.deadReason ?? job.lastError ?? "" : job.lastError ?? ""
        error = text.count > Self.errorLength ? String(text.prefix(Self.errorLength)) + "…" : text
    }

    /// The heading of the `stateTime` column.
    static func timeHeading(_ state: JobState) -> String {
        switch state {
        case .pending, .parked: "Waiting since"
        case .scheduled: "Runs"
        case .retry: "Retries"
        case .active: "Lease until"
        case .dead: "Died"
        default: "Finished"
        }
    }
}
