import FoundationEssentials
import SpoolHTTP
import SpoolJobs
import SpoolPostgres
import SpoolQueue
import SpoolSupport
import TestSupport
import Testing

@testable import SpoolStore

#if canImport(Glibc)
    import Glibc
#endif

/// Schedules firing against real PostgreSQL and Redis: every tick enqueued once however many tickers
/// run at once, a dead ticker's claim taken over without a second job, missed-tick and overlap policies.
@Suite struct ScheduleTickerTests {
    struct World: Sendable {
        let pool: PostgresPool
        let queue: QueueFixture
        let store: ScheduleStore

        func ticker() -> ScheduleTicker {
            var ticker = ScheduleTicker(pool: pool, enqueuer: queue.enqueuer, admin: queue.admin, logger: TestEnvironment.logger)
            ticker.interval = .milliseconds(50)
            return ticker
        }

        func schedule(_ id: String) async throws -> Schedule { try #require(try await store.find(id, tenantID: nil)) }

        /// Sets a schedule's next tick (as if the schedulers had been down since then).
        func setNext(_ id: String, _ ms: Int64) async throws {
            _ = try await pool.withConnection { try $0.query("UPDATE schedules SET next_run_ms = $2 WHERE id = $1", [id, ms]) }
        }

        /// Jobs waiting in the default queue: pending, or scheduled (ticks enqueued ahead of their time).
        func jobCount() async throws -> Int {
            let stats = try await queue.stats()
            return stats.pending + stats.scheduled
        }

        func nowMs() async throws -> Int64 {
            Int64(try await pool.withConnection { try $0.query("SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint AS ms").first!.int("ms")! })
        }
    }

    static func world() async throws -> World {
        var options = PostgresPool.Options()
        options.size = 6
        let pool = PostgresPool(url: try TestPostgres.freshDatabase(), options: options, logger: TestEnvironment.logger)
        try await Migrator(pool: pool).migrate()
        let queue = try QueueFixture()
        return World(pool: pool, queue: queue, store: ScheduleStore(pool: pool, enqueuer: queue.enqueuer))
    }

    @Test func everyTickIsEnqueuedOnceWithFourTickersAtOnce() async throws {
        let w = try await Self.world()
        var ids: [String] = []
        for n in 0..<20 {
            ids.append(
                try await w.store.create(ScheduleRequest(name: "every second \(n)", kind: "noop", every: "1s"), tenantID: nil, producer: .operator)
                    .id)
        }
        let first = try await w.schedule(ids[0]).nextRunMs!
        let tickers = (0..<4).map { _ in w.ticker() }
        let runs = tickers.map { ticker in Task { try await ticker.run() } }
        // Ten ticks of each schedule: the first five are enqueued ahead at once (the lookahead), the
        // rest as time passes, with the four tickers racing for each.
        try await waitUntil("every schedule to have fired ten times", timeout: .seconds(60)) {
            for id in ids where try await w.schedule(id).runs < 10 { return false }
            return true
        }
        for run in runs { run.cancel() }
        for run in runs { _ = await run.result }
        var total = 0
        for id in ids {
            let schedule = try await w.schedule(id)
            let start = schedule.anchorMs
            // Ticks are consecutive seconds from the first: none skipped, none twice.
            #expect(schedule.skipped == 0, "\(schedule.name): skipped \(schedule.skipped)")
            #expect(schedule.lastRunMs! - start == Int64(schedule.runs - 1) * 1000, "\(schedule.name): \(schedule.runs) runs")
            total += schedule.runs
        }
        #expect(first == (try await w.schedule(ids[0]).anchorMs))
        #expect(try await w.jobCount() == total)
        // What /metrics and `spool stats` show: every tick fired once, each with its lateness.
        let metrics = try await ScheduleMetrics.totals(redis: w.queue.admin.redis, keys: w.queue.admin.keys)
        #expect(metrics.ticks[.fired] == total && metrics.ticks[.alreadyFired] == nil, "\(metrics)")
        #expect(metrics.lateness.values.reduce(0, +) == total)
        let summary = try await ScheduleMetrics.summary(pool: w.pool)
        #expect(summary.active == 20 && summary.runs == total && summary.overdue == 0 && summary.nextRunMs != nil)
    }

    @Test func aDeadSchedulersClaimLapsesAndItsTickIsNotEnqueuedTwice() async throws {
        let w = try await Self.world()
        // A daily schedule, its latest tick (today's or yesterday's 03:00 UTC) due: exactly one tick,
        // whatever the time of day the test runs at.
        let id = try await w.store.create(ScheduleRequest(name: "claimed", kind: "noop", cron: "0 3 * * *"), tenantID: nil, producer: .operator).id
        let now = try await w.nowMs()
        var tick = now - now % 86_400_000 + 3 * 3_600_000
        if tick > now { tick -= 86_400_000 }
        try await w.setNext(id, tick)
        // A scheduler claimed it for 10 minutes, enqueued the tick, and died before its release.
        let schedule = try await w.schedule(id)
        var request = EnqueueRequest(kind: "noop", idempotencyKey: schedule.jobKey(tickMs: tick))
        request.producer = .operator
        let earlier = try await w.queue.enqueuer.enqueue(request)
        _ = try await w.pool.withConnection { try $0.query("UPDATE schedules SET claimed_until = $2 WHERE id = $1", [id, now + 600_000]) }
        var ticker = w.ticker()
        ticker.lookahead = .zero
        // The tick may be hours old: here it counts as on time.
        ticker.lateGrace = .seconds(2 * 86_400)
        #expect(try await ticker.tick().claimed == 0)
        // Its claim lapses (set in the past here, rather than waited for on a busy machine).
        _ = try await w.pool.withConnection { try $0.query("UPDATE schedules SET claimed_until = $2 WHERE id = $1", [id, now - 1]) }
        try await waitUntil("the lapsed claim's tick to be fired", timeout: .seconds(30)) {
            _ = try await ticker.tick()
            return try await w.schedule(id).nextRunMs == tick + 86_400_000
        }
        let after = try await w.schedule(id)
        // The dead scheduler's job is the tick's one job, counted as a run once: its release never happened.
        #expect(after.lastJobID == earlier.id && after.runs == 1, "\(after)")
        #expect(try await w.jobCount() == 1)
        // The pass that found the dead scheduler's job counted it as already fired, not fired.
        let metrics = try await ScheduleMetrics.totals(redis: w.queue.admin.redis, keys: w.queue.admin.keys)
        #expect(metrics.ticks[.alreadyFired] == 1 && metrics.ticks[.fired] == nil, "\(metrics)")
    }

    @Test func missedTicksFollowTheSchedulesPolicy() async throws {
        let w = try await Self.world()
        let now = try await w.nowMs()
        let tenMinutesAgo = now - now % 60_000 - 10 * 60_000
        var fired: [MissedTicks: Int] = [:]
        for policy in MissedTicks.allCases {
            let queueBefore = try await w.jobCount()
            let id = try await w.store.create(
                ScheduleRequest(name: "missed \(policy)", kind: "noop", cron: "* * * * *", missed: policy, missedLimit: 4), tenantID: nil,
                producer: .operator
            ).id
            try await w.setNext(id, tenMinutesAgo)
            var ticker = w.ticker()
            ticker.lookahead = .zero
            _ = try await ticker.tick()
            let schedule = try await w.schedule(id)
            fired[policy] = try await w.jobCount() - queueBefore
            // Ten or eleven ticks were due (the current minute's is on time); the next is in the future.
            #expect(schedule.runs + schedule.skipped >= 10 && schedule.nextRunMs! > now, "\(policy): \(schedule)")
            #expect(schedule.runs == fired[policy])
        }
        // skip: only the on-time tick (if this minute's is within the grace); one: that plus one for
        // the missed; all: at most missed_limit of the missed, plus the on-time one.
        #expect(fired[.skip]! <= 1)
        #expect(fired[.one]! == fired[.skip]! + 1)
        #expect(fired[.all]! == fired[.skip]! + 4)
    }

    @Test func overlapSkipFiresNothingWhileThePreviousJobWaits() async throws {
        let w = try await Self.world()
        let id = try await w.store.create(
            ScheduleRequest(name: "no overlap", kind: "noop", every: "1s", overlap: .skip), tenantID: nil, producer: .operator
        ).id
        let ticker = w.ticker()
        let run = Task { try await ticker.run() }
        // No worker: the first job stays pending, and every later tick is skipped.
        try await waitUntil("three ticks skipped", timeout: .seconds(30)) { try await w.schedule(id).skipped >= 3 }
        run.cancel()
        _ = await run.result
        let schedule = try await w.schedule(id)
        #expect(schedule.runs == 1, "\(schedule)")
        #expect(try await w.jobCount() == 1)
    }

    @Test func aScheduleIsCheckedLikeAnEnqueue() async throws {
        let w = try await Self.world()
        await #expect(throws: ScheduleStoreError.invalid(field: "kind", message: "unknown kind 'nope'; declared kinds: noop")) {
            _ = try await w.store.create(ScheduleRequest(name: "bad kind", kind: "nope", every: "1m"), tenantID: nil, producer: .operator)
        }
        do {
            _ = try await w.store.create(ScheduleRequest(name: "bad cron", kind: "noop", cron: "0 25 * * *"), tenantID: nil, producer: .operator)
            Issue.record("a bad cron expression was accepted")
        } catch ScheduleStoreError.invalid(let field, let message) {
            #expect(field == "cron" && message.contains("hour") && message.contains("column 3"), "\(message)")
        }
        _ = try await w.store.create(ScheduleRequest(name: "twice", kind: "noop", every: "1m"), tenantID: nil, producer: .operator)
        await #expect(throws: ScheduleStoreError.self) {
            _ = try await w.store.create(ScheduleRequest(name: "twice", kind: "noop", every: "5m"), tenantID: nil, producer: .operator)
        }
    }

    /// Three `spool scheduler` processes fire 20 schedules every second; one is SIGKILLed and
    /// replaced mid-way. Every schedule's ticks are consecutive seconds, none twice, none skipped (the
    /// dead one's claims lapse and its ticks fire late, within the grace).
    @Test func threeSchedulerProcessesOneKilledFireEveryTickOnce() async throws {
        let w = try await Self.world()
        var ids: [String] = []
        for n in 0..<20 {
            ids.append(
                try await w.store.create(ScheduleRequest(name: "process \(n)", kind: "noop", every: "1s"), tenantID: nil, producer: .operator)
                    .id)
        }
        let logs = FileManager.default.temporaryDirectory.appendingPathComponent("schedulers-\(w.queue.keys.prefix)").path
        // No static schedules: only the test's own fire.
        let noStatic = logs + "-schedules.json"
        FileManager.default.createFile(atPath: noStatic, contents: Data(#"{"schedules": []}"#.utf8))
        func start(_ n: Int) throws -> ChildProcess {
            let child = try ChildProcess(
                [try TestEnvironment.spoolBinary(), "scheduler"],
                environment: [
                    "REDIS_URL": w.queue.url.urlString, "SPOOL_KEY_PREFIX": w.queue.keys.prefix, "DATABASE_URL": w.pool.url.text,
                    "SPOOL_JOBS_DIR": TestEnvironment.packageRoot + "/Jobs", "SPOOL_CONFIG": TestEnvironment.packageRoot + "/config/spool.json",
                    "SPOOL_LOG_LEVEL": "warning", "SPOOL_SCHEDULES_FILE": noStatic,
                ], output: logs + "-\(n).log")
            StopAtExit.register { if child.isRunning { child.signal(SIGKILL) } }
            return child
        }
        var schedulers = try (0..<3).map(start)
        func minimumRuns() async throws -> Int {
            var least = Int.max
            for id in ids { least = min(least, try await w.schedule(id).runs) }
            return least
        }
        // Past the ticks enqueued ahead at start: the kill lands while they fire one by one.
        try await waitUntil("every schedule to fire eight times", timeout: .seconds(60)) { try await minimumRuns() >= 8 }
        schedulers[1].signal(SIGKILL)
        schedulers[1].wait()
        schedulers[1] = try start(3)
        // The dead scheduler's claims lapse after 10 s: its schedules fire their ticks late, once.
        try await waitUntil("every schedule to fire twenty times", timeout: .seconds(90)) { try await minimumRuns() >= 20 }
        for scheduler in schedulers { scheduler.signal(SIGTERM) }
        for scheduler in schedulers { _ = scheduler.wait() }
        var total = 0
        for id in ids {
            let schedule = try await w.schedule(id)
            #expect(schedule.skipped == 0 && schedule.lastError == nil, "\(schedule.name): \(schedule)")
            #expect(schedule.lastRunMs! - schedule.anchorMs == Int64(schedule.runs - 1) * 1000, "\(schedule.name): \(schedule.runs) runs")
            total += schedule.runs
        }
        #expect(try await w.jobCount() == total)
    }
}

/// The `retention` kind and its built-in schedule.
@Suite struct RetentionTests {
    @Test func oldJobResultsAndEventsArePrunedAndTheBuiltinScheduleIsMadeOnce() async throws {
        var options = PostgresPool.Options()
        options.size = 2
        let pool = PostgresPool(url: try TestPostgres.freshDatabase(), options: options, logger: TestEnvironment.logger)
        try await Migrator(pool: pool).migrate()
        let repository = try JobKindCatalog.load(directory: TestEnvironment.packageRoot + "/Jobs")
        let queue = try QueueFixture(kinds: [QueueFixture.noop, try #require(repository["retention"])])
        _ = try await pool.withConnection { connection in
            // 25 results and 5 events older than their limits (30 and 90 days), and newer ones.
            try connection.query(
                """
                INSERT INTO job_results (job_id, attempt, queue, kind, outcome, duration_ms, finished_at)
                SELECT 'j' || n, 1, 'default', 'noop', 'completed', 1, now() - make_interval(days => CASE WHEN n <= 25 THEN 31 ELSE 29 END)
                FROM generate_series(1, 40) AS n
                """)
            try connection.query(
                """
                INSERT INTO events (tenant_id, kind, created_at)
                SELECT 't', 'test', now() - make_interval(days => CASE WHEN n <= 5 THEN 91 ELSE 1 END) FROM generate_series(1, 8) AS n
                """)
        }
        var services = JobServices(postgres: pool, http: HTTPClient(name: "retention-test"), twilio: nil)
        services.retention = RetentionDays(jobResultsDays: 30, eventsDays: 90)
        defer { services.http.close() }
        let context = JobContext(redis: queue.redis, keys: queue.keys, clock: SystemClock(), logger: TestEnvironment.logger)
        let job = Job(
            id: "retention-1", queue: "default", kind: "retention", args: "{}", attempt: 0, maxAttempts: 3, enqueuedAt: 0, tenant: nil,
            leaseToken: "lease")
        let outcome = try await RetentionHandler(services: services).perform(job, context: context)
        #expect(outcome == .completed(result: "job_results: 25 rows older than 30 days; events: 5 rows older than 90 days"), "\(outcome)")
        let left = try await pool.withConnection { connection in
            (try connection.query("SELECT count(*) AS n FROM job_results").first?.int("n"), try connection.query("SELECT count(*) AS n FROM events").first?.int("n"))
        }
        #expect(left.0 == 15 && left.1 == 3)

        let store = ScheduleStore(pool: pool, enqueuer: queue.enqueuer)
        try await store.ensureBuiltins()
        try await store.ensureBuiltins()
        let builtins = try await store.list(tenantID: nil).filter { $0.source == .builtin }
        #expect(builtins.map(\.name) == ["retention"] && builtins.first?.cron == "17 3 * * *" && builtins.first?.producer == .spool)
    }
}
