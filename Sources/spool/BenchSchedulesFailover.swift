import FoundationEssentials
import SpoolPostgres
import SpoolQueue
import SpoolStore
import SpoolSupport

#if canImport(Glibc)
    import Glibc
#endif

/// `spool bench-schedules --failover`: `spool scheduler` and `spool worker` processes (3 and 2 by
/// default) running `--schedules` schedules at `every: 1s` for `--seconds`; one scheduler is SIGKILLed
/// half-way and started again. Then every schedule's ticks must be consecutive from its first (none
/// missed: the two live schedulers fire the dead one's schedules once its claims lapse), each counted
/// once, and the workers must have run exactly one job per tick (none doubled). Runs in a database of
/// its own on the same server, dropped afterwards, so that no other schedule fires into it.
struct ScheduleFailoverBench {
    let common: CommonOptions
    let schedules: Int
    let seconds: Int
    let schedulers: Int
    let workers: Int

    func run() async throws {
        let (runtime, prefix) = try benchRuntime(common)
        let benchDatabase = try BenchDatabase(runtime, prefix: prefix, command: "bench-schedules --failover")
        defer { benchDatabase.drop() }
        let (database, url) = (benchDatabase.name, benchDatabase.url)
        let pool = PostgresPool(url: try PostgresURL(parsing: url), logger: runtime.logger)
        defer { pool.close() }
        try await Migrator(pool: pool).migrate()
        let redis = runtime.redis(name: "bench")
        defer { Task { try? await deleteBenchKeys(prefix: prefix, redis: redis) } }
        let queueAdmin = runtime.admin(redis)
        let store = ScheduleStore(pool: pool, enqueuer: Enqueuer(redis: redis, catalog: runtime.catalog, keys: runtime.settings.keys))
        var ids: [String] = []
        for n in 0..<schedules {
            ids.append(try await store.create(ScheduleRequest(name: "failover \(n)", kind: "noop", every: "1s"), tenantID: nil, producer: .operator).id)
        }
        print(
            "spool bench-schedules --failover: key prefix \(prefix), database \(database): \(schedules) schedules every 1 s, "
                + "\(schedulers) schedulers and \(workers) workers for \(seconds) s, one scheduler SIGKILLed at \(seconds / 2) s")

        let noStatic = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-schedules.json").path
        FileManager.default.createFile(atPath: noStatic, contents: Data(#"{"schedules": []}"#.utf8))
        defer { try? FileManager.default.removeItem(atPath: noStatic) }
        var environment = [
            "SPOOL_KEY_PREFIX": prefix, "SPOOL_LOG_LEVEL": "warning", "REDIS_URL": runtime.settings.redisURL.urlString,
            "DATABASE_URL": url, "SPOOL_JOBS_DIR": runtime.settings.jobsDirectory, "SPOOL_SCHEDULES_FILE": noStatic,
            "SPOOL_RECORD_RESULTS": "0",
        ]
        if let config = common.config { environment["SPOOL_CONFIG"] = config }
        func start(_ command: String) throws -> ChildProcess {
            try ChildProcess([ChildProcess.currentExecutable, command], environment: environment)
        }
        var children: [ChildProcess] = []
        defer { for child in children where child.isRunning { child.signal(SIGKILL); _ = child.wait() } }
        for _ in 0..<workers { children.append(try start("worker")) }
        var scheduling = try (0..<schedulers).map { _ in try start("scheduler") }
        children += scheduling

        let started = monotonicNow()
        try await Task.sleep(for: .seconds(seconds / 2))
        scheduling[0].signal(SIGKILL)
        _ = scheduling[0].wait()
        let killedAt = monotonicNow()
        scheduling[0] = try start("scheduler")
        children.append(scheduling[0])
        try await Task.sleep(until: ContinuousClock.now + .seconds(seconds) - (monotonicNow() - started))
        for scheduler in scheduling { scheduler.signal(SIGTERM) }
        for scheduler in scheduling { _ = scheduler.wait() }
        let ran = (monotonicNow() - started).secondsDouble
        // The ticks enqueued ahead come due within the lookahead; the workers run them.
        let drainedBy = monotonicNow() + .seconds(60)
        while true {
            let stats = try await queueAdmin.stats().first { $0.queue == "default" }
            if let stats, stats.pending + stats.scheduled + stats.active + stats.retry == 0 { break }
            if monotonicNow() > drainedBy { throw SpoolCommandError("the workers did not run every tick's job within 60 s") }
            try await Task.sleep(for: .milliseconds(200))
        }
        for worker in children where worker.isRunning { worker.signal(SIGTERM) }
        for worker in children { _ = worker.wait() }

        var total = 0
        var broken: [String] = []
        for id in ids {
            guard let schedule = try await store.find(id, tenantID: nil), let last = schedule.lastRunMs else {
                broken.append("\(id): never fired")
                continue
            }
            let expected = Int((last - schedule.anchorMs) / 1000) + 1
            if schedule.runs != expected || schedule.skipped != 0 || schedule.lastError != nil {
                broken.append("\(schedule.name): \(schedule.runs) runs for \(expected) ticks, \(schedule.skipped) skipped, error \(schedule.lastError ?? "none")")
            }
            total += schedule.runs
        }
        let processed = try await queueAdmin.stats().first { $0.queue == "default" }?.processed ?? 0
        let metrics = try await ScheduleMetrics.totals(redis: redis, keys: runtime.settings.keys)
        let late = metrics.lateness.filter { Double($0.key).map { $0 > 1 } ?? true }.values.reduce(0, +)
        print(
            "ran \(String(format: ran)) s (scheduler killed at \(String(format: (killedAt - started).secondsDouble)) s): \(total) ticks fired, "
                + "\(processed) jobs run by the workers; outcomes \(metrics.ticks.map { "\($0.key.rawValue) \($0.value)" }.sorted().joined(separator: ", ")); "
                + "\(late) ticks more than 1 s late (the killed scheduler's claims lapse after 10 s)")
        if !broken.isEmpty || processed != total {
            for line in broken.prefix(10) { print("  \(line)") }
            throw SpoolCommandError("\(broken.count) schedules missed or doubled ticks; \(processed) jobs run for \(total) ticks")
        }
        print("every schedule's ticks consecutive from its first, none missed, none doubled; one job run per tick")
    }
}
