import ArgumentParser
import FoundationEssentials
import ServiceLifecycle
import SpoolJobs
import SpoolQueue
import SpoolStore
import SpoolSupport

struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "worker", abstract: "Fetch and run jobs.")

    @OptionGroup var common: CommonOptions
    @Option(help: "Comma-separated queues to serve (default: every queue declared in Jobs/).")
    var queues: String?
    @OptionGroup var workerSettings: WorkerSettingOptions

    func run() async throws {
        // glibc gives threads that allocate at once arenas of their own, up to 8 per core, and a
        // worker's many threads (NIO, PostgreSQL connections, libcurl, Redis, Swift's pool) spread its
        // memory over them. Two arenas hold a thousand AI replies in flight in about 5% less memory
        // (docs/benchmarks.md); MALLOC_ARENA_MAX, when set, wins.
        if ProcessInfo.processInfo.environment["MALLOC_ARENA_MAX"] == nil { limitMallocArenas(2) }
        let runtime = try Runtime.load(common, flags: workerSettings.flags, checkHandlers: true)
        let observers = try runtime.settleObservers()
        let worker = WorkerService(
            settings: runtime.settings, catalog: runtime.catalog, handlers: try runtime.handlers(),
            queues: try runtime.queues(queues),
            observers: observers.map { $0 as any SettleObserver }, logger: runtime.logger)
        // The observers start first and so stop last: they flush what the worker settled while draining.
        let services: [any Service] = observers + [worker]
        let group = ServiceGroup(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: runtime.logger)
        try await group.run()
    }
}

struct SchedulerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scheduler",
        abstract: "Promote due scheduled and retry jobs, recover expired leases, trim dead sets, and fire schedules' ticks.")

    @OptionGroup var common: CommonOptions

    func run() async throws {
        let runtime = try Runtime.load(common)
        let redis = runtime.redis(name: "scheduler")
        let scheduler = SchedulerService(
            redis: redis, settings: runtime.settings, declaredQueues: runtime.catalog.queues, logger: runtime.logger)
        var services: [any Service] = [scheduler]
        if let ticker = try await runtime.scheduleTicker() { services.append(ticker) }
        runtime.logger.info("scheduler started", metadata: ["redis": "\(runtime.settings.redisURL)", "schedules": "\(services.count > 1)"])
        let group = ServiceGroup(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: runtime.logger)
        try await group.run()
    }
}
