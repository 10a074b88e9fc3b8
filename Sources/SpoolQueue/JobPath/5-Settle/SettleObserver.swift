/// Told about every settle that landed, after the fact (job history, metrics). Must return quickly:
/// it runs on the Acker's loop, so anything slow belongs in the observer's own buffer and task.
public protocol SettleObserver: Sendable {
    func settled(_ job: Job, outcome: JobOutcome, duration: Duration, at finishedAt: Int64)
}
