import SpoolPostgres
import SpoolSupport
import TestSupport
import Testing

@Suite struct PostgresPoolTests {
    func pool(size: Int, acquireTimeout: Duration = .seconds(10), url: PostgresURL? = nil) throws -> PostgresPool {
        var options = PostgresPool.Options()
        options.size = size
        options.acquireTimeout = acquireTimeout
        return PostgresPool(url: try url ?? TestPostgres.freshDatabase(), options: options, logger: TestEnvironment.logger)
    }

    @Test func transactionsCommitOrRollBack() async throws {
        let pool = try pool(size: 2)
        try await pool.withConnection { try $0.execute("CREATE TABLE a (n int)") }
        try await pool.transaction { try $0.query("INSERT INTO a VALUES ($1)", [1]) }
        struct Boom: Error {}
        await #expect(throws: Boom.self) {
            try await pool.transaction { db in
                try db.query("INSERT INTO a VALUES ($1)", [2])
                throw Boom()
            }
        }
        #expect(try await pool.withConnection { try $0.query("SELECT array_agg(n) AS ns FROM a").first?.string("ns") } == "{1}")
    }

    @Test func serializationFailuresAreRetried() async throws {
        let pool = try pool(size: 8)
        try await pool.withConnection { try $0.execute("CREATE TABLE counter (n int); INSERT INTO counter VALUES (0)") }
        // Serializable read-modify-write from many tasks: conflicts must be retried, never lost.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<40 {
                group.addTask {
                    try await pool.transaction(serializable: true, attempts: 50) { db in
                        let n = try db.query("SELECT n FROM counter").first!.int("n")!
                        try db.query("UPDATE counter SET n = $1", [n + 1])
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(try await pool.withConnection { try $0.query("SELECT n FROM counter").first?.int("n") } == 40)
    }

    @Test func anExhaustedPoolMakesCallersWaitAndThenTimesOut() async throws {
        let pool = try pool(size: 2, acquireTimeout: .milliseconds(300))
        let started = ContinuousClock.now
        // Four callers, two connections: the others wait their turn.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<4 { group.addTask { _ = try await pool.withConnection { try $0.query("SELECT pg_sleep(0.1)") } } }
            try await group.waitForAll()
        }
        #expect(ContinuousClock.now - started >= .milliseconds(200))
        // Held longer than the acquire timeout: the third caller gets a clear error, and the pool recovers.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<2 { group.addTask { _ = try await pool.withConnection { try $0.query("SELECT pg_sleep(1)") } } }
            group.addTask {
                // Both connections are busy for a second; this caller's 300 ms wait runs out first.
                try await waitUntil("both connections are taken", timeout: .seconds(5)) { pool.idleCount == 0 }
                await #expect {
                    try await pool.withConnection { try $0.query("SELECT 1") }
                } throws: { error in
                    (error as! PostgresError).code == .poolTimeout && "\(error)".contains("pool of 2")
                }
            }
            try await group.waitForAll()
        }
        #expect(try await pool.withConnection { try $0.query("SELECT 1 AS one").first?.int("one") } == 1)
    }

    @Test func aCancelledWaiterLeavesTheLineAndTheConnectionGoesToTheNextCaller() async throws {
        let pool = try pool(size: 1, acquireTimeout: .seconds(60))
        let gate = Gate()
        let holder = Task { try await pool.withConnection { _ in gate.wait() } }
        try await waitUntil("the only connection is taken") { pool.idleCount == 0 }
        let waiter = Task { try await pool.withConnection { try $0.query("SELECT 1") } }
        try await waitUntil("the second caller waits in line") { pool.waitingCount == 1 }
        let cancelled = ContinuousClock.now
        waiter.cancel()
        await #expect(throws: CancellationError.self) { try await waiter.value }
        #expect(ContinuousClock.now - cancelled < .seconds(20))  // the acquire timeout is 60 s; wide for a busy machine
        #expect(pool.waitingCount == 0)
        gate.open()
        try await holder.value
        // Released, the connection goes to the next caller, not to the cancelled one.
        let started = ContinuousClock.now
        #expect(try await pool.withConnection { try $0.query("SELECT 1 AS one").first?.int("one") } == 1)
        #expect(ContinuousClock.now - started < .seconds(20))  // not the 60 s of a connection lost to the cancelled waiter
        #expect(pool.idleCount == 1)
    }

    @Test func aCallFromACancelledTaskRunsNothing() async throws {
        let pool = try pool(size: 1)
        let gate = Gate()
        let call = Task {
            try? await Task.sleep(for: .seconds(60))  // ends when the task is cancelled
            try await pool.withConnection { _ in gate.open() }
        }
        call.cancel()
        await #expect(throws: CancellationError.self) { try await call.value }
        #expect(!gate.isOpen)
        #expect(pool.idleCount == 1)
    }

    @Test func aServerRestartBreaksConnectionsThatArethenReplaced() async throws {
        let server = try PostgresServer()
        let pool = try pool(size: 3, url: server.createDatabase())
        try await pool.withConnection { try $0.execute("CREATE TABLE r (n int)") }
        try server.restart()
        // The first use of each broken connection may fail; the pool replaces it without help.
        try await waitUntil("the pool works again", timeout: .seconds(20)) {
            (try? await pool.withConnection { try $0.query("INSERT INTO r VALUES (1)") }) != nil
        }
        for _ in 0..<6 { try await pool.withConnection { try $0.query("INSERT INTO r VALUES (2)") } }
        server.stop()
        await #expect(throws: PostgresError.self) { try await pool.withConnection { try $0.query("SELECT 1") } }
    }
}

/// Holds a connection's thread until the test opens it (for a minute at most, should the test fail first).
final class Gate: @unchecked Sendable {
    private let lock = ConditionLock()
    private var opened = false

    func open() {
        lock.withLock {
            opened = true
            lock.broadcast()
        }
    }

    var isOpen: Bool { lock.withLock { opened } }

    func wait() {
        let deadline = monotonicNow() + .seconds(60)
        lock.withLock {
            while !opened && monotonicNow() < deadline { lock.wait(for: .seconds(1)) }
        }
    }
}
