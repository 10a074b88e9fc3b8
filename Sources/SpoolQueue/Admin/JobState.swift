/// Where a job is. The Lua scripts write the same words into a job's `state` (a test compares them),
/// and fetch and ack leave it alone on the hot path, so `active` and `completed` are read from their
/// sets (`QueueAdmin.job`).
public enum JobState: String, Sendable, Codable, CaseIterable {
    case scheduled, pending, limited, active, retry, completed, dead, cancelled
    /// Pending, in a paused tenant's parked lane.
    case parked
    /// The record has expired, or never existed.
    case unknown
}
