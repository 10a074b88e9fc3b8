import SpoolSupport
import Synchronization

/// The worker's `--concurrency` slots: child tasks of one task group, each looping "take a job, run
/// it, settle it".
///
/// Each job runs in a task group of its own, where a timer child races the handler child (as in
/// swift-jobs). When the timer wins, the job is settled at once as a failed attempt, the handler is
/// cancelled, and a fresh slot joins the pool: a handler that ignores cancellation keeps only its own
/// slot busy until it returns, never the worker's capacity.
///
/// Who settles a job: whichever of the slot and the shutdown cut (`abandonRunning`) takes it out of
/// `running` first, under the lock, so a job is never settled twice nor left neither running nor
/// handed over.
final class SlotPool: Sendable {
    typealias RunJob = @Sendable (Job) async -> JobOutcome
    /// Hands an outcome to the Acker, which settles it in its next round trip.
    typealias Settle = @Sendable (Job, JobOutcome, Duration) -> Void

    private enum Command { case addSlot, cancelAll }
    private enum RaceResult { case finished(JobOutcome), timedOut }

    private let buffer: JobBuffer
    private let timeouts: @Sendable (Job) -> Duration
    private let run: RunJob
    private let settle: Settle
    /// The job each slot is running, by slot number.
    private let running = Mutex<(jobs: [Int: Job], nextSlot: Int)>(([:], 0))
    private let live = Atomic<Int>(0)
    private let commands: AsyncStream<Command>
    private let commandSink: AsyncStream<Command>.Continuation
    /// Fired when the last slot has ended (the buffer closed, or shutdown cut them off).
    let allEnded = Latch()

    init(buffer: JobBuffer, timeouts: @escaping @Sendable (Job) -> Duration, run: @escaping RunJob, settle: @escaping Settle) {
        self.buffer = buffer
        self.timeouts = timeouts
        self.run = run
        self.settle = settle
        (commands, commandSink) = AsyncStream.makeStream(of: Command.self)
    }

    /// Slots still running their loop (replacements included).
    var liveCount: Int { live.load(ordering: .acquiring) }

    /// Runs `count` slots, and the replacements of slots whose job overran, until every slot has ended.
    func run(count: Int) async {
        if count <= 0 { allEnded.fire(); return }
        live.store(count, ordering: .releasing)
        await withDiscardingTaskGroup { group in
            for _ in 0..<count { group.addTask { await self.slotLoop() } }
            for await command in commands {
                switch command {
                case .addSlot: group.addTask { await self.slotLoop() }
                case .cancelAll: group.cancelAll()
                }
            }
        }
    }

    private func slotLoop() async {
        let slot = running.withLock { state in
            defer { state.nextSlot += 1 }
            return state.nextSlot
        }
        defer {
            if live.subtract(1, ordering: .acquiringAndReleasing).newValue == 0 {
                commandSink.finish()
                allEnded.fire()
            }
        }
        while !Task.isCancelled, let job = await buffer.next() {
            guard await runOne(job, slot: slot) else { return }
        }
    }

    /// Runs one job under its timeout. Returns false when this slot must end: its job overran (a
    /// replacement has taken its place) or shutdown took its job.
    private func runOne(_ job: Job, slot: Int) async -> Bool {
        let started = monotonicNow()
        let timeout = timeouts(job)
        running.withLock { $0.jobs[slot] = job }
        return await withTaskGroup(of: RaceResult?.self) { group in
            group.addTask { .finished(await self.run(job)) }
            group.addTask {
                do { try await Task.sleep(for: timeout) } catch { return nil }  // cancelled: not a timeout
                return .timedOut
            }
            var result: RaceResult?
            while result == nil, let next = await group.next() { result = next }
            group.cancelAll()
            let outcome: JobOutcome
            switch result {
            case .finished(let finished)?: outcome = finished
            case .timedOut?: outcome = .retry(error: "timed out after \(timeout.secondsDouble)s")
            case nil: outcome = .retry(error: "cancelled")  // both children ended without a result: never kept (see below)
            }
            let duration = monotonicNow() - started
            let mine = running.withLock { state -> Bool in
                guard state.jobs.removeValue(forKey: slot) != nil else { return false }
                settle(job, outcome, duration)
                return true
            }
            guard mine else { return false }
            // The job's place is free once it ran: its settle overlaps the next fetch (it stays leased until then).
            buffer.finished(after: duration)
            guard case .timedOut? = result else { return true }
            // The handler may ignore its cancellation: this slot waits for it (the group's end), a new one works.
            live.add(1, ordering: .acquiringAndReleasing)
            commandSink.yield(.addSlot)
            return false
        }
    }

    /// Takes every running job away from its slot (after the shutdown grace period) and cancels the
    /// slots. The caller hands the jobs back.
    func abandonRunning() -> [Job] {
        let jobs = running.withLock { state in
            defer { state.jobs.removeAll() }
            return Array(state.jobs.values)
        }
        commandSink.yield(.cancelAll)
        return jobs
    }
}
