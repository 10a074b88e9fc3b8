/// The Google Calendar side of the sandbox's memory. Every change to a calendar takes the next
/// sequence number, so a sync token is just "changes after number N".
struct CalendarStore: Sendable {
    struct Event: Sendable {
        let id: String
        var summary: String
        var startMs: Int64
        var status: String  // "confirmed" or "cancelled"
        var sequence: Int
        var updatedMs: Int64
    }

    struct Calendar: Sendable {
        var events: [String: Event] = [:]
        var sequence = 0
        var nextEventNumber = 1
    }

    static let seededEvents = 30
    var calendars: [String: Calendar] = [:]
    /// Sync tokens issued before this moment answer 410 (the `expire_sync_tokens` fault).
    var syncTokensValidAfterMs: Int64 = 0

    /// A calendar seen for the first time starts with the same 30 events every run.
    mutating func calendar(_ id: String, nowMs: Int64) -> Calendar {
        if let existing = calendars[id] { return existing }
        var calendar = Calendar()
        let base = nowMs - nowMs % 86_400_000
        for _ in 0..<Self.seededEvents { calendar.add(startMs: base + Int64(calendar.nextEventNumber) * 3_600_000, nowMs: nowMs) }
        calendars[id] = calendar
        return calendar
    }

    /// Adds, edits and cancels events: what the people using a calendar do between two syncs.
    mutating func change(_ id: String, add: Int, update: Int, delete: Int, nowMs: Int64) -> Calendar {
        var calendar = calendar(id, nowMs: nowMs)
        let live = calendar.events.values.filter { $0.status == "confirmed" }.sorted { $0.sequence < $1.sequence }
        for event in live.prefix(update) {
            calendar.sequence += 1
            calendar.events[event.id]?.summary = event.summary + " (moved)"
            calendar.events[event.id]?.startMs += 1_800_000
            calendar.events[event.id]?.sequence = calendar.sequence
            calendar.events[event.id]?.updatedMs = nowMs
        }
        for event in live.dropFirst(update).suffix(delete) {
            calendar.sequence += 1
            calendar.events[event.id]?.status = "cancelled"
            calendar.events[event.id]?.sequence = calendar.sequence
            calendar.events[event.id]?.updatedMs = nowMs
        }
        let base = nowMs - nowMs % 86_400_000
        for _ in 0..<add { calendar.add(startMs: base + Int64(calendar.nextEventNumber) * 3_600_000, nowMs: nowMs) }
        calendars[id] = calendar
        return calendar
    }
}

extension CalendarStore.Calendar {
    mutating func add(startMs: Int64, nowMs: Int64) {
        sequence += 1
        let id = "evt\(nextEventNumber)"
        events[id] = .init(
            id: id, summary: "Appointment \(nextEventNumber)", startMs: startMs, status: "confirmed", sequence: sequence, updatedMs: nowMs)
        nextEventNumber += 1
    }
}
