import SpoolPostgres
import SpoolQueue
import SpoolSupport

/// The `retention` kind: deletes `job_results` and `events` rows older than the settings' days, from
/// the oldest end: each batch reads the 10,000 lowest ids (the primary key, so no table scan; rows are
/// written in time order) and deletes those old enough, each batch its own statement, so no long lock
/// and no huge transaction. It stops at the first batch that is not all old, or after 2,000 batches;
/// the next night's run carries on.
/// Fired by the built-in schedule `retention` (`ScheduleStore.ensureBuiltins`).
public struct RetentionHandler: JobKind {
    public let kind = "retention"

    public struct Arguments: Decodable, Sendable {}

    let services: JobServices?

    public init(services: JobServices?) { self.services = services }

    /// Batches per run at most: 10,000 rows each, a few seconds of work per million rows.
    static let maximumBatches = 2_000
    static let batch = 10_000

    public func perform(_ job: Job, arguments: Arguments, context: JobContext) async throws -> JobOutcome {
        guard let services, let pool = services.postgres else {
            return .retry(error: "the retention kind needs PostgreSQL: set DATABASE_URL for this worker", delay: .seconds(60))
        }
        var report: [String] = []
        for (table, column, days) in [
            ("job_results", "finished_at", services.retention.jobResultsDays), ("events", "created_at", services.retention.eventsDays),
        ] {
            var deleted = 0
            for _ in 0..<Self.maximumBatches {
                try Task.checkCancellation()
                let count = try await pool.withConnection { connection in
                    try connection.query(
                        """
                        DELETE FROM \(table) WHERE id IN (SELECT id FROM \(table) ORDER BY id LIMIT \(Self.batch))
                          AND \(column) < now() - make_interval(days => $1)
                        RETURNING 1
                        """, [days]
                    ).rows.count
                }
                deleted += count
                if count < Self.batch { break }
            }
            report.append("\(table): \(deleted) rows older than \(days) days")
        }
        return .completed(result: report.joined(separator: "; "))
    }
}

/// How long the append-only tables keep their rows (`retention.*` settings).
public struct RetentionDays: Sendable, Equatable {
    public var jobResultsDays: Int
    public var eventsDays: Int

    public init(jobResultsDays: Int = 30, eventsDays: Int = 90) {
        self.jobResultsDays = jobResultsDays
        self.eventsDays = eventsDays
    }
}
