import Logging
import SpoolSupport
import Synchronization

/// An async Redis client: one connection, served by one OS thread of its own.
///
/// 1. Callers on Swift's cooperative pool submit commands and suspend.
/// 2. The thread takes everything submitted since its last round trip and sends it as one pipeline,
///    so concurrent callers (worker slots acking jobs, API requests enqueueing) batch themselves.
/// 3. Replies resume the callers in order.
///
/// When Redis goes away, pending commands fail with a connection error at once, the client reconnects
/// with capped exponential backoff on the next use, and the outage is logged once when it starts and
/// once when it ends, never once per command.
///
/// For a cluster URL the client is a `ClusterRouter` over one such client per primary; one Redis never
/// goes through any cluster code.
///
/// A cancelled caller whose commands still wait for the thread leaves the queue with `CancellationError`.
/// Commands already sent are not abandoned: their replies must be read to keep the connection in step,
/// and a command that ran must not look as if it had not, so the caller gets their replies.
public final class RedisClient: Sendable {
    public struct Options: Sendable {
        public var connectTimeout: Duration = .seconds(2)
        /// Must exceed the timeout of any blocking command sent through this client.
        public var commandTimeout: Duration = .seconds(5)
        public var minimumReconnectDelay: Duration = .milliseconds(50)
        public var maximumReconnectDelay: Duration = .seconds(2)
        /// The most commands written in one round trip; more wait for the next.
        public var maximumPipeline = 2048
        public init() {}
    }

    public let url: RedisURL
    public let name: String
    private let options: Options
    private let backend: Backend

    private enum Backend {
        case node(Core)
        case cluster(ClusterRouter)
    }

    public init(url: RedisURL, name: String = "redis", options: Options = Options(), logger: Logger = Logger(label: "spool.redis")) {
        self.url = url
        self.name = name
        self.options = options
        if url.isCluster {
            backend = .cluster(ClusterRouter(url: url, name: name, options: options, logger: logger))
        } else {
            let core = Core(url: url, name: name, options: options, logger: logger)
            backend = .node(core)
            startThread(name: "spool-\(name)") { core.serve() }
        }
    }

    deinit { close() }

    /// Runs one command. Redis error replies are thrown as `RedisError` naming the command.
    @discardableResult
    public func run(_ command: RedisCommand) async throws -> RedisReply {
        try await pipeline([command])[0].checked(command.label)
    }

    @discardableResult
    public func run(_ name: String, _ arguments: String...) async throws -> RedisReply {
        try await run(RedisCommand(name, arguments))
    }

    /// Runs commands in one round trip. Error replies come back in place, not thrown.
    public func pipeline(_ commands: [RedisCommand]) async throws -> [RedisReply] {
        if commands.isEmpty { return [] }
        try Task.checkCancellation()
        let core: Core
        switch backend {
        case .node(let node): core = node
        case .cluster(let router): return try await router.pipeline(commands)
        }
        let id = core.nextRequestID()
        return try await withTaskCancellationHandler {
            try await withUnsafeThrowingContinuation { continuation in
                core.submit(Request(id: id, commands: commands, continuation: continuation))
            }
        } onCancel: {
            core.cancel(id)
        }
    }

    /// A client per primary for commands that see one node's keys only (SCAN, INFO): this client for
    /// one Redis, each primary's for a cluster.
    public func primaryClients() async throws -> [RedisClient] {
        switch backend {
        case .node: [self]
        case .cluster(let router): try await router.primaryClients()
        }
    }

    /// Stops the thread after the commands already submitted; later calls fail.
    public func close() {
        switch backend {
        case .node(let core): core.shutdown()
        case .cluster(let router): router.close()
        }
    }

    /// How long a caller that saw a connection error should wait before trying again.
    public var retryDelay: Duration {
        switch backend {
        case .node(let core): core.currentBackoff
        case .cluster(let router): router.retryDelay
        }
    }

    /// True while the last attempt to reach Redis succeeded (every primary, for a cluster).
    public var isConnected: Bool {
        switch backend {
        case .node(let core): core.connected
        case .cluster(let router): router.isConnected
        }
    }

    /// Callers whose commands wait for the next round trip.
    public var waitingCount: Int {
        switch backend {
        case .node(let core): core.waitingCount
        case .cluster(let router): router.waitingCount
        }
    }
}

struct Request {
    let id: UInt64
    let commands: [RedisCommand]
    let continuation: UnsafeContinuation<[RedisReply], any Error>
}

/// The state shared between callers and the client's thread, guarded by `lock`.
private final class Core: @unchecked Sendable {
    let url: RedisURL
    let name: String
    let options: Options
    let logger: Logger
    let lock = ConditionLock()
    private var queue: [Request] = []
    private var closed = false
    private let requestIDs = Atomic<UInt64>(0)
    // Connection state: touched only by the serving thread, except the two flags read under `lock`.
    private var connection: RedisConnection?
    private var backoff: Duration
    private var nextAttempt: Duration = .zero
    private var outageStarted: Duration?
    private var lastConnected = false
    /// Why the last connection attempt failed; what callers see while Redis stays away.
    private var lastError: RedisError?

    typealias Options = RedisClient.Options

    init(url: RedisURL, name: String, options: Options, logger: Logger) {
        self.url = url
        self.name = name
        self.options = options
        self.logger = logger
        self.backoff = options.minimumReconnectDelay
    }

    var currentBackoff: Duration { lock.withLock { backoff } }
    var connected: Bool { lock.withLock { lastConnected } }
    var waitingCount: Int { lock.withLock { queue.count } }

    func nextRequestID() -> UInt64 { requestIDs.wrappingAdd(1, ordering: .relaxed).newValue }

    func submit(_ request: Request) {
        lock.lock()
        if closed {
            lock.unlock()
            request.continuation.resume(
                throwing: RedisError(.connection, "client '\(name)' is closed", command: request.commands.first?.label))
            return
        }
        // Checked under the lock: a cancellation that comes later finds the request in the queue (`cancel`).
        if Task.isCancelled {
            lock.unlock()
            request.continuation.resume(throwing: CancellationError())
            return
        }
        queue.append(request)
        if queue.count == 1 { lock.signal() }
        lock.unlock()
    }

    /// Takes a cancelled caller's request out of the queue; one the thread took already runs to the end.
    func cancel(_ id: UInt64) {
        lock.lock()
        let request = queue.firstIndex { $0.id == id }.map { queue.remove(at: $0) }
        lock.unlock()
        request?.continuation.resume(throwing: CancellationError())
    }

    func shutdown() {
        lock.withLock {
            closed = true
            lock.signal()
        }
    }

    /// The thread's loop: take everything queued, send it as one pipeline, answer, repeat.
    func serve() {
        var batch: [Request] = []
        while true {
            lock.lock()
            while queue.isEmpty && !closed { lock.wait() }
            if queue.isEmpty && closed {
                lock.unlock()
                break
            }
            var taken = 0
            var commandCount = 0
            for request in queue {
                if taken > 0 && commandCount + request.commands.count > options.maximumPipeline { break }
                commandCount += request.commands.count
                taken += 1
            }
            if taken == queue.count {
                swap(&batch, &queue)
            } else {
                batch.append(contentsOf: queue[..<taken])
                queue.removeFirst(taken)
            }
            lock.unlock()
            execute(batch)
            batch.removeAll(keepingCapacity: true)
        }
        connection?.close()
        connection = nil
    }

    private func execute(_ batch: [Request]) {
        guard let connection = connectIfDue() else {
            let error = lastError ?? RedisError(.connection, "Redis at \(url) is unreachable")
            for request in batch { request.continuation.resume(throwing: error) }
            return
        }
        var commands: [RedisCommand] = []
        if batch.count == 1 {
            commands = batch[0].commands
        } else {
            commands.reserveCapacity(batch.reduce(0) { $0 + $1.commands.count })
            for request in batch { commands.append(contentsOf: request.commands) }
        }
        do {
            let replies = try connection.pipeline(commands)
            var offset = 0
            for request in batch {
                let count = request.commands.count
                request.continuation.resume(returning: Array(replies[offset..<offset + count]))
                offset += count
            }
        } catch {
            // The stream cannot be resynchronised after a failed read: drop the connection.
            self.connection = nil
            markDown(error)
            for request in batch { request.continuation.resume(throwing: error) }
        }
    }

    /// Returns a live connection, reconnecting when the backoff allows; nil while Redis stays away.
    private func connectIfDue() -> RedisConnection? {
        if let connection { return connection }
        let now = monotonicNow()
        if now < nextAttempt { return nil }
        do {
            let fresh = try RedisConnection(url: url, connectTimeout: options.connectTimeout, commandTimeout: options.commandTimeout)
            connection = fresh
            lastError = nil
            if let started = outageStarted {
                logger.notice("redis connection restored", metadata: ["client": "\(name)", "url": "\(url)", "outage": "\(now - started)"])
                outageStarted = nil
            }
            lock.withLock {
                backoff = options.minimumReconnectDelay
                lastConnected = true
            }
            return fresh
        } catch {
            // A refused AUTH or SELECT during the handshake is still a failure to reach Redis: callers wait and retry.
            let reason = (error as? RedisError).map { $0.command.map { "\($0) failed: " } ?? "" } ?? ""
            lastError = RedisError(.connection, "cannot use \(url): \(reason)\((error as? RedisError)?.message ?? "\(error)")")
            markDown(error)
            return nil
        }
    }

    private func markDown(_ error: any Error) {
        let now = monotonicNow()
        if outageStarted == nil {
            outageStarted = now
            logger.warning(
                "redis connection lost; reconnecting with backoff", metadata: ["client": "\(name)", "url": "\(url)", "error": "\(error)"])
            lock.withLock { lastConnected = false }
            nextAttempt = now  // the first reconnect is immediate: most outages are a single dropped socket
            return
        }
        nextAttempt = now + backoff
        lock.withLock { backoff = min(backoff * 2, options.maximumReconnectDelay) }
    }
}
