import SpoolJobs
import SpoolPostgres
import SpoolQueue
import SpoolSupport
import Synchronization
import TestSupport
import Testing

@testable import SpoolStore

/// Answers each job as its args say, once: throttled, snoozed or dead; completed when it comes back.
struct MixedHandler: JobHandler {
    let kind = "mixed"
    func perform(_ job: Job, context: JobContext) async throws -> JobOutcome {
        let answer = try JobArguments(job).string("answer") ?? "complete"
        let now = context.clock.nowMillis()
        if answer == "die" { return .dead(reason: "21211") }
        if answer == "complete" { return .completed }
        // Throttles and snoozes use no attempt: the first run is told apart by a count in Redis.
        let runs = try await context.redis.run("HINCRBY", "\(context.keys.prefix):mixed:runs", job.id, "1").int ?? 0
        if runs > 1 { return .completed }
        return answer == "throttle"
            ? .throttled(until: now + 20, reason: "429 Retry-After") : .snooze(until: now + 20, reason: "quiet hours")
    }
}

/// Counts every settle the worker reports, for comparison with the rows recorded.
final class SettleCounter: SettleObserver {
    private let count = Mutex(0)
    func settled(_ job: Job, outcome: JobOutcome, duration: Duration, at finishedAt: Int64) { count.withLock { $0 += 1 } }
    var value: Int { count.withLock { $0 } }
}

@Suite struct JobResultRecorderTests {
    func migratedPool() async throws -> PostgresPool {
        var options = PostgresPool.Options()
        options.size = 2
        let pool = PostgresPool(url: try TestPostgres.freshDatabase(), options: options, logger: TestEnvironment.logger)
        try await Migrator(pool: pool).migrate()
        return pool
    }

    func job(_ n: Int, attempt: Int = 0) -> Job {
        Job(
            id: "job-\(n)", queue: "default", kind: "noop", args: "{}", attempt: attempt, maxAttempts: 3, enqueuedAt: 0,
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
        recorder.settled(
            job(1, attempt: 1), outcome: .dead(reason: "permanent error: 21211"), duration: .milliseconds(1), at: 1_795_305_600_000)
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
            try db.query("SELECT pg_get_constraintdef(oid) AS d FROM pg_constraint WHERE conname = 'job_results_outcome_check'").first?
                .string("d")
        }
        let allowed = Set(
            try #require(definition).split(separator: "'").enumerated().filter { $0.offset % 2 == 1 }.map { String($0.element) })
        #expect(allowed == Set(JobOutcome.labels))
    }

    /// 20,000 settles with throttles, quota stops, snoozes and deaths mixed in: every row arrives.
    @Test func mixedOutcomesAreAllRecorded() async throws {
        let pool = try await migratedPool()
        let recorder = JobResultRecorder(pool: pool, batchSize: 5_000, logger: TestEnvironment.logger)
        let outcomes: [JobOutcome] = [
            .completed, .retry(error: "503"), .snooze(until: 0, reason: "quiet hours"), .dead(reason: "21211"),
            .throttled(until: 0, reason: "429"), .quotaExhausted(reason: "insufficient_quota"),
        ]
        for n in 0..<20_000 {
            recorder.settled(
                job(n), outcome: outcomes[n % 7 == 0 ? 4 : n % outcomes.count], duration: .milliseconds(1), at: 1_795_305_600_000)
        }
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

    /// Through a real worker: 20,000 jobs, with provider 429s, snoozes and deaths mixed in. Every
    /// settle is a row (before, one `throttled` row got its whole batch of up to 5,000 refused).
    @Test func noSettleOfAWorkerIsLostWhateverItsOutcome() async throws {
        let pool = try await migratedPool()
        let recorder = JobResultRecorder(pool: pool, interval: .milliseconds(20), logger: TestEnvironment.logger)
        let counter = SettleCounter()
        // A rate limit so generous it never waits, so that a 429 pauses a limiter and stays `throttled`.
        var mixed = JobKindSpec(
            kind: "mixed", maxAttempts: 3,
            limits: [
                LimitDeclaration(
                    key: try LimitKeyTemplate("mixed:{queue}"), spec: .rate(units: 1_000_000, period: .seconds(1), burst: 1_000_000))
            ])
        mixed.arguments.fields["answer"] = .init(type: .string, required: false)
        let f = try QueueFixture(kinds: [mixed])
        let answers = ["throttle", "snooze", "die", "complete", "complete"]
        let requests = (0..<20_000).map { EnqueueRequest(kind: "mixed", args: #"{"answer":"\#(answers[$0 % answers.count])"}"#) }
        for start in stride(from: 0, to: requests.count, by: 5_000) {
            _ = try await f.enqueuer.enqueue(batch: Array(requests[start..<start + 5_000]))
        }
        let service = WorkerService(
            settings: f.settings, catalog: f.catalog, handlers: [MixedHandler()], concurrency: 16,
            observers: [recorder, counter], logger: TestEnvironment.logger)
        let worker = Task { try await service.run() }
        let flusher = Task { try await recorder.run() }
        // Each job settles once, and the throttled and snoozed ones once more when they come back.
        try await waitUntil("every job to settle", timeout: .seconds(120)) { counter.value >= 20_000 + 8_000 }
        try await waitUntil("every settle to be recorded", timeout: .seconds(60)) { recorder.writtenCount == counter.value }
        service.requestStop()
        try await worker.value
        flusher.cancel()
        let rows = try await pool.withConnection { db in
            try db.query("SELECT outcome, count(*) AS n FROM job_results GROUP BY outcome ORDER BY outcome").rows.map {
                "\(try $0.string("outcome")!)=\(try $0.int("n")!)"
            }
        }
        #expect(rows == ["completed=16000", "dead=4000", "snoozed=4000", "throttled=4000"])
        #expect(recorder.droppedCount == 0)
        let total = try await pool.withConnection { try $0.query("SELECT count(*) AS n FROM job_results").first?.int("n") }
        #expect(total == counter.value)
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
        let service = WorkerService(
            settings: f.settings, catalog: f.catalog, handlers: [NoopHandler()], concurrency: 4,
            observers: [recorder], logger: TestEnvironment.logger)
        let worker = Task { try await service.run() }
        let flusher = Task { try await recorder.run() }
        try await waitUntil("every outcome is in PostgreSQL") { recorder.writtenCount == 301 }
        service.requestStop()
        try await worker.value
        flusher.cancel()
        let dead = try await pool.withConnection {
            try $0.query("SELECT count(*) AS n FROM job_results WHERE outcome = 'dead'").first?.int("n")
        }
        #expect(dead == 1)
    }
}
