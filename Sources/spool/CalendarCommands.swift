import ArgumentParser
import SpoolPostgres
import SpoolQueue
import SpoolStore
import SpoolSupport

/// `spool calendar connect|list|show|sync|disconnect`: tenants' connected calendars, straight on
/// PostgreSQL (and Redis, for a sync job) through `CalendarConnectionStore`, as the API does. The
/// operator's tool: any tenant's connection. `connect` takes a refresh token already in hand; people
/// connect through the OAuth flow (`GET /v1/calendars/connect`).
struct CalendarCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "calendar", abstract: "Connected calendars: connect with a refresh token, list, show, sync now, disconnect.",
        subcommands: [Connect.self, List.self, Show.self, Sync.self, Disconnect.self, Settings.self])

    struct Connect: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Connect a tenant's calendar with a refresh token; prints the connection's id.",
            discussion:
                "The token is stored sealed with SPOOL_SECRET_KEY (refused without it) and never printed again. It is synced at once (a worker runs the sync, which also opens its push channel), then by its built-in schedule every SPOOL_CALENDAR_SYNC_EVERY (5 minutes by default; the tenant's own interval with `calendar settings --sync-every`). Connecting a calendar whose connection needs re-authorisation reconnects that one."
        )
        @OptionGroup var common: CommonOptions
        @Option(help: "Tenant id.") var tenant: String
        @Option(help: "The provider's calendar id: primary, or an address such as team@group.calendar.google.com.") var calendar: String
        @Option(name: .customLong("refresh-token"), help: "The OAuth refresh token the provider issued for the calendar.") var refreshToken:
            String
        @Flag(help: "Print {\"id\": ...} as JSON.") var json = false

        func run() async throws {
            let (tenant, calendar, token) = (self.tenant, self.calendar, self.refreshToken)
            guard !token.isEmpty else { throw ValidationError("--refresh-token: must not be empty") }
            let id = try await withCalendars(common) { store, runtime, _, _ -> String in
                // Refused without SPOOL_SECRET_KEY outside the sandbox mode, saying how to make one.
                let secrets = try runtime.settings.secretBox()
                let id = try await store.create(tenant: tenant, calendarID: calendar) { connectionID in
                    secrets.seal(token, context: CalendarSecrets.refreshTokenContext(connection: connectionID))
                }
                // Its first sync at once (which opens its push channel), not one interval later.
                _ = try await store.syncNow(id, tenant: tenant)
                return id
            }
            print(json ? jsonText(["id": id]) : id)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Connected calendars: every tenant's, or one tenant's.")
        @OptionGroup var common: CommonOptions
        @Option(help: "Tenant id: only this tenant's connections.") var tenant: String?
        @Flag(help: "Print {\"calendars\": [...]} as JSON, as GET /v1/calendars answers.") var json = false

        func run() async throws {
            let tenant = self.tenant
            let connections = try await withCalendars(common) { store, _, _, _ in try await store.list(tenant: tenant) }
            if json {
                print(jsonText(JSONValue.object(["calendars": .array(connections.map(\.json))])))
                return
            }
            if connections.isEmpty { print("no calendars connected") }
            for connection in connections {
                let synced = connection.lastSyncedAtMs.map { "synced " + CivilTime(unixMillis: $0).rfc3339 } ?? "never synced"
                print(
                    "\(connection.id)  \(connection.tenantID)  \(connection.calendarID)  \(connection.status.rawValue)  "
                        + "\(connection.appointments) appointments  \(synced)")
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "A connected calendar: its status, appointments, last sync, last error, schedule and push channel.")
        @OptionGroup var common: CommonOptions
        @Argument(help: "Connection id (cal_...).") var id: String
        @Flag(help: "Print JSON, as GET /v1/calendars/{id} answers.") var json = false

        func run() async throws {
            let id = self.id
            guard let connection = try await withCalendars(common, { store, _, _, _ in try await store.get(id, tenant: nil) }) else {
                throw SpoolCommandError("no calendar connection '\(id.prefix(64))'")
            }
            if json {
                print(jsonText(connection.json))
                return
            }
            func time(_ ms: Int64?) -> String { ms.map { CivilTime(unixMillis: $0).rfc3339 } ?? "-" }
            print("\(connection.id)  \(connection.status.rawValue)")
            print("  tenant:        \(connection.tenantID)")
            print("  calendar:      \(connection.calendarID) (\(connection.provider.rawValue))")
            print("  appointments:  \(connection.appointments)")
            print("  last sync:     \(time(connection.lastSyncedAtMs))")
            print("  schedule:      \(connection.scheduleID ?? "none")")
            print("  push channel:  \(connection.watchExpiresAtMs.map { "expires " + time($0) } ?? "none")")
            if let error = connection.lastError { print("  last error:    \(error)") }
        }
    }

    struct Sync: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Sync a calendar now: enqueues a calendar-sync job (a sync already waiting takes it in); prints the job id.")
        @OptionGroup var common: CommonOptions
        @Argument(help: "Connection id (cal_...).") var id: String

        func run() async throws {
            let id = self.id
            let result = try await withCalendars(common) { store, _, _, _ in
                guard let connection = try await store.get(id, tenant: nil) else {
                    throw SpoolCommandError("no calendar connection '\(id.prefix(64))'")
                }
                guard connection.status != .needsReauth else {
                    throw SpoolCommandError(
                        "calendar connection \(id) must be connected again before it can sync: \(connection.lastError ?? "its refresh token was refused")"
                    )
                }
                return try await store.syncNow(connection.id, tenant: connection.tenantID)
            }
            print(result.created ? result.id : "\(result.id) (a sync already waiting)")
        }
    }

    struct Settings: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show or change a tenant's calendar settings: how often its calendars sync, and its appointment reminders.",
            discussion:
                "Reminder templates take {{first_name}}, {{summary}}, {{date}}, {{time}} and {{business_name}}; a reminder due in the recipient's night (21:00-08:00) goes at 20:00 the evening before. See docs/calendars.md."
        )
        @OptionGroup var common: CommonOptions
        @Option(help: "Tenant id.") var tenant: String
        @Option(name: .customLong("sync-every"), help: "How often its calendars sync: 1m to 1d, such as 10m; `default` for SPOOL_CALENDAR_SYNC_EVERY.")
        var syncEvery: String?
        @Option(name: .customLong("reminder-leads"), help: "Minutes before the start, comma-separated, such as 1440,120; `none` turns reminders off.")
        var reminderLeads: String?
        @Option(name: .customLong("reminder-template"), help: "The reminder text.") var reminderTemplate: String?
        @Option(name: .customLong("reminder-from"), help: "One of the tenant's SMS sender numbers; `first` for its first one.") var reminderFrom:
            String?
        @Flag(help: "Print JSON, as GET /v1/calendars/settings answers.") var json = false

        func run() async throws {
            var every: Int??
            if let syncEvery {
                if syncEvery == "default" { every = .some(nil) } else {
                    do { every = .some(Int(try ScheduleInterval(parsing: syncEvery).seconds)) } catch {
                        throw ValidationError("--sync-every '\(syncEvery.prefix(40))': \(error)")
                    }
                }
            }
            var leads: [Int]?
            if let reminderLeads {
                if reminderLeads == "none" { leads = [] } else {
                    let parts = reminderLeads.split(separator: ",").map { $0.trimmingSpaces }
                    guard !parts.isEmpty, parts.allSatisfy({ Int($0) != nil }) else {
                        throw ValidationError("--reminder-leads '\(reminderLeads.prefix(60))': expected minutes separated by commas, such as 1440,120")
                    }
                    leads = parts.compactMap { Int($0) }
                }
            }
            let from: ReminderSender = reminderFrom.map { $0 == "first" ? .firstNumber : .number($0) } ?? .keep
            let (tenant, template) = (self.tenant, reminderTemplate)
            let settings = try await withCalendars(common) { store, _, _, _ -> CalendarTenantSettings in
                if let every { try await store.setSyncEvery(tenant: tenant, seconds: every) }
                try await store.updateReminders(tenant: tenant, leadsMinutes: leads, template: template, from: from)
                return try await store.settings(tenant: tenant)
            }
            if json {
                print(jsonText(settings.json))
                return
            }
            print("tenant \(tenant)")
            print("  sync every:  \(settings.syncEverySeconds.map { "\($0) s" } ?? "the deployment's interval (SPOOL_CALENDAR_SYNC_EVERY)")")
            let leadsText = settings.reminders.leadsMinutes.isEmpty ? "off" : settings.reminders.leadsMinutes.map { "\($0) min" }.joined(separator: ", ")
            print("  reminders:   \(leadsText), from \(settings.reminders.from ?? "the tenant's first number")")
            print("  template:    \(settings.reminders.template)")
        }
    }

    struct Disconnect: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Disconnect a calendar: its refresh token wiped, its sync schedule deleted, its planned reminders cancelled.")
        @OptionGroup var common: CommonOptions
        @Argument(help: "Connection id (cal_...).") var id: String

        func run() async throws {
            let id = self.id
            let done = try await withCalendars(common) { store, _, admin, _ in
                let done = try await store.disconnect(id, tenant: nil)
                // Their rows say cancelled already; taking the jobs out of the queue too spares them a run.
                for job in done.reminderJobIDs { _ = try await admin.cancel(job) }
                return done
            }
            let reminders = done.reminderJobIDs.count
            print("disconnected \(id)" + (reminders > 0 ? ", \(reminders) reminder\(reminders == 1 ? "" : "s") cancelled" : ""))
        }
    }
}

/// Runs `body` with a CalendarConnectionStore on DATABASE_URL (migrated first, as the other PostgreSQL
/// commands do), the runtime, a QueueAdmin and an Enqueuer; the store's refusals come out as errors.
private func withCalendars<T: Sendable>(
    _ common: CommonOptions, _ body: (CalendarConnectionStore, Runtime, QueueAdmin, Enqueuer) async throws -> T
) async throws -> T {
    let runtime = try Runtime.load(common)
    let pool = try runtime.postgres(size: 2)
    defer { pool.close() }
    let redis = runtime.redis(name: "calendars")
    defer { redis.close() }
    try await Migrator(pool: pool).migrate()
    let enqueuer = Enqueuer(redis: redis, catalog: runtime.catalog, keys: runtime.settings.keys)
    let every = try ScheduleInterval(seconds: max(60, runtime.settings.calendarSyncEvery.milliseconds / 1000))
    let store = CalendarConnectionStore(pool: pool, enqueuer: enqueuer, syncEvery: every)
    do {
        return try await body(store, runtime, runtime.admin(redis), enqueuer)
    } catch let error as CalendarStoreError {
        throw SpoolCommandError(error.description)
    } catch let error as EnqueueError {
        throw SpoolCommandError("the calendar-sync job was refused: \(error)")
    }
}
