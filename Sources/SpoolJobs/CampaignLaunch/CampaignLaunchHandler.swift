import SpoolQueue
import SpoolStore

/// The `campaign-launch` kind: the scheduled launch of one SMS campaign (`CampaignStore.scheduleLaunch`
/// enqueues it for the chosen instant). It launches the campaign only while the campaign is still
/// scheduled for this job's instant: a cancel, a launch now, or a new time makes it complete without
/// doing anything. A launch is idempotent, so a run cut off half-way is finished by the retry.
public struct CampaignLaunchHandler: JobKind {
    public let kind = "campaign-launch"

    /// `Jobs/campaign-launch.json`'s `args`.
    public struct Arguments: Decodable, Sendable {
        public let campaign: String
        public let atMs: Int64
        enum CodingKeys: String, CodingKey { case campaign, atMs = "at_ms" }
    }

    let services: JobServices?

    public init(services: JobServices?) { self.services = services }

    public func perform(_ job: Job, arguments: Arguments, context: JobContext) async throws -> JobOutcome {
        guard let services, let pool = services.postgres, let enqueuer = services.enqueuer else {
            return .retry(error: "the campaign-launch kind needs PostgreSQL and Redis: set DATABASE_URL for this worker", delay: .seconds(60))
        }
        var store = CampaignStore(pool: pool, enqueuer: enqueuer)
        store.segmentCents = services.segmentCents
        do {
            guard let report = try await store.launchScheduled(id: arguments.campaign, atMs: arguments.atMs) else {
                return .completed(result: "campaign \(arguments.campaign) is no longer scheduled for this instant: nothing launched")
            }
            return .completed(
                result: "launched \(arguments.campaign): \(report.queued) queued, \(report.skipped) skipped, \(report.enqueued) jobs enqueued")
        } catch let error as CampaignStore.InputError {
            // The sender was removed, or a contact lacks a template field: a person has to fix the campaign.
            return .dead(reason: error.message)
        }
    }
}
