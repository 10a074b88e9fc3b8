import Logging
import SpoolSupport
import Synchronization

/// A bounded pool of PostgreSQL connections for async code.
///
/// Each connection is served by an OS thread of its own: a caller's closure runs on that thread, where
/// blocking libpq calls belong, while the caller suspends. A broken connection is dropped and reopened
/// on its next use. When every connection is busy, callers wait in line, up to `acquireTimeout`.
///
/// A cancelled caller still in line leaves it with `CancellationError`. A closure already running on a
/// connection's thread is not interrupted: libpq's cancel request can land on the statement after it,
/// and a commit cannot be taken back, so it finishes (within the statement timeout) and its result is returned.
public final class PostgresPool: Sendable {
    public struct Options: Sendable {
        public var size = 10
        public var connectTimeout: Duration = .seconds(5)
        public var statementTimeout: Duration = .seconds(30)
        public var acquireTimeout: Duration = .seconds(10)
        public init() {}
    }

    public let url: PostgresURL
    let options: Options
    private let logger: Logger
    private let state: Mutex<State>
    private let nextWaiter = Atomic<Int>(0)

    private struct State {
        var idle: [PooledConnection]
        var waiters: [(id: Int, continuation: UnsafeContinuation<PooledConnection, any Error>)] = []
        var closed = false
    }

    public init(url: PostgresURL, options: Options = Options(), logger: Logger = Logger(label: "spool.postgres")) {
        self.url = url
        self.options = options
        self.logger = logger
        let connections = (0..<max(1, options.size)).map { PooledConnection(index: $0, url: url, options: options, logger: logger) }
        state = Mutex(State(idle: connections))
    }

    deinit { close() }

    /// Runs `body` with a connection, on that connection's thread.
    public func withConnection<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) throws -> T) async throws -> T {
        try Task.checkCancellation()
        let connection = try await acquire()
        defer { release(connection) }
        // Handed over just as the caller was cancelled: nothing has run, so nothing runs.
        try Task.checkCancellation()
        return try await connection.run(body)
    }

    /// Runs `body` in a transaction: committed when it returns, rolled back when it throws. Serialization
    /// failures and deadlocks (SQLSTATE 40001, 40P01) run the whole transaction again, up to `attempts` times.
    public func transaction<T: Sendable>(
        serializable: Bool = false, attempts: Int = 5,
        _ body: @escaping @Sendable (PostgresConnection) throws -> T
    ) async throws -> T {
        var attempt = 1
        while true {
            do {
                return try await withConnection { connection in
                    try connection.execute(serializable ? "BEGIN ISOLATION LEVEL SERIALIZABLE" : "BEGIN")
                    do {
                        let value = try body(connection)
                        try connection.execute("COMMIT")
                        return value
                    } catch {
                        if connection.isHealthy { try? connection.execute("ROLLBACK") }
                        throw error
                    }
                }
            } catch let error as PostgresError where error.isTransient && attempt < attempts {
                attempt += 1
                // A little jitter keeps the transactions that collided from colliding again.
                try await Task.sleep(for: .milliseconds(Int64.random(in: 2...20) * Int64(attempt)))
            }
        }
    }

    /// Connections not in use right now.
    public var idleCount: Int { state.withLock { $0.idle.count } }

    /// Callers waiting in line for a connection.
    public var waitingCount: Int { state.withLock { $0.waiters.count } }

    /// Closes every connection; later calls fail.
    public func close() {
        let (idle, waiters) = state.withLock { state in
            state.closed = true
            defer { state.waiters.removeAll() }
            return (state.idle, state.waiters)
        }
        for connection in idle { connection.shutdown() }
        for waiter in waiters { waiter.continuation.resume(throwing: PostgresError(.connection, "the pool is closed")) }
    }

    private func acquire() async throws -> PooledConnection {
        try Task.checkCancellation()
        // Most calls find a connection free: no task, no timer.
        let free: PooledConnection? = try state.withLock { state in
            if state.closed { throw PostgresError(.connection, "the pool is closed") }
            return state.idle.popLast()
        }
        if let free { return free }
        // The line and the acquire timeout race in one task group; the loser is cancelled, and a waiter
        // cancelled leaves the line.
        let timeout = options.acquireTimeout
        return try await withThrowingTaskGroup(of: PooledConnection?.self) { group in
            group.addTask { try await self.waitInLine() }
            group.addTask {
                try await Task.sleep(for: timeout)
                return nil
            }
            if let connection = try await group.next()! {
                group.cancelAll()
                return connection
            }
            group.cancelAll()
            // A connection handed over in the same instant as the timeout goes back to the pool.
            while let late = try? await group.next() { if let connection = late { release(connection) } }
            throw PostgresError(
                .poolTimeout, "no connection to \(url) became free within \(options.acquireTimeout) (pool of \(options.size))")
        }
    }

    private func waitInLine() async throws -> PooledConnection {
        let id = nextWaiter.wrappingAdd(1, ordering: .relaxed).newValue
        return try await withTaskCancellationHandler {
            try await withUnsafeThrowingContinuation { continuation in
                let ready: Result<PooledConnection, any Error>? = state.withLock { state in
                    if state.closed { return .failure(PostgresError(.connection, "the pool is closed")) }
                    // Checked under the lock: a cancellation that comes later finds the waiter in line (`cancel`).
                    if Task.isCancelled { return .failure(CancellationError()) }
                    if let connection = state.idle.popLast() { return .success(connection) }
                    state.waiters.append((id, continuation))
                    return nil
                }
                if let ready { continuation.resume(with: ready) }
            }
        } onCancel: {
            self.cancel(waiter: id)
        }
    }

    /// A waiter whose task was cancelled leaves the line; a connection already handed to it stays its own.
    private func cancel(waiter id: Int) {
        let cancelled = state.withLock { state in
            state.waiters.firstIndex { $0.id == id }.map { state.waiters.remove(at: $0).continuation }
        }
        cancelled?.resume(throwing: CancellationError())
    }

    private func release(_ connection: PooledConnection) {
        let (waiter, closed) = state.withLock { state -> (UnsafeContinuation<PooledConnection, any Error>?, Bool) in
            if state.closed { return (nil, true) }
            if !state.waiters.isEmpty { return (state.waiters.removeFirst().continuation, false) }
            state.idle.append(connection)
            return (nil, false)
        }
        // A connection given back after close() ends its thread instead of waiting forever.
        if closed { connection.shutdown() }
        waiter?.resume(returning: connection)
    }
}

/// One pooled connection and the thread that serves it.
final class PooledConnection: @unchecked Sendable {
    private let lock = ConditionLock()
    private var work: (() -> Void)?
    private var stopped = false
    // Touched only by the serving thread.
    private var connection: PostgresConnection?
    private let url: PostgresURL
    private let options: PostgresPool.Options
    private let logger: Logger
    private var broken = false

    init(index: Int, url: PostgresURL, options: PostgresPool.Options, logger: Logger) {
        self.url = url
        self.options = options
        self.logger = logger
        startThread(name: "spool-pg-\(index)") { [self] in serve() }
    }

    func run<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) throws -> T) async throws -> T {
        try await withUnsafeThrowingContinuation { continuation in
            lock.withLock {
                work = { [self] in
                    do {
                        let connection = try liveConnection()
                        let value = try body(connection)
                        if !connection.isHealthy { drop() }
                        continuation.resume(returning: value)
                    } catch {
                        if let connection, !connection.isHealthy { drop() }
                        continuation.resume(throwing: error)
                    }
                }
                lock.signal()
            }
        }
    }

    func shutdown() {
        lock.withLock {
            stopped = true
            lock.signal()
        }
    }

    private func serve() {
        while true {
            lock.lock()
            while work == nil && !stopped { lock.wait() }
            let next = work
            work = nil
            let stop = stopped && next == nil
            lock.unlock()
            if stop { break }
            next?()
        }
        connection?.close()
        connection = nil
    }

    private func liveConnection() throws -> PostgresConnection {
        if let connection, connection.isHealthy { return connection }
        connection?.close()
        connection = nil
        do {
            let fresh = try PostgresConnection(url: url, connectTimeout: options.connectTimeout, statementTimeout: options.statementTimeout)
            if broken { logger.notice("postgres connection restored", metadata: ["url": "\(url)"]) }
            broken = false
            connection = fresh
            return fresh
        } catch {
            if !broken { logger.warning("postgres connection failed", metadata: ["url": "\(url)", "error": "\(error)"]) }
            broken = true
            throw error
        }
    }

    private func drop() {
        if !broken { logger.warning("postgres connection lost; reconnecting on next use", metadata: ["url": "\(url)"]) }
        broken = true
        connection?.close()
        connection = nil
    }
}
