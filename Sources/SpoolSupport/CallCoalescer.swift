import Synchronization

/// Lets concurrent callers share round trips: each caller submits one item and suspends; up to
/// `lanes` drains run at once, each taking everything submitted so far (up to `batchSize`) and
/// handing it to `perform` in one call. Alone, a caller's item goes straight through; under load,
/// items pile up while a call is in flight and the next call takes them all, so batches grow with
/// the load and nobody waits on a timer.
///
/// `perform` returns one result per item, in order; when it throws, every item of that batch fails
/// with the error.
public final class CallCoalescer<Item: Sendable, Output: Sendable>: Sendable {
    public typealias Perform = @Sendable ([Item]) async throws -> [Output]

    private struct Waiting {
        var items: [(Item, UnsafeContinuation<Output, any Error>)] = []
        var draining = 0
    }

    private let batchSize: Int
    private let lanes: Int
    private let perform: Perform
    private let waiting = Mutex(Waiting())

    public init(batchSize: Int, lanes: Int = 1, perform: @escaping Perform) {
        self.batchSize = max(1, batchSize)
        self.lanes = max(1, lanes)
        self.perform = perform
    }

    public func submit(_ item: Item) async throws -> Output {
        try await withUnsafeThrowingContinuation { continuation in
            let starts = waiting.withLock { state -> Bool in
                state.items.append((item, continuation))
                guard state.draining < lanes else { return false }
                state.draining += 1
                return true
            }
            if starts { Task { await drain() } }
        }
    }

    /// Runs batch after batch until nothing is left.
    private func drain() async {
        while true {
            let batch = waiting.withLock { state -> [(Item, UnsafeContinuation<Output, any Error>)] in
                let taken = Array(state.items.prefix(batchSize))
                state.items.removeFirst(taken.count)
                if taken.isEmpty { state.draining -= 1 }
                return taken
            }
            if batch.isEmpty { return }
            do {
                let outputs = try await perform(batch.map(\.0))
                guard outputs.count == batch.count else {
                    throw CoalescedCallError("a batch of \(batch.count) got \(outputs.count) results")
                }
                for ((_, continuation), output) in zip(batch, outputs) { continuation.resume(returning: output) }
            } catch {
                for (_, continuation) in batch { continuation.resume(throwing: error) }
            }
        }
    }
}

public struct CoalescedCallError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
