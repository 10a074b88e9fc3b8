/// One event of a sandbox calendar, with what the calendar-sync job reads from Google's: its times and
/// their zone (or whole days), status, the contact's phone (the private extended property `phone`)
/// and attendees' e-mails.
struct CalendarEvent: Sendable, Equatable {
    enum Status: String, Sendable, CaseIterable {
        case confirmed, tentative, cancelled
    }

    /// When it happens: from one instant to another, shown in a named zone; or on whole days, the end
    /// day not included, as Google writes all-day events.
    enum Span: Sendable, Equatable {
        case timed(startMs: Int64, endMs: Int64, timeZone: String)
        /// Days since 1970-01-01.
        case allDay(startDay: Int, endDay: Int)

        /// The same length, later: timed spans by `minutes`, all-day ones by a whole day.
        func moved(minutes: Int) -> Span {
            switch self {
            case .timed(let start, let end, let zone):
                let shift = Int64(minutes) * 60_000
                return .timed(startMs: start + shift, endMs: end + shift, timeZone: zone)
            case .allDay(let start, let end):
                return .allDay(startDay: start + 1, endDay: end + 1)
            }
        }

        var isAllDay: Bool {
            if case .allDay = self { return true }
            return false
        }

        /// The start and end as unix milliseconds; all-day spans from midnight UTC.
        var instants: (startMs: Int64, endMs: Int64) {
            switch self {
            case .timed(let start, let end, _): return (start, end)
            case .allDay(let start, let end): return (Int64(start) * 86_400_000, Int64(end) * 86_400_000)
            }
        }
    }

    let id: String
    /// Its place in listings: the order of creation, which edits never change, so that pages stay put.
    let ordinal: Int
    var summary: String
    var span: Span
    var status: Status
    /// E.164, as the private extended property `phone`.
    var phone: String?
    var attendees: [String]
    /// The calendar's change number of its last edit: a sync token means "changes after number N".
    var change: Int
    /// Google's `sequence`: 0 when created, one more with each edit.
    var revision: Int
    let createdMs: Int64
    var updatedMs: Int64
}
