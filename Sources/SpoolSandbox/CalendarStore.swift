import SpoolSupport

/// The Google Calendar side of the sandbox's memory. Every change to a calendar takes the next
/// sequence number, so a sync token is just "changes after number N".
struct CalendarStore: Sendable {
    struct Calendar: Sendable {
        /// In order of creation: an event's ordinal is its index plus one.
        private(set) var events: [CalendarEvent] = []
        private var positions: [String: Int] = [:]
        var sequence = 0
        /// The number in the next generated id (`evtN`).
        private var nextEventNumber = 1

        func event(_ id: String) -> CalendarEvent? { positions[id].map { events[$0] } }
    }

    static let defaultSeededEvents = 30
    /// Zones the seeded events take in turn, so that a sync meets more than one.
    static let seededZones = ["America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles"]

    var calendars: [String: Calendar] = [:]
    /// Events a calendar seen for the first time starts with (the `calendar_seeded_events` setting).
    var seededEvents = CalendarStore.defaultSeededEvents
    /// Sync tokens issued before this moment answer 410 (the `expire_sync_tokens` fault).
    var syncTokensValidAfterMs: Int64 = 0

    /// A calendar seen for the first time starts with the same `seededEvents` events every run, an hour
    /// apart from the next full hour on.
    mutating func calendar(_ id: String, nowMs: Int64) -> Calendar {
        if let existing = calendars[id] { return existing }
        var calendar = Calendar()
        for _ in 0..<seededEvents { calendar.addGenerated(nowMs: nowMs) }
        calendars[id] = calendar
        return calendar
    }

    /// Adds, edits and cancels events: what the people using a calendar do between two syncs. Answers
    /// the calendar's sequence number after them.
    mutating func change(_ id: String, add: Int, update: Int, delete: Int, nowMs: Int64) -> Int {
        _ = calendar(id, nowMs: nowMs)
        calendars[id]!.change(add: add, update: update, delete: delete, nowMs: nowMs)
        return calendars[id]!.sequence
    }

    /// Creates or edits one event (`PUT /_sandbox/calendars/{id}/events/{event}`).
    mutating func put(
        _ input: CalendarEventInput, event eventID: String, calendar id: String, nowMs: Int64
    ) throws(SandboxInputError) -> (event: CalendarEvent, created: Bool) {
        _ = calendar(id, nowMs: nowMs)
        return try calendars[id]!.put(input, id: eventID, nowMs: nowMs)
    }

    /// Cancels one event, as deleting it in Google Calendar does; nil when the calendar has no such
    /// event. An event already cancelled is answered unchanged.
    mutating func cancel(event eventID: String, calendar id: String, nowMs: Int64) -> (event: CalendarEvent, changed: Bool)? {
        _ = calendar(id, nowMs: nowMs)
        return calendars[id]!.cancel(eventID, nowMs: nowMs)
    }
}

extension CalendarStore.Calendar {
    /// The next generated event, `evtN`: most have a contact phone (what reminders need), every fifth
    /// has only an attendee's e-mail instead, and every tenth is an all-day event with neither.
    mutating func addGenerated(nowMs: Int64) {
        var number = nextEventNumber
        while positions["evt\(number)"] != nil { number += 1 }
        nextEventNumber = number + 1
        let startMs = nowMs - nowMs % 3_600_000 + Int64(number) * 3_600_000
        let email = "patient\(number)@example.com"
        var span = CalendarEvent.Span.timed(
            startMs: startMs, endMs: startMs + 3_600_000,
            timeZone: CalendarStore.seededZones[number % CalendarStore.seededZones.count])
        var phone: String? = "+15552" + CivilTime.pad(number % 1_000_000, 6)
        var attendees = number % 3 == 0 ? [email] : []
        if number % 5 == 0 {
            phone = nil
            attendees = [email]
        }
        if number % 10 == 0 {
            let day = Int(startMs / 86_400_000)
            span = .allDay(startDay: day, endDay: day + 1)
            attendees = []
        }
        append(
            id: "evt\(number)", summary: "Appointment \(number)", span: span, status: .confirmed, phone: phone, attendees: attendees,
            nowMs: nowMs)
    }

    mutating func change(add: Int, update: Int, delete: Int, nowMs: Int64) {
        // Least recently changed first: updates take those, deletions the most recently changed.
        let live = events.filter { $0.status != .cancelled }.sorted { $0.change < $1.change }
        for event in live.prefix(update) {
            touch(event.id, nowMs: nowMs) { event in
                event.summary += " (moved)"
                event.span = event.span.moved(minutes: 30)
            }
        }
        for event in live.dropFirst(update).suffix(delete) {
            touch(event.id, nowMs: nowMs) { $0.status = .cancelled }
        }
        for _ in 0..<add { addGenerated(nowMs: nowMs) }
    }

    mutating func put(
        _ input: CalendarEventInput, id: String, nowMs: Int64
    ) throws(SandboxInputError) -> (event: CalendarEvent, created: Bool) {
        guard let existing = event(id) else {
            let span = try input.span(over: nil)
            append(
                id: id, summary: input.summary ?? "Appointment", span: span, status: input.status ?? .confirmed,
                phone: input.phone.applied(to: nil), attendees: input.email.applied(to: nil).map { [$0] } ?? [], nowMs: nowMs)
            return (event(id)!, true)
        }
        let span = try input.span(over: existing.span)
        touch(id, nowMs: nowMs) { event in
            if let summary = input.summary { event.summary = summary }
            event.span = span
            if let status = input.status { event.status = status }
            event.phone = input.phone.applied(to: event.phone)
            switch input.email {
            case .keep: break
            case .clear: event.attendees = []
            case .set(let email): event.attendees = [email]
            }
        }
        return (event(id)!, false)
    }

    mutating func cancel(_ id: String, nowMs: Int64) -> (event: CalendarEvent, changed: Bool)? {
        guard let existing = event(id) else { return nil }
        if existing.status == .cancelled { return (existing, false) }
        touch(id, nowMs: nowMs) { $0.status = .cancelled }
        return (event(id)!, true)
    }

    private mutating func append(
        id: String, summary: String, span: CalendarEvent.Span, status: CalendarEvent.Status, phone: String?, attendees: [String],
        nowMs: Int64
    ) {
        sequence += 1
        positions[id] = events.count
        events.append(
            CalendarEvent(
                id: id, ordinal: events.count + 1, summary: summary, span: span, status: status, phone: phone, attendees: attendees,
                change: sequence, revision: 0, createdMs: nowMs, updatedMs: nowMs))
    }

    /// One edit: the event takes the calendar's next change number and a new revision.
    private mutating func touch(_ id: String, nowMs: Int64, _ edit: (inout CalendarEvent) -> Void) {
        guard let position = positions[id] else { return }
        sequence += 1
        edit(&events[position])
        events[position].change = sequence
        events[position].revision += 1
        events[position].updatedMs = nowMs
    }
}
