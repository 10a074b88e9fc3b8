/// One page of jobs in one state (`QueueAdmin.jobs`).
public struct JobPage: Sendable, Equatable {
    /// The jobs that match the filter, in the state's order.
    public var jobs: [JobSummary]
    /// Pass it back as `after` for the next page; nil once nothing follows. With a filter, a page can be
    /// short, even empty, while `next` is not nil: it read its share of jobs and stopped there.
    public var next: JobCursor?
    /// How many jobs this page read to find `jobs` (at most `QueueAdmin.scanFactor` × limit).
    public var examined: Int
}

/// Which jobs a page or a bulk action takes; nil (or empty) matches any.
public struct JobFilter: Sendable, Equatable {
    public var queue: String?
    public var kind: String?
    public var tenant: String?

    public init(queue: String? = nil, kind: String? = nil, tenant: String? = nil) {
        self.queue = queue?.isEmpty == true ? nil : queue
        self.kind = kind?.isEmpty == true ? nil : kind
        self.tenant = tenant?.isEmpty == true ? nil : tenant
    }

    func matches(_ job: JobSummary) -> Bool {
        (kind == nil || job.kind == kind) && (tenant == nil || job.tenant == tenant)
    }
}

/// A request to list or act on jobs that cannot be served, naming the field and the value at fault.
public struct JobBrowseError: Error, Sendable, Equatable, CustomStringConvertible {
    public let field: String
    public let message: String

    init(field: String, _ message: String) {
        self.field = field
        self.message = message
    }

    public var description: String { "\(field): \(message)" }
}
