import Logging
import ServiceLifecycle
import SpoolPostgres
import SpoolQueue
import SpoolSupport
import Synchronization

/// Writes the outcome of every settled job attempt to `job_results`, in batches: outcomes collect in
/// memory and one COPY per batch (up to `batchSize` rows, at least every `interval`) writes them in a
/// single transaction, instead of one commit per row.
///
/// Recording is history, not the queue's state: when PostgreSQL is away the batch is kept and tried
/// again, and beyond `maximumBuffered` the oldest rows are dropped with a warning, so a database outage
/// never stalls or grows a worker without bound.
public final class JobResultRecorder: SettleObserver, Service {
    struct Row { let values: [String?] }

    private let pool: PostgresPool
    private let logger: Logger
    private let batchSize: Int
    private let interval: Duration
    private let maximumBuffered: Int
    private let buffer = Mutex<[Row]>([])
    private let dropped = Atomic<Int>(0)
    private let written = Atomic<Int>(0)
    /// Set while PostgreSQL is failing, so that an outage is logged once, not on every retry.
    private let failing = Atomic<Bool>(false)

    public init(
        pool: PostgresPool, batchSize: Int = 5_000, interval: Duration = .milliseconds(100),
        maximumBuffered: Int = 200_000, logger: Logger
    ) {
        self.pool = pool
        self.batchSize = batchSize
        self.interval = interval
        self.maximumBuffered = maximumBuffered
        self.logger = logger
    }

    static let columns = ["job_id", "attempt", "queue", "kind", "tenant", "outcome", "detail", "duration_ms", "finished_at"]

    public func settled(_ job: Job, outcome: JobOutcome, duration: Duration, at finishedAt: Int64) {
        var detail: String?
        switch outcome {
        case .completed(let result, _): detail = result
        case .retry(let error, _): detail = error
        case .snooze(_, let reason): detail = reason
        case .dead(let reason): detail = reason
        case .throttled(_, let reason, _): detail = reason
        case .quotaExhausted(let reason): detail = reason
        }
        let row = Row(values: [
            job.id, String(job.attempt + 1), job.queue, job.kind, job.tenant, outcome.label, detail,
            String(duration.secondsDouble * 1000), Self.timestamp(finishedAt),
        ])
        let overflow = buffer.withLock { rows -> Bool in
            rows.append(row)
            guard rows.count > maximumBuffered else { return false }
            rows.removeFirst(rows.count - maximumBuffered)
            return true
        }
        if overflow, dropped.wrappingAdd(1, ordering: .relaxed).oldValue == 0 {
            logger.warning("job results are not reaching PostgreSQL; dropping the oldest to bound memory")
        }
    }

    /// Rows written so far.
    public var writtenCount: Int { written.load(ordering: .relaxed) }

    /// Flushes on an interval until shutdown, then once more.
    public func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            await flush()
            try? await Task.sleep(for: interval)
        }
        // Cancelled, the last rows are still worth writing.
        await withoutCancellation { await self.flush() }
    }

    /// Writes everything buffered now, a batch per transaction; returns when done or when PostgreSQL failed.
    public func flush() async {
        while true {
            let batch = buffer.withLock { rows -> [Row] in
                let count = min(rows.count, batchSize)
                defer { rows.removeFirst(count) }
                return Array(rows.prefix(count))
            }
            if batch.isEmpty { return }
            var settled = 0
            do {
                let count = try await write(batch[...], settled: &settled)
                written.add(count, ordering: .relaxed)
                if failing.exchange(false, ordering: .relaxed) {
                    logger.notice("job results reach PostgreSQL again")
                }
            } catch {
                // PostgreSQL is away, read-only, out of disk, timing out...: keep what was not written
                // (a halved batch may have written its first part) and try again.
                buffer.withLock { $0.insert(contentsOf: batch[settled...], at: 0) }
                // A cancelled flush is no outage: `run` writes the rows once more before it returns.
                if !(error is CancellationError), !failing.exchange(true, ordering: .relaxed) {
                    logger.warning("could not record job results; retrying until PostgreSQL answers", metadata: ["error": "\(error)"])
                }
                return
            }
        }
    }

    /// Rows dropped because PostgreSQL refused them (bad data, a constraint), or to bound memory.
    public var droppedCount: Int { dropped.load(ordering: .relaxed) }

    /// Writes `rows` in one COPY. When PostgreSQL refuses the rows themselves (a constraint, bad data),
    /// the batch is split in halves and each written on its own, down to single rows, so that only the
    /// refused rows are dropped (logged, with the reason), never their neighbours: a handful of extra
    /// round trips, and only when something is wrong. Other errors are thrown: the caller keeps the rows.
    /// `settled` counts the leading rows of the batch that are done with (written or dropped), so that
    /// a failure part-way keeps only the rest.
    private func write(_ rows: ArraySlice<Row>, settled: inout Int) async throws -> Int {
        do {
            let count = try await pool.transaction { db in
                try db.copy(into: "job_results", columns: Self.columns, rows: rows.lazy.map(\.values))
            }
            settled += rows.count
            return count
        } catch let error as PostgresError where error.sqlState?.hasPrefix("22") == true || error.sqlState?.hasPrefix("23") == true {
            if rows.count == 1 {
                dropped.add(1, ordering: .relaxed)
                settled += 1
                let row = rows.first!.values
                logger.error(
                    "a job result was refused by PostgreSQL and dropped",
                    metadata: ["job_id": "\(row[0] ?? "")", "outcome": "\(row[5] ?? "")", "error": "\(error)"])
                return 0
            }
            let middle = rows.startIndex + rows.count / 2
            let first = try await write(rows[..<middle], settled: &settled)
            return try await first + write(rows[middle...], settled: &settled)
        }
    }

    /// Unix ms as a timestamptz literal in UTC (COPY text format).
    static func timestamp(_ millis: Int64) -> String {
        let t = CivilTime(unixMillis: millis)
        func two(_ n: Int) -> String { CivilTime.pad(n) }
        return
            "\(t.year)-\(two(t.month))-\(two(t.day)) \(two(t.hour)):\(two(t.minute)):\(two(t.second)).\(CivilTime.pad(t.millisecond, 3))+00"
    }
}
