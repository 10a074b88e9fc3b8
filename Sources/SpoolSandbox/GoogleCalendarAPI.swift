import Hummingbird
import SpoolHTTP
import SpoolSupport

/// Google Calendar v3 `events.list`, with full listing, paging (pageToken / nextPageToken) and
/// incremental sync (syncToken / nextSyncToken, deletions as `status: cancelled`). An expired sync
/// token is a 410 `fullSyncRequired`; an expired or unknown access token is a 401.
struct GoogleCalendarAPI: Sendable {
    let state: SandboxState

    func register(on router: Router<BasicRequestContext>) {
        router.get("/calendar/v3/calendars/:calendar/events") { request, context in
            try await list(request, calendarID: FormEncoding.unescape(context.parameters.get("calendar") ?? ""))
        }
    }

    /// What a page token remembers: which listing, from which change, as of which change, and the last
    /// event number handed out (events are listed in number order, so edits between pages shift nothing).
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
        let decision = try await state.enter(.calendar, endpoint: "calendar.events")
        let now = SandboxTime.nowMs()
        let token = request.header("Authorization").flatMap { $0.hasPrefix("Bearer ") ? String($0.dropFirst(7)) : nil } ?? ""
        guard state.withStore({ $0.oauth.isValid(token, nowMs: now) }) else {
            return Self.error(
                401, "Request had invalid authentication credentials. Expected OAuth 2 access token.", reason: "authError",
                status: "UNAUTHENTICATED")
        }
        if let status = decision.injectedStatus {
            let headers = decision.retryAfterSeconds.map { [("Retry-After", String($0))] } ?? []
            switch status {
            case 429:
                return Self.error(429, "Rate Limit Exceeded", reason: "rateLimitExceeded", status: "RESOURCE_EXHAUSTED", headers: headers)
            case 503:
                return Self.error(
                    503, "The service is currently unavailable.", reason: "backendError", status: "UNAVAILABLE", headers: headers)
            default: return Self.error(status, "Backend Error", reason: "backendError", status: "INTERNAL", headers: headers)
            }
        }
        let query = request.query
        guard let maxResults = Int(query["maxResults"] ?? "250"), (1...2500).contains(maxResults) else {
            return Self.error(
                400, "Invalid value for maxResults: \(query["maxResults"] ?? "")", reason: "invalid", status: "INVALID_ARGUMENT")
        }
        let showDeleted = query["showDeleted"] == "true"

        return state.withStore { store -> Response in
            let calendar = store.calendar.calendar(calendarID, nowMs: now)
            var page: PageToken
            if let pageText = query["pageToken"] {
                guard let parsed = PageToken(pageText) else {
                    return Self.error(400, "Invalid page token value.", reason: "invalid", status: "INVALID_ARGUMENT")
                }
                page = parsed
            } else if let syncText = query["syncToken"] {
                let parts = syncText.split(separator: ".")
                let ttl = Int64(store.settings.syncTokenTTLSeconds) * 1000
                guard parts.count == 3, parts[0] == "S", let after = Int(parts[1]), let issued = Int64(parts[2]),
                    issued >= store.calendar.syncTokensValidAfterMs, now - issued <= ttl, after <= calendar.sequence
                else {
                    return Self.error(
                        410, "Sync token is no longer valid, a full sync is required.", reason: "fullSyncRequired", status: "GONE")
                }
                page = PageToken(afterSequence: after, snapshot: calendar.sequence, afterEvent: 0)
            } else {
                page = PageToken(afterSequence: nil, snapshot: calendar.sequence, afterEvent: 0)
            }
            // An event changed after the snapshot is left to the next sync, whose token starts at the snapshot.
            let matching = calendar.events.values.filter { event in
                guard Self.number(event.id) > page.afterEvent, event.sequence <= page.snapshot else { return false }
                if let after = page.afterSequence { return event.sequence > after }
                return showDeleted || event.status == "confirmed"
            }.sorted { Self.number($0.id) < Self.number($1.id) }
            let items = matching.prefix(maxResults)
            var body: [String: JSONValue] = [
                "kind": .string("calendar#events"), "summary": .string(calendarID), "timeZone": .string("UTC"),
                "updated": .string(SandboxTime.rfc3339(now)), "items": .array(items.map(Self.resource)),
            ]
            if items.count < matching.count, let last = items.last {
                body["nextPageToken"] = .string(
                    PageToken(
                        afterSequence: page.afterSequence, snapshot: page.snapshot,
                        afterEvent: Self.number(last.id)
                    ).text)
            } else {
                body["nextSyncToken"] = .string("S.\(page.snapshot).\(now)")
            }
            return SandboxResponse.json(200, .object(body))
        }
    }

    private static func number(_ id: String) -> Int { Int(id.dropFirst(3)) ?? 0 }

    static func resource(_ event: CalendarStore.Event) -> JSONValue {
        var fields: [String: JSONValue] = [
            "kind": .string("calendar#event"), "etag": .string("\"\(event.sequence)\""), "id": .string(event.id),
            "status": .string(event.status),
        ]
        if event.status != "cancelled" {
            fields["summary"] = .string(event.summary)
            fields["start"] = .object(["dateTime": .string(SandboxTime.rfc3339(event.startMs))])
            fields["end"] = .object(["dateTime": .string(SandboxTime.rfc3339(event.startMs + 3_600_000))])
            fields["updated"] = .string(SandboxTime.rfc3339(event.updatedMs))
        }
        return .object(fields)
    }

    static func error(_ code: Int, _ message: String, reason: String, status: String, headers: [(String, String)] = []) -> Response {
        SandboxResponse.json(
            code,
            .object([
                "error": .object([
                    "code": .number(Double(code)), "message": .string(message), "status": .string(status),
                    "errors": .array([.object(["domain": .string("global"), "reason": .string(reason), "message": .string(message)])]),
                ])
            ]), headers: headers)
    }
}
