import SpoolRedis
import Synchronization
import SpoolSupport

/// The worker's `--concurrency` slots. Each slot loops: take a job, run it, settle it.
///
/// A watchdog enforces each kind's timeout. When a job overruns, the watchdog settles it as a failed
/// attempt, asks its task to cancel, and starts a fresh slot in its place: a handler that ignores
/// cancellation can waste its own slot's task, but never the worker's capacity.
final class SlotPool: Sendable {
    typealias RunJob = @Sendable (Job) async -> JobOutcome
    /// Hands an outcome to the Acker, which settles it in its next round trip.
    typealias Settle = @Sendable (Job, JobOutcome, Duration) -> Void

    private final class Slot: Sendable {
        struct Running { let job: Job; let started: Duration; let deadline: Duration }
        let running = Mutex<Running?>(nil)
        let retired = Atomic<Bool>(false)
        let task = Mutex<Task<Void, Never>?>(nil)
    }

    private let buffer: JobBuffer
    private let timeouts: @Sendable (Job) -> Duration
    private let run: RunJob
    private let settle: Settle
    private let slots = Mutex<[Slot]>([])
    private let live = Atomic<Int>(0)

    init(buffer: JobBuffer, timeouts: @escaping @Sendable (Job) -> Duration, run: @escaping RunJob,
         settle: @escaping Settle) {
        self.buffer = buffer
        self.timeouts = timeouts
        self.run = run
        self.settle = settle
    }

    func start(count: Int) {
        for _ in 0..<count { startSlot() }
    }

    /// Slots still running their loop.
    var liveCount: Int { live.load(ordering: .acquiring) }

    private func startSlot() {
        let slot = Slot()
        slots.withLock { $0.append(slot) }
        live.add(1, ordering: .releasing)
        let task = Task { [self] in
            await loop(slot)
            live.subtract(1, ordering: .releasing)
        }
        slot.task.withLock { $0 = task }
    }

    private func loop(_ slot: Slot) async {
        while let job = await buffer.next() {
            let started = monotonicNow()
            slot.running.withLock { $0 = .init(job: job, started: started, deadline: started + timeouts(job)) }
            let outcome = await run(job)
            let duration = monotonicNow() - started
            // Whoever takes the running job settles it, in the same step: this slot, the watchdog after a
            // timeout, or shutdown after the grace period. Handing the outcome over under the lock means
            // shutdown can never see the job as neither running nor handed over.
            let mine = slot.running.withLock { running -> Bool in
                guard running != nil else { return false }
                running = nil
                settle(job, outcome, duration)
                return true
            }
            guard mine else { return }
            // The job's place is free once it ran: its settle overlaps the next fetch (it stays leased until then).
            buffer.finished(after: duration)
            if slot.retired.load(ordering: .acquiring) { return }
        }
    }

    /// Settles overdue jobs as timed out and replaces their slots. Called by the watchdog loop.
    func reapOverdue() {
        let now = monotonicNow()
        var overdue: [(slot: Slot, started: Duration)] = []
        for slot in slots.withLock({ $0 }) {
            let started: Duration? = slot.running.withLock { running in
                guard let current = running, now > current.deadline else { return nil }
                running = nil
                settle(current.job, .retry(error: "timed out after \(timeouts(current.job).secondsDouble)s"), now - current.started)
                return current.started
            }
            if let started { overdue.append((slot, started)) }
        }
        for (slot, started) in overdue {
            slot.retired.store(true, ordering: .releasing)
            slots.withLock { $0.removeAll { $0 === slot } }
            slot.task.withLock { $0?.cancel() }
            startSlot()
            buffer.finished(after: now - started)
        }
    }

    /// Takes every running job away from its slot (after the shutdown grace period) and cancels the slots.
    func abandonRunning() -> [Job] {
        var jobs: [Job] = []
        for slot in slots.withLock({ $0 }) {
            if let running = slot.running.withLock({ running in defer { running = nil }; return running }) { jobs.append(running.job) }
            slot.retired.store(true, ordering: .releasing)
            slot.task.withLock { $0?.cancel() }
        }
        return jobs
    }
}
