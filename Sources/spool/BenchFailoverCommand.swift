import ArgumentParser
import FoundationEssentials
import SpoolQueue
import SpoolRedis
import SpoolSupport
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// `spool bench-failover`: the reliable queue through a Redis Cluster's failover. A producer enqueues
/// `--jobs` noop jobs over `--queues` queues at a steady pace while `--workers` worker processes run
/// them; one worker is SIGKILLed at 20% and another at 50% (each replaced), and at 35% the primary
/// serving the first queue is SIGKILLed, so its replica takes over. Then every acknowledged job must
/// be found completed (or still on its way); the ones found nowhere are lost, counted and listed by
/// queue. With `--wait`, enqueues wait for a replica (SPOOL_REDIS_WAIT_REPLICAS=1).
///
/// Needs a `redis+cluster://` REDIS_URL whose nodes this user may signal (the bench's own cluster:
/// bench/cluster-failover.sh starts one, and starts a killed node again once its replica has taken
/// over, as a supervisor would; until then, with `--wait`, the new primary has no replica to confirm
/// and the enqueues to its queues wait).
struct BenchFailoverCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-failover", abstract: "Jobs lost or kept through worker kills and a Redis Cluster primary's failover.")

    @OptionGroup var common: CommonOptions
    @Option(help: "Jobs to enqueue.") var jobs = 100_000
    @Option(help: "Queues to spread them over.") var queues = 8
    @Option(help: "Worker processes.") var workers = 3
    @Option(help: "Each worker's concurrency.") var concurrency = 20
    @Option(help: "Seconds over which the producer spreads its enqueues.") var seconds = 20
    @Flag(help: "Enqueue with SPOOL_REDIS_WAIT_REPLICAS=1 (and follow-ups the same).") var wait = false

    func run() async throws {
        let (runtime, prefix) = try benchRuntime(common)
        let settings = runtime.settings
        guard settings.redisURL.isCluster else {
            throw SpoolCommandError("bench-failover needs a redis+cluster:// REDIS_URL (see bench/cluster-failover.sh), not \(settings.redisURL)")
        }
        let redis = runtime.redis(name: "bench")
        let admin = runtime.admin(redis)
        let queueNames = (0..<queues).map { "failover-\($0)" }
        let durability = wait ? EnqueueDurability(replicas: 1, timeout: .seconds(2)) : .primaryOnly
        let enqueuer = Enqueuer(redis: redis, catalog: runtime.catalog, keys: settings.keys, durability: durability)
        // Leases short enough that a killed worker's jobs come back within the run.
        setenv("SPOOL_LEASE_MS", "5000", 1)
        if wait { setenv("SPOOL_REDIS_WAIT_REPLICAS", "1", 1) }
        print(
            "spool bench-failover: \(settings.redisURL), key prefix \(prefix): \(jobs) jobs over \(queues) queues in \(seconds) s, "
                + "\(workers) workers × \(concurrency), \(wait ? "WAIT for 1 replica" : "no WAIT")")

        let workerConfig = try benchConfig(adding: queueNames, to: common.config)
        defer { try? FileManager.default.removeItem(atPath: workerConfig) }
        func startWorker() throws -> ChildProcess {
            try startBenchWorker(prefix: prefix, concurrency: concurrency, runtime: runtime, config: workerConfig, queues: queueNames)
        }
        var running = try (0..<workers).map { _ in try startWorker() }
        defer { for child in running where child.isRunning { child.signal(SIGKILL); _ = child.wait() } }
        try await waitForBenchWorker(admin, count: workers)

        // The primary of the first queue: its process id from INFO, asked of that very node.
        func primaryPID(serving key: String) async throws -> Int32 {
            var info = RedisCommand("INFO", "server")
            info.route(like: key)
            let text = try await redis.pipeline([info])[0].checked("INFO").string ?? ""
            guard let line = text.split(whereSeparator: \.isNewline).first(where: { $0.hasPrefix("process_id:") }),
                let pid = Int32(line.dropFirst("process_id:".count))
            else { throw SpoolCommandError("INFO server did not give the primary's process_id") }
            return pid
        }
        let probeKey = settings.keys.stats(queueNames[0])
        let killedPID = try await primaryPID(serving: probeKey)
        var onKilled: [String] = []
        for queue in queueNames where try await primaryPID(serving: settings.keys.stats(queue)) == killedPID { onKilled.append(queue) }

        let tally = ProducerTally()
        let started = monotonicNow()
        let batch = 100
        let batches = (jobs + batch - 1) / batch
        let producer = Task {
            for number in 0..<batches {
                let due = started + .milliseconds(Int64(seconds * 1000 * number / batches))
                let now = monotonicNow()
                if due > now { try await Task.sleep(for: due - now) }
                let queue = queueNames[number % queueNames.count]
                let requests = (0..<min(batch, jobs - number * batch)).map { offset in
                    EnqueueRequest(kind: "noop", queue: queue, idempotencyKey: "j\(number * batch + offset)")
                }
                // Retried with the same idempotency keys until acknowledged: a retry never makes a second job.
                while true {
                    do {
                        let results = try await enqueuer.enqueue(batch: requests)
                        let ids = try results.map { try $0.get().id }
                        tally.acknowledged.withLock { list in for id in ids { list.append((queue, id)) } }
                        break
                    } catch {
                        tally.errors.add(1, ordering: .relaxed)
                        try await Task.sleep(for: max(redis.retryDelay, .milliseconds(50)))
                    }
                }
            }
        }

        func progress() -> Double { Double(tally.acknowledged.withLock { $0.count }) / Double(jobs) }
        func reached(_ share: Double) async throws {
            while progress() < share { try await Task.sleep(for: .milliseconds(10)) }
        }
        try await reached(0.2)
        running[0].signal(SIGKILL)
        _ = running[0].wait()
        running[0] = try startWorker()
        print("20%: worker 1 SIGKILLed and replaced")
        try await reached(0.35)
        // Its replica, asked directly when it has become the primary: Redis's part of the failover.
        var myID = RedisCommand("CLUSTER", "MYID")
        myID.route(like: probeKey)
        let nodeID = try await redis.pipeline([myID])[0].checked("CLUSTER MYID").string ?? ""
        var replicasOf = RedisCommand("CLUSTER", "REPLICAS", nodeID)
        replicasOf.route(like: probeKey)
        let replicaLine = try await redis.pipeline([replicasOf])[0].checked("CLUSTER REPLICAS").array?.first?.string ?? ""
        let address = replicaLine.split(separator: " ").dropFirst().first?.split(separator: "@").first ?? ""
        guard let colon = address.lastIndex(of: ":"), let replicaPort = Int(address[address.index(after: colon)...]) else {
            throw SpoolCommandError("the primary of \(queueNames[0]) has no replica to take over (CLUSTER REPLICAS: '\(replicaLine)')")
        }
        let replica = RedisClient(url: settings.redisURL.node(RedisEndpoint(host: String(address[..<colon]), port: replicaPort)), name: "bench-replica")
        kill(killedPID, SIGKILL)
        let killedAt = monotonicNow()
        let promotion = Task {
            while true {
                if let role = try? await replica.run("ROLE").array?.first?.string, role == "master" { return monotonicNow() - killedAt }
                try await Task.sleep(for: .milliseconds(10))
            }
        }
        print("35%: the primary of \(onKilled.joined(separator: ", ")) (pid \(killedPID)) SIGKILLed")
        // Writes to that primary's slots resume once its replica is promoted and the client re-maps.
        var resumedAfter: Duration?
        while resumedAfter == nil {
            if (try? await redis.run("HINCRBY", probeKey, "failover_probe", "1")) != nil {
                resumedAfter = monotonicNow() - killedAt
            } else {
                try await Task.sleep(for: .milliseconds(20))
            }
            if monotonicNow() - killedAt > .seconds(60) { throw SpoolCommandError("writes to the failed primary's slots did not resume in 60 s") }
        }
        let promoted = try await promotion.value
        print(
            "its replica was promoted \(String(format: promoted.secondsDouble)) s after the kill (Redis: cluster-node-timeout and election); "
                + "writes to its slots resumed \(String(format: resumedAfter!.secondsDouble)) s after the kill, "
                + "\(Int((resumedAfter! - promoted).secondsDouble * 1000)) ms after the promotion (Spool's re-map)")

        try await reached(0.5)
        running[1].signal(SIGKILL)
        _ = running[1].wait()
        running[1] = try startWorker()
        print("50%: worker 2 SIGKILLed and replaced")
        try await producer.value
        let enqueuedIn = monotonicNow() - started

        // Every acknowledged job completed, or at least still somewhere on its way.
        let all = tally.acknowledged.withLock { $0 }
        var lastProcessed = -1
        var stalledSince = monotonicNow()
        while true {
            let processed = try await admin.stats().filter { queueNames.contains($0.queue) }.reduce(0) { $0 + $1.processed }
            if processed >= all.count { break }
            if processed != lastProcessed {
                lastProcessed = processed
                stalledSince = monotonicNow()
            } else if monotonicNow() - stalledSince > .seconds(30) {
                break
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        let total = monotonicNow() - started
        var completed = 0
        var elsewhere = 0
        var lost: [String: Int] = [:]
        for queue in queueNames {
            let ids = all.filter { $0.queue == queue }.map(\.id)
            for chunk in stride(from: 0, to: ids.count, by: 1_000).map({ Array(ids[$0..<min($0 + 1_000, ids.count)]) }) {
                let scores = try await redis.pipeline(chunk.map { RedisCommand("ZSCORE", settings.keys.completed(queue), $0) })
                let missing = zip(chunk, scores).filter { $1.isNull }.map(\.0)
                completed += chunk.count - missing.count
                if missing.isEmpty { continue }
                let states = try await redis.pipeline(missing.map { RedisCommand("EXISTS", settings.keys.job(queue, $0)) })
                for state in states {
                    if state.int == 1 { elsewhere += 1 } else { lost[queue, default: 0] += 1 }
                }
            }
        }
        let lostTotal = lost.values.reduce(0, +)
        print(
            "acknowledged \(all.count) of \(jobs); completed \(completed), still on their way \(elsewhere), lost \(lostTotal)"
                + (lost.isEmpty ? "" : " (\(lost.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", ")))"))
        print(
            "producer: \(tally.errors.load(ordering: .relaxed)) failed batch attempts retried; enqueued in \(String(format: enqueuedIn.secondsDouble)) s, "
                + "all done in \(String(format: total.secondsDouble)) s")
        for child in running where child.isRunning {
            child.signal(SIGTERM)
            _ = child.wait()
        }
        for queue in queueNames { try await deleteKeys(matching: "\(prefix):{\(queue)}:*", redis: redis) }
    }
}

/// What the producer task has had acknowledged, and its failed attempts.
private final class ProducerTally: Sendable {
    let acknowledged = Mutex<[(queue: String, id: String)]>([])
    let errors = Atomic<Int>(0)
}
