import Synchronization

/// The jobs this worker holds leases on, from fetch until settle: what the heartbeat extends and what
/// shutdown hands back.
final class LeaseTable: Sendable {
    private let jobs = Mutex<[String: Job]>([:])

    func add(_ fetched: [Job]) {
        jobs.withLock { table in for job in fetched { table[job.id] = job } }
    }

    func remove(_ id: String) {
        _ = jobs.withLock { $0.removeValue(forKey: id) }
    }

    var all: [Job] { jobs.withLock { Array($0.values) } }
    var count: Int { jobs.withLock { $0.count } }
}
