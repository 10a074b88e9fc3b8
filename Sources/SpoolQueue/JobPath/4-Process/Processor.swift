/// 4. Execute: finds the kind's handler and runs it, turning whatever happens into a `JobOutcome`.
///
/// A job whose data is missing, whose kind is unknown, or whose arguments do not decode goes to the
/// dead set with the reason; nothing a payload contains can crash the worker.
public struct Processor: Sendable {
    public let catalog: JobKindCatalog
    private let handlers: [String: any JobHandler]
    private let context: JobContext

    public init(catalog: JobKindCatalog, handlers: [any JobHandler], context: JobContext) {
        self.catalog = catalog
        self.handlers = Dictionary(handlers.map { ($0.kind, $0) }, uniquingKeysWith: { first, _ in first })
        self.context = context
    }

    public func perform(_ job: Job) async -> JobOutcome {
        if job.kind.isEmpty {
            return .dead(reason: "malformed job: its data is missing from Redis (hash deleted or expired)")
        }
        guard catalog[job.kind] != nil, let handler = handlers[job.kind] else {
            return .dead(reason: "unknown kind '\(job.kind)': not declared in Jobs/ or no handler in this worker")
        }
        do {
            return try await handler.perform(job, context: context)
        } catch let error as JobError {
            switch error.code {
            case .malformedArgs: return .dead(reason: "malformed args: \(error.message)")
            case .permanent: return .dead(reason: "permanent error: \(error.message)")
            }
        } catch is CancellationError {
            return .retry(error: "cancelled before finishing")
        } catch {
            return .retry(error: "\(error)")
        }
    }
}
