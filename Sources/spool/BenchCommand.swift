import ArgumentParser
import SpoolPostgres
import SpoolQueue
import SpoolRedis
import SpoolStore

#if canImport(Glibc)
    import Glibc
    import SpoolSupport
#endif

/// `spool bench`: the issue's benchmark, with `noop` jobs against the configured Redis.
/// Keys live under a throwaway prefix and are deleted afterwards. Workers run as separate processes
/// (this binary's `worker` command), so their throughput and peak RSS are a real worker's.
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench", abstract: "Measure enqueue, throughput, pickup latency and worker memory.")

    @OptionGroup var common: CommonOptions
    @Option(help: "Jobs for the bulk-enqueue measure.") var enqueueJobs = 200_000
    @Option(help: "Jobs per throughput run.") var jobs = 100_000
    @Option(help: "Concurrency levels to measure, comma-separated.") var concurrency = "1,10,50"
    @Option(help: "Pickup latency samples.") var samples = 300
    @Option(help: "Queues to spread the throughput runs' jobs over (bench-0 … bench-N-1; 1: the default queue only), so that a Redis Cluster's primaries share them.")
    var queues = 1
    @Flag(help: "Workers also record every outcome in PostgreSQL (DATABASE_URL) during the throughput runs.") var recordResults = false
    @Option(help: "Rows for the PostgreSQL job-results measure (0 skips it; needs DATABASE_URL).") var postgresRows = 200_000

    func run() async throws {
        let (runtime, prefix) = try benchRuntime(common)
        let settings = runtime.settings
        let redis = runtime.redis(name: "bench")
        let enqueuer = Enqueuer(redis: redis, catalog: runtime.catalog, keys: settings.keys)
        let admin = runtime.admin(redis)
        let levels = concurrency.split(separator: ",").compactMap { Int($0) }
        print("spool bench: redis \(settings.redisURL), key prefix \(prefix), \(levels) concurrency")

        // 1. Bulk enqueue.
        var started = monotonicNow()
        try await enqueueMany(enqueuer, EnqueueRequest(kind: "noop"), count: enqueueJobs)
        let enqueueRate = Double(enqueueJobs) / (monotonicNow() - started).secondsDouble
        print("bulk enqueue: \(enqueueJobs) jobs, \(Int(enqueueRate)) jobs/s")
        try await deleteBenchKeys(prefix: prefix, redis: redis)

        // 2. Processed jobs/s per concurrency, with the worker's peak RSS.
        let queueNames = queues <= 1 ? ["default"] : (0..<queues).map { "bench-\($0)" }
        let workerConfig = queues <= 1 ? common.config : try benchConfig(adding: queueNames, to: common.config)
        for level in levels {
            for queue in queueNames { try await admin.pause(queue: queue) }
            for (index, queue) in queueNames.enumerated() {
                let share = jobs / queueNames.count + (index < jobs % queueNames.count ? 1 : 0)
                try await enqueueMany(enqueuer, EnqueueRequest(kind: "noop", queue: queue), count: share)
            }
            let worker = try startBenchWorker(
                prefix: prefix, concurrency: level, runtime: runtime, config: workerConfig, recordResults: recordResults,
                queues: queueNames)
            try await waitForBenchWorker(admin)
            for queue in queueNames { try await admin.resume(queue: queue) }
            started = monotonicNow()
            while try await admin.stats().filter({ queueNames.contains($0.queue) }).reduce(0, { $0 + $1.processed }) < jobs {
                try await Task.sleep(for: .milliseconds(5))
                if monotonicNow() - started > .seconds(300) { throw SpoolCommandError("throughput run did not finish in 300 s") }
            }
            let rate = Double(jobs) / (monotonicNow() - started).secondsDouble
            let rss = worker.peakRSSKilobytes ?? 0
            worker.signal(SIGTERM)
            worker.wait()
            print("worker concurrency \(level): \(jobs) jobs, \(Int(rate)) jobs/s, peak RSS \(rss / 1024) MB")
            try await deleteBenchKeys(prefix: prefix, redis: redis)
        }

        // 3. Idle pickup latency: one job at a time into an idle worker; the job reports when it ran.
        let worker = try startBenchWorker(
            prefix: prefix, concurrency: 10, runtime: runtime, config: common.config, recordResults: recordResults)
        try await waitForBenchWorker(admin)
        let listener = RedisClient(url: settings.redisURL, name: "bench-listen")
        var latencies: [Double] = []
        for _ in 0..<samples {
            try await Task.sleep(for: .milliseconds(20))  // let the worker go idle between samples
            let sent = monotonicNow()
            _ = try await enqueuer.enqueue(EnqueueRequest(kind: "noop", args: #"{"notify":true}"#))
            _ = try await listener.run("BLPOP", "\(prefix):noop:notify", "5")
            latencies.append((monotonicNow() - sent).secondsDouble * 1000)
        }
        latencies.sort()
        let p50 = latencies[latencies.count / 2]
        let p99 = latencies[min(latencies.count - 1, Int(Double(latencies.count) * 0.99))]
        print(
            "idle pickup latency (enqueue → handler ran, \(samples) samples): p50 \(String(format: p50)) ms, p99 \(String(format: p99)) ms")
        worker.signal(SIGTERM)
        worker.wait()
        try await deleteBenchKeys(prefix: prefix, redis: redis)

        // 4. The job-results batching path: outcomes into PostgreSQL, one COPY per batch.
        if postgresRows > 0, runtime.settings.databaseURL != nil {
            try await benchJobResults(runtime)
        }
    }

    private func benchJobResults(_ runtime: Runtime) async throws {
        let pool = try runtime.postgres(size: 2)
        defer { pool.close() }
        try await Migrator(pool: pool).migrate()
        let recorder = JobResultRecorder(pool: pool, logger: runtime.logger)
        let now = SystemClock().nowMillis()
        let run = String(UInt32.random(in: 0...UInt32.max), radix: 36)
        let started = monotonicNow()
        for n in 0..<postgresRows {
            let job = Job(
                id: "bench-\(run)-\(n)", queue: "default", kind: "noop", args: "{}", attempt: 0, maxAttempts: 1,
                enqueuedAt: now, tenant: nil, leaseToken: "")
            recorder.settled(job, outcome: .completed, duration: .microseconds(5), at: now)
        }
        await recorder.flush()
        let seconds = (monotonicNow() - started).secondsDouble
        print(
            "postgres job results: \(recorder.writtenCount) rows, \(Int(Double(recorder.writtenCount) / seconds)) rows/s (COPY, 5,000 rows per transaction)"
        )
        _ = try await pool.withConnection { try $0.query("DELETE FROM job_results WHERE job_id LIKE $1", ["bench-\(run)-%"]) }
    }
}
