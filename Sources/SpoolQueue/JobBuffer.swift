import Synchronization

/// Hands fetched jobs to worker slots and tells the fetch loop how many more to lease.
///
/// At most `limit` jobs are in flight (buffered plus running): the slots plus the prefetch, so slots
/// find the next job waiting instead of waiting for a round trip.
final class JobBuffer: Sendable {
    private struct State {
        var jobs: [Job] = []
        var head = 0
        var inFlight = 0
        var closed = false
        var slotWaiters: [UnsafeContinuation<Job?, Never>] = []
        var fetchWaiter: UnsafeContinuation<Int, Never>?
    }
    private let state = Mutex(State())
    let limit: Int
    /// The fetch loop waits until at least this many jobs are wanted, so fetches come in batches.
    let batchThreshold: Int

    init(limit: Int, batchThreshold: Int) {
        self.limit = limit
        self.batchThreshold = max(1, min(batchThreshold, limit))
    }

    /// The fetch loop: returns how many jobs to fetch, once at least `batchThreshold` are wanted; 0 when closed.
    func waitForDemand() async -> Int {
        await withUnsafeContinuation { continuation in
            let ready: Int? = state.withLock { state in
                if state.closed { return 0 }
                let demand = limit - state.inFlight
                if demand >= batchThreshold { return demand }
                state.fetchWaiter = continuation
                return nil
            }
            if let ready { continuation.resume(returning: ready) }
        }
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

    /// A slot takes its next job; nil once the buffer is closed and empty of jobs for it.
    func next() async -> Job? {
        await withUnsafeContinuation { continuation in
            let job: Job?? = state.withLock { state in
                if state.head < state.jobs.count {
                    let job = state.jobs[state.head]
                    state.head += 1
                    if state.head > 1024 && state.head * 2 > state.jobs.count {
                        state.jobs.removeFirst(state.head)
                        state.head = 0
                    }
                    return .some(job)
                }
                if state.closed { return .some(nil) }
                state.slotWaiters.append(continuation)
                return nil
            }
            if let job { continuation.resume(returning: job) }
        }
    }

    /// A slot settled a job: one more may be fetched.
    func finished() {
        let waiter: (UnsafeContinuation<Int, Never>, Int)? = state.withLock { state in
            state.inFlight -= 1
            let demand = limit - state.inFlight
            guard demand >= batchThreshold, let waiter = state.fetchWaiter else { return nil }
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
