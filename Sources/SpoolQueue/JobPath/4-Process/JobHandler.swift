import Logging
import SpoolRedis
import SpoolSupport

/// The code behind one job kind. Its policy (queue, timeout, retries, arguments) is declared in `Jobs/<kind>.json`.
///
/// Return an outcome, or throw: `JobError.permanent` and `JobError.malformedArgs` send the job to the
/// dead set; any other error is retried with the kind's backoff. Handlers should honour task cancellation,
/// which is how a timeout or a forced shutdown asks them to stop. The Redis, PostgreSQL and HTTP clients
/// do: a cancelled call that waits for its turn throws `CancellationError`, and so does an HTTP transfer in flight.
public protocol JobHandler: Sendable {
    var kind: String { get }
    func perform(_ job: Job, context: JobContext) async throws -> JobOutcome
    /// Stops the process at start when the handler's arguments and the declaration disagree
    /// (`JobKind` checks its Swift type; an untyped handler checks nothing).
    func checkArguments(against spec: JobKindSpec, file: String) throws
}

extension JobHandler {
    public func checkArguments(against spec: JobKindSpec, file: String) throws {}
}

/// What a handler may use besides its job.
public struct JobContext: Sendable {
    public let redis: RedisClient
    public let keys: KeySpace
    public let clock: any WallClock
    public let logger: Logger

    public init(redis: RedisClient, keys: KeySpace, clock: any WallClock, logger: Logger) {
        self.redis = redis
        self.keys = keys
        self.clock = clock
        self.logger = logger
    }
}

/// Checks that declarations and handlers match one to one; a mismatch stops the process at start.
public func checkHandlers(_ handlers: [any JobHandler], against catalog: JobKindCatalog, jobsDirectory: String) throws {
    let handled = Set(handlers.map(\.kind))
    let declared = Set(catalog.kinds)
    if let missing = declared.subtracting(handled).sorted().first {
        throw SpoolConfigError("\(jobsDirectory)/\(missing).json declares kind '\(missing)', but no handler for it is registered")
    }
    if let undeclared = handled.subtracting(declared).sorted().first {
        throw SpoolConfigError("a handler is registered for kind '\(undeclared)', but \(jobsDirectory)/\(undeclared).json does not exist")
    }
    for handler in handlers {
        try handler.checkArguments(against: catalog[handler.kind]!, file: "\(jobsDirectory)/\(handler.kind).json")
    }
}
