import Logging
import ServiceLifecycle
import SpoolRedis
import SpoolSupport
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The worker role: one process with `concurrency` slots serving some queues.
///
/// 1. The fetch loop leases jobs in batches as slots free up (Fetcher), and sleeps on a WorkSignal when
///    every queue is empty.
/// 2. Slots run each job's handler (Processor) under its kind's timeout and settle the outcome (Acker).
/// 3. A heartbeat extends the leases of the jobs held; an embedded scheduler promotes and recovers.
/// 4. On SIGTERM/SIGINT: stop fetching, hand prefetched jobs back at once, let running jobs finish within
///    the grace period, then hand back whatever is still running. Nothing is lost; a job that finished is
///    never handed back.
public final class WorkerService: Service {
    public struct Options: Sendable {
        public var queues: [String]
        public var concurrency: Int
        /// Jobs leased ahead of the slots; nil adapts it to the jobs' pace (see JobBuffer).
        public var prefetch: Int?
        public var lease: Duration
        public var shutdownGrace: Duration
        /// Also promote, recover and trim, as a scheduler does (on by default, like Sidekiq's poller).
        public var runsScheduler = true
    }

    public let workerID: String
    /// The machine's name, as the Workers page shows it.
    public let host: String
    private let settings: SpoolSettings
    private let options: Options
    private let catalog: JobKindCatalog
    private let handlers: [any JobHandler]
    private let observers: [any SettleObserver]
    private let clock: any WallClock
    private let logger: Logger
    private let stopRequested = Latch()
    private let stopping = Atomic<Bool>(false)
    /// Set when the worker's task is cancelled: the drain skips the grace period.
    private let hardStop = Atomic<Bool>(false)

    public init(
        settings: SpoolSettings, catalog: JobKindCatalog, handlers: [any JobHandler], queues: [String]? = nil,
        concurrency: Int? = nil, runsScheduler: Bool = true, observers: [any SettleObserver] = [],
        clock: any WallClock = SystemClock(), logger: Logger
    ) {
        self.observers = observers
        self.settings = settings
        self.catalog = catalog
        self.handlers = handlers
        self.clock = clock
        self.logger = logger
        let concurrency = concurrency ?? settings.concurrency
        self.options = Options(
            queues: queues ?? catalog.queues, concurrency: concurrency,
            prefetch: settings.prefetch, lease: settings.lease,
            shutdownGrace: settings.shutdownGrace, runsScheduler: runsScheduler)
        var host = [CChar](repeating: 0, count: 256)
        gethostname(&host, host.count)
        let hostname = String(decoding: host.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        self.host = hostname
        self.workerID = "\(hostname):\(getpid()):\(String(UInt32.random(in: 0...UInt32.max), radix: 36))"
    }

    /// Asks the worker to stop as on SIGTERM (tests and `spool dev` use it).
    public func requestStop() { stopRequested.fire() }

    public func run() async throws {
        // Cancelled, the worker stops at once: no grace period, running jobs are cancelled and handed
        // back. That hand-back still needs Redis, whose client refuses a cancelled task's calls, so the
        // worker runs in a task that the cancellation does not reach, and is told to stop instead.
        let worker = Task { try await self.runUntilDrained() }
        try await withTaskCancellationHandler {
            try await worker.value
        } onCancel: {
            self.hardStop.store(true, ordering: .releasing)
            self.stopRequested.fire()
        }
    }

    private func runUntilDrained() async throws {
        let settings = self.settings
        let options = self.options
        let keys = settings.keys
        var clientOptions = RedisClient.Options()
        clientOptions.commandTimeout = .seconds(10)
        let redis = RedisClient(url: settings.redisURL, name: "worker", options: clientOptions, logger: logger)
        defer { redis.close() }
        let selection = QueueSelection(queues: options.queues, weights: settings.queueWeights, order: settings.queueOrder)
        let pausedTenants = PausedTenants()
        try? await pausedTenants.refresh(redis: redis, keys: keys)
        let fetcher = Fetcher(
            redis: redis, keys: keys, selection: selection, lease: options.lease, clock: clock, workerID: workerID,
            pausedTenants: pausedTenants, logger: logger)
        let leases = LeaseTable()
        let buffer = JobBuffer(concurrency: options.concurrency, prefetch: options.prefetch)
        let overrides = LimitOverrides()
        _ = try? await overrides.refresh(redis: redis, keys: keys)
        let limiter = RateLimiter(
            redis: redis, keys: keys, catalog: catalog, clock: clock, lease: settings.lease, overrides: overrides, logger: logger)
        let acker = Acker(
            redis: redis, keys: keys, catalog: catalog, clock: clock, completedTTL: settings.completedTTL,
            lease: options.lease, logger: logger, observers: observers, limiter: limiter, durability: settings.enqueueDurability,
            onSettled: { job, landed in
                leases.remove(job); limiter.settled(job, landed: landed)
            })
        let processor = Processor(
            catalog: catalog, handlers: handlers,
            context: JobContext(redis: redis, keys: keys, clock: clock, logger: logger))
        let signal = WorkSignal()
        let catalog = self.catalog
        let slots = SlotPool(
            buffer: buffer,
            timeouts: { job in catalog[job.kind]?.timeout ?? .seconds(30) },
            run: { job in await processor.perform(job) },
            settle: { job, outcome, duration in acker.submit(job, outcome, duration: duration) })
        let heartbeat = Heartbeat(
            redis: redis, keys: keys, clock: clock, lease: options.lease, workerID: workerID,
            info: [
                Heartbeat.Field.queues.rawValue: options.queues.joined(separator: ","),
                Heartbeat.Field.concurrency.rawValue: String(options.concurrency), Heartbeat.Field.pid.rawValue: String(getpid()),
                Heartbeat.Field.host.rawValue: host, Heartbeat.Field.startedAt.rawValue: String(clock.nowMillis()),
            ],
            slots: options.concurrency)
        let fetchLoopDone = Latch()
        let drained = Latch()
        logger.info(
            "worker started",
            metadata: [
                "worker": "\(workerID)", "queues": "\(options.queues.joined(separator: ","))",
                "concurrency": "\(options.concurrency)", "redis": "\(settings.redisURL)",
            ])

        await withGracefulShutdownHandler {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { [self] in
                    await fetchLoop(
                        fetcher: fetcher, limiter: limiter.isNeeded ? limiter : nil, acker: acker, buffer: buffer,
                        signal: signal, leases: leases, redis: redis)
                    fetchLoopDone.fire()
                }
                for queue in options.queues {
                    group.addTask { [logger] in
                        await WorkSignal.watch(
                            queue: queue, keys: keys, url: settings.redisURL, signal: signal, fetcher: fetcher, logger: logger)
                    }
                }
                group.addTask { [logger] in
                    // Beats until the drain is over, not only until stop is requested: leases of jobs
                    // still running in the grace period must not expire under them.
                    while !drained.isFired && !Task.isCancelled {
                        do {
                            try await heartbeat.beat(leases.all, running: slots.running)
                            if limiter.isNeeded { try await limiter.renewHolds() }
                        } catch let error as RedisError where error.isConnectionError {
                        } catch { logger.error("heartbeat failed", metadata: ["error": "\(error)"]) }
                        await drained.wait(atMost: heartbeat.interval)
                    }
                }
                group.addTask { await acker.run() }
                group.addTask { await limiter.runReleases() }
                group.addTask { await slots.run(count: options.concurrency) }
                group.addTask {
                    while !Task.isCancelled {
                        try? await pausedTenants.refresh(redis: redis, keys: keys)
                        if (try? await overrides.refresh(redis: redis, keys: keys)) == true {
                            try? await limiter.repace(queues: options.queues)
                        }
                        try? await Task.sleep(for: min(PausedTenants.refreshInterval, LimitOverrides.refreshInterval))
                    }
                }
                if options.runsScheduler {
                    group.addTask { [clock, logger] in
                        let scheduler = SchedulerService(
                            redis: redis, settings: settings, declaredQueues: options.queues, clock: clock, logger: logger)
                        try? await scheduler.run()
                    }
                }
                await stopRequested.wait()
                await drain(
                    buffer: buffer, signal: signal, slots: slots, leases: leases, acker: acker, limiter: limiter,
                    fetchLoopDone: fetchLoopDone)
                drained.fire()
                group.cancelAll()
            }
            // After the heartbeat task has ended, so that no beat can re-add this worker.
            await heartbeat.leave()
        } onGracefulShutdown: { [stopRequested] in
            stopRequested.fire()
        }
        logger.info("worker stopped", metadata: ["worker": "\(workerID)"])
    }

    private func fetchLoop(
        fetcher: Fetcher, limiter: RateLimiter?, acker: Acker, buffer: JobBuffer, signal: WorkSignal,
        leases: LeaseTable, redis: RedisClient
    ) async {
        while !stopping.load(ordering: .acquiring) {
            let demand = await buffer.waitForDemand()
            if demand == 0 || stopping.load(ordering: .acquiring) { break }
            do {
                var jobs = try await fetcher.fetch(limit: demand)
                leases.add(jobs)
                if stopping.load(ordering: .acquiring) { break }  // drain hands these back
                if jobs.isEmpty { await signal.waitForWork(); continue }
                if let limiter { jobs = await admit(jobs, limiter: limiter, acker: acker, leases: leases) }
                buffer.push(jobs)
            } catch let error as RedisError where error.isConnectionError {
                try? await Task.sleep(for: redis.retryDelay)
            } catch {
                logger.error("fetch failed", metadata: ["error": "\(error)"])
                try? await Task.sleep(for: .seconds(1))
            }
        }
    }

    /// 3. The jobs that may run now; the others wait for their limiters, or die when their limit keys
    /// cannot be filled in. When Redis cannot be reached (or says "not now"), the jobs go back unrun:
    /// a limit is never skipped. When the limiters fail for another reason, each job is asked about on
    /// its own, and each that still fails is isolated (see `isolate`) while the others go on. No batch
    /// is ever handed back to be fetched again in a loop.
    private func admit(_ jobs: [Job], limiter: RateLimiter, acker: Acker, leases: LeaseTable) async -> [Job] {
        do {
            return try await admitted(jobs, limiter: limiter, acker: acker, leases: leases)
        } catch let error as RedisError where Self.isNotNow(error) {
            await handBack(jobs, acker: acker, leases: leases)
            try? await Task.sleep(for: .milliseconds(100))
            return []
        } catch {
            if jobs.count == 1 {
                await isolate(jobs[0], error: error, provenOwn: false, acker: acker)
                return []
            }
            logger.warning(
                "rate limit check failed for a batch; asking for each job on its own",
                metadata: ["jobs": "\(jobs.count)", "error": "\(error)"])
            var runnable: [Job] = []
            var failed: [(job: Job, error: any Error)] = []
            for job in jobs {
                do {
                    runnable += try await admitted([job], limiter: limiter, acker: acker, leases: leases)
                } catch let error as RedisError where Self.isNotNow(error) {
                    await handBack([job], acker: acker, leases: leases)
                } catch {
                    failed.append((job, error))
                }
            }
            // Jobs of the same batch passed, so the failure is these jobs' own; when all failed, it may
            // be Spool's (a broken script), and they retry with backoff instead.
            let provenOwn = failed.count < jobs.count
            for (job, error) in failed { await isolate(job, error: error, provenOwn: provenOwn, acker: acker) }
            return runnable
        }
    }

    /// Redis away, or a reply that says "not now" (loading, busy, out of memory): the same call may
    /// work a moment later, and says nothing about the job.
    static func isNotNow(_ error: RedisError) -> Bool {
        error.isConnectionError || error.isTransientReply
    }

    private func admitted(_ jobs: [Job], limiter: RateLimiter, acker: Acker, leases: LeaseTable) async throws -> [Job] {
        let admission = try await limiter.admit(jobs)
        // Those not waiting and not admitted lost their lease meanwhile: no longer this worker's.
        let kept = Set(admission.admitted.map(\.id) + admission.malformed.map(\.job.id) + admission.failed.map(\.job.id))
        for job in jobs where !kept.contains(job.id) { leases.remove(job) }
        for (job, reason) in admission.malformed { acker.submit(job, .dead(reason: reason), duration: .zero) }
        for (job, error) in admission.failed {
            await isolate(job, error: error, provenOwn: admission.failed.count < jobs.count, acker: acker)
        }
        return admission.admitted
    }

    /// A job whose limit check fails: when Redis refused its values while other jobs of its batch
    /// passed (`provenOwn`), it will fail the same way again, so it is dead with the reason; otherwise
    /// it is retried with the kind's backoff, using an attempt, so that it ends in the dead set too if
    /// it never passes, and a fault of Spool's own does not kill every job it touches at once.
    private func isolate(_ job: Job, error: any Error, provenOwn: Bool, acker: Acker) async {
        let scriptRefused = provenOwn && (error as? RedisError).map { $0.code == .server && !Self.isNotNow($0) } ?? false
        logger.error(
            "rate limit check failed for one job; isolating it",
            metadata: ["job_id": "\(job.id)", "kind": "\(job.kind)", "error": "\(error)"])
        let outcome: JobOutcome =
            scriptRefused
            ? .dead(reason: "the rate limiter refused this job's values: \(error)")
            : .retry(error: "the rate limit check failed: \(error)")
        acker.submit(job, outcome, duration: .zero)
    }

    private func handBack(_ jobs: [Job], acker: Acker, leases: LeaseTable) async {
        await acker.requeue(jobs)
        for job in jobs { leases.remove(job) }
    }

    private func drain(
        buffer: JobBuffer, signal: WorkSignal, slots: SlotPool, leases: LeaseTable, acker: Acker, limiter: RateLimiter,
        fetchLoopDone: Latch
    ) async {
        logger.info("worker stopping: no more fetches; draining running jobs", metadata: ["grace": "\(options.shutdownGrace)"])
        stopping.store(true, ordering: .releasing)
        let notStarted = buffer.close()
        signal.close()
        await fetchLoopDone.wait()
        if !notStarted.isEmpty {
            let landed = await acker.requeue(notStarted)
            for (job, landed) in zip(notStarted, landed) { leases.remove(job); limiter.settled(job, landed: landed) }
        }
        await slots.allEnded.wait(atMost: hardStop.load(ordering: .acquiring) ? .zero : options.shutdownGrace)
        let cut = slots.abandonRunning()
        if !cut.isEmpty {
            logger.warning("grace period over; handing running jobs back", metadata: ["jobs": "\(cut.count)"])
        }
        // Outcomes handed over before the cut still land; then the settle loop ends.
        await acker.flush()
        acker.stop()
        // Whatever is still leased (cut off, or fetched while stopping) goes back to pending, unrun.
        let left = leases.all
        let landed = await acker.requeue(left)
        for (job, landed) in zip(left, landed) { leases.remove(job); limiter.settled(job, landed: landed) }
        await limiter.finishReleases()
    }
}
