import SpoolQueue
import SpoolStore
import SpoolSupport

/// The `appointment-reminder` kind: one appointment reminder, due at its job's instant
/// (`AppointmentReminders.reconcile` enqueues it after a calendar sync), written as a transactional
/// message and handed to `send` as a follow-up (see docs/calendars.md#reminders).
///
/// A run (`ReminderMessages.send`, one transaction):
/// 1. finds the reminder's row still `scheduled` for this job's `due_ms`, the appointment still
///    confirmed, with a phone, ahead, and the calendar connected; otherwise completes saying why nothing
///    was sent (moved: the job of the new instant sends it; cancelled; sent already; past);
/// 2. waits (a snooze, no attempt used) while the appointment changed and the sync has yet to plan it
///    again, up to 15 minutes past the due time;
/// 3. writes the message, marks the row `sent`, and returns the message's `send` job as a follow-up.
///    A run again after a crash before the settle hands the same message to `send` again; `send`
///    sends a message once.
///
/// A tenant without an SMS sender number, or whose template renders a text that cannot be sent, makes
/// the job dead with the reason: a person has to fix it.
public struct AppointmentReminderHandler: JobKind {
    public let kind = AppointmentReminders.kind

    /// `Jobs/appointment-reminder.json`'s `args`.
    public struct Arguments: Decodable, Sendable {
        public let connection: String
        public let eventID: String
        public let leadMinutes: Int
        public let dueMs: Int64
        enum CodingKeys: String, CodingKey {
            case connection, eventID = "event_id", leadMinutes = "lead_minutes", dueMs = "due_ms"
        }
    }

    let services: JobServices?

    public init(services: JobServices?) { self.services = services }

    public func perform(_ job: Job, arguments: Arguments, context: JobContext) async throws -> JobOutcome {
        guard let services, let pool = services.postgres else {
            return .retry(error: "the appointment-reminder kind needs PostgreSQL: set DATABASE_URL for this worker", delay: .seconds(60))
        }
        var messages = ReminderMessages(pool: pool, clock: context.clock)
        messages.segmentCents = services.segmentCents
        let sending = try await messages.send(
            connection: arguments.connection, eventID: arguments.eventID, leadMinutes: arguments.leadMinutes, dueMs: arguments.dueMs,
            jobID: job.id, tenant: job.tenant)
        switch sending {
        case .queued(let messageID, let from, let segments, let created):
            return .completed(
                result: created ? "reminder \(messageID) queued" : "reminder \(messageID) written earlier, handed to send again",
                followUps: [Self.send(messageID, from: from, segments: segments)])
        case .skipped(let reason):
            return .completed(result: "nothing sent: \(reason)")
        case .wait(let until, let reason):
            return .snooze(until: until, reason: reason)
        case .refused(let reason):
            return .dead(reason: reason)
        }
    }

    /// The `send` follow-up of a reminder's message; it carries this job's tenant.
    static func send(_ messageID: String, from: String, segments: Int) -> FollowUp {
        FollowUp(
            kind: "send",
            args: JSONValue.object([
                "message_id": .string(messageID), "from": .string(from), "segments": .number(Double(segments)),
            ]).text)
    }
}
