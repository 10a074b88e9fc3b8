import SpoolPostgres
import SpoolQueue
import SpoolSupport

/// Plans a connection's appointment reminders from what its appointments are now (`reconcile`), after
/// each sync pass. Each reminder is a row of `appointment_reminders` (one per appointment and lead) and
/// a delayed `appointment-reminder` job for its due time, which sends only if the row still says
/// `scheduled` for that same instant (`ReminderMessages.send`).
///
/// 1. It reads the connection's appointments whose reminders were planned for another version of them
///    (`reminders_etag`, their status and etag then), a batch at a time, by an index that holds only
///    those: after a sync where nothing changed, one indexed query that finds nothing.
/// 2. For each one, confirmed (a tentative event is not agreed yet), timed (not all-day), with a contact
///    phone, starting in the future, on a live connection: each of the tenant's leads is due `lead`
///    before the start, or at 20:00 the evening before when that falls in the recipient's night
///    (`ReminderPlan`). Two leads due at the same instant are one reminder, the shorter lead's.
/// 3. A reminder new, revived or moved gets its job first, enqueued with the key
///    `reminder:<connection>:<event>:<lead>:<due ms>`, then its row (`scheduled`, the new due, the job):
///    a crash between the two enqueues the same key again at the next reconcile, a no-op, rather than
///    losing the job. A due already past is skipped: never sent late. A row already `sent` is never
///    planned again. A row already scheduled for the same instant is left alone (its job may be
///    running right now).
/// 4. Reminders no longer wanted (cancelled, tentative or past appointment, no phone, a lead the tenant
///    dropped, a disconnected connection) have their `scheduled` rows marked `cancelled`; their jobs
///    find that and send nothing, so nothing is taken out of Redis.
/// 5. The appointment's `reminders_etag` becomes its version, unless it changed meanwhile (then the
///    next reconcile plans it again).
///
/// Why not the sync's follow-up jobs: a pass spans many pages, and a pass cut short is resumed by
/// another run of the job, so changes an earlier run saw would be lost with its follow-ups. Planning
/// from state, with idempotent enqueues, is safe whatever crashes when.
///
/// Steps 2 to 5 take the locks in the order every writer of these tables does: tenant, connection,
/// appointment, reminder. A disconnect, or a change of the tenant's leads, that lands while a batch is
/// planned makes the batch planned again.
public struct AppointmentReminders: Sendable {
    let pool: PostgresPool
    let enqueuer: Enqueuer
    let clock: any WallClock

    /// The kind of the jobs that send reminders.
    public static let kind = "appointment-reminder"
    /// The most appointments one batch plans.
    public static let batchSize = 5000
    /// How often a batch is planned again because its connection or tenant changed meanwhile.
    static let maximumReplans = 5

    public init(pool: PostgresPool, enqueuer: Enqueuer, clock: any WallClock = SystemClock()) {
        self.pool = pool
        self.enqueuer = enqueuer
        self.clock = clock
    }

    /// Plans the reminders of every appointment of `connection` that changed since they were last
    /// planned, and reports what it did. An unknown connection has nothing to plan. Throws when
    /// PostgreSQL or Redis fails (what was done stays done, and the next call carries on), and
    /// `EnqueueError` when this deployment cannot enqueue `appointment-reminder` jobs.
    public func reconcile(connection: String) async throws -> ReminderReport {
        var report = ReminderReport()
        var after = ""
        var replans = 0
        while true {
            guard let batch = try await load(connection, after: after) else { return report }
            let now = clock.nowMillis()
            let plans = batch.appointments.map {
                Self.plan($0, existing: batch.reminders[$0.eventID] ?? [:], leads: batch.leads, live: !batch.disconnected, now: now)
            }
            let scheduled = plans.flatMap { plan in plan.schedule.map { (eventID: plan.eventID, reminder: $0) } }
            let requests = scheduled.map {
                Self.job(connection: connection, tenant: batch.tenantID, eventID: $0.eventID, lead: $0.reminder.lead, dueMs: $0.reminder.dueMs)
            }
            var jobIDs: [String] = []
            if !requests.isEmpty {
                for result in try await enqueuer.enqueue(batch: requests) {
                    switch result {
                    case .success(let enqueued): jobIDs.append(enqueued.id)
                    case .failure(let error): throw error
                    }
                }
            }
            guard let written = try await write(connection, batch: batch, plans: plans, jobIDs: jobIDs) else {
                replans += 1
                if replans > Self.maximumReplans {
                    throw CalendarStoreError.superseded(
                        message: "calendar connection \(connection.prefix(64)) kept changing while its reminders were planned; try again")
                }
                continue
            }
            report.add(written)
            guard batch.appointments.count == Self.batchSize, let last = batch.appointments.last else { return report }
            after = last.eventID
        }
    }

    // MARK: - Planning one appointment

    /// Where a reminder row stands (`appointment_reminders.status`).
    enum RowStatus: String, Sendable {
        case scheduled, sent, cancelled
    }

    /// A reminder row as stored.
    struct Row: Sendable, Equatable {
        let dueMs: Int64
        let status: RowStatus
    }

    /// An appointment whose reminders are to be planned, with what they depend on.
    struct Pending: Sendable, Equatable {
        let eventID: String
        /// `status || ' ' || coalesce(etag, '')`: what `reminders_etag` becomes.
        let version: String
        /// `reminders_etag` as read: the write checks nothing replaced it meanwhile.
        let plannedVersion: String?
        let status: AppointmentStatus
        let allDay: Bool
        let contactPhone: String?
        let startsAtMs: Int64?
        let startZone: String?
        let contactZone: String?
    }

    /// A reminder to schedule: a new job and the row's new due.
    struct Scheduled: Sendable, Equatable {
        let lead: Int
        let dueMs: Int64
        /// It was scheduled for another instant (else new, or revived from cancelled).
        let moved: Bool
    }

    /// What to do for one appointment.
    struct Plan: Sendable, Equatable {
        let eventID: String
        let version: String
        var schedule: [Scheduled] = []
        /// Leads whose scheduled rows are cancelled.
        var cancel: [Int] = []
        var skipped = 0
    }

    /// The reminders `appointment` wants at `now`, against its `existing` rows by lead.
    static func plan(_ appointment: Pending, existing: [Int: Row], leads: [Int], live: Bool, now: Int64) -> Plan {
        var plan = Plan(eventID: appointment.eventID, version: appointment.version)
        var wanted: [Int: Int64] = [:]
        if live, appointment.status == .confirmed, !appointment.allDay, let phone = appointment.contactPhone,
            let start = appointment.startsAtMs, start > now
        {
            let zone = ReminderPlan.zone(contactZone: appointment.contactZone, phone: phone, startZone: appointment.startZone)
            var taken = Set<Int64>()
            // Shortest first: of two leads the night rule sends at the same instant, the shorter one stays.
            for lead in Set(leads).sorted() {
                let due = ReminderPlan.due(startsAtMs: start, leadMinutes: lead, zone: zone)
                if taken.insert(due).inserted { wanted[lead] = due }
            }
        }
        for (lead, row) in existing.sorted(by: { $0.key > $1.key }) where row.status == .scheduled && wanted[lead] == nil {
            plan.cancel.append(lead)
        }
        for (lead, due) in wanted.sorted(by: { $0.key > $1.key }) {
            let row = existing[lead]
            if row?.status == .sent { continue }
            if row?.status == .scheduled && row?.dueMs == due { continue }
            guard due > now else {
                plan.skipped += 1
                if row?.status == .scheduled { plan.cancel.append(lead) }
                continue
            }
            plan.schedule.append(Scheduled(lead: lead, dueMs: due, moved: row?.status == .scheduled))
        }
        return plan
    }

    // MARK: - Jobs

    /// The job that sends one reminder at its due time; Spool's own, as the appointment's tenant's.
    static func job(connection: String, tenant: String, eventID: String, lead: Int, dueMs: Int64) -> EnqueueRequest {
        var request = EnqueueRequest(
            kind: kind, args: jobArguments(connection: connection, eventID: eventID, lead: lead, dueMs: dueMs), runAt: dueMs,
            idempotencyKey: idempotencyKey(connection: connection, eventID: eventID, lead: lead, dueMs: dueMs), tenant: tenant)
        request.producer = .spool
        return request
    }

    /// `Jobs/appointment-reminder.json`'s arguments, as JSON text.
    public static func jobArguments(connection: String, eventID: String, lead: Int, dueMs: Int64) -> String {
        JSONValue.object([
            "connection": .string(connection), "event_id": .string(eventID), "lead_minutes": .number(Double(lead)),
            "due_ms": .number(Double(dueMs)),
        ]).text
    }

    /// `reminder:<connection>:<event>:<lead>:<due ms>`; an event id too long for a key's 256 bytes is
    /// given by its SHA-1 instead.
    public static func idempotencyKey(connection: String, eventID: String, lead: Int, dueMs: Int64) -> String {
        let key = "reminder:\(connection):\(eventID):\(lead):\(dueMs)"
        if key.utf8.count <= 256 { return key }
        return "reminder:\(connection):sha1-\(Hashing.sha1Hex(Array(eventID.utf8))):\(lead):\(dueMs)"
    }

    // MARK: - Reading and writing

    /// One batch: the appointments to plan after `after` (by event id), their rows, and their tenant's leads.
    struct Batch: Sendable {
        let tenantID: String
        let disconnected: Bool
        /// The tenant's leads as read, as `array_to_string` gives them: the write checks they still are.
        let leadsText: String
        let leads: [Int]
        let appointments: [Pending]
        /// By event id, then lead.
        let reminders: [String: [Int: Row]]
    }

    /// The next batch, or nil when no appointment after `after` waits to be planned.
    private func load(_ connection: String, after: String) async throws -> Batch? {
        try await pool.withConnection { db -> Batch? in
            let rows = try db.query(
                """
                SELECT a.event_id, a.status || ' ' || coalesce(a.etag, '') AS version, a.reminders_etag, a.status, a.all_day, a.contact_phone,
                       a.start_zone, (extract(epoch FROM a.starts_at) * 1000)::bigint AS starts_at_ms, k.timezone AS contact_timezone
                FROM appointments a LEFT JOIN contacts k ON k.id = a.contact_id
                WHERE a.connection_id = $1 AND a.reminders_etag IS DISTINCT FROM (a.status || ' ' || coalesce(a.etag, '')) AND a.event_id > $2
                ORDER BY a.event_id LIMIT $3
                """, [connection, after, Self.batchSize]
            ).rows
            guard !rows.isEmpty else { return nil }
            let appointments = try rows.map { row in
                Pending(
                    eventID: try row.string("event_id")!, version: try row.string("version")!, plannedVersion: try row.string("reminders_etag"),
                    status: try row.enumeration("status", AppointmentStatus.self)!, allDay: try row.bool("all_day")!,
                    contactPhone: try row.string("contact_phone"), startsAtMs: try row.int("starts_at_ms").map(Int64.init),
                    startZone: try row.string("start_zone"), contactZone: try row.string("contact_timezone"))
            }
            guard
                let owner = try db.query(
                    """
                    SELECT c.tenant_id, c.disconnected_at IS NOT NULL AS disconnected,
                           array_to_string(t.reminder_leads_minutes, ',') AS reminder_leads
                    FROM calendar_connections c JOIN tenants t ON t.id = c.tenant_id WHERE c.id = $1
                    """, [connection]
                ).first
            else { return nil }
            var reminders: [String: [Int: Row]] = [:]
            for row in try db.query(
                """
                SELECT event_id, lead_minutes, (extract(epoch FROM due_at) * 1000)::bigint AS due_ms, status
                FROM appointment_reminders WHERE connection_id = $1 AND event_id = ANY ($2::text[])
                """, [connection, PostgresArray(appointments.map(\.eventID))]
            ).rows {
                let eventID = try row.string("event_id")!
                let lead = try row.int("lead_minutes")!
                reminders[eventID, default: [:]][lead] = Row(
                    dueMs: Int64(try row.int("due_ms")!), status: try row.enumeration("status", RowStatus.self)!)
            }
            let leadsText = try owner.string("reminder_leads") ?? ""
            return Batch(
                tenantID: try owner.string("tenant_id")!, disconnected: try owner.bool("disconnected")!, leadsText: leadsText,
                leads: try ReminderSettingsStore.leads(leadsText), appointments: appointments, reminders: reminders)
        }
    }

    /// Writes a batch's plans, their jobs enqueued already (`jobIDs`, in the order of their
    /// `schedule`s), in one transaction. nil: the connection was disconnected, or the tenant's leads
    /// changed, since the batch was read; nothing was written, and the batch is to be planned again.
    private func write(_ connection: String, batch: Batch, plans: [Plan], jobIDs: [String]) async throws -> ReminderReport? {
        try await pool.transaction { db -> ReminderReport? in
            // Share locks: a change of leads, or a disconnect (which cancels every planned reminder), waits
            // for this batch; one that came first is seen here.
            let leads = try db.query(
                "SELECT array_to_string(reminder_leads_minutes, ',') AS reminder_leads FROM tenants WHERE id = $1 FOR SHARE", [batch.tenantID]
            ).first
            let owner = try db.query(
                "SELECT disconnected_at IS NOT NULL AS disconnected FROM calendar_connections WHERE id = $1 FOR SHARE", [connection]
            ).first
            guard let leads, let owner, try leads.string("reminder_leads") == batch.leadsText,
                try owner.bool("disconnected") == batch.disconnected
            else { return nil }
            // The appointments as they are now, locked: one a sync page changed since it was read (its
            // version, or `reminders_etag` reset by a change of leads) is left for the next reconcile.
            var current: [String: (version: String, planned: String?)] = [:]
            for row in try db.query(
                """
                SELECT event_id, status || ' ' || coalesce(etag, '') AS version, reminders_etag FROM appointments
                WHERE connection_id = $1 AND event_id = ANY ($2::text[]) FOR UPDATE
                """, [connection, PostgresArray(plans.map(\.eventID))]
            ).rows {
                let eventID = try row.string("event_id")!
                current[eventID] = (version: try row.string("version")!, planned: try row.string("reminders_etag"))
            }
            var unchanged = Set<String>()
            for appointment in batch.appointments {
                if let now = current[appointment.eventID], now.version == appointment.version, now.planned == appointment.plannedVersion {
                    unchanged.insert(appointment.eventID)
                }
            }

            var report = ReminderReport()
            var upserts = (events: [String](), leads: [String](), dues: [String](), jobs: [String]())
            var cancels = (events: [String](), leads: [String]())
            var stamps = (events: [String](), versions: [String]())
            var nextJob = 0
            for plan in plans {
                let jobs = jobIDs[nextJob..<nextJob + plan.schedule.count]
                nextJob += plan.schedule.count
                guard unchanged.contains(plan.eventID) else { continue }
                report.appointments += 1
                report.skipped += plan.skipped
                for (reminder, jobID) in zip(plan.schedule, jobs) {
                    upserts.events.append(plan.eventID)
                    upserts.leads.append(String(reminder.lead))
                    upserts.dues.append(String(reminder.dueMs))
                    upserts.jobs.append(jobID)
                    if reminder.moved { report.moved += 1 } else { report.planned += 1 }
                }
                for lead in plan.cancel {
                    cancels.events.append(plan.eventID)
                    cancels.leads.append(String(lead))
                }
                stamps.events.append(plan.eventID)
                stamps.versions.append(plan.version)
            }
            if !upserts.events.isEmpty {
                // A row sent meanwhile (its job ran) stays sent.
                try db.query(
                    """
                    INSERT INTO appointment_reminders AS r (connection_id, event_id, lead_minutes, due_at, job_id, status)
                    SELECT $1::text, t.event_id, t.lead, 'epoch'::timestamptz + t.due_ms * interval '1 millisecond', t.job_id, 'scheduled'
                    FROM unnest($2::text[], $3::integer[], $4::bigint[], $5::text[]) AS t(event_id, lead, due_ms, job_id)
                    ON CONFLICT (connection_id, event_id, lead_minutes) DO UPDATE
                    SET due_at = EXCLUDED.due_at, job_id = EXCLUDED.job_id, status = 'scheduled', message_id = NULL, updated_at = now()
                    WHERE r.status <> 'sent'
                    """,
                    [
                        connection, PostgresArray(upserts.events), PostgresArray(upserts.leads), PostgresArray(upserts.dues),
                        PostgresArray(upserts.jobs),
                    ])
            }
            if !cancels.events.isEmpty {
                report.cancelled =
                    try db.query(
                        """
                        UPDATE appointment_reminders AS r SET status = 'cancelled', updated_at = now()
                        FROM unnest($2::text[], $3::integer[]) AS t(event_id, lead)
                        WHERE r.connection_id = $1 AND r.event_id = t.event_id AND r.lead_minutes = t.lead AND r.status = 'scheduled'
                        """, [connection, PostgresArray(cancels.events), PostgresArray(cancels.leads)]
                    ).affectedRows
            }
            if !stamps.events.isEmpty {
                try db.query(
                    """
                    UPDATE appointments AS a SET reminders_etag = t.version
                    FROM unnest($2::text[], $3::text[]) AS t(event_id, version)
                    WHERE a.connection_id = $1 AND a.event_id = t.event_id
                    """, [connection, PostgresArray(stamps.events), PostgresArray(stamps.versions)])
            }
            return report
        }
    }
}

/// What one `AppointmentReminders.reconcile` did.
public struct ReminderReport: Sendable, Equatable, CustomStringConvertible {
    /// Appointments whose reminders were planned (each changed since they last were).
    public var appointments = 0
    /// Reminders scheduled anew (or again, after being cancelled).
    public var planned = 0
    /// Reminders scheduled for another instant: the event moved.
    public var moved = 0
    /// Scheduled reminders cancelled: the event was cancelled or lost its phone, the lead was dropped...
    public var cancelled = 0
    /// Reminders not scheduled because their time had passed.
    public var skipped = 0

    public init() {}

    mutating func add(_ other: ReminderReport) {
        appointments += other.appointments
        planned += other.planned
        moved += other.moved
        cancelled += other.cancelled
        skipped += other.skipped
    }

    public var json: JSONValue {
        .object([
            "appointments": .number(Double(appointments)), "planned": .number(Double(planned)), "moved": .number(Double(moved)),
            "cancelled": .number(Double(cancelled)), "skipped": .number(Double(skipped)),
        ])
    }

    public var description: String {
        "\(appointments) appointments: \(planned) planned, \(moved) moved, \(cancelled) cancelled, \(skipped) skipped"
    }
}
