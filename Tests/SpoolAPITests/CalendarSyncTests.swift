import FoundationEssentials
import SpoolAPI
import SpoolHTTP
import SpoolJobs
import SpoolPostgres
import SpoolQueue
import SpoolStore
import SpoolSupport
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The `calendar-sync` kind against the sandbox's Google Calendar: full and incremental syncs, a 410,
/// a revoked refresh token, intermittent 401s with workers racing, and a worker killed mid-sync.
@Suite struct CalendarSyncTests {
    struct World: Sendable {
        let f: APIFixture
        let sandbox: RunningSandbox
        let google: GoogleConfiguration
        let box: SecretBox
        let connections: CalendarConnectionStore

        /// With `serving`, the API listens on `port` (for the provider's push notifications).
        var api: Task<Void, any Error>?
        var port = 0

        static func start(serving: Bool = false) async throws -> World {
            var api: Task<Void, any Error>?
            var port = 0
            let f: APIFixture
            if serving {
                (f, api, port) = try await APIFixture.serving(kinds: SMSCampaignTests.repositoryKinds)
            } else {
                f = try await APIFixture(kinds: SMSCampaignTests.repositoryKinds)
            }
            let sandbox = try await RunningSandbox.start()
            var settings = SpoolSettings()
            settings.sandboxURL = sandbox.baseURL
            let google = try #require(GoogleConfiguration.from(settings))
            let box = try SecretBox.configured(key: nil, sandboxMode: true)
            return World(
                f: f, sandbox: sandbox, google: google, box: box, connections: CalendarConnectionStore(pool: f.pool, enqueuer: f.queue.enqueuer),
                api: api, port: port)
        }

        /// Connects `calendar` for tenant a with a refresh token the sandbox accepts (any but `revoked`).
        func connect(_ calendar: String, refreshToken: String = "1//refresh-\(Int.random(in: 0...999_999))") async throws -> String {
            let box = self.box
            return try await connections.create(tenant: f.a.id, calendarID: calendar) { id in
                box.seal(refreshToken, context: CalendarSecrets.refreshTokenContext(connection: id))
            }
        }

        /// A worker process's services: its own HTTP client and shared-token cache.
        func services() -> JobServices {
            let http = HTTPClient(name: "calendar-test")
            var services = JobServices(postgres: f.pool, http: http, twilio: nil)
            services.enqueuer = f.queue.enqueuer
            services.calendar = CalendarServices(
                google: google,
                tokens: SharedAccessTokens(
                    redis: f.queue.redis, keys: f.queue.keys, store: CalendarConnectionStore(pool: f.pool), box: box, google: google, http: http),
                webhookURL: api == nil ? nil : "http://127.0.0.1:\(port)/v1/webhooks/google/calendar")
            return services
        }

        /// Runs one sync job of `connection` in this process, as a worker would.
        func sync(_ connection: String, services: JobServices? = nil) async throws -> JobOutcome {
            let handler = CalendarSyncHandler(services: services ?? self.services())
            let job = Job(
                id: JobID.make(now: SystemClock().nowMillis()), queue: "calendar", kind: "calendar-sync",
                args: CalendarConnectionStore.syncArgs(connection), attempt: 1, maxAttempts: 8, enqueuedAt: 0, tenant: f.a.id, leaseToken: "t")
            return try await handler.perform(job, arguments: .init(connection: connection), context: JobContext(redis: f.queue.redis, keys: f.queue.keys, clock: SystemClock(), logger: TestEnvironment.logger))
        }

        func appointments(_ connection: String, status: String? = nil) async throws -> Int {
            try await f.pool.withConnection {
                try $0.query(
                    "SELECT count(*) AS n FROM appointments WHERE connection_id = $1 AND ($2::text IS NULL OR status = $2)", [connection, status]
                ).first!.int("n")!
            }
        }

        func putEvent(_ calendar: String, _ event: String, _ json: String) async throws {
            let response = try await HTTPClient(name: "sandbox-control").send(
                HTTPClientRequest("PUT", "\(sandbox.baseURL)/_sandbox/calendars/\(calendar)/events/\(event)", body: .json(json)))
            #expect((200...201).contains(response.status), "\(response.text)")
        }

        func deleteEvent(_ calendar: String, _ event: String) async throws {
            let response = try await HTTPClient(name: "sandbox-control").send(
                HTTPClientRequest("DELETE", "\(sandbox.baseURL)/_sandbox/calendars/\(calendar)/events/\(event)"))
            #expect(response.status == 200, "\(response.text)")
        }
    }

    static func completed(_ outcome: JobOutcome) -> String? {
        if case .completed(let result, _) = outcome { return result }
        return nil
    }

    @Test func aFullSyncThenIncrementalOnesFollowTheCalendar() async throws {
        let w = try await World.start()
        defer { Task { await w.sandbox.stop() } }
        let id = try await w.connect("clinic@example.com")
        let first = try await w.sync(id)
        #expect(Self.completed(first)?.hasPrefix("full sync") == true, "\(first)")
        #expect(try await w.appointments(id, status: "confirmed") == 30)
        let shown = try #require(try await w.connections.get(id, tenant: w.f.a.id))
        #expect(shown.status == .ok && shown.appointments == 30 && shown.lastSyncedAtMs != nil && shown.lastError == nil)

        // Nothing changed: an incremental sync of one empty page.
        let idle = try await w.sync(id)
        #expect(Self.completed(idle)?.hasPrefix("incremental sync, 1 pages, 0 events") == true, "\(idle)")

        // One event moved and one new, one deleted: the next incremental sync has exactly those.
        try await w.putEvent("clinic@example.com", "evt1", #"{"start": "2031-05-06T14:00:00-04:00", "end": "2031-05-06T15:00:00-04:00", "timeZone": "America/New_York"}"#)
        try await w.putEvent("clinic@example.com", "new-1", #"{"summary": "Check-up", "start": "2031-05-07T09:00:00Z", "end": "2031-05-07T09:30:00Z", "phone": "+14155550123"}"#)
        try await w.deleteEvent("clinic@example.com", "evt2")
        let changed = try await w.sync(id)
        #expect(Self.completed(changed)?.contains("3 events, 3 changed") == true, "\(changed)")
        let evt1 = try #require(try await AppointmentStore(pool: w.f.pool).find(connection: id, eventID: "evt1"))
        #expect(evt1.startsAtMs == (try CivilTime.unixMillis(iso8601: "2031-05-06T18:00:00Z")) && evt1.startZone == "America/New_York")
        let added = try #require(try await AppointmentStore(pool: w.f.pool).find(connection: id, eventID: "new-1"))
        #expect(added.summary == "Check-up" && added.contactPhone == "+14155550123" && added.status == .confirmed)
        #expect(try await AppointmentStore(pool: w.f.pool).find(connection: id, eventID: "evt2")?.status == .cancelled)
        #expect(try await w.appointments(id, status: "confirmed") == 30)

        // Reminders follow: the new event's two (24 h and 2 h before, or 20:00 the evening before when
        // that falls in the recipient's night) are planned; moving it moves them; deleting it cancels them.
        func reminders(_ event: String) async throws -> [(lead: Int, dueMs: Int64, status: String)] {
            try await w.f.pool.withConnection {
                try $0.query(
                    """
                    SELECT lead_minutes, (extract(epoch FROM due_at) * 1000)::bigint AS due_ms, status FROM appointment_reminders
                    WHERE connection_id = $1 AND event_id = $2 ORDER BY lead_minutes
                    """, [id, event]
                ).rows.map { (try $0.int("lead_minutes")!, Int64(try $0.int("due_ms")!), try $0.string("status")!) }
            }
        }
        let planned = try await reminders("new-1")
        let start = try CivilTime.unixMillis(iso8601: "2031-05-07T09:00:00Z")
        #expect(planned.map(\.lead) == [120, 1440] && planned.allSatisfy { $0.status == "scheduled" && $0.dueMs < start }, "\(planned)")
        try await w.putEvent("clinic@example.com", "new-1", #"{"start": "2031-05-14T09:00:00Z", "end": "2031-05-14T09:30:00Z"}"#)
        _ = try await w.sync(id)
        let moved = try await reminders("new-1")
        #expect(zip(planned, moved).allSatisfy { $1.dueMs - $0.dueMs == 7 * 86_400_000 && $1.status == "scheduled" }, "\(moved)")
        try await w.deleteEvent("clinic@example.com", "new-1")
        _ = try await w.sync(id)
        #expect(try await reminders("new-1").allSatisfy { $0.status == "cancelled" })
    }

    @Test func anExpiredSyncTokenIsAFullSyncThatRemovesWhatTheProviderNoLongerHas() async throws {
        let w = try await World.start()
        defer { Task { await w.sandbox.stop() } }
        let id = try await w.connect("primary")
        _ = try await w.sync(id)
        // An appointment the provider no longer has (deleted while its tombstone aged out).
        _ = try await w.f.pool.withConnection {
            try $0.query(
                """
                INSERT INTO appointments (connection_id, event_id, tenant_id, calendar_id, etag, summary, starts_at, ends_at, status, seen_generation)
                VALUES ($1, 'gone-1', $2, 'primary', '"1"', 'Gone', now() + interval '1 day', now() + interval '1 day 1 hour', 'confirmed', 0)
                """, [id, w.f.a.id])
        }
        _ = try await w.sandbox.setFaults(#"{"expire_sync_tokens": true}"#)
        let outcome = try await w.sync(id)
        #expect(Self.completed(outcome)?.contains("after a 410") == true && Self.completed(outcome)?.contains("1 removed") == true, "\(outcome)")
        #expect(try await AppointmentStore(pool: w.f.pool).find(connection: id, eventID: "gone-1")?.status == .cancelled)
        #expect(try await w.appointments(id, status: "confirmed") == 30)
    }

    @Test func aRevokedRefreshTokenLeavesTheConnectionNeedingReauthWithOneDeadJob() async throws {
        let w = try await World.start()
        defer { Task { await w.sandbox.stop() } }
        let id = try await w.connect("primary", refreshToken: "revoked")
        let outcome = try await w.sync(id)
        guard case .dead(let reason) = outcome else {
            Issue.record("a revoked refresh token gave \(outcome)")
            return
        }
        #expect(reason.hasPrefix("needs_reauth"), "\(reason)")
        let shown = try #require(try await w.connections.get(id, tenant: w.f.a.id))
        #expect(shown.status == .needsReauth)
        let scheduleID = try #require(shown.scheduleID)
        let schedule = try #require(try await ScheduleStore(pool: w.f.pool, enqueuer: w.f.queue.enqueuer).find(scheduleID, tenantID: nil))
        #expect(schedule.paused)
        let tokenRequests = try await w.sandbox.counters()["requests"]?["token"]?.intValue ?? 0
        // Another trigger: dead at once, without asking the provider again.
        guard case .dead = try await w.sync(id) else {
            Issue.record("a second sync of a connection that needs reauth was not dead")
            return
        }
        #expect(try await w.sandbox.counters()["requests"]?["token"]?.intValue == tokenRequests)
        let events = try await w.f.pool.withConnection {
            try $0.query("SELECT count(*) AS n FROM events WHERE kind = 'calendar.needs_reauth' AND tenant_id = $1", [w.f.a.id]).first!.int("n")!
        }
        #expect(events == 1)
    }

    @Test func intermittent401sWithThreeWorkersRacingFailNoSyncAndRefreshOncePerRefusal() async throws {
        let w = try await World.start()
        defer { Task { await w.sandbox.stop() } }
        // Pages of 250 over 1,000 events: four calls a full sync, a 401 for three in ten of them.
        _ = try await w.sandbox.setFaults(#"{"calendar_seeded_events": 1000, "calendar_unauthorized_ratio": 0.3}"#)
        let ids = [try await w.connect("a@example.com"), try await w.connect("b@example.com")]
        let workers = (0..<3).map { _ in w.services() }
        var outcomes: [JobOutcome] = []
        for round in 0..<4 {
            // Three workers racing on each connection (the kind's limits keep that from happening; the
            // shared token must hold even when it does, since tokens are shared across processes).
            let results = try await withThrowingTaskGroup(of: JobOutcome.self) { group in
                for (index, services) in workers.enumerated() {
                    let id = ids[(index + round) % ids.count]
                    group.addTask {
                        // As a worker would: a retryable outcome runs the job again (the pass resumes
                        // from its saved page); a dead one is a failed sync.
                        for _ in 0..<8 {
                            let outcome = try await w.sync(id, services: services)
                            if case .retry = outcome { continue }
                            return outcome
                        }
                        return .dead(reason: "still retrying after 8 attempts")
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            outcomes += results
        }
        let failed = outcomes.filter { Self.completed($0) == nil }
        #expect(failed.isEmpty, "\(failed)")
        let counters = try await w.sandbox.counters()
        let injected = counters["calendar"]?["unauthorized_injected"]?.intValue ?? -1
        let refreshes = counters["token"]?["refresh"]?.intValue ?? -1
        // One refresh per refused token (each 401 drops its token in the sandbox), plus each
        // connection's first token: never one per worker or per call.
        #expect(injected > 0 && refreshes <= injected + ids.count, "refreshes \(refreshes), 401s \(injected)")
        for id in ids { #expect(try await w.appointments(id) == 1000) }
    }

    @Test func aWorkerKilledMidSyncLeavesTheAppointmentsEqualToTheProvidersEvents() async throws {
        let w = try await World.start()
        defer { Task { await w.sandbox.stop() } }
        // 20 pages, each answered after 150 ms: the kill lands a few pages in.
        _ = try await w.sandbox.setFaults(#"{"calendar_seeded_events": 5000}"#)
        _ = try await w.sandbox.setFaults(#"{"scope": "calendar", "latency_ms": 150}"#)
        let id = try await w.connect("busy@example.com")
        var request = EnqueueRequest(kind: "calendar-sync", args: CalendarConnectionStore.syncArgs(id), tenant: w.f.a.id)
        request.producer = .spool
        _ = try await w.f.queue.enqueuer.enqueue(request)
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("calendar-\(w.f.queue.keys.prefix)").path
        let first = try SMSWorkerProcess.start(w.f, sandbox: w.sandbox, apiPort: 9, log: log + "-1.log", queues: "calendar")
        try await waitUntil("a few pages of the sync to be saved", timeout: .seconds(60)) {
            try await w.appointments(id) >= 750
        }
        first.signal(SIGKILL)
        _ = first.wait()
        let killedAt = try await w.appointments(id)
        let second = try SMSWorkerProcess.start(w.f, sandbox: w.sandbox, apiPort: 9, log: log + "-2.log", queues: "calendar")
        defer {
            second.signal(SIGTERM)
            _ = second.wait()
        }
        try await waitUntil("the sync to finish in the second worker", timeout: .seconds(120)) {
            try await w.connections.get(id, tenant: w.f.a.id)?.lastSyncedAtMs != nil
        }
        #expect(killedAt < 5000, "the kill came after the sync had finished: \(killedAt)")
        #expect(try await w.appointments(id) == 5000)
        #expect(try await w.appointments(id, status: "confirmed") == 5000)
        let shown = try #require(try await w.connections.get(id, tenant: w.f.a.id))
        #expect(shown.status == .ok && shown.appointments == 5000)
    }

    @Test func aPushNotificationFromTheProviderSyncsTheCalendar() async throws {
        let w = try await World.start(serving: true)
        defer {
            w.api?.cancel()
            Task { await w.sandbox.stop() }
        }
        let id = try await w.connect("front-desk@example.com")
        // The first sync opens the push channel (the provider acknowledges it with a `sync` notification).
        let first = try await w.sync(id)
        #expect(Self.completed(first)?.contains("push channel open until") == true, "\(first)")
        let channel = try #require(try await w.connections.channel(of: id))
        try await waitUntil("the channel's sync notification", timeout: .seconds(30)) {
            try await w.sandbox.counters()["calendar"]?["notifications_delivered"]?.intValue ?? 0 >= 1
        }
        // A second sync keeps the channel: it has a week to live.
        _ = try await w.sync(id)
        #expect(try await w.connections.channel(of: id) == channel)

        let worker = RunningWorker(w.f.queue, handlers: [CalendarSyncHandler(services: w.services())], queues: ["calendar"])
        let changed = SystemClock().nowMillis()
        try await w.putEvent("front-desk@example.com", "evt3", #"{"summary": "Moved by the front desk"}"#)
        try await waitUntil("the push notification's sync", timeout: .seconds(30)) {
            try await AppointmentStore(pool: w.f.pool).find(connection: id, eventID: "evt3")?.summary == "Moved by the front desk"
        }
        let latency = SystemClock().nowMillis() - changed
        try await worker.stop()
        print("push notification → appointment updated in \(latency) ms")

        // A notification without the channel's token is refused; an unknown channel is told to stop.
        try await w.f.test { client in
            let forged = try await client.call(
                .post, "/v1/webhooks/google/calendar", key: nil,
                headers: [("X-Goog-Channel-ID", channel.channelID), ("X-Goog-Channel-Token", "guess"), ("X-Goog-Resource-State", "exists")])
            #expect(forged.status == 403)
            let unknown = try await client.call(
                .post, "/v1/webhooks/google/calendar", key: nil,
                headers: [("X-Goog-Channel-ID", "ch_unknown"), ("X-Goog-Channel-Token", channel.token), ("X-Goog-Resource-State", "exists")])
            #expect(unknown.status == 404)
        }
    }

    @Test func aCalendarIsConnectedThroughTheProvidersConsentPageAndSyncs() async throws {
        let sandbox = try await RunningSandbox.start()
        defer { Task { await sandbox.stop() } }
        var settings = SpoolSettings()
        settings.sandboxURL = sandbox.baseURL
        let google = try #require(GoogleConfiguration.from(settings))
        let box = try SecretBox.configured(key: nil, sandboxMode: true)
        let redirect = "http://127.0.0.1:9/v1/calendars/callback"
        let f = try await APIFixture(kinds: SMSCampaignTests.repositoryKinds) {
            $0.secrets = box
            $0.googleOAuth = GoogleOAuthEndpoints(
                authURL: google.authURL, tokenURL: google.tokenURL, clientID: google.clientID, clientSecret: google.clientSecret,
                redirectURL: redirect)
        }
        let connectionID = try await f.test { client -> String in
            let start = try await client.call(.get, "/v1/calendars/connect?calendar_id=team%40example.com", key: f.a.admin)
            #expect(start.status == 302, "\(start.body.text)")
            let consent = try #require(start.body["authorization_url"]?.stringValue)
            // The person's browser on the consent page: the sandbox approves at once and sends it back.
            let page = try await HTTPClient(name: "browser").send(HTTPClientRequest("GET", consent))
            #expect(page.status == 302, "\(page.text)")
            let back = try #require(page.headers["Location"])
            #expect(back.hasPrefix(redirect + "?"))
            let callback = String(back.dropFirst("http://127.0.0.1:9".count))
            let done = try await client.call(.get, callback, key: nil)
            #expect(done.status == 201, "\(done.body.text)")
            #expect(done.body["status"] == .string("ok") && done.body["calendar_id"] == .string("team@example.com"))
            // The code works once.
            let again = try await client.call(.get, callback, key: nil)
            #expect(again.status == 400 && again.body["error"]?["code"] == .string("code_refused"), "\(again.body.text)")
            return try #require(done.body["id"]?.stringValue)
        }
        // The refresh token the exchange gave is stored sealed, and a sync uses it.
        let sealed = try await f.pool.withConnection {
            try $0.query("SELECT refresh_token FROM calendar_connections WHERE id = $1", [connectionID]).first!.string("refresh_token")!
        }
        let token = try box.open(sealed, context: CalendarSecrets.refreshTokenContext(connection: connectionID))
        #expect(token.hasPrefix("1//") && !sealed.contains(token) && !sealed.contains("1//"), "\(sealed)")
        // The connection's first sync was enqueued as it was connected.
        #expect(try await f.queue.stats("calendar").pending == 1)
        let world = World(
            f: f, sandbox: sandbox, google: google, box: box, connections: CalendarConnectionStore(pool: f.pool, enqueuer: f.queue.enqueuer))
        let outcome = try await world.sync(connectionID)
        #expect(Self.completed(outcome)?.hasPrefix("full sync") == true, "\(outcome)")
        #expect(try await world.appointments(connectionID) == 30)
    }

    @Test func googlesRateLimitsThrottleTheSyncWithoutFailingIt() async throws {
        let w = try await World.start()
        defer { Task { await w.sandbox.stop() } }
        let id = try await w.connect("primary")
        for (status, reason, limit) in [(403, "rateLimitExceeded", "google"), (403, "userRateLimitExceeded", "tenant"), (429, "rateLimitExceeded", "google")] {
            _ = try await w.sandbox.setFaults(
                #"{"scope": "calendar", "burst_\#(status)": 1, "calendar_rate_limit_reason": "\#(reason)", "retry_after_seconds": 7}"#)
            let outcome = try await w.sync(id)
            guard case .throttled(let until, let why, let named) = outcome else {
                Issue.record("a \(status) \(reason) gave \(outcome)")
                continue
            }
            #expect(named == limit && until > SystemClock().nowMillis() && why.contains(reason), "\(status) \(reason): \(outcome)")
        }
        // Throttled is not an error: the connection does not say so, and the next sync goes through.
        #expect(try await w.connections.get(id, tenant: w.f.a.id)?.lastError == nil)
        #expect(Self.completed(try await w.sync(id))?.hasPrefix("full sync") == true)
    }
}
