import SpoolSupport
import Synchronization

/// The worker's `--concurrency` slots: child tasks of one task group. Each slot is a task group of two
/// children that race: one loops "take a job, run it, settle it", the other watches the running job's
/// deadline.
///
/// When a job overruns its kind's timeout, the watcher settles it at once as a failed attempt, and the
/// slot's group cancels the handler, ends when the handler returns, and a new slot takes its place at
/// once: a handler that ignores cancellation keeps only its own slot's task, never the worker's capacity.
///
/// The watcher lives as long as its slot, not one timer per job (as swift-jobs does): a cancelled
/// `Task.sleep` keeps its timer until the deadline, and at 30,000 jobs/s with 30 s timeouts, timers
/// and task creation per job cost a quarter of the throughput and 70 MB (measured; docs/benchmarks.md).
///
/// Who settles a job: whichever of the slot, its watcher and the shutdown cut (`abandonRunning`) takes
/// it out of the slot's `running` first, under the lock, so a job is never settled twice nor left
/// neither running nor handed over.
final class SlotPool: Sendable {
    typealias RunJob = @Sendable (Job) async -> JobOutcome
    /// Hands an outcome to the Acker, which settles it in its next round trip.
    typealias Settle = @Sendable (Job, JobOutcome, Duration) -> Void

    private enum Command { case addSlot, cancelAll }

    private struct Running {
        let job: Job
        let started: Duration
        let timeout: Duration
        var deadline: Duration { started + timeout }
    }

    private final class Slot: Sendable {
        let running = Mutex<Running?>(nil)
    }

    /// How often an idle watcher looks; a busy one wakes at its job's deadline, or this often if sooner.
    static let watchInterval = Duration.milliseconds(250)

    private let buffer: JobBuffer
    private let timeouts: @Sendable (Job) -> Duration
    private let run: RunJob
    private let settle: Settle
    private let slots = Mutex<[ObjectIdentifier: Slot]>([:])
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

    /// Slots still running (replacements included).
    var liveCount: Int { live.load(ordering: .acquiring) }

    /// The jobs the slots are running now, each with how long it has run: what the heartbeat reports.
    var running: [(job: Job, elapsed: Duration)] {
        let now = monotonicNow()
        return slots.withLock { Array($0.values) }.compactMap { slot in
            slot.running.withLock { running in running.map { (job: $0.job, elapsed: now - $0.started) } }
        }
    }

    /// Runs `count` slots, and the replacements of slots whose job overran, until every slot has ended.
    func run(count: Int) async {
        if count <= 0 {
            allEnded.fire()
            return
        }
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
        let slot = Slot()
        slots.withLock { $0[ObjectIdentifier(slot)] = slot }
        defer {
            slots.withLock { $0[ObjectIdentifier(slot)] = nil }
            if live.subtract(1, ordering: .acquiringAndReleasing).newValue == 0 {
                commandSink.finish()
                allEnded.fire()
            }
        }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.work(slot) }
            group.addTask { await self.watch(slot) }
            // The work ended (buffer closed, job taken by shutdown) or the watcher timed a job out.
            await group.next()
            group.cancelAll()
        }
    }

    private func work(_ slot: Slot) async {
        while !Task.isCancelled, let job = await buffer.next() {
            let started = monotonicNow()
            slot.running.withLock { $0 = Running(job: job, started: started, timeout: timeouts(job)) }
            let outcome = await run(job)
            let duration = monotonicNow() - started
            let mine = slot.running.withLock { running -> Bool in
                guard running != nil else { return false }
                running = nil
                settle(job, outcome, duration)
                return true
            }
            // Timed out or cut off meanwhile: already settled by whoever took it.
            guard mine else { return }
            // The job's place is free once it ran: its settle overlaps the next fetch (it stays leased until then).
            buffer.finished(after: duration)
        }
    }

    /// Returns once it has timed out this slot's job (a new slot has then taken this one's place), or
    /// when the slot is cancelled.
    private func watch(_ slot: Slot) async {
        while !Task.isCancelled {
            let now = monotonicNow()
            let overdue: Running? = slot.running.withLock { running in
                guard let current = running, now >= current.deadline else { return nil }
                running = nil
                settle(current.job, .retry(error: "timed out after \(current.timeout.secondsDouble)s"), now - current.started)
                return current
            }
            if let overdue {
                buffer.finished(after: now - overdue.started)
                live.add(1, ordering: .acquiringAndReleasing)
                commandSink.yield(.addSlot)
                return
            }
            let untilDeadline = slot.running.withLock { $0.map { $0.deadline - now } } ?? Self.watchInterval
            try? await Task.sleep(for: max(min(untilDeadline, Self.watchInterval), .milliseconds(1)))
        }
    }

    /// Takes every running job away from its slot (after the shutdown grace period) and cancels the
    /// slots. The caller hands the jobs back.
    func abandonRunning() -> [Job] {
        let jobs = slots.withLock { Array($0.values) }.compactMap { slot in
            slot.running.withLock { running in
                defer { running = nil }
                return running?.job
            }
        }
        commandSink.yield(.cancelAll)
        return jobs
    }
}
