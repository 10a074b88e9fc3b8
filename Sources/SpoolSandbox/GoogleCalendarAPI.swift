import Hummingbird
import SpoolHTTP
import SpoolSupport

/// Google Calendar v3 `events.list`, with full listing (`timeMin`, `timeMax`, `showDeleted`), paging
/// (pageToken / nextPageToken) and incremental sync (syncToken / nextSyncToken, deletions as
/// `status: cancelled`). An expired sync token is a 410 `fullSyncRequired`; a sync token with a
/// parameter Google refuses beside one is a 400. Events are listed in the order they were created.
struct GoogleCalendarAPI: Sendable {
    let state: SandboxState

    /// Parameters Google does not take together with a syncToken.
    static let notWithSyncToken = [
        "timeMin", "timeMax", "updatedMin", "orderBy", "q", "iCalUID", "privateExtendedProperty", "sharedExtendedProperty",
    ]

    func register(on router: Router<BasicRequestContext>) {
        router.get("/calendar/v3/calendars/:calendar/events") { request, context in
            try await list(request, calendarID: FormEncoding.unescape(context.parameters.get("calendar") ?? ""))
        }
    }

    /// What a page token remembers: which listing, from which change, as of which change, and the last
    /// event ordinal handed out (events are listed by ordinal, so edits between pages shift nothing).
    struct PageToken {
        var afterSequence: Int?  // nil for a full listing
        var snapshot: Int
        var afterEvent: Int

        var text: String { "P.\(afterSequence.map(String.init) ?? "full").\(snapshot).\(afterEvent)" }

        init(afterSequence: Int?, snapshot: Int, afterEvent: Int) {
            self.afterSequence = afterSequence
            self.snapshot = snapshot
            self.afterEvent = afterEvent
        }

        init?(_ text: String) {
            let parts = text.split(separator: ".")
            guard parts.count == 4, parts[0] == "P", let snapshot = Int(parts[2]), let after = Int(parts[3]), after >= 0 else { return nil }
            if parts[1] == "full" { afterSequence = nil } else if let since = Int(parts[1]) { afterSequence = since } else { return nil }
            self.snapshot = snapshot
            self.afterEvent = after
        }
    }

    private func list(_ request: Request, calendarID: String) async throws -> Response {
        if let refusal = try await GoogleCalendarGate(state: state).refusal(request, endpoint: "calendar.events") { return refusal }
        let now = SandboxTime.nowMs()
        let query = request.query
        guard let maxResults = Int(query["maxResults"] ?? "250"), (1...2500).contains(maxResults) else {
            return GoogleErrors.invalid("Invalid value for maxResults: \(query["maxResults"] ?? "")")
        }
        if query["syncToken"] != nil, let name = Self.notWithSyncToken.first(where: { query[$0] != nil }) {
            return GoogleErrors.invalid("The parameter \(name) cannot be used together with syncToken.")
        }
        var window: (fromMs: Int64?, untilMs: Int64?) = (nil, nil)
        for name in ["timeMin", "timeMax"] {
            guard let text = query[name] else { continue }
            do {
                let ms = try CivilTime.unixMillis(iso8601: text)
                if name == "timeMin" { window.fromMs = ms } else { window.untilMs = ms }
            } catch {
                return GoogleErrors.invalid("Invalid value for \(name): '\(text.prefix(40))' \(error.problem)")
            }
        }
        let showDeleted = query["showDeleted"] == "true"

        return state.withStore { store -> Response in
            let calendar = store.calendar.calendar(calendarID, nowMs: now)
            let page: PageToken
            if let pageText = query["pageToken"] {
                guard let parsed = PageToken(pageText) else { return GoogleErrors.invalid("Invalid page token value.") }
                page = parsed
            } else if let syncText = query["syncToken"] {
                let parts = syncText.split(separator: ".")
                let ttl = Int64(store.settings.syncTokenTTLSeconds) * 1000
                guard parts.count == 3, parts[0] == "S", let after = Int(parts[1]), let issued = Int64(parts[2]),
                    issued >= store.calendar.syncTokensValidAfterMs, now - issued <= ttl, after <= calendar.sequence
                else {
                    return GoogleErrors.error(
                        410, "Sync token is no longer valid, a full sync is required.", reason: "fullSyncRequired", status: "GONE")
                }
                page = PageToken(afterSequence: after, snapshot: calendar.sequence, afterEvent: 0)
            } else {
                page = PageToken(afterSequence: nil, snapshot: calendar.sequence, afterEvent: 0)
            }
            // An event changed after the snapshot is left to the next sync, whose token starts at the snapshot.
            func matches(_ event: CalendarEvent) -> Bool {
                guard event.change <= page.snapshot else { return false }
                if let after = page.afterSequence { return event.change > after }
                guard showDeleted || event.status != .cancelled else { return false }
                let (start, end) = event.span.instants
                if let from = window.fromMs, end <= from { return false }
                if let until = window.untilMs, start >= until { return false }
                return true
            }
            var items: [JSONValue] = []
            var lastOrdinal = page.afterEvent
            var more = false
            for event in calendar.events.dropFirst(min(page.afterEvent, calendar.events.count)) where matches(event) {
                if items.count == maxResults {
                    more = true
                    break
                }
                items.append(GoogleEventResource.json(event, calendarID: calendarID))
                lastOrdinal = event.ordinal
            }
            var body: [String: JSONValue] = [
                "kind": .string("calendar#events"), "etag": .string("\"\(page.snapshot)\""), "summary": .string(calendarID),
                "timeZone": .string("UTC"), "accessRole": .string("owner"), "defaultReminders": .array([]),
                "updated": .string(SandboxTime.rfc3339(now)), "items": .array(items),
            ]
            if more {
                body["nextPageToken"] = .string(
                    PageToken(afterSequence: page.afterSequence, snapshot: page.snapshot, afterEvent: lastOrdinal).text)
            } else {
                body["nextSyncToken"] = .string("S.\(page.snapshot).\(now)")
            }
            return SandboxResponse.json(200, .object(body))
        }
    }
}
