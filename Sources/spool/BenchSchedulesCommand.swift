import ArgumentParser
import FoundationEssentials
import SpoolPostgres
import SpoolQueue
import SpoolRedis
import SpoolStore
import SpoolSupport
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// `spool bench-schedules`: `--schedules` schedules firing every minute, fired by one ticker (its
/// concurrent passes) in this process for `--minutes` minutes: how late each tick's job reached Redis (p50, p99, max), and the
/// process's CPU over the run (the ticker's, as nothing else runs here). Its schedules, jobs and keys
/// are deleted afterwards.
struct BenchSchedulesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-schedules", abstract: "Measure how late schedules' ticks are enqueued, and the scheduler's CPU.")

    @OptionGroup var common: CommonOptions
    @Option(help: "Schedules, each firing every minute.") var schedules = 10_000
    @Option(help: "Minutes of ticks to measure.") var minutes = 2
    @Flag(help: "Instead: scheduler and worker processes, one scheduler SIGKILLed half-way; checks every tick fired once.") var failover =
        false
    @Option(help: "With --failover: seconds to run.") var seconds = 60
    @Option(help: "With --failover: scheduler processes.") var schedulers = 3
    @Option(help: "With --failover: worker processes.") var workers = 2

    func run() async throws {
        if failover {
            try await ScheduleFailoverBench(
                common: common, schedules: schedules == 10_000 ? 60 : schedules, seconds: seconds, schedulers: schedulers, workers: workers
            ).run()
            return
        }
        let (runtime, prefix) = try benchRuntime(common)
        let pool = try runtime.postgres(size: 4)
        defer { pool.close() }
        try await Migrator(pool: pool).migrate()
        let redis = runtime.redis(name: "bench")
        let enqueuer = Enqueuer(redis: redis, catalog: runtime.catalog, keys: runtime.settings.keys)
        let store = ScheduleStore(pool: pool, enqueuer: enqueuer)
        let tenant = try await TenantStore(pool: pool, admin: nil).create(name: "bench schedules", timezone: "UTC")
        print("spool bench-schedules: key prefix \(prefix), \(schedules) schedules every minute, \(minutes) minutes")
        do {
            var started = monotonicNow()
            let request = ScheduleRequest(name: "bench", kind: "noop", cron: "* * * * *")
            _ = try await store.check(request, tenantID: tenant.id, producer: .spool)
            // The first tick at least 20 s away, so that the ticker meets it as a running scheduler
            // would, with its lookahead ahead of it: not a minute made a moment before its end.
            let now = SystemClock().nowMillis()
            let firstTick = ((now + 20_000) / 60_000 + 1) * 60_000
            // Inserted in batches of one statement each: the same rows `create` makes.
            try await pool.withConnection { connection in
                for first in stride(from: 0, to: schedules, by: 1_000) {
                    let count = min(1_000, schedules - first)
                    let ids = (0..<count).map { "sch_bench_\(prefix)_\(first + $0)" }
                    try connection.query(
                        """
                        INSERT INTO schedules (id, tenant_id, name, source, producer, kind, args, cron, timezone, anchor_ms, next_run_ms)
                        SELECT u.id, $2, u.id, 'api', 'spool', 'noop', '{}', '* * * * *', 'UTC', 0, $3 FROM unnest($1::text[]) AS u(id)
                        """, [PostgresArray(ids), tenant.id, firstTick])
                }
            }
            print("created \(schedules) schedules in \(String(format: (monotonicNow() - started).secondsDouble)) s; first tick \(CivilTime(unixMillis: firstTick).rfc3339)")

            var ticker = ScheduleTicker(pool: pool, enqueuer: enqueuer, admin: runtime.admin(redis), logger: runtime.logger)
            ticker.batch = 1_000
            // Measured from a little before the first tick, as a running scheduler would be (it enqueues
            // ticks up to its lookahead ahead), to a little before the last measured minute's end, so
            // that the next minute's ticks are not enqueued ahead into the count.
            let lead = ticker.lookahead.milliseconds + 5_000
            while SystemClock().nowMillis() < firstTick - lead { try await Task.sleep(for: .milliseconds(200)) }
            let collected = Mutex<(lateness: [Int64], early: Int, passes: Int)>(([], 0, 0))
            ticker.onPass = { pass in
                collected.withLock {
                    $0.lateness += pass.lateness.map { max(0, $0) }
                    $0.early += pass.lateness.filter { $0 < 0 }.count
                    $0.passes += 1
                }
            }
            let cpuBefore = processCPUSeconds()
            started = monotonicNow()
            let end = firstTick + Int64(minutes - 1) * 60_000 + 30_000
            let running = Task { try await ticker.run() }
            while SystemClock().nowMillis() < end { try await Task.sleep(for: .milliseconds(100)) }
            running.cancel()
            _ = await running.result
            var (lateness, early, passes) = collected.withLock { $0 }
            let seconds = (monotonicNow() - started).secondsDouble
            let cpu = processCPUSeconds() - cpuBefore
            lateness.sort()
            func percentile(_ p: Double) -> Int64 { lateness.isEmpty ? 0 : lateness[min(lateness.count - 1, Int(Double(lateness.count) * p))] }
            print(
                "ticks: \(lateness.count) enqueued (expected \(schedules * minutes)) in \(passes) passes; in Redis after their time: "
                    + "p50 \(percentile(0.5)) ms, p99 \(percentile(0.99)) ms, max \(percentile(1)) ms; \(early) of them before it "
                    + "(target p99 ≤ 1,000 ms)")
            print(
                "scheduler CPU: \(String(format: cpu)) s over \(String(format: seconds)) s = \(Double(Int(cpu / seconds * 1000)) / 10)% of one core "
                    + "(target < 10%); \(Int(cpu / Double(max(lateness.count, 1)) * 1_000_000)) µs per tick")
        } catch {
            try? await Self.cleanUp(pool: pool, tenant: tenant.id, redis: redis, prefix: prefix)
            throw error
        }
        try await Self.cleanUp(pool: pool, tenant: tenant.id, redis: redis, prefix: prefix)
    }

    static func cleanUp(pool: PostgresPool, tenant: String, redis: RedisClient, prefix: String) async throws {
        try await pool.withConnection { connection in
            try connection.query("DELETE FROM schedules WHERE tenant_id = $1", [tenant])
            try connection.query("DELETE FROM tenants WHERE id = $1", [tenant])
        }
        try await deleteBenchKeys(prefix: prefix, redis: redis)
    }
}
