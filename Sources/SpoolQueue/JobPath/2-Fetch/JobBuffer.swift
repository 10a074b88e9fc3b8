import SpoolSupport
import Synchronization

/// Hands fetched jobs to worker slots and tells the fetch loop how many more to lease.
///
/// At most `concurrency + prefetch` jobs are leased and unfinished. The prefetch adapts like a TCP
/// window: it holds about `cover` worth of work at the slots' observed pace, so millisecond jobs get
/// hundreds fetched per round trip while thirty-second jobs get one, and a worker never hoards slow
/// jobs that an idle worker elsewhere could run. A fixed prefetch (config or SPOOL_PREFETCH) turns
/// the adaptation off.
final class JobBuffer: Sendable {
    private struct State {
        var jobs: [Job] = []
        var head = 0
        var inFlight = 0
        var closed = false
        var slotWaiters: [UnsafeContinuation<Job?, Never>] = []
        var fetchWaiter: UnsafeContinuation<Int, Never>?
        /// Moving average of how long a job keeps a slot, in seconds.
        var averageDuration = 0.0
        var prefetch: Int
    }
    private let state: Mutex<State>
    let concurrency: Int
    private let fixedPrefetch: Int?
    static let cover = 0.002
    static let prefetchRange = 1...1000

    init(concurrency: Int, prefetch: Int?) {
        self.concurrency = concurrency
        self.fixedPrefetch = prefetch
        state = Mutex(State(prefetch: prefetch ?? concurrency))
    }

    /// The fetch loop: returns how many jobs to fetch once enough are wanted for a batch; 0 when closed.
    func waitForDemand() async -> Int {
        await withUnsafeContinuation { continuation in
            let ready: Int? = state.withLock { state in
                if state.closed { return 0 }
                let demand = demand(state)
                if demand > 0 { return demand }
                state.fetchWaiter = continuation
                return nil
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }

    /// How many to fetch: nothing until half the prefetch window (or one slot's worth) is free.
    private func demand(_ state: State) -> Int {
        let free = concurrency + state.prefetch - state.inFlight
        return free >= max(1, state.prefetch / 2) ? free : 0
    }

    /// Adds fetched jobs, giving them straight to waiting slots first.
    func push(_ jobs: [Job]) {
        var handoffs: [(UnsafeContinuation<Job?, Never>, Job)] = []
        state.withLock { state in
            state.inFlight += jobs.count
            var rest = jobs[...]
            while !state.slotWaiters.isEmpty, let job = rest.popFirst() {
                handoffs.append((state.slotWaiters.removeLast(), job))
            }
            state.jobs.append(contentsOf: rest)
        }
        for (waiter, job) in handoffs { waiter.resume(returning: job) }
    }

    /// A slot takes its next job; nil once the buffer is closed.
    func next() async -> Job? {
        await withUnsafeContinuation { continuation in
            let job: Job?? = state.withLock { state in
                if state.closed { return .some(nil) }
                if state.head < state.jobs.count {
                    let job = state.jobs[state.head]
                    state.head += 1
                    if state.head > 1024 && state.head * 2 > state.jobs.count {
                        state.jobs.removeFirst(state.head)
                        state.head = 0
                    }
                    return .some(job)
                }
                state.slotWaiters.append(continuation)
                return nil
            }
            if let job { continuation.resume(returning: job) }
        }
    }

    /// A slot finished a job that held it for `duration`: its place is free for the next fetch.
    func finished(after duration: Duration) {
        let waiter: (UnsafeContinuation<Int, Never>, Int)? = state.withLock { state in
            state.inFlight -= 1
            if fixedPrefetch == nil {
                let seconds = duration.secondsDouble
                state.averageDuration = state.averageDuration == 0 ? seconds : state.averageDuration * 0.95 + seconds * 0.05
                let wanted = Double(concurrency) * Self.cover / max(state.averageDuration, 1e-7)
                state.prefetch = min(max(Int(wanted), Self.prefetchRange.lowerBound), Self.prefetchRange.upperBound)
            }
            let demand = demand(state)
            guard demand > 0, let waiter = state.fetchWaiter else { return nil }
            state.fetchWaiter = nil
            return (waiter, demand)
        }
        if let (continuation, demand) = waiter { continuation.resume(returning: demand) }
    }

    /// Stops handing out jobs; returns the ones fetched but not started, for requeueing.
    func close() -> [Job] {
        let (left, slots, fetch) = state.withLock { state in
            state.closed = true
            let left = Array(state.jobs[state.head...])
            state.inFlight -= left.count
            state.jobs.removeAll()
            state.head = 0
            defer { state.slotWaiters.removeAll(); state.fetchWaiter = nil }
            return (left, state.slotWaiters, state.fetchWaiter)
        }
        for slot in slots { slot.resume(returning: nil) }
        fetch?.resume(returning: 0)
        return left
    }
}
