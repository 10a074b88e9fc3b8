import SpoolQueue

/// The Jobs page's actions on every job that matches its filters, each confirmed on a page of its own
/// first (`DashboardBulkActions`).
enum DashboardBulkAction: String, CaseIterable, Sendable {
    /// Dead jobs back to pending with fresh attempts (`QueueAdmin.retryDead(matching:)`).
    case retry
    /// Dead jobs deleted for good (`QueueAdmin.discardDead(matching:)`).
    case discard
    /// Jobs that have not started, cancelled (`QueueAdmin.cancel(matching:state:)`).
    case cancel

    /// Jobs handled by one submission: the admin's bound for one call.
    static let batch = 1000

    /// The states it acts on.
    var states: [JobState] {
        switch self {
        case .retry, .discard: [.dead]
        case .cancel: [.pending, .scheduled, .retry]
        }
    }

    /// Its confirmation page and the path its form posts to.
    var path: String { "/dashboard/bulk/\(rawValue)" }

    /// The confirmation's heading starts with it: "Retry dead jobs".
    var title: String {
        switch self {
        case .retry: "Retry"
        case .discard: "Discard"
        case .cancel: "Cancel"
        }
    }

    /// The word for what it did: "12 jobs retried."
    var verb: String {
        switch self {
        case .retry: "retried"
        case .discard: "discarded"
        case .cancel: "cancelled"
        }
    }

    /// The link on the Jobs page.
    var linkLabel: String {
        switch self {
        case .retry: "Retry all dead jobs that match…"
        case .discard: "Discard all dead jobs that match…"
        case .cancel: "Cancel all jobs that match…"
        }
    }

    /// The confirmation's button.
    var button: String {
        switch self {
        case .retry: "Retry them"
        case .discard: "Discard them for good"
        case .cancel: "Cancel them"
        }
    }

    /// What happens to each job, as the confirmation says it.
    var consequence: String {
        switch self {
        case .retry: "Each goes back to pending with a fresh set of attempts, and runs again."
        case .discard: "Each is deleted with its record. This cannot be undone."
        case .cancel: "None of them will run. A job that starts before its turn comes is left alone."
        }
    }

    /// Discarding loses the jobs: its confirmation is a warning, not a note.
    var isDestructive: Bool { self != .retry }

    /// Runs one bounded submission: at most `batch` matching jobs, from `after` on.
    func run(_ admin: QueueAdmin, _ query: DashboardJobsQuery) async throws -> BulkResult {
        switch self {
        case .retry: return try await admin.retryDead(matching: query.filter, limit: Self.batch, after: query.after)
        case .discard: return try await admin.discardDead(matching: query.filter, limit: Self.batch, after: query.after)
        case .cancel: return try await admin.cancel(matching: query.filter, state: query.state, limit: Self.batch, after: query.after)
        }
    }
}
