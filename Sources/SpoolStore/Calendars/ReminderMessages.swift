import SpoolPostgres
import SpoolQueue
import SpoolSMS
import SpoolSupport

/// What `ReminderMessages.send` did for one reminder job.
public enum ReminderSending: Sendable, Equatable {
    /// The reminder's message is queued: hand it to `send`. `created` is false when this same job wrote
    /// it on an earlier run that died before its completion landed.
    case queued(messageID: String, from: String, segments: Int, created: Bool)
    /// Nothing is sent, now or later, and why: cancelled, moved, sent already, the appointment past ...
    case skipped(reason: String)
    /// The appointment changed since its reminders were planned, and the next sync plans them again:
    /// ask again at `untilMs`.
    case wait(untilMs: Int64, reason: String)
    /// It cannot go until a person fixes something: no sender number, a text that cannot be sent.
    case refused(reason: String)
}

/// The `appointment-reminder` job's work: turns one due reminder into a transactional message, once.
///
/// In one transaction, the reminder's row is locked, and a message is written only if the row still
/// says `scheduled` for the job's instant, the appointment is still confirmed, timed, with a contact
/// phone, ahead, and planned for as it is now, and the connection is live. The row then says `sent`,
/// with the message and this job, so a reminder goes out at most once, however many jobs a move left
/// behind. The message is written as a one-off message is (`OneOffMessages`): purpose
/// `transactional`, so `send`'s gates for opt-outs, pauses and the budget apply, and quiet hours do
/// not (the night rule already chose its time). It goes from the tenant's `reminder_from`, else its
/// first SMS sender number by creation, with the tenant's template rendered in the recipient's zone.
///
/// An appointment changed but not yet planned again (a sync pass still running, or cut short and
/// resumed by the next sync) makes the job wait, for up to `staleGraceMs` past its due time, for the
/// reconcile that follows the pass: it either moves the reminder (this job then finds another instant
/// and sends nothing) or keeps it (this job sends). Locks are taken in the order every writer of these
/// tables takes them: connection, appointment, reminder.
public struct ReminderMessages: Sendable {
    let pool: PostgresPool
    let clock: any WallClock
    /// What one segment costs, in cents (SPOOL_SMS_SEGMENT_CENTS), as for one-off messages.
    public var segmentCents = 1
    /// How long past its due time a reminder waits for its changed appointment to be planned again.
    public static let staleGraceMs: Int64 = 15 * 60_000
    /// How often it looks again meanwhile.
    public static let staleRetryMs: Int64 = 30_000

    public init(pool: PostgresPool, clock: any WallClock = SystemClock()) {
        self.pool = pool
        self.clock = clock
    }

    /// Sends the reminder of `eventID` on `connection` `leadMinutes` before its start, planned for
    /// `dueMs`, as job `jobID` of `tenant` (the job's tenant, which must be the connection's).
    public func send(
        connection: String, eventID: String, leadMinutes: Int, dueMs: Int64, jobID: String, tenant: String?
    ) async throws -> ReminderSending {
        guard !connection.utf8.contains(0), !eventID.utf8.contains(0) else {
            return .refused(reason: "the job's connection or event id contains a NUL byte")
        }
        let now = clock.nowMillis()
        let newID = "msg_" + JobID.make(now: now).lowercased()
        let cents = segmentCents
        let what = "reminder \(leadMinutes) min before \(eventID.prefix(80)) on \(connection.prefix(64))"
        return try await pool.transaction { db -> ReminderSending in
            guard
                let owner = try db.query(
                    "SELECT tenant_id, disconnected_at IS NOT NULL AS disconnected FROM calendar_connections WHERE id = $1 FOR SHARE",
                    [connection]
                ).first
            else { return .skipped(reason: "\(what): no such calendar connection") }
            let tenantID = try owner.string("tenant_id")!
            // Spool writes these jobs (an internal kind): one that names another tenant's calendar was
            // forged or corrupted, and sends nothing.
            guard tenant == tenantID else { return .refused(reason: "\(what): the connection does not belong to this job's tenant") }
            if try owner.bool("disconnected") == true { return .skipped(reason: "\(what): the calendar was disconnected") }

            guard
                let appointment = try db.query(
                    """
                    SELECT a.status, a.all_day, a.contact_phone, a.contact_id, a.summary, a.start_zone,
                           (extract(epoch FROM a.starts_at) * 1000)::bigint AS starts_at_ms,
                           a.reminders_etag IS DISTINCT FROM (a.status || ' ' || coalesce(a.etag, '')) AS stale,
                           k.first_name, k.timezone AS contact_timezone
                    FROM appointments a LEFT JOIN contacts k ON k.id = a.contact_id
                    WHERE a.connection_id = $1 AND a.event_id = $2 FOR SHARE OF a
                    """, [connection, eventID]
                ).first
            else { return .skipped(reason: "\(what): no such appointment") }
            guard
                let reminder = try db.query(
                    """
                    SELECT status, (extract(epoch FROM due_at) * 1000)::bigint AS due_ms, job_id, message_id FROM appointment_reminders
                    WHERE connection_id = $1 AND event_id = $2 AND lead_minutes = $3 FOR UPDATE
                    """, [connection, eventID, leadMinutes]
                ).first
            else { return .skipped(reason: "\(what): not planned") }

            switch try reminder.enumeration("status", AppointmentReminders.RowStatus.self)! {
            case .sent:
                let sentAs = try reminder.string("message_id")
                // This job wrote it and died before its completion landed: the same message goes to `send` again.
                if try reminder.string("job_id") == jobID, let messageID = sentAs,
                    let message = try db.query("SELECT status, from_sender, segments FROM messages WHERE id = $1", [messageID]).first,
                    try message.string("status") == MessageStatus.queued.rawValue
                {
                    return .queued(
                        messageID: messageID, from: try message.string("from_sender")!, segments: try message.int("segments")!, created: false)
                }
                return .skipped(reason: "\(what): sent already" + (sentAs.map { " as \($0)" } ?? ""))
            case .cancelled:
                return .skipped(reason: "\(what): cancelled")
            case .scheduled:
                break
            }
            let plannedMs = Int64(try reminder.int("due_ms")!)
            guard plannedMs == dueMs else {
                return .skipped(reason: "\(what): moved to \(CivilTime(unixMillis: plannedMs).rfc3339); its own job sends it")
            }
            let status = try appointment.enumeration("status", AppointmentStatus.self)!
            guard status == .confirmed else { return .skipped(reason: "\(what): the appointment is \(status.rawValue)") }
            guard try appointment.bool("all_day") == false, let phone = try appointment.string("contact_phone") else {
                return .skipped(reason: "\(what): the appointment has no contact phone, or no time")
            }
            guard let startsAtMs = try appointment.int("starts_at_ms").map(Int64.init), startsAtMs > now else {
                return .skipped(reason: "\(what): the appointment has begun")
            }
            if try appointment.bool("stale") == true {
                guard now < dueMs + Self.staleGraceMs else {
                    return .skipped(reason: "\(what): the appointment changed and was not planned again within 15 minutes of the due time")
                }
                return .wait(
                    untilMs: now + Self.staleRetryMs, reason: "the appointment changed; waiting for the next sync to plan its reminders again")
            }

            let settings = try db.query("SELECT name, reminder_template, reminder_from FROM tenants WHERE id = $1", [tenantID]).first!
            // Share-locked until the message is written, so the number cannot be removed in between.
            guard
                let sender = try db.query(
                    """
                    SELECT number FROM sender_numbers WHERE tenant_id = $1 AND number NOT LIKE 'whatsapp:%'
                    ORDER BY number IS NOT DISTINCT FROM $2::text DESC, created_at, id LIMIT 1 FOR SHARE
                    """, [tenantID, try settings.string("reminder_from")]
                ).first?.string("number")
            else {
                return .refused(
                    reason: "tenant \(tenantID) has no SMS sender number to send appointment reminders from; \(SenderNumbers.howToAdd)")
            }
            let zone = ReminderPlan.zone(
                contactZone: try appointment.string("contact_timezone"), phone: phone, startZone: try appointment.string("start_zone"))
            let body = ReminderTemplate.render(
                try settings.string("reminder_template") ?? ReminderTemplate.defaultText,
                ReminderTemplate.Values(
                    firstName: try appointment.string("first_name"), summary: try appointment.string("summary"), startsAtMs: startsAtMs,
                    zone: zone, businessName: try settings.string("name") ?? ""))
            let checked: OneOffMessages.Checked
            do {
                checked = try OneOffMessages.check(OneOffMessage(to: phone, from: sender, body: body, purpose: .transactional))
            } catch let error as OneOffMessageError {
                return .refused(reason: "\(what): the reminder_template gives a text that cannot be sent: \(error.description)")
            }

            try db.query(
                """
                INSERT INTO messages (id, tenant_id, contact_id, to_phone, from_sender, body, segments, encoding, cost_cents, purpose)
                VALUES ($1, $2, coalesce($3::bigint, (SELECT c.id FROM contacts c WHERE c.tenant_id = $2 AND c.phone = $4)), $4, $5, $6, $7,
                        $8, $9, 'transactional')
                """,
                [
                    newID, tenantID, try appointment.int("contact_id"), checked.to, checked.from, checked.body, checked.encoding.segments,
                    checked.encoding.scheme.rawValue, checked.encoding.segments * cents,
                ])
            try db.query(
                "INSERT INTO events (tenant_id, message_id, job_id, kind, payload) VALUES ($1, $2, $3, 'appointment.reminder', $4::jsonb)",
                [
                    tenantID, newID, jobID,
                    JSONValue.object([
                        "connection_id": .string(connection), "event_id": .string(eventID), "lead_minutes": .number(Double(leadMinutes)),
                        "due_at": .string(CivilTime(unixMillis: dueMs).rfc3339),
                    ]).text,
                ])
            try db.query(
                """
                UPDATE appointment_reminders SET status = 'sent', message_id = $4, job_id = $5, updated_at = now()
                WHERE connection_id = $1 AND event_id = $2 AND lead_minutes = $3
                """, [connection, eventID, leadMinutes, newID, jobID])
            return .queued(messageID: newID, from: checked.from, segments: checked.encoding.segments, created: true)
        }
    }
}
