import SpoolHTTP
import SpoolPostgres
import SpoolQueue
import SpoolStore
import SpoolSupport

/// The `calendar-sync` kind: one connection's calendar into `appointments` (see docs/calendars.md).
///
/// A run:
/// 1. starts the connection's sync pass, or resumes the one a crashed run left (`beginSync`): from the
///    last complete pass's sync token (incremental), or with none (a full sync), or from the saved page;
/// 2. reads `events.list` page by page with the connection's shared access token (`SharedAccessToken`:
///    one per connection for every worker process; a 401 refreshes it once and tries again), upserts
///    each page's events with the pass's generation, then saves the next page token: a crash between the
///    two reads that page again, and its upsert changes nothing;
/// 3. on the last page stores the new sync token (`finishSync`); a full sync also cancels the
///    appointments it did not see, the ones the provider no longer has;
/// 4. plans, moves and cancels the appointments' reminder texts (`AppointmentReminders.reconcile`, by
///    the appointments' state, so a change an earlier, crashed run saw is not lost), and opens or
///    renews the push channel.
///
/// Outcomes: a 410 (`fullSyncRequired`: the sync token expired) restarts as a full sync in the same
/// run; Google's rate limits (403 `rateLimitExceeded`, `userRateLimitExceeded`, 429) are throttled on
/// the `google` limit, or the tenant's for a per-user limit, without using an attempt; a refused refresh
/// token (`invalid_grant`) leaves the connection `needs_reauth` (its schedule paused, an event
/// recorded) and the job dead, with no retry and no further token request; a 401 refreshes the token
/// once and tries again, and a second 401 in a row (Google's come and go) retries the job, as 5xx and
/// timeouts do, with backoff, the connection showing the error meanwhile. A connection disconnected meanwhile completes
/// doing nothing. A worker without the Google configuration lets the job wait (snoozed).
public struct CalendarSyncHandler: JobKind {
    public let kind = "calendar-sync"

    /// `Jobs/calendar-sync.json`'s `args`.
    public struct Arguments: Decodable, Sendable {
        public let connection: String
        public init(connection: String) { self.connection = connection }
    }

    let services: JobServices?

    public init(services: JobServices?) { self.services = services }

    public func perform(_ job: Job, arguments: Arguments, context: JobContext) async throws -> JobOutcome {
        guard let services, let pool = services.postgres else {
            return .retry(error: "the calendar-sync kind needs PostgreSQL: set DATABASE_URL for this worker", delay: .seconds(60))
        }
        guard let calendar = services.calendar else {
            return .snooze(
                until: SystemClock().nowMillis() + 60_000,
                reason: services.calendarMissingReason ?? "Google Calendar is not configured for this worker")
        }
        let id = arguments.connection
        let connections = CalendarConnectionStore(pool: pool)
        var appointments = AppointmentStore(pool: pool)
        appointments.defaultRegion = services.defaultRegion
        var pass: CalendarSyncPass
        do {
            pass = try await connections.beginSync(id)
        } catch let error as CalendarStoreError {
            switch error {
            case .notFound: return .completed(result: "calendar connection \(id.prefix(64)) is disconnected: nothing to sync")
            default: return .dead(reason: error.description)
            }
        }
        // Only Spool enqueues this kind; a job naming another tenant's connection was not made by it.
        if let tenant = job.tenant, tenant != pass.tenantID {
            return .dead(reason: "calendar connection \(id.prefix(64)) is not tenant \(tenant.prefix(64))'s")
        }
        let events = GoogleCalendarEvents(http: services.http, google: calendar.google, clock: SystemClock())
        let credentials = calendar.tokens.credentials(for: id)
        var syncToken = pass.syncToken
        var pageToken = pass.pageToken
        var generation = pass.generation
        var fullSync = pass.isFullSync
        var restarted = false
        var report = SyncReport(full: fullSync, resumed: pass.resumed)
        do {
            while true {
                try Task.checkCancellation()
                switch await events.list(calendarID: pass.calendarID, syncToken: syncToken, pageToken: pageToken, credentials: credentials) {
                case .fullSyncRequired:
                    // Once per run: a second 410 right after a full sync began is the provider's problem.
                    guard !restarted else {
                        try await connections.recordError(id, message: "the provider asked for a full sync twice in a row")
                        return .retry(error: "410 fullSyncRequired again on a full sync", delay: nil)
                    }
                    restarted = true
                    try await connections.resetForFullSync(id)
                    pass = try await connections.beginSync(id)
                    (syncToken, pageToken, generation, fullSync) = (nil, nil, pass.generation, true)
                    report = SyncReport(full: true, resumed: false)
                    report.restartedAfter410 = true
                case .refused(let verdict):
                    return try await refused(verdict, connection: id, store: connections)
                case .page(let page):
                    report.pages += 1
                    report.events += page.events.count
                    report.changes += try await appointments.upsert(connection: id, generation: generation, events: page.events).count
                    if let next = page.nextPageToken {
                        try await connections.savePage(id, nextPageToken: next, generation: generation)
                        pageToken = next
                        continue
                    }
                    guard let next = page.nextSyncToken else {
                        try await connections.recordError(id, message: "the last page of events.list had no nextSyncToken")
                        return .retry(error: "the last page of events.list had no nextSyncToken", delay: nil)
                    }
                    report.removed = try await connections.finishSync(id, nextSyncToken: next, generation: generation, fullSync: fullSync).count
                    // Reminders follow the appointments as stored, whichever run of this pass saw the change.
                    if let enqueuer = services.enqueuer {
                        report.reminders = try await AppointmentReminders(pool: pool, enqueuer: enqueuer).reconcile(connection: id)
                    }
                    report.watch = await renewWatch(id, calendarID: pass.calendarID, calendar: calendar, credentials: credentials, store: connections)
                    return .completed(result: report.text)
                }
            }
        } catch let error as CalendarStoreError {
            switch error {
            case .superseded, .notFound:
                // Disconnected, or another run began a newer pass: that one carries on.
                return .completed(result: "stopped: \(error.description)")
            default:
                return .dead(reason: error.description)
            }
        }
    }

    /// Opens the connection's push channel when it has none or the one it has ends within a day (the
    /// provider's notifications then trigger syncs between the scheduled ones), and stops the old one.
    /// A failure here fails nothing: the schedule still syncs, and the next sync tries again.
    private func renewWatch(
        _ id: String, calendarID: String, calendar: CalendarServices, credentials: any ProviderCredentials, store: CalendarConnectionStore
    ) async -> String? {
        guard let address = calendar.webhookURL else { return nil }
        let clock = SystemClock()
        do {
            let old = try await store.channel(of: id)
            if let old, old.expiresAtMs > clock.nowMillis() + 86_400_000 { return nil }
            let watch = GoogleCalendarWatch(http: services!.http, google: calendar.google, clock: clock)
            switch await watch.watch(calendarID: calendarID, address: address, credentials: credentials) {
            case .failure(let refusal):
                return "push channel not opened: \(Self.describe(refusal.verdict))"
            case .success(let channel):
                try await store.saveChannel(id, channel)
                if let old { _ = await watch.stop(old, credentials: credentials) }
                return "push channel open until \(CivilTime(unixMillis: channel.expiresAtMs).rfc3339)"
            }
        } catch {
            return "push channel not opened: \(error)"
        }
    }

    /// What a refused `events.list` means for the job, with the connection's status kept in step.
    private func refused(_ verdict: ProviderVerdict, connection id: String, store: CalendarConnectionStore) async throws -> JobOutcome {
        switch verdict {
        case .rateLimited(_, let reason):
            // A per-user limit is the tenant's to wait for; a project-wide one every tenant's.
            return verdict.outcome(limit: reason.contains("userRateLimitExceeded") ? "tenant" : "google")
        case .permanent(let code, let reason) where code == "invalid_grant" || reason.hasPrefix("needs_reauth"):
            // SharedAccessToken has marked the connection needs_reauth (schedule paused, event recorded).
            return .dead(reason: reason.hasPrefix("needs_reauth") ? reason : "needs_reauth: \(reason)")
        case .permanent(let code, let reason) where code == "auth_failed":
            // A fresh token refused too: Google's 401s come and go. The refresh token still works (a
            // refused one is invalid_grant above), so the next attempt resumes the pass from its page.
            try await store.recordError(id, message: reason)
            return .retry(error: reason, delay: nil)
        default:
            try await store.recordError(id, message: Self.describe(verdict))
            return verdict.outcome()
        }
    }

    static func describe(_ verdict: ProviderVerdict) -> String {
        switch verdict {
        case .success: return "ok"
        case .retryable(let reason, _): return "events.list failed: \(reason)"
        case .rateLimited(_, let reason): return "rate limited: \(reason)"
        case .authExpired(let reason): return "credentials refused: \(reason)"
        case .permanent(let code, let reason): return "events.list refused (\(code)): \(reason)"
        }
    }

    /// What a run did, as the job's result.
    struct SyncReport {
        var full: Bool
        var resumed: Bool
        var restartedAfter410 = false
        var pages = 0
        var events = 0
        var changes = 0
        var removed = 0
        /// What happened to the push channel, when something did.
        var watch: String?
        var reminders: ReminderReport?

        var text: String {
            var parts = ["\(full ? "full" : "incremental") sync\(resumed ? " (resumed)" : "")"]
            if restartedAfter410 { parts.append("after a 410") }
            parts.append("\(pages) pages, \(events) events, \(changes) changed, \(removed) removed")
            if let reminders, reminders != ReminderReport() { parts.append("reminders: \(reminders)") }
            if let watch { parts.append(watch) }
            return parts.joined(separator: ", ")
        }
    }
}
