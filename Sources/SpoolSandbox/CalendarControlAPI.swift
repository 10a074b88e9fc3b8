import Hummingbird
import SpoolHTTP
import SpoolSupport

/// The sandbox's own calendar endpoints, for tests and benchmarks: what the people using a calendar
/// do between two syncs. Each change notifies the channels watching the calendar.
/// - `POST /_sandbox/calendars/{calendar}/changes {"add", "update", "delete"}`: generated events
///   added, the least recently changed moved by 30 minutes, the most recently changed cancelled;
/// - `PUT /_sandbox/calendars/{calendar}/events/{event}` with `CalendarEventInput`'s fields: creates
///   the event (201) or edits it (200), answering `{"calendar", "sequence", "created", "event"}`;
/// - `DELETE` on the same path cancels it, as deleting does in Google Calendar (404 for no such event).
struct CalendarControlAPI: Sendable {
    let state: SandboxState
    let notifier: PushNotificationSender

    func register(on router: Router<BasicRequestContext>) {
        router.post("/_sandbox/calendars/:calendar/changes") { request, context in
            try await changes(request, calendarID: FormEncoding.unescape(context.parameters.get("calendar") ?? ""))
        }
        router.put("/_sandbox/calendars/:calendar/events/:event") { request, context in
            try await put(
                request, calendarID: FormEncoding.unescape(context.parameters.get("calendar") ?? ""),
                eventID: FormEncoding.unescape(context.parameters.get("event") ?? ""))
        }
        router.delete("/_sandbox/calendars/:calendar/events/:event") { _, context in
            delete(
                calendarID: FormEncoding.unescape(context.parameters.get("calendar") ?? ""),
                eventID: FormEncoding.unescape(context.parameters.get("event") ?? ""))
        }
    }

    private func changes(_ request: Request, calendarID: String) async throws -> Response {
        var request = request
        guard let bytes = try await request.bodyBytes(limit: 64 * 1024), let json = try? JSONValue.parse(bytes: bytes),
            let fields = json.objectValue
        else { return SandboxResponse.badRequest("expected a JSON object with add, update, delete") }
        var counts: [String: Int] = [:]
        for (name, value) in fields.sorted(by: { $0.key < $1.key }) {
            guard ["add", "update", "delete"].contains(name) else { return SandboxResponse.badRequest("unknown field '\(name)'") }
            guard let count = value.intValue, (0...10_000).contains(count) else {
                return SandboxResponse.badRequest("field '\(name)': expected an integer from 0 to 10000, got \(value.text)")
            }
            counts[name] = count
        }
        let now = SandboxTime.nowMs()
        let sequence = state.withStore { store -> Int in
            let before = store.calendar.calendar(calendarID, nowMs: now).sequence
            let after = store.calendar.change(
                calendarID, add: counts["add"] ?? 0, update: counts["update"] ?? 0, delete: counts["delete"] ?? 0, nowMs: now)
            if after != before { notifier.calendarChanged(calendarID, store: &store, nowMs: now) }
            return after
        }
        return SandboxResponse.json(200, .object(["calendar": .string(calendarID), "sequence": .number(Double(sequence))]))
    }

    private func put(_ request: Request, calendarID: String, eventID: String) async throws -> Response {
        var request = request
        if let problem = Self.eventIDProblem(eventID) { return SandboxResponse.badRequest(problem) }
        guard let bytes = try await request.bodyBytes(limit: 64 * 1024) else { return SandboxResponse.badRequest("body over 64 KiB") }
        let input: CalendarEventInput
        do {
            input = try CalendarEventInput.parse(try JSONValue.parse(bytes: bytes))
        } catch let error as SandboxInputError {
            return SandboxResponse.badRequest(error.message)
        } catch {
            return SandboxResponse.badRequest("the body is not JSON: \(error)")
        }
        let now = SandboxTime.nowMs()
        let outcome = state.withStore { store -> Result<(CalendarEvent, Bool, Int), SandboxInputError> in
            do throws(SandboxInputError) {
                let (event, created) = try store.calendar.put(input, event: eventID, calendar: calendarID, nowMs: now)
                store.counters.calendarEventsPut += 1
                notifier.calendarChanged(calendarID, store: &store, nowMs: now)
                return .success((event, created, store.calendar.calendars[calendarID]?.sequence ?? 0))
            } catch {
                return .failure(error)
            }
        }
        switch outcome {
        case .failure(let error):
            return SandboxResponse.badRequest(error.message)
        case .success(let (event, created, sequence)):
            return SandboxResponse.json(
                created ? 201 : 200,
                .object([
                    "calendar": .string(calendarID), "sequence": .number(Double(sequence)), "created": .bool(created),
                    "event": GoogleEventResource.json(event, calendarID: calendarID),
                ]))
        }
    }

    private func delete(calendarID: String, eventID: String) -> Response {
        let now = SandboxTime.nowMs()
        let outcome = state.withStore { store -> (event: CalendarEvent, sequence: Int)? in
            guard let cancelled = store.calendar.cancel(event: eventID, calendar: calendarID, nowMs: now) else { return nil }
            if cancelled.changed {
                store.counters.calendarEventsCancelled += 1
                notifier.calendarChanged(calendarID, store: &store, nowMs: now)
            }
            return (cancelled.event, store.calendar.calendars[calendarID]?.sequence ?? 0)
        }
        guard let outcome else {
            return SandboxResponse.json(404, .object(["error": .string("no event '\(eventID)' in calendar '\(calendarID)'")]))
        }
        return SandboxResponse.json(
            200,
            .object([
                "calendar": .string(calendarID), "sequence": .number(Double(outcome.sequence)),
                "event": GoogleEventResource.json(outcome.event, calendarID: calendarID),
            ]))
    }

    /// Event ids the sandbox takes: 1 to 1024 letters, digits, '-' and '_'.
    static func eventIDProblem(_ id: String) -> String? {
        guard (1...1024).contains(id.count), id.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) else {
            return "event id '\(id.prefix(80))': expected 1 to 1024 letters, digits, '-' and '_'"
        }
        return nil
    }
}
