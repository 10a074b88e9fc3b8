import SpoolSupport

/// A job as a worker holds it, from the moment fetch leases it until it is settled.
public struct Job: Sendable, Equatable {
    public let id: String
    public let queue: String
    public let kind: String
    /// The arguments as the producer sent them: a JSON object, decoded only by the kind's handler.
    public let args: String
    /// Attempts already made before this one (0 on the first run).
    public let attempt: Int
    public let maxAttempts: Int
    public let enqueuedAt: Int64
    public let tenant: String?
    /// Proves this worker holds the lease; every settle script checks it.
    public let leaseToken: String
    /// `args` parsed, once the worker has parsed them (the limiter does, when a limit key reads them),
    /// so that the handler does not parse them again.
    public var parsedArgs: JSONValue?

    public init(
        id: String, queue: String, kind: String, args: String, attempt: Int, maxAttempts: Int,
        enqueuedAt: Int64, tenant: String?, leaseToken: String
    ) {
        self.id = id
        self.queue = queue
        self.kind = kind
        self.args = args
        self.attempt = attempt
        self.maxAttempts = maxAttempts
        self.enqueuedAt = enqueuedAt
        self.tenant = tenant
        self.leaseToken = leaseToken
    }
}
