import SpoolSupport

/// A job a handler asks for when its own job completes: the next step of a chain (inbound message →
/// transcription → AI reply → send) or what a job schedules (a calendar sync's reminders).
///
/// The guarantee: follow-ups are written in the same atomic script that completes the job (complete.lua,
/// into an outbox in the parent's queue), so a worker that dies before the settle leaves none (the job
/// runs again and asks again), and after the settle they exist exactly once. The outbox is then moved
/// to the follow-ups' own queues by `Outbox`, by follow-up id, which any number of times moves each
/// once; that also holds when the follow-up's queue lives in another Redis Cluster slot than the parent's.
public struct FollowUp: Sendable, Equatable {
    public var kind: String
    /// JSON text of an object that fits the kind's declared arguments.
    public var args: String
    /// nil: the kind's queue.
    public var queue: String?
    /// How long after the parent completes it may run; nil: at once.
    public var delay: Duration?

    public init(kind: String, args: String = "{}", queue: String? = nil, delay: Duration? = nil) {
        self.kind = kind
        self.args = args
        self.queue = queue
        self.delay = delay
    }
}
