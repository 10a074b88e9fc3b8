import SpoolPostgres
import SpoolQueue
import SpoolSupport
import TestSupport
import Testing

@testable import SpoolStore

/// Calendar connections and appointments against real PostgreSQL: connecting (with the sync schedule),
/// tenants kept apart, the sync pass's state (resume, supersede, full-sync sweep), idempotent upserts
/// and the changes they report, the token methods, and disconnecting.
@Suite struct CalendarStoreTests {
    /// `calendar-sync` as its declaration has it: Spool's own, one per connection at a time.
    static let calendarSync: JobKindSpec = {
        var spec = JobKindSpec(
            kind: "calendar-sync", queue: "calendar",
            arguments: ArgumentSchema(fields: ["connection": .init(type: .string, required: true, maxLength: 64)]))
        spec.enqueue = .internal
        spec.unique = UniqueSpec(key: try! LimitKeyTemplate("{connection}", arguments: spec.arguments), scope: .pendingOrRunning)
        return spec
    }()

    /// One database for the suite, migrated once; tests stay apart by tenant.
    static let database = Task<PostgresPool, any Error> {
        let pool = PostgresPool(url: try TestPostgres.freshDatabase(), logger: TestEnvironment.logger)
        _ = try await Migrator(pool: pool).migrate()
        return pool
    }

    struct World: Sendable {
        let pool: PostgresPool
        let queue: QueueFixture
        let store: CalendarConnectionStore
        let appointments: AppointmentStore
        let a: String
        let b: String

        func connect(_ tenant: String, _ calendar: String = "primary") async throws -> String {
            try await store.create(tenant: tenant, calendarID: calendar) { "sealed-for-\($0)" }
        }

        func connection(_ id: String) async throws -> CalendarConnection { try #require(try await store.get(id, tenant: nil)) }

        func schedule(_ id: String) async throws -> Schedule? {
            try await ScheduleStore(pool: pool, enqueuer: queue.enqueuer).find(id, tenantID: nil)
        }

        func events(_ kind: String, connection: String) async throws -> Int {
            try await pool.withConnection { db in
                try db.query("SELECT count(*) AS n FROM events WHERE kind = $1 AND payload ->> 'connection_id' = $2", [kind, connection])
                    .first!.int("n")!
            }
        }

        /// A contact of `tenant`; returns its id.
        func contact(_ tenant: String, phone: String, custom: String = "{}") async throws -> Int64 {
            try await pool.withConnection { db in
                Int64(
                    try db.query(
                        "INSERT INTO contacts (tenant_id, phone, custom) VALUES ($1, $2, $3::jsonb) RETURNING id", [tenant, phone, custom]
                    ).first!.int("id")!)
            }
        }
    }

    static func world() async throws -> World {
        let pool = try await database.value
        let queue = try QueueFixture(kinds: [QueueFixture.noop, calendarSync])
        let tenants = TenantStore(pool: pool, admin: queue.admin)
        let a = try await tenants.create(name: "Clinic A", timezone: "Europe/Paris").id
        let b = try await tenants.create(name: "Clinic B").id
        return World(
            pool: pool, queue: queue, store: CalendarConnectionStore(pool: pool, enqueuer: queue.enqueuer),
            appointments: AppointmentStore(pool: pool),
            a: a, b: b)
    }

    /// The store's refusal, or nil when `body` succeeded or failed otherwise.
    static func refusal<T>(_ body: () async throws -> T) async -> CalendarStoreError? {
        do {
            _ = try await body()
            return nil
        } catch let error as CalendarStoreError {
            return error
        } catch {
            return nil
        }
    }

    static let hour: Int64 = 3_600_000
    static func event(
        _ id: String, etag: String, startsAtMs: Int64, summary: String = "Check-up", status: AppointmentStatus = .confirmed,
        phone: String? = nil, emails: [String] = []
    ) -> AppointmentRecord {
        AppointmentRecord(
            eventID: id, etag: etag, summary: summary, startsAtMs: startsAtMs, endsAtMs: startsAtMs + hour / 2, startZone: "Europe/Paris",
            endZone: "Europe/Paris", status: status, contactPhone: phone, attendeeEmails: emails)
    }

    @Test func aConnectionIsMadeWithItsSyncScheduleOncePerTenantAndCalendar() async throws {
        let w = try await Self.world()
        let id = try await w.connect(w.a)
        #expect(id.hasPrefix("cal_"))
        let connection = try await w.connection(id)
        #expect(connection.tenantID == w.a && connection.calendarID == "primary" && connection.provider == .google)
        #expect(connection.status == .ok && connection.appointments == 0 && connection.lastSyncedAtMs == nil && connection.lastError == nil)
        #expect(connection.json["status"] == .string("ok") && connection.json["appointments"] == .number(0))
        #expect(connection.json["refresh_token"] == nil)
        #expect(try await w.store.sealedRefreshToken(connection: id) == "sealed-for-\(id)")
        #expect(try await w.events("calendar.connected", connection: id) == 1)

        // The builtin schedule: Spool's own, as the tenant's, every 5 minutes, syncing this connection.
        let scheduleID = try #require(connection.scheduleID)
        let schedule = try #require(try await w.schedule(scheduleID))
        #expect(schedule.kind == "calendar-sync" && schedule.source == .builtin && schedule.producer == .spool)
        #expect(schedule.tenantID == w.a && schedule.everyMs == 300_000 && !schedule.paused)
        #expect(try JSONValue.parse(schedule.args) == .object(["connection": .string(id)]))

        // Once per tenant and calendar; another tenant, or another calendar, is another connection.
        guard case .duplicate(let message)? = await Self.refusal({ try await w.connect(w.a) }) else {
            Issue.record("a second connection of the same calendar was accepted")
            return
        }
        #expect(message.contains("primary") && message.contains(id), "\(message)")
        let other = try await w.connect(w.b)
        #expect(other != id)

        // A tenant's own sync interval.
        _ = try await w.pool.withConnection { try $0.query("UPDATE tenants SET calendar_sync_every_seconds = 900 WHERE id = $1", [w.b]) }
        let team = try await w.connect(w.b, "team@group.calendar.google.com")
        let teamScheduleID = try #require(try await w.connection(team).scheduleID)
        let teamSchedule = try #require(try await w.schedule(teamScheduleID))
        #expect(teamSchedule.everyMs == 900_000)

        // Refusals name the field.
        guard case .invalid(let field, _)? = await Self.refusal({ try await w.connect("tn_nosuchtenant") }) else {
            Issue.record("an unknown tenant was accepted")
            return
        }
        #expect(field == "tenant")
        guard case .invalid(let empty, _)? = await Self.refusal({ try await w.connect(w.a, "") }) else {
            Issue.record("an empty calendar id was accepted")
            return
        }
        #expect(empty == "calendar_id")
        guard case .invalid(let control, _)? = await Self.refusal({ try await w.connect(w.a, "a\nb") }) else {
            Issue.record("a calendar id with a line break was accepted")
            return
        }
        #expect(control == "calendar_id")
    }

    @Test func anotherTenantsConnectionIsNotFound() async throws {
        let w = try await Self.world()
        let id = try await w.connect(w.a)
        #expect(try await w.store.get(id, tenant: w.a) != nil)
        #expect(try await w.store.get(id, tenant: w.b) == nil)
        #expect(try await w.store.list(tenant: w.a).map(\.id) == [id])
        #expect(try await w.store.list(tenant: w.b).isEmpty)
        #expect(try await w.store.list(tenant: nil).contains { $0.id == id })
        guard case .notFound? = await Self.refusal({ try await w.store.disconnect(id, tenant: w.b) }) else {
            Issue.record("another tenant disconnected the connection")
            return
        }
        #expect(try await w.connection(id).status == .ok)
    }

    @Test func theSamePageTwiceChangesNothingAndMovesAreReported() async throws {
        let w = try await Self.world()
        let id = try await w.connect(w.a)
        let patient = try await w.contact(w.a, phone: "+33612345678")
        let byEmail = try await w.contact(w.a, phone: "+33698765432", custom: #"{"email": "Pat@Example.com"}"#)
        _ = try await w.contact(w.b, phone: "+33611111111", custom: #"{"email": "pat@example.com"}"#)
        let pass = try await w.store.beginSync(id)
        #expect(pass.isFullSync && pass.pageToken == nil && pass.generation == 1 && !pass.resumed)
        #expect(try await w.connection(id).status == .syncing)

        let now = SystemClock().nowMillis()
        let start = now - now % Self.hour + 48 * Self.hour
        let page = [
            Self.event("e1", etag: "1", startsAtMs: start, phone: "+33 6 12 34 56 78"),
            Self.event("e2", etag: "1", startsAtMs: start + Self.hour, emails: ["someone@else.com", " pat@example.COM "]),
            Self.event("e3", etag: "1", startsAtMs: start + 2 * Self.hour, phone: "not a phone"),
        ]
        let first = try await w.appointments.upsert(connection: id, generation: 1, events: page)
        #expect(first.map(\.kind) == [.created, .created, .created], "\(first)")
        #expect(try await w.appointments.upsert(connection: id, generation: 1, events: page).isEmpty)
        #expect(try await w.appointments.count(connection: id) == 3)
        #expect(try await w.connection(id).appointments == 3)

        // The contact: from the phone property (read as a number), else an attendee's e-mail, the tenant's own.
        let e1 = try #require(try await w.appointments.find(connection: id, eventID: "e1"))
        #expect(e1.contactPhone == "+33612345678" && e1.contactID == patient && e1.startsAtMs == start && e1.startZone == "Europe/Paris")
        let e2 = try #require(try await w.appointments.find(connection: id, eventID: "e2"))
        #expect(e2.contactPhone == "+33698765432" && e2.contactID == byEmail, "\(e2)")
        let e3 = try #require(try await w.appointments.find(connection: id, eventID: "e3"))
        #expect(e3.contactPhone == nil && e3.contactID == nil)

        // e1 moves, e2's summary changes, e3 is deleted at the provider (a cancellation without data).
        let changes = try await w.appointments.upsert(
            connection: id, generation: 1,
            events: [
                Self.event("e1", etag: "2", startsAtMs: start + 24 * Self.hour, phone: "+33612345678"),
                Self.event("e2", etag: "2", startsAtMs: start + Self.hour, summary: "Follow-up", emails: ["pat@example.com"]),
                AppointmentRecord(eventID: "e3", etag: "2", status: .cancelled),
            ])
        let byEvent = Dictionary(uniqueKeysWithValues: changes.map { ($0.appointment.eventID, $0) })
        #expect(
            byEvent["e1"]?.kind == .moved && byEvent["e1"]?.previousStartsAtMs == start
                && byEvent["e1"]?.appointment.startsAtMs == start + 24 * Self.hour)
        #expect(byEvent["e2"]?.kind == .updated && byEvent["e2"]?.appointment.summary == "Follow-up")
        #expect(byEvent["e3"]?.kind == .cancelled)
        // A cancellation without the event's data keeps what was stored.
        let cancelled = try #require(try await w.appointments.find(connection: id, eventID: "e3"))
        #expect(cancelled.status == .cancelled && cancelled.startsAtMs == start + 2 * Self.hour && cancelled.summary == "Check-up")
        #expect(try await w.appointments.count(connection: id) == 2)
        // The same cancellation again, and one for an event never seen: no change.
        #expect(
            try await w.appointments.upsert(
                connection: id, generation: 1,
                events: [
                    AppointmentRecord(eventID: "e3", etag: "2", status: .cancelled), AppointmentRecord(eventID: "e9", status: .cancelled),
                ]
            ).isEmpty)
        // An event given twice in a page counts once, as its last.
        let twice = try await w.appointments.upsert(
            connection: id, generation: 1,
            events: [Self.event("e4", etag: "1", startsAtMs: start), Self.event("e4", etag: "2", startsAtMs: start + Self.hour)])
        #expect(twice.count == 1 && twice.first?.appointment.startsAtMs == start + Self.hour)

        let upcoming = try await w.appointments.upcoming(connection: id, afterMs: now)
        #expect(upcoming.map(\.eventID) == ["e2", "e4", "e1"], "\(upcoming.map(\.eventID))")

        // A confirmed event needs a start.
        guard
            case .invalid(let field, _)? = await Self.refusal({
                try await w.appointments.upsert(connection: id, generation: 1, events: [AppointmentRecord(eventID: "e5")])
            })
        else {
            Issue.record("a confirmed event without a start was accepted")
            return
        }
        #expect(field == "events[0].starts_at")

        #expect(try await w.store.finishSync(id, nextSyncToken: "sync-1", generation: 1, fullSync: true).isEmpty)
        let synced = try await w.connection(id)
        #expect(synced.status == .ok && synced.lastSyncedAtMs != nil && synced.appointments == 3)
    }

    @Test func aFullSyncCancelsWhatItDidNotSee() async throws {
        let w = try await Self.world()
        let id = try await w.connect(w.a)
        let now = SystemClock().nowMillis()
        let start = now - now % Self.hour + 72 * Self.hour
        let first = try await w.store.beginSync(id)
        _ = try await w.appointments.upsert(
            connection: id, generation: first.generation,
            events: (1...3).map { Self.event("e\($0)", etag: "1", startsAtMs: start + Int64($0) * Self.hour) })
        try await w.store.finishSync(id, nextSyncToken: "sync-1", generation: first.generation, fullSync: true)

        // Incremental: from the stored token, a new generation; what it does not list is kept.
        let second = try await w.store.beginSync(id)
        #expect(second.syncToken == "sync-1" && !second.isFullSync && second.generation == first.generation + 1)
        let moved = try await w.appointments.upsert(
            connection: id, generation: second.generation, events: [Self.event("e1", etag: "2", startsAtMs: start + 10 * Self.hour)])
        #expect(moved.map(\.kind) == [.moved])
        #expect(try await w.store.finishSync(id, nextSyncToken: "sync-2", generation: second.generation, fullSync: false).isEmpty)
        #expect(try await w.appointments.count(connection: id) == 3)

        // The provider answered 410: a full sync, which sees e1 and e2 unchanged, and no longer e3.
        try await w.store.resetForFullSync(id)
        let full = try await w.store.beginSync(id)
        #expect(full.isFullSync && full.generation == second.generation + 1 && !full.resumed)
        let seen = try await w.appointments.upsert(
            connection: id, generation: full.generation,
            events: [
                Self.event("e1", etag: "2", startsAtMs: start + 10 * Self.hour),
                Self.event("e2", etag: "1", startsAtMs: start + 2 * Self.hour),
            ])
        #expect(seen.isEmpty, "\(seen)")
        let gone = try await w.store.finishSync(id, nextSyncToken: "sync-3", generation: full.generation, fullSync: true)
        #expect(gone.map(\.appointment.eventID) == ["e3"] && gone.map(\.kind) == [.cancelled])
        #expect(try await w.appointments.find(connection: id, eventID: "e3")?.status == .cancelled)
        #expect(try await w.appointments.count(connection: id) == 2)
        #expect(try await w.store.beginSync(id).syncToken == "sync-3")
    }

    @Test func aPassCutShortResumesFromItsSavedPageAndAStaleOneIsRefused() async throws {
        let w = try await Self.world()
        let id = try await w.connect(w.a)
        let now = SystemClock().nowMillis()
        let start = now - now % Self.hour + 24 * Self.hour
        let pass = try await w.store.beginSync(id)
        let firstPage = [Self.event("p1", etag: "1", startsAtMs: start)]
        _ = try await w.appointments.upsert(connection: id, generation: pass.generation, events: firstPage)
        try await w.store.savePage(id, nextPageToken: "page-2", generation: pass.generation)

        // The worker died here. The next sync takes the pass up again, from its second page.
        let resumed = try await w.store.beginSync(id)
        #expect(resumed.resumed && resumed.pageToken == "page-2" && resumed.generation == pass.generation && resumed.isFullSync)
        // A job from before (another generation) can write nothing.
        guard
            case .superseded? = await Self.refusal({ try await w.store.savePage(id, nextPageToken: "x", generation: pass.generation - 1) })
        else {
            Issue.record("a stale pass saved its page")
            return
        }
        guard
            case .superseded? = await Self.refusal({
                try await w.appointments.upsert(connection: id, generation: pass.generation - 1, events: firstPage)
            })
        else {
            Issue.record("a stale pass wrote appointments")
            return
        }
        // The first page again (no change), then the second; the full pass keeps both.
        #expect(try await w.appointments.upsert(connection: id, generation: resumed.generation, events: firstPage).isEmpty)
        let second = try await w.appointments.upsert(
            connection: id, generation: resumed.generation, events: [Self.event("p2", etag: "1", startsAtMs: start + Self.hour)])
        #expect(second.map(\.kind) == [.created])
        #expect(try await w.store.finishSync(id, nextSyncToken: "sync-1", generation: resumed.generation, fullSync: true).isEmpty)
        #expect(try await w.appointments.count(connection: id) == 2)
        // Finished: the pass cannot be finished twice.
        guard
            case .superseded? = await Self.refusal({
                try await w.store.finishSync(id, nextSyncToken: "sync-x", generation: resumed.generation, fullSync: true)
            })
        else {
            Issue.record("a finished pass was finished again")
            return
        }

        // An error keeps the pass for the next sync; needs_reauth is not overwritten by it.
        let failing = try await w.store.beginSync(id)
        try await w.store.recordError(id, message: String(repeating: "x", count: 5000))
        let failed = try await w.connection(id)
        #expect(failed.status == .error && failed.lastError?.count == CalendarConnectionStore.maximumErrorCharacters)
        let retried = try await w.store.beginSync(id)
        #expect(
            retried
                == CalendarSyncPass(
                    connectionID: id, tenantID: w.a, calendarID: "primary", syncToken: "sync-1", pageToken: nil,
                    generation: failing.generation,
                    resumed: true))
    }

    @Test func aRefusedTokenPausesTheScheduleUntilTheCalendarIsConnectedAgain() async throws {
        let w = try await Self.world()
        let id = try await w.connect(w.a)
        let scheduleID = try #require(try await w.connection(id).scheduleID)
        try await w.store.replaceRefreshToken(connection: id, sealed: "rotated")
        #expect(try await w.store.sealedRefreshToken(connection: id) == "rotated")

        try await w.store.markNeedsReauth(connection: id, reason: "invalid_grant: Token has been expired or revoked.")
        try await w.store.markNeedsReauth(connection: id, reason: "invalid_grant: Token has been expired or revoked.")
        let refused = try await w.connection(id)
        #expect(refused.status == .needsReauth && refused.lastError?.contains("invalid_grant") == true)
        #expect(try await w.schedule(scheduleID)?.paused == true)
        #expect(try await w.events("calendar.needs_reauth", connection: id) == 1)
        // No token to refresh with, and nothing to sync.
        guard case .needsReauth? = await Self.refusal({ try await w.store.sealedRefreshToken(connection: id) }) else {
            Issue.record("a refused token was handed out")
            return
        }
        guard case .needsReauth? = await Self.refusal({ try await w.store.beginSync(id) }) else {
            Issue.record("a connection that needs re-authorisation began a sync")
            return
        }
        // A sync error meanwhile does not hide why.
        try await w.store.recordError(id, message: "timeout")
        let still = try await w.connection(id)
        #expect(still.status == .needsReauth && still.lastError?.contains("invalid_grant") == true)

        // Connected again: the same connection, a new token, running, its schedule resumed.
        let again = try await w.store.create(tenant: w.a, calendarID: "primary") { "fresh-\($0)" }
        #expect(again == id)
        let reconnected = try await w.connection(id)
        #expect(reconnected.status == .ok && reconnected.lastError == nil && reconnected.scheduleID == scheduleID)
        #expect(try await w.store.sealedRefreshToken(connection: id) == "fresh-\(id)")
        #expect(try await w.schedule(scheduleID)?.paused == false)
        #expect(try await w.events("calendar.reconnected", connection: id) == 1)

        // A schedule deleted by hand is made again.
        try await ScheduleStore(pool: w.pool, enqueuer: w.queue.enqueuer).delete(scheduleID, tenantID: nil)
        #expect(try await w.connection(id).scheduleID == nil)
        try await w.store.ensureSchedule(id)
        try await w.store.ensureSchedule(id)
        let remade = try #require(try await w.connection(id).scheduleID)
        let remadeSchedule = try await w.schedule(remade)
        #expect(remade != scheduleID && remadeSchedule?.kind == "calendar-sync")
    }

    @Test func disconnectingDeletesTheScheduleCancelsRemindersAndFreesTheCalendar() async throws {
        let w = try await Self.world()
        let id = try await w.connect(w.a)
        let scheduleID = try #require(try await w.connection(id).scheduleID)
        let now = SystemClock().nowMillis()
        let pass = try await w.store.beginSync(id)
        _ = try await w.appointments.upsert(
            connection: id, generation: pass.generation, events: [Self.event("e1", etag: "1", startsAtMs: now + 48 * Self.hour)])
        _ = try await w.pool.withConnection { db in
            try db.query(
                """
                INSERT INTO appointment_reminders (connection_id, event_id, lead_minutes, due_at, job_id)
                VALUES ($1, 'e1', 1440, now() + interval '1 day', 'job-1'), ($1, 'e1', 120, now() + interval '46 hours', NULL)
                """, [id])
        }
        let channel = CalendarWatchChannel(channelID: "ch-\(id)", token: "secret-token", resourceID: "res-1", expiresAtMs: now + Self.hour)
        try await w.store.saveChannel(id, channel)
        let owner = try #require(try await w.store.connection(forChannel: channel.channelID))
        #expect(owner.connectionID == id && owner.tenantID == w.a && owner.channel.token == "secret-token")
        #expect(owner.channel.expiresAtMs == channel.expiresAtMs && owner.channel.resourceID == "res-1")
        #expect(try await w.store.channelsExpiring(beforeMs: now + 2 * Self.hour).contains { $0.connectionID == id })
        #expect(try await w.store.connection(forChannel: "ch-unknown") == nil)

        let done = try await w.store.disconnect(id, tenant: w.a)
        #expect(done.reminderJobIDs == ["job-1"] && done.channel == channel && done.tenantID == w.a)
        #expect(try await w.store.get(id, tenant: nil) == nil)
        #expect(try await w.schedule(scheduleID) == nil)
        #expect(try await w.store.connection(forChannel: channel.channelID) == nil)
        let reminders = try await w.pool.withConnection { db in
            try db.query("SELECT DISTINCT status FROM appointment_reminders WHERE connection_id = $1", [id]).rows.compactMap {
                try $0.string("status")
            }
        }
        #expect(reminders == ["cancelled"])
        let token = try await w.pool.withConnection { db in
            try db.query("SELECT refresh_token FROM calendar_connections WHERE id = $1", [id]).first!.string("refresh_token")
        }
        #expect(token == nil)
        guard case .notFound? = await Self.refusal({ try await w.store.sealedRefreshToken(connection: id) }) else {
            Issue.record("a disconnected connection's token was handed out")
            return
        }
        guard case .notFound? = await Self.refusal({ try await w.store.disconnect(id, tenant: nil) }) else {
            Issue.record("a connection was disconnected twice")
            return
        }
        #expect(try await w.events("calendar.disconnected", connection: id) == 1)
        // The calendar can be connected again, as a new connection with its own schedule.
        let again = try await w.connect(w.a)
        let fresh = try await w.connection(again)
        #expect(again != id && fresh.scheduleID != nil)
    }
}
