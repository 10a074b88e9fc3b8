import SpoolHTTP
import SpoolJobs
import SpoolPostgres
import SpoolQueue
import SpoolSMS
import SpoolStore
import SpoolSupport
import TestSupport
import Testing

/// Appointment reminders against real PostgreSQL and Redis: what `AppointmentReminders.reconcile`
/// plans after a sync (due times, the night rule, past dues, nothing twice, moves, cancellations, a
/// change of leads), and what the `appointment-reminder` job does at its instant (one message and one
/// `send` follow-up, once; nothing for a job a move or a cancellation left behind).
@Suite struct AppointmentReminderTests {
    static let hour: Int64 = 3_600_000
    static let paris = "Europe/Paris"
    static let phone = "+33612345678"

    /// The repository's kinds, with `calendar-sync` as its declaration has it where this checkout has
    /// none yet: connecting a calendar schedules its syncs.
    static let kinds: [JobKindSpec] = {
        let repository = SMSCampaignTests.repositoryKinds
        if repository.contains(where: { $0.kind == "calendar-sync" }) { return repository }
        var sync = JobKindSpec(
            kind: "calendar-sync", queue: "calendar",
            arguments: ArgumentSchema(fields: ["connection": .init(type: .string, required: true, maxLength: 64)]))
        sync.enqueue = .internal
        return repository + [sync]
    }()

    /// A reminder row as stored.
    struct Stored: Sendable, Equatable {
        let dueMs: Int64
        let status: String
    }

    struct World: Sendable {
        let f: APIFixture
        let tenant: String
        let connection: String
        let generation: Int64
        let appointments: AppointmentStore
        let reminders: AppointmentReminders
        let handler: AppointmentReminderHandler
        let context: JobContext

        /// Writes events as a sync page of the connection's pass would.
        func upsert(_ events: AppointmentRecord...) async throws {
            _ = try await appointments.upsert(connection: connection, generation: generation, events: events)
        }

        /// The event's reminder rows, by lead.
        func rows(_ eventID: String) async throws -> [Int: Stored] {
            let rows = try await f.pool.withConnection { db in
                try db.query(
                    """
                    SELECT lead_minutes, (extract(epoch FROM due_at) * 1000)::bigint AS due_ms, status FROM appointment_reminders
                    WHERE connection_id = $1 AND event_id = $2
                    """, [connection, eventID]
                ).rows
            }
            var stored: [Int: Stored] = [:]
            for row in rows {
                stored[try row.int("lead_minutes")!] = Stored(dueMs: Int64(try row.int("due_ms")!), status: try row.string("status")!)
            }
            return stored
        }

        /// The reminder jobs waiting in Redis, soonest first.
        func jobs() async throws -> [JobRecord] {
            let scores = try await f.queue.zsetScores(f.queue.keys.scheduled("default"))
            var records: [JobRecord] = []
            for id in scores.keys {
                if let record = try await f.queue.record(id), record.kind == AppointmentReminders.kind { records.append(record) }
            }
            return records.sorted { ($0.runAt ?? 0, $0.id) < ($1.runAt ?? 0, $1.id) }
        }

        /// The waiting job of `eventID`'s reminder at `lead`, due at `dueMs`.
        func job(_ eventID: String, lead: Int, dueMs: Int64) async throws -> JobRecord {
            let expected = try JSONValue.parse(
                AppointmentReminders.jobArguments(connection: connection, eventID: eventID, lead: lead, dueMs: dueMs))
            let found = try await jobs().first { record in record.args.flatMap { try? JSONValue.parse($0) } == expected }
            return try #require(found, "no job for \(eventID) at lead \(lead) due \(dueMs)")
        }

        /// Runs a reminder job's handler as a worker would.
        func run(_ record: JobRecord) async throws -> JobOutcome {
            let job = Job(
                id: record.id, queue: "default", kind: AppointmentReminders.kind, args: record.args ?? "{}", attempt: 0, maxAttempts: 10,
                enqueuedAt: 0, tenant: record.tenant, leaseToken: "lease")
            return try await handler.perform(job, context: context)
        }

        /// The tenant's messages.
        func messages() async throws -> Int {
            try await f.pool.withConnection { db in
                try db.query("SELECT count(*) AS n FROM messages WHERE tenant_id = $1", [tenant]).first!.int("n")!
            }
        }
    }

    /// A fixture, a calendar connected for tenant A (whose sender is a short code of its own), or for a
    /// tenant without any sender number, with its pass begun, and a contact in Paris.
    static func world(withoutSender: Bool = false) async throws -> World {
        let f = try await APIFixture(kinds: kinds)
        let tenant: String
        if withoutSender { tenant = try await f.tenants.create(name: "No Numbers").id } else { tenant = f.a.id }
        let connections = CalendarConnectionStore(pool: f.pool, enqueuer: f.queue.enqueuer)
        let connection = try await connections.create(tenant: tenant, calendarID: "primary") { "sealed-for-\($0)" }
        let generation = try await connections.beginSync(connection).generation
        _ = try await f.pool.withConnection { db in
            try db.query(
                "INSERT INTO contacts (tenant_id, phone, first_name, timezone) VALUES ($1, $2, 'Ann', $3)", [tenant, phone, paris])
        }
        var services = JobServices(postgres: f.pool, http: HTTPClient(name: "reminders"), twilio: nil)
        services.enqueuer = f.queue.enqueuer
        return World(
            f: f, tenant: tenant, connection: connection, generation: generation, appointments: AppointmentStore(pool: f.pool),
            reminders: AppointmentReminders(pool: f.pool, enqueuer: f.queue.enqueuer), handler: AppointmentReminderHandler(services: services),
            context: JobContext(redis: f.queue.redis, keys: f.queue.keys, clock: SystemClock(), logger: TestEnvironment.logger))
    }

    static func event(
        _ id: String, etag: String, startsAtMs: Int64, status: AppointmentStatus = .confirmed, phone: String? = AppointmentReminderTests.phone
    ) -> AppointmentRecord {
        AppointmentRecord(
            eventID: id, etag: etag, summary: "Check-up", startsAtMs: startsAtMs, endsAtMs: startsAtMs + hour / 2, startZone: paris,
            endZone: paris, status: status, contactPhone: phone)
    }

    /// The instant `days` days from today at `hour`:`minute` on the clocks of `zone`.
    static func local(days: Int, hour: Int, minute: Int = 0, zone: String = paris) -> Int64 {
        let info = ZoneInfo.named(zone)!
        let now = SystemClock().nowMillis()
        let today = CivilTime(unixMillis: now + Int64(info.offset(at: now / 1000)) * 1000)
        let day = Int64(CivilTime.daysFromCivil(year: today.year, month: today.month, day: today.day) + days)
        let wall = day * 86_400_000 + Int64(hour * 3600 + minute * 60) * 1000
        let guess = wall - Int64(info.offset(at: wall / 1000)) * 1000
        return wall - Int64(info.offset(at: guess / 1000)) * 1000
    }

    /// The follow-ups of a completed outcome; records an issue for any other outcome.
    static func followUps(_ outcome: JobOutcome) -> [FollowUp] {
        guard case .completed(_, let followUps) = outcome else {
            Issue.record("expected a completion, got \(outcome)")
            return []
        }
        return followUps
    }

    static func result(_ outcome: JobOutcome) -> String {
        guard case .completed(let result, _) = outcome else { return "\(outcome)" }
        return result ?? ""
    }

    // MARK: - Planning

    @Test func remindersAreDueTheirLeadBeforeTheStartOnceEach() async throws {
        let w = try await Self.world()
        let start = Self.local(days: 3, hour: 15)
        try await w.upsert(Self.event("e1", etag: "1", startsAtMs: start))
        let report = try await w.reminders.reconcile(connection: w.connection)
        #expect(report.appointments == 1 && report.planned == 2 && report.moved == 0 && report.cancelled == 0 && report.skipped == 0, "\(report)")
        let day = 24 * Self.hour
        #expect(
            try await w.rows("e1") == [
                1440: Stored(dueMs: start - day, status: "scheduled"), 120: Stored(dueMs: start - 2 * Self.hour, status: "scheduled"),
            ])
        // One delayed job each, Spool's own as the tenant's, for its due time, under its key.
        let jobs = try await w.jobs()
        #expect(jobs.map(\.runAt) == [start - day, start - 2 * Self.hour])
        #expect(jobs.allSatisfy { $0.tenant == w.tenant && $0.state == .scheduled })
        let key = AppointmentReminders.idempotencyKey(connection: w.connection, eventID: "e1", lead: 120, dueMs: start - 2 * Self.hour)
        #expect(key == "reminder:\(w.connection):e1:120:\(start - 2 * Self.hour)")
        #expect(jobs.last?.idempotencyKey == key)

        // Nothing changed: nothing planned, nothing enqueued.
        #expect(try await w.reminders.reconcile(connection: w.connection) == ReminderReport())
        // The same page again (a pass resumed after a crash) is no change either.
        try await w.upsert(Self.event("e1", etag: "1", startsAtMs: start))
        #expect(try await w.reminders.reconcile(connection: w.connection) == ReminderReport())
        #expect(try await w.jobs().count == 2)
    }

    @Test func aReminderDueAtNightGoesAtEightInTheEveningBefore() async throws {
        let w = try await Self.world()
        // 06:30 in Paris: the 2 h reminder would be at 04:30, the 24 h one at 06:30 the day before (05:30
        // or 07:30 across a clock change, still night).
        let start = Self.local(days: 3, hour: 6, minute: 30)
        try await w.upsert(Self.event("early", etag: "1", startsAtMs: start))
        #expect(try await w.reminders.reconcile(connection: w.connection).planned == 2)
        #expect(
            try await w.rows("early") == [
                120: Stored(dueMs: Self.local(days: 2, hour: 20), status: "scheduled"),
                1440: Stored(dueMs: Self.local(days: 1, hour: 20), status: "scheduled"),
            ])
        #expect(try await w.jobs().map(\.runAt) == [Self.local(days: 1, hour: 20), Self.local(days: 2, hour: 20)])
    }

    @Test func aReminderWhoseTimeHasPassedIsSkipped() async throws {
        let w = try await Self.world()
        // In 90 minutes: both the 24 h and the 2 h reminders are past.
        try await w.upsert(Self.event("soon", etag: "1", startsAtMs: SystemClock().nowMillis() + 90 * 60_000))
        // Already begun: nothing at all.
        try await w.upsert(Self.event("begun", etag: "1", startsAtMs: SystemClock().nowMillis() - Self.hour))
        let report = try await w.reminders.reconcile(connection: w.connection)
        #expect(report.appointments == 2 && report.planned == 0 && report.skipped == 2, "\(report)")
        #expect(try await w.rows("soon").isEmpty)
        #expect(try await w.rows("begun").isEmpty)
        #expect(try await w.jobs().isEmpty)
    }

    @Test func aMovedEventMovesItsRemindersAndItsOldJobsSendNothing() async throws {
        let w = try await Self.world()
        let start = Self.local(days: 3, hour: 15)
        try await w.upsert(Self.event("e1", etag: "1", startsAtMs: start))
        _ = try await w.reminders.reconcile(connection: w.connection)
        let old = try await w.job("e1", lead: 120, dueMs: start - 2 * Self.hour)

        let later = start + 24 * Self.hour
        try await w.upsert(Self.event("e1", etag: "2", startsAtMs: later))
        // Until the sync plans it again, the old job waits rather than send for the old time.
        guard case .snooze = try await w.run(old) else {
            Issue.record("a reminder of a changed appointment did not wait for it to be planned again")
            return
        }
        let report = try await w.reminders.reconcile(connection: w.connection)
        #expect(report.moved == 2 && report.planned == 0 && report.cancelled == 0, "\(report)")
        #expect(
            try await w.rows("e1") == [
                1440: Stored(dueMs: later - 24 * Self.hour, status: "scheduled"),
                120: Stored(dueMs: later - 2 * Self.hour, status: "scheduled"),
            ])
        // A new job for each new time; the old ones stay in Redis and send nothing.
        #expect(try await w.jobs().count == 4)
        let outcome = try await w.run(old)
        #expect(Self.followUps(outcome).isEmpty && Self.result(outcome).contains("moved"), "\(outcome)")
        #expect(try await w.messages() == 0)
        // The new time's job sends.
        let moved = try await w.job("e1", lead: 120, dueMs: later - 2 * Self.hour)
        #expect(Self.followUps(try await w.run(moved)).count == 1)
        #expect(try await w.messages() == 1)
    }

    @Test func aCancelledEventCancelsItsRemindersAndTheirJobsSendNothing() async throws {
        let w = try await Self.world()
        let start = Self.local(days: 3, hour: 15)
        try await w.upsert(Self.event("e1", etag: "1", startsAtMs: start))
        _ = try await w.reminders.reconcile(connection: w.connection)
        let jobs = try await w.jobs()
        #expect(jobs.count == 2)

        try await w.upsert(Self.event("e1", etag: "2", startsAtMs: start, status: .cancelled))
        let report = try await w.reminders.reconcile(connection: w.connection)
        #expect(report.cancelled == 2 && report.planned == 0 && report.moved == 0, "\(report)")
        #expect(try await w.rows("e1").values.allSatisfy { $0.status == "cancelled" })
        for job in jobs {
            let outcome = try await w.run(job)
            #expect(Self.followUps(outcome).isEmpty && Self.result(outcome).contains("cancelled"), "\(outcome)")
        }
        #expect(try await w.messages() == 0)
        #expect(try await w.jobs().count == 2)

        // Restored at the provider: planned again, and the waiting jobs (the same instants) send.
        try await w.upsert(Self.event("e1", etag: "3", startsAtMs: start))
        let restored = try await w.reminders.reconcile(connection: w.connection)
        #expect(restored.planned == 2, "\(restored)")
        #expect(try await w.jobs().count == 2)
        #expect(try await w.rows("e1").values.allSatisfy { $0.status == "scheduled" })
    }

    @Test func aFullSyncsSweepCancelsRemindersToo() async throws {
        let w = try await Self.world()
        let start = Self.local(days: 3, hour: 15)
        try await w.upsert(Self.event("gone", etag: "1", startsAtMs: start))
        _ = try await w.reminders.reconcile(connection: w.connection)
        // The full pass never saw it: cancelled with the same etag.
        let connections = CalendarConnectionStore(pool: w.f.pool, enqueuer: w.f.queue.enqueuer)
        try await connections.finishSync(w.connection, nextSyncToken: "t1", generation: w.generation, fullSync: true)
        try await connections.resetForFullSync(w.connection)
        let pass = try await connections.beginSync(w.connection)
        #expect(pass.isFullSync)
        try await connections.finishSync(w.connection, nextSyncToken: "t2", generation: pass.generation, fullSync: true)
        #expect(try await w.appointments.find(connection: w.connection, eventID: "gone")?.status == .cancelled)
        let report = try await w.reminders.reconcile(connection: w.connection)
        #expect(report.cancelled == 2, "\(report)")
    }

    // MARK: - Sending

    @Test func aDueReminderBecomesOneMessageAndOneSendFollowUpOnce() async throws {
        let w = try await Self.world()
        let start = Self.local(days: 3, hour: 15)
        try await w.upsert(Self.event("e1", etag: "1", startsAtMs: start))
        _ = try await w.reminders.reconcile(connection: w.connection)
        let job = try await w.job("e1", lead: 120, dueMs: start - 2 * Self.hour)

        let first = try await w.run(job)
        let followUps = Self.followUps(first)
        #expect(followUps.count == 1 && followUps.first?.kind == "send", "\(first)")
        let args = try JSONValue.parse(try #require(followUps.first).args)
        let messageID = try #require(args["message_id"]?.stringValue)
        #expect(args["from"] == .string(w.f.a.sender) && args["segments"] == .number(1))

        let row = try #require(
            try await w.f.pool.withConnection { db in
                try db.query("SELECT to_phone, from_sender, body, purpose, status, contact_id FROM messages WHERE id = $1", [messageID]).first
            })
        let local = CivilTime(unixMillis: start + Int64(ZoneInfo.named(Self.paris)!.offset(at: start / 1000)) * 1000)
        let weekdays = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
        let months = [
            "January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December",
        ]
        let date = "\(weekdays[local.weekday]), \(months[local.month - 1]) \(local.day)"
        #expect(try row.string("body") == "Reminder from Tenant A: Check-up on \(date) at 15:00.")
        #expect(try row.string("to_phone") == Self.phone)
        #expect(try row.string("from_sender") == w.f.a.sender)
        #expect(try row.string("purpose") == "transactional")
        #expect(try row.string("status") == "queued")
        #expect(try row.int("contact_id") != nil)
        #expect(try await w.rows("e1")[120]?.status == "sent")

        // The same job again (its worker died before the settle): the same message, handed to send again.
        let again = try await w.run(job)
        #expect(Self.followUps(again) == followUps, "\(again)")
        #expect(try await w.messages() == 1)
        // Another job for the same reminder (a key that expired): nothing.
        let duplicate = JobRecord.copy(job, id: "another-\(job.id)")
        let other = try await w.run(duplicate)
        #expect(Self.followUps(other).isEmpty && Self.result(other).contains("sent already"), "\(other)")
        #expect(try await w.messages() == 1)
        // A sent reminder is never planned again, even when the event moves.
        try await w.upsert(Self.event("e1", etag: "2", startsAtMs: start + Self.hour))
        let report = try await w.reminders.reconcile(connection: w.connection)
        #expect(report.moved == 1 && report.planned == 0, "\(report)")
        #expect(try await w.rows("e1")[120]?.status == "sent")
    }

    @Test func aTenantWithoutASenderNumberMakesTheJobDead() async throws {
        let w = try await Self.world(withoutSender: true)
        let start = Self.local(days: 3, hour: 15)
        try await w.upsert(Self.event("e1", etag: "1", startsAtMs: start))
        _ = try await w.reminders.reconcile(connection: w.connection)
        let outcome = try await w.run(try await w.job("e1", lead: 120, dueMs: start - 2 * Self.hour))
        guard case .dead(let reason) = outcome else {
            Issue.record("expected dead, got \(outcome)")
            return
        }
        #expect(reason.contains("no SMS sender number"), "\(reason)")
        #expect(try await w.messages() == 0)
    }

    // MARK: - Settings

    @Test func aTenantsLeadsTemplateAndSenderAreCheckedAndNewLeadsArePlanned() async throws {
        let w = try await Self.world()
        let settings = ReminderSettingsStore(pool: w.f.pool)
        let defaults = try #require(try await settings.settings(tenant: w.tenant))
        #expect(defaults.leadsMinutes == [1440, 120] && defaults.template == ReminderTemplate.defaultText && defaults.from == nil)

        let start = Self.local(days: 3, hour: 15)
        try await w.upsert(Self.event("e1", etag: "1", startsAtMs: start))
        _ = try await w.reminders.reconcile(connection: w.connection)

        // Refusals name the field and change nothing.
        func field(_ change: () async throws -> ReminderSettings) async -> String? {
            do {
                _ = try await change()
                return nil
            } catch CalendarStoreError.invalid(let field, _) {
                return field
            } catch {
                return "\(error)"
            }
        }
        #expect(await field { try await settings.update(tenant: w.tenant, leadsMinutes: [0]) } == "reminder_leads_minutes")
        #expect(await field { try await settings.update(tenant: w.tenant, leadsMinutes: [60, 60]) } == "reminder_leads_minutes")
        #expect(await field { try await settings.update(tenant: w.tenant, leadsMinutes: Array(1...6)) } == "reminder_leads_minutes")
        #expect(await field { try await settings.update(tenant: w.tenant, template: "Hi {{name}}") } == "reminder_template")
        #expect(await field { try await settings.update(tenant: w.tenant, from: .number(w.f.b.sender)) } == "reminder_from")
        #expect(await field { try await settings.update(tenant: w.tenant, from: .number("whatsapp:+15005550006")) } == "reminder_from")
        #expect(await field { try await settings.update(tenant: "tn_nosuchtenant", leadsMinutes: [60]) } == "tenant")
        #expect(try await settings.settings(tenant: w.tenant) == defaults)

        let updated = try await settings.update(
            tenant: w.tenant, leadsMinutes: [60, 2880], template: "{{first_name}}, see you {{date}} at {{time}}", from: .number(w.f.a.sender))
        #expect(updated.leadsMinutes == [2880, 60] && updated.from == w.f.a.sender)
        // The next reconcile drops the old leads and plans the new ones.
        let report = try await w.reminders.reconcile(connection: w.connection)
        #expect(report.planned == 2 && report.cancelled == 2, "\(report)")
        let rows = try await w.rows("e1")
        #expect(rows[1440]?.status == "cancelled" && rows[120]?.status == "cancelled")
        #expect(rows[2880] == Stored(dueMs: start - 48 * Self.hour, status: "scheduled"))
        #expect(rows[60] == Stored(dueMs: start - Self.hour, status: "scheduled"))
        #expect(try await settings.update(tenant: w.tenant, from: .firstNumber).from == nil)
    }

    // MARK: - The rules

    @Test func theNightRuleMovesToEightTheEveningBeforeAcrossAClockChange() throws {
        let paris = ZoneInfo.named(Self.paris)!
        func at(_ text: String) throws -> Int64 { try CivilTime.unixMillis(iso8601: text) }
        func due(_ start: String, _ lead: Int) throws -> Int64 { ReminderPlan.due(startsAtMs: try at(start), leadMinutes: lead, zone: paris) }
        #expect(try due("2026-03-10T15:00:00+01:00", 120) == at("2026-03-10T13:00:00+01:00"))
        #expect(try due("2026-03-10T10:00:00+01:00", 120) == at("2026-03-10T08:00:00+01:00"))
        #expect(try due("2026-03-10T07:30:00+01:00", 120) == at("2026-03-09T20:00:00+01:00"))
        #expect(try due("2026-03-10T07:30:00+01:00", 1440) == at("2026-03-08T20:00:00+01:00"))
        #expect(try due("2026-03-10T22:30:00+01:00", 60) == at("2026-03-10T20:00:00+01:00"))
        #expect(try due("2026-03-10T23:00:00+01:00", 120) == at("2026-03-10T20:00:00+01:00"))
        // Paris springs forward in the night of 28 to 29 March 2026: the evening before is still +01:00.
        #expect(try due("2026-03-29T07:30:00+02:00", 120) == at("2026-03-28T20:00:00+01:00"))

        // The recipient's zone: the contact's, else the number's, else the appointment's.
        #expect(ReminderPlan.zone(contactZone: "Asia/Tokyo", phone: Self.phone, startZone: Self.paris).name == "Asia/Tokyo")
        #expect(ReminderPlan.zone(contactZone: nil, phone: "+14155550123", startZone: Self.paris).name == "America/Los_Angeles")
        #expect(ReminderPlan.zone(contactZone: "Mars/Olympus_Mons", phone: Self.phone, startZone: nil).name == "Europe/Paris")
        #expect(ReminderPlan.zone(contactZone: nil, phone: "+80012345678", startZone: "Asia/Kolkata").name == "Asia/Kolkata")
    }

    @Test func aTemplateNamesOnlyReminderVariables() {
        #expect(ReminderTemplate.problem(ReminderTemplate.defaultText) == nil)
        #expect(ReminderTemplate.problem("Hi {{first_name}}, {{summary}} with {{business_name}} on {{date}} at {{time}}") == nil)
        #expect(ReminderTemplate.problem("Hi {{name}}")?.contains("{{name}} is not a reminder variable") == true)
        #expect(ReminderTemplate.problem("Hi {{first_name") != nil)
        #expect(ReminderTemplate.problem("") != nil)
        #expect(ReminderTemplate.problem(String(repeating: "a", count: ReminderTemplate.maximumCharacters + 1)) != nil)
    }
}

extension JobRecord {
    /// The same job under another id, as a second job for the same reminder would be.
    static func copy(_ record: JobRecord, id: String) -> JobRecord {
        var copy = record
        copy.id = id
        return copy
    }
}
