import Synchronization

/// Queues that have had jobs (`spool:queues`), as this process last read them. The live feed reads the
/// numbers of these and of the declared queues in its one round trip, and the list itself in the same
/// one, so a queue new since the last poll shows from the next poll on.
final class SeenQueues: Sendable {
    private let names = Mutex<Set<String>>([])

    func record(_ queues: some Sequence<String>) { names.withLock { $0.formUnion(queues) } }

    var current: Set<String> { names.withLock { $0 } }
}
