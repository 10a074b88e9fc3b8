import SpoolHTTP
import SpoolQueue
import SpoolRedis
import SpoolStore
import SpoolSupport

/// A calendar, in `spool dev --demo`: the tenant connects the sandbox's calendar (the token sealed with
/// the sandbox's key, since dev is the sandbox mode), this process's worker syncs its 30 events into
/// appointments and plans their reminder texts, and opens a push channel; then an event moves at the
/// provider, whose push notification reaches this process's API, which enqueues a sync: the move shows
/// in the appointment, and its reminders move with it.
struct CalendarDemo {
    let runtime: Runtime
    let redis: RedisClient
    let sandboxPort: Int

    func run(tenantID: String) async throws {
        let pool = try runtime.postgres(size: 1)
        defer { pool.close() }
        let enqueuer = Enqueuer(redis: redis, catalog: runtime.catalog, keys: runtime.settings.keys)
        let store = CalendarConnectionStore(pool: pool, enqueuer: enqueuer)
        let box = try runtime.settings.secretBox()
        let calendar = "clinic-\(JobID.make(now: SystemClock().nowMillis()).suffix(6).lowercased())@sandbox"
        let id = try await store.create(tenant: tenantID, calendarID: calendar) { id in
            box.seal("1//demo-refresh-token", context: CalendarSecrets.refreshTokenContext(connection: id))
        }
        say("calendar demo: \(id) connects \(calendar) (`spool calendar connect`; through the API it is the OAuth consent flow)")
        let job = try await enqueuer.enqueue(EnqueueRequest(kind: "calendar-sync", args: CalendarConnectionStore.syncArgs(id), tenant: tenantID))
        let admin = runtime.admin(redis)
        // Done when the job is: after the pages, its reminders are planned and its push channel opened.
        _ = try await wait(seconds: 30) { try await admin.states(of: [(job.id, job.queue)]).first == .completed ? true : nil }
        guard let synced = try await store.get(id, tenant: nil) else { return }
        let reminders = try await pool.withConnection { connection in
            try connection.query(
                "SELECT count(*) AS n FROM appointment_reminders WHERE connection_id = $1 AND status = 'scheduled'", [id]
            ).first?.int("n") ?? 0
        }
        say(
            "calendar demo: first sync: \(synced.appointments) appointments, \(reminders) reminder texts planned (24 h and 2 h before, "
                + "never in the recipient's night); push channel \(synced.watchExpiresAtMs == nil ? "not opened" : "open")")

        // The front desk moves an appointment: the provider notifies, the API enqueues a sync.
        let appointments = AppointmentStore(pool: pool)
        guard let before = try await appointments.find(connection: id, eventID: "evt1"), let start = before.startsAtMs else { return }
        let moved = start + 86_400_000
        let url = "http://127.0.0.1:\(sandboxPort)/_sandbox/calendars/\(FormEncoding.escape(calendar))/events/evt1"
        let body = JSONValue.object([
            "start": .string(CivilTime(unixMillis: moved).rfc3339), "end": .string(CivilTime(unixMillis: moved + 3_600_000).rfc3339),
        ])
        let changed = monotonicNow()
        _ = try await HTTPClient(name: "demo").send(HTTPClientRequest("PUT", url, body: .json(body.text), timeout: .seconds(10)))
        _ = try await wait(seconds: 30) { try await appointments.find(connection: id, eventID: "evt1").flatMap { $0.startsAtMs == moved ? $0 : nil } }
        say(
            "calendar demo: evt1 moved a day at the provider; its push notification synced it in "
                + "\(Int((monotonicNow() - changed).secondsDouble * 1000)) ms, and its reminders moved with it (`spool calendar show \(id)`)")
    }

    private func wait<T>(seconds: Int, _ check: () async throws -> T?) async throws -> T {
        let started = monotonicNow()
        while monotonicNow() - started < .seconds(Int64(seconds)) {
            if let value = try await check() { return value }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw SpoolCommandError("the calendar demo waited \(seconds) s in vain: is the worker running the calendar queue?")
    }
}
