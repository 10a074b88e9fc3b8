import ArgumentParser
import FoundationEssentials
import SpoolQueue
import SpoolRedis
import SpoolSupport

#if canImport(Glibc)
    import Glibc
#endif

/// `spool bench-limits`: what the shared limiters cost and what they buy.
///
/// 1. noop jobs without a limit, then the same jobs each carrying one rate key (set far above what
///    is reached, so that every job is checked and none waits): jobs/s and Redis commands per job.
/// 2. Waiting is free: 1,000 jobs for a key allowed 1 per second, and the Redis commands per second
///    the waiting costs.
/// 3. Fairness: tenant A's campaign is draining when tenant B enqueues one job; how long until B's runs.
struct BenchLimitsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-limits", abstract: "Measure the rate limiter's cost per job and tenant fairness.")

    @OptionGroup var common: CommonOptions
    @Option(help: "noop jobs per throughput run.") var jobs = 50_000
    @Option(help: "Worker concurrency.") var concurrency = 10
    @Option(help: "Runs of each variant (the best counts: the machine is shared).") var rounds = 2
    @Option(help: "Jobs in tenant A's campaign for the fairness measure.") var campaign = 100_000

    func run() async throws {
        let (runtime, prefix) = try benchRuntime(common)
        let settings = runtime.settings
        let redis = runtime.redis(name: "bench")
        let enqueuer = Enqueuer(redis: redis, catalog: runtime.catalog, keys: settings.keys)
        let admin = runtime.admin(redis)
        let folder = "/tmp/\(prefix)-jobs"
        print("spool bench-limits: redis \(settings.redisURL), key prefix \(prefix), \(jobs) noop jobs, concurrency \(concurrency)")
        defer { try? FileManager.default.removeItem(atPath: folder) }

        // 1. The cost of one rate key per job.
        var best: [String: (rate: Double, commands: Double, scripts: Double)] = [:]
        for round in 0..<rounds * 2 {
            let limited = round % 2 == 1
            try writeJobs(
                folder, limits: limited ? #"[{"key": "bench:{kind}", "rate": 1000000000, "per": "second", "burst": 1000000}]"# : "[]",
                declarations: runtime.settings.jobsDirectory)
            try await admin.pause(queue: "default")
            try await enqueueMany(enqueuer, EnqueueRequest(kind: "noop"), count: jobs)
            let worker = try startBenchWorker(
                prefix: prefix, concurrency: concurrency, runtime: runtime, config: common.config, jobsDirectory: folder)
            try await waitForBenchWorker(admin)
            let before = try await commandCounts(redis)
            let started = monotonicNow()
            try await admin.resume(queue: "default")
            while try await redis.run("ZCARD", settings.keys.completed("default")).int ?? 0 < jobs {
                try await Task.sleep(for: .milliseconds(20))
                if monotonicNow() - started > .seconds(300) { throw SpoolCommandError("the run did not finish in 300 s") }
            }
            let seconds = (monotonicNow() - started).secondsDouble
            let after = try await commandCounts(redis)
            worker.signal(SIGTERM)
            worker.wait()
            let name = limited ? "one rate key per job" : "no limit"
            let rate = Double(jobs) / seconds
            let sample = (rate, Double(after.total - before.total) / Double(jobs), Double(after.scripts - before.scripts) / Double(jobs))
            print(
                "  \(name): \(Int(rate)) jobs/s, \(String(format: sample.1)) Redis commands/job counting those inside scripts (\(String(format: sample.2)) script calls/job)"
            )
            if rate > best[name]?.rate ?? 0 { best[name] = sample }
            try await deleteBenchKeys(prefix: prefix, redis: redis)
        }
        if let plain = best["no limit"], let limited = best["one rate key per job"] {
            print(
                "limiter cost: \(Int(plain.rate)) → \(Int(limited.rate)) jobs/s (\(String(format: (1 - limited.rate / plain.rate) * 100))% fewer), "
                    + "\(String(format: plain.commands)) → \(String(format: limited.commands)) Redis commands/job")
        }

        // 2. Waiting jobs cost (almost) nothing.
        try writeJobs(
            folder, limits: #"[{"key": "bench:{kind}", "rate": 1, "per": "second", "burst": 1}]"#,
            declarations: runtime.settings.jobsDirectory)
        _ = try await enqueuer.enqueue(batch: Array(repeating: EnqueueRequest(kind: "noop"), count: 1_000))
        let worker = try startBenchWorker(
            prefix: prefix, concurrency: concurrency, runtime: runtime, config: common.config, jobsDirectory: folder)
        try await waitForBenchWorker(admin)
        while try await redis.run("LLEN", settings.keys.limited("default", limit: "bench:noop")).int ?? 0 < 990 {
            try await Task.sleep(for: .milliseconds(20))
        }
        let before = try await commandCounts(redis)
        try await Task.sleep(for: .seconds(5))
        let after = try await commandCounts(redis)
        worker.signal(SIGTERM)
        worker.wait()
        print(
            "1,000 jobs waiting on a 1/s limiter: \(String(format: Double(after.total - before.total) / 5)) Redis commands/s for the whole worker (heartbeats, promoter and releases included)"
        )
        try await deleteBenchKeys(prefix: prefix, redis: redis)

        // 3. Fairness between tenants in one queue.
        try writeJobs(folder, limits: "[]", declarations: runtime.settings.jobsDirectory)
        try await admin.pause(queue: "default")
        try await enqueueMany(enqueuer, EnqueueRequest(kind: "noop", args: #"{"sleep_ms": 1}"#, tenant: "tenant-a"), count: campaign)
        let drainer = try startBenchWorker(
            prefix: prefix, concurrency: concurrency, runtime: runtime, config: common.config, jobsDirectory: folder)
        try await waitForBenchWorker(admin)
        try await admin.resume(queue: "default")
        while try await redis.run("ZCARD", settings.keys.completed("default")).int ?? 0 < min(5_000, campaign / 10) {
            try await Task.sleep(for: .milliseconds(10))
        }
        let listener = RedisClient(url: settings.redisURL, name: "bench-listen")
        defer { listener.close() }
        var latencies: [Double] = []
        for _ in 0..<20 {
            let sent = monotonicNow()
            _ = try await enqueuer.enqueue(EnqueueRequest(kind: "noop", args: #"{"notify":true}"#, tenant: "tenant-b"))
            _ = try await listener.run("BLPOP", "\(prefix):noop:notify", "10")
            latencies.append((monotonicNow() - sent).secondsDouble * 1000)
            try await Task.sleep(for: .milliseconds(50))
        }
        let drained = try await redis.run("ZCARD", settings.keys.completed("default")).int ?? 0
        drainer.signal(SIGTERM)
        drainer.wait()
        latencies.sort()
        print(
            "fairness: tenant B's job started \(String(format: latencies[latencies.count / 2])) ms (median), \(String(format: latencies.last!)) ms (worst of 20) "
                + "after enqueue, while tenant A's \(campaign)-job campaign was draining (\(drained) done at the end)")
        try await deleteBenchKeys(prefix: prefix, redis: redis)
    }

    private func writeJobs(_ folder: String, limits: String, declarations: String) throws {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let text = """
            {"kind": "noop", "queue": "default", "timeout_seconds": 30,
             "args": {"sleep_ms": {"type": "integer"}, "notify": {"type": "boolean"}},
             "limits": \(limits)}
            """
        guard FileManager.default.createFile(atPath: folder + "/noop.json", contents: Data(text.utf8)) else {
            throw SpoolCommandError("cannot write \(folder)/noop.json")
        }
        // Every handler of the binary must be declared: the other kinds come as the repository has them.
        for file in try FileManager.default.contentsOfDirectory(atPath: declarations)
        where file != "noop.json" && !FileManager.default.fileExists(atPath: folder + "/" + file) {
            try FileManager.default.copyItem(atPath: declarations + "/" + file, toPath: folder + "/" + file)
        }
    }

    /// Commands Redis has run (top-level ones, as clients sent them), and script calls among them.
    private func commandCounts(_ redis: RedisClient) async throws -> (total: Int, scripts: Int) {
        let stats = try await redis.run("INFO", "stats").string ?? ""
        let commands = try await redis.run("INFO", "commandstats").string ?? ""
        func value(_ text: String, _ prefix: String, _ field: String) -> Int {
            guard let line = text.split(separator: "\r\n").first(where: { $0.hasPrefix(prefix) }) else { return 0 }
            guard let part = line.split(whereSeparator: { $0 == ":" || $0 == "," }).first(where: { $0.hasPrefix(field + "=") }) else {
                return Int(line.split(separator: ":").last ?? "") ?? 0
            }
            return Int(part.dropFirst(field.count + 1)) ?? 0
        }
        return (
            value(stats, "total_commands_processed:", ""),
            value(commands, "cmdstat_evalsha:", "calls") + value(commands, "cmdstat_eval:", "calls")
        )
    }
}
