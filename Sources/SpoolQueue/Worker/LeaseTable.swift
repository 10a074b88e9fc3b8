import Synchronization

/// The jobs this worker holds leases on, from fetch until settle: what the heartbeat extends and what
/// shutdown hands back.
final class LeaseTable: Sendable {
    private let jobs = Mutex<[String: Job]>([:])

    func add(_ fetched: [Job]) {
        jobs.withLock { table in for job in fetched { table[job.id] = job } }
    }

    /// Forgets a job's lease, unless the job has been leased again since (a recovered job fetched anew):
    /// the old run's settle must not drop the new run's lease.
    func remove(_ job: Job) {
        jobs.withLock { table in
            if table[job.id]?.leaseToken == job.leaseToken { table.removeValue(forKey: job.id) }
        }
    }

    var all: [Job] { jobs.withLock { Array($0.values) } }
    var count: Int { jobs.withLock { $0.count } }
}
