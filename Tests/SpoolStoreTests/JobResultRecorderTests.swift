import SpoolSupport
import SpoolJobs
import SpoolPostgres
import SpoolQueue
@testable import SpoolStore
import TestSupport
import Testing

@Suite struct JobResultRecorderTests {
    func migratedPool() async throws -> PostgresPool {
        var options = PostgresPool.Options()
        options.size = 2
        let pool = PostgresPool(url: try TestPostgres.freshDatabase(), options: options, logger: TestEnvironment.logger)
        try await Migrator(pool: pool).migrate()
        return pool
    }

    func job(_ n: Int, attempt: Int = 0) -> Job {
        Job(id: "job-\(n)", queue: "default", kind: "noop", args: "{}", attempt: attempt, maxAttempts: 3, enqueuedAt: 0,
            tenant: n % 2 == 0 ? "acme" : nil, leaseToken: "w.1")
    }

    @Test func timestampsAreUTCLiterals() {
        #expect(JobResultRecorder.timestamp(0) == "1970-01-01 00:00:00.000+00")
        #expect(JobResultRecorder.timestamp(1_795_305_600_123) == "2026-11-22 00:00:00.123+00")
        #expect(JobResultRecorder.timestamp(951_782_400_000) == "2000-02-29 00:00:00.000+00")
    }

    @Test func outcomesAreWrittenInBatches() async throws {
        let pool = try await migratedPool()
        let recorder = JobResultRecorder(pool: pool, batchSize: 1_000, logger: TestEnvironment.logger)
        for n in 0..<2_500 { recorder.settled(job(n), outcome: .completed, duration: .milliseconds(3), at: 1_795_305_600_000) }
        recorder.settled(job(1, attempt: 1), outcome: .dead(reason: "permanent error: 21211"), duration: .milliseconds(1), at: 1_795_305_600_000)
        await recorder.flush()
        #expect(recorder.writtenCount == 2_501)
        let rows = try await pool.withConnection { db in
            try db.query("SELECT outcome, count(*) AS n FROM job_results GROUP BY outcome ORDER BY outcome").rows.map {
                "\(try $0.string("outcome")!)=\(try $0.int("n")!)"
            }
        }
        #expect(rows == ["completed=2500", "dead=1"])
        let dead = try await pool.withConnection { try $0.query("SELECT * FROM job_results WHERE outcome = 'dead'").first! }
        #expect(try dead.string("detail") == "permanent error: 21211")
        #expect(try dead.int("attempt") == 2)
        #expect(try dead.string("tenant") == nil)
    }

    /// Every outcome a worker settles with is allowed by the table's check, so no row (and no batch
    /// around it) is refused for its label.
    @Test func theOutcomeCheckAllowsEveryLabel() async throws {
        let pool = try await migratedPool()
        let definition = try await pool.withConnection { db in
            try db.query("SELECT pg_get_constraintdef(oid) AS d FROM pg_constraint WHERE conname = 'job_results_outcome_check'").first?.string("d")
        }
        let allowed = Set(try #require(definition).split(separator: "'").enumerated().filter { $0.offset % 2 == 1 }.map { String($0.element) })
        #expect(allowed == Set(JobOutcome.labels))
    }

    /// 20,000 settles with throttles, quota stops, snoozes and deaths mixed in: every row arrives.
    @Test func mixedOutcomesAreAllRecorded() async throws {
        let pool = try await migratedPool()
        let recorder = JobResultRecorder(pool: pool, batchSize: 5_000, logger: TestEnvironment.logger)
        let outcomes: [JobOutcome] = [.completed, .retry(error: "503"), .snooze(until: 0, reason: "quiet hours"), .dead(reason: "21211"),
                                      .throttled(until: 0, reason: "429"), .quotaExhausted(reason: "insufficient_quota")]
        for n in 0..<20_000 { recorder.settled(job(n), outcome: outcomes[n % 7 == 0 ? 4 : n % outcomes.count], duration: .milliseconds(1), at: 1_795_305_600_000) }
        await recorder.flush()
        #expect(recorder.writtenCount == 20_000)
        #expect(recorder.droppedCount == 0)
        let count = try await pool.withConnection { try $0.query("SELECT count(*) AS n FROM job_results").first?.int("n") }
        #expect(count == 20_000)
    }

    /// A row PostgreSQL refuses (here by a check this test adds) is dropped alone: the other rows of
    /// its batch are written.
    @Test func aRefusedRowDropsOnlyItself() async throws {
        let pool = try await migratedPool()
        try await pool.withConnection { try $0.execute("ALTER TABLE job_results ADD CONSTRAINT no_poison CHECK (detail <> 'poison')") }
        let recorder = JobResultRecorder(pool: pool, batchSize: 1_000, logger: TestEnvironment.logger)
        for n in 0..<1_000 {
            let reason = n == 617 ? "poison" : "ok"
            recorder.settled(job(n), outcome: .dead(reason: reason), duration: .milliseconds(1), at: 1_795_305_600_000)
        }
        await recorder.flush()
        #expect(recorder.writtenCount == 999)
        #expect(recorder.droppedCount == 1)
        let missing = try await pool.withConnection { db in
            try db.query("SELECT count(*) AS n FROM job_results WHERE job_id = 'job-617'").first?.int("n")
        }
        #expect(missing == 0)
    }

    @Test func aSnoozeAndACompletionOfOneAttemptAreTwoRows() async throws {
        let pool = try await migratedPool()
        let recorder = JobResultRecorder(pool: pool, logger: TestEnvironment.logger)
        recorder.settled(job(7), outcome: .snooze(until: 0, reason: "quiet hours"), duration: .milliseconds(1), at: 1_795_305_600_000)
        recorder.settled(job(7), outcome: .completed, duration: .milliseconds(1), at: 1_795_305_601_000)
        await recorder.flush()
        #expect(recorder.writtenCount == 2)
    }

    @Test func aWorkerRecordsEverySettledJob() async throws {
        let pool = try await migratedPool()
        let recorder = JobResultRecorder(pool: pool, interval: .milliseconds(20), logger: TestEnvironment.logger)
        let f = try QueueFixture()
        try await f.seedPending(300)
        try await f.enqueuer.enqueue(EnqueueRequest(kind: "noop", args: #"{"fail":"permanent"}"#))
        let service = WorkerService(settings: f.settings, catalog: f.catalog, handlers: [NoopHandler()], concurrency: 4,
                                    observers: [recorder], logger: TestEnvironment.logger)
        let worker = Task { try await service.run() }
        let flusher = Task { try await recorder.run() }
        try await waitUntil("every outcome is in PostgreSQL") { recorder.writtenCount == 301 }
        service.requestStop()
        try await worker.value
        flusher.cancel()
        let dead = try await pool.withConnection { try $0.query("SELECT count(*) AS n FROM job_results WHERE outcome = 'dead'").first?.int("n") }
        #expect(dead == 1)
    }
}
