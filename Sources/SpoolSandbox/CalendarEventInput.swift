import SpoolSupport

/// The body of `PUT /_sandbox/calendars/{calendar}/events/{event}`: `{"summary", "start", "end",
/// "timeZone", "allDay", "phone", "email", "status"}`, every field optional. A new event gets defaults
/// for what is missing (start is required); an existing one keeps its values for the fields left out,
/// and `phone` or `email` set to null removes them.
///
/// Times: with `allDay` (false by default, or the event's kind when it exists) `start` and `end` are
/// RFC 3339 instants with their offset and `timeZone` is an IANA zone (UTC by default); with it, they
/// are dates (`2026-11-22`) and the end date is not included. A missing end keeps the event's length,
/// or is an hour (a day) after the start.
struct CalendarEventInput: Sendable {
    /// A field the request may leave alone, clear with null, or set.
    enum Edit<Value: Sendable>: Sendable {
        case keep, clear, set(Value)

        func applied(to current: Value?) -> Value? {
            switch self {
            case .keep: return current
            case .clear: return nil
            case .set(let value): return value
            }
        }
    }

    static let fields: Set<String> = ["summary", "start", "end", "timeZone", "allDay", "phone", "email", "status"]

    var summary: String?
    var start: String?
    var end: String?
    var timeZone: String?
    var allDay: Bool?
    var phone: Edit<String> = .keep
    var email: Edit<String> = .keep
    var status: CalendarEvent.Status?

    static func parse(_ json: JSONValue) throws(SandboxInputError) -> CalendarEventInput {
        guard let fields = json.objectValue else { throw SandboxInputError("the body must be a JSON object, not \(json.typeName)") }
        for name in fields.keys.sorted() where !Self.fields.contains(name) {
            throw SandboxInputError("unknown field '\(name)'; expected \(Self.fields.sorted().joined(separator: ", "))")
        }
        var input = CalendarEventInput()
        input.summary = try string("summary", fields)
        input.start = try string("start", fields)
        input.end = try string("end", fields)
        input.timeZone = try string("timeZone", fields)
        if let zone = input.timeZone, ZoneInfo.named(zone) == nil {
            throw SandboxInputError("field 'timeZone': '\(zone.prefix(64))' is not a time zone (an IANA name such as America/New_York)")
        }
        if let value = fields["allDay"], value != .null {
            guard let flag = value.boolValue else { throw SandboxInputError("field 'allDay': expected true or false, got \(value.text)") }
            input.allDay = flag
        }
        if let value = fields["status"], value != .null {
            guard let text = value.stringValue, let status = CalendarEvent.Status(rawValue: text) else {
                throw SandboxInputError(
                    "field 'status': expected one of \(CalendarEvent.Status.allCases.map(\.rawValue).joined(separator: ", ")), got \(value.text)"
                )
            }
            input.status = status
        }
        input.phone = try edit("phone", fields) { (text: String) throws(SandboxInputError) -> String in
            do throws(PhoneNumber.ParseError) { return try PhoneNumber(e164: text).e164 } catch {
                throw SandboxInputError("field 'phone': \(error.message)")
            }
        }
        input.email = try edit("email", fields) { (text: String) throws(SandboxInputError) -> String in
            let parts = text.split(separator: "@", omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty, parts[1].contains("."), !text.contains(where: \.isWhitespace) else {
                throw SandboxInputError("field 'email': '\(text.prefix(80))' is not an e-mail address")
            }
            return text
        }
        return input
    }

    /// The event's times after this edit of `existing` (nil: a new event).
    func span(over existing: CalendarEvent.Span?) throws(SandboxInputError) -> CalendarEvent.Span {
        if allDay ?? existing?.isAllDay ?? false {
            var current: (start: Int, end: Int)?
            if case .allDay(let start, let end)? = existing { current = (start, end) }
            let startDay: Int
            if let start {
                startDay = try Self.day("start", start)
            } else if let current {
                startDay = current.start
            } else {
                throw SandboxInputError("field 'start': required for a new all-day event (a date such as 2026-11-22)")
            }
            var endDay = startDay + (current.map { $0.end - $0.start } ?? 1)
            if let end { endDay = try Self.day("end", end) }
            guard endDay > startDay else {
                throw SandboxInputError("field 'end': \(end ?? "") is not after the start; the end date is exclusive")
            }
            return .allDay(startDay: startDay, endDay: endDay)
        }
        var current: (start: Int64, end: Int64, zone: String)?
        if case .timed(let start, let end, let zone)? = existing { current = (start, end, zone) }
        let startMs: Int64
        if let start {
            startMs = try Self.instant("start", start)
        } else if let current {
            startMs = current.start
        } else {
            throw SandboxInputError("field 'start': required for a new timed event (\(CivilTime.iso8601Form))")
        }
        var endMs = startMs + (current.map { $0.end - $0.start } ?? 3_600_000)
        if let end { endMs = try Self.instant("end", end) }
        guard endMs > startMs else { throw SandboxInputError("field 'end': \(end ?? "") is not after the start") }
        return .timed(startMs: startMs, endMs: endMs, timeZone: timeZone ?? current?.zone ?? "UTC")
    }

    private static func string(_ name: String, _ fields: [String: JSONValue]) throws(SandboxInputError) -> String? {
        guard let value = fields[name], value != .null else { return nil }
        guard let text = value.stringValue else {
            throw SandboxInputError("field '\(name)': expected a string, got \(value.text.prefix(80))")
        }
        return text
    }

    private static func edit(
        _ name: String, _ fields: [String: JSONValue], _ check: (String) throws(SandboxInputError) -> String
    ) throws(SandboxInputError) -> Edit<String> {
        guard let value = fields[name] else { return .keep }
        if value == .null { return .clear }
        guard let text = value.stringValue else {
            throw SandboxInputError("field '\(name)': expected a string or null, got \(value.text.prefix(80))")
        }
        return .set(try check(text))
    }

    private static func instant(_ name: String, _ text: String) throws(SandboxInputError) -> Int64 {
        do { return try CivilTime.unixMillis(iso8601: text) } catch {
            throw SandboxInputError("field '\(name)': '\(text.prefix(40))' \(error.problem) (expected \(CivilTime.iso8601Form))")
        }
    }

    /// Days since 1970-01-01 of a `YYYY-MM-DD` date.
    private static func day(_ name: String, _ text: String) throws(SandboxInputError) -> Int {
        guard text.utf8.count == 10 else {
            throw SandboxInputError("field '\(name)': expected a date such as 2026-11-22, got '\(text.prefix(40))'")
        }
        do { return Int(try CivilTime.unixMillis(iso8601: text + "T00:00:00Z") / 86_400_000) } catch {
            throw SandboxInputError("field '\(name)': '\(text)' is not a date: \(error.problem)")
        }
    }
}
