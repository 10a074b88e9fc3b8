import SpoolQueue
import SpoolSupport

/// A WorkerService running in this test process, stopped as on SIGTERM.
public final class RunningWorker: Sendable {
    public let service: WorkerService
    private let task: Task<Void, any Error>

    public init(
        _ fixture: QueueFixture, handlers: [any JobHandler], concurrency: Int = 4, queues: [String]? = nil,
        clock: any WallClock = SystemClock()
    ) {
        service = WorkerService(
            settings: fixture.settings, catalog: fixture.catalog, handlers: handlers, queues: queues,
            concurrency: concurrency, clock: clock, logger: TestEnvironment.logger)
        let service = self.service
        task = Task { try await service.run() }
    }

    /// Graceful stop: no more fetches, running jobs finish, the rest is handed back. Returns when done.
    public func stop() async throws {
        service.requestStop()
        try await task.value
    }
}
