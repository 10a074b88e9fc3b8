import SpoolSupport

/// An event as Google Calendar v3 writes it (`calendar#event`). A cancelled event is only its id,
/// etag and status, as incremental syncs and `showDeleted` listings show deleted events.
enum GoogleEventResource {
    static func json(_ event: CalendarEvent, calendarID: String) -> JSONValue {
        var fields: [String: JSONValue] = [
            "kind": .string("calendar#event"), "etag": .string("\"\(event.change)\""), "id": .string(event.id),
            "status": .string(event.status.rawValue),
        ]
        guard event.status != .cancelled else { return .object(fields) }
        let owner: JSONValue = .object(["email": .string(calendarID), "self": .bool(true)])
        fields["summary"] = .string(event.summary)
        fields["created"] = .string(SandboxTime.rfc3339(event.createdMs))
        fields["updated"] = .string(SandboxTime.rfc3339(event.updatedMs))
        fields["creator"] = owner
        fields["organizer"] = owner
        switch event.span {
        case .timed(let start, let end, let zone):
            fields["start"] = .object(["dateTime": .string(dateTime(start, zone: zone)), "timeZone": .string(zone)])
            fields["end"] = .object(["dateTime": .string(dateTime(end, zone: zone)), "timeZone": .string(zone)])
        case .allDay(let start, let end):
            fields["start"] = .object(["date": .string(date(start))])
            fields["end"] = .object(["date": .string(date(end))])
        }
        fields["iCalUID"] = .string("\(event.id)@sandbox")
        fields["sequence"] = .number(Double(event.revision))
        fields["reminders"] = .object(["useDefault": .bool(true)])
        fields["eventType"] = .string("default")
        if let phone = event.phone {
            fields["extendedProperties"] = .object(["private": .object(["phone": .string(phone)])])
        }
        if !event.attendees.isEmpty {
            fields["attendees"] = .array(
                event.attendees.map { .object(["email": .string($0), "responseStatus": .string("needsAction")]) })
        }
        return .object(fields)
    }

    /// RFC 3339 at the zone's offset then, as Google writes `dateTime`: "2026-11-22T10:00:00-05:00"
    /// ("Z" in UTC). A zone this machine has no file for is written in UTC.
    static func dateTime(_ ms: Int64, zone: String) -> String {
        let seconds = ms >= 0 ? ms / 1000 : (ms - 999) / 1000
        let offset = ZoneInfo.named(zone)?.offset(at: seconds) ?? 0
        let local = CivilTime(unixMillis: ms + Int64(offset) * 1000)
        let text =
            "\(CivilTime.pad(local.year, 4))-\(CivilTime.pad(local.month))-\(CivilTime.pad(local.day))T"
            + "\(CivilTime.pad(local.hour)):\(CivilTime.pad(local.minute)):\(CivilTime.pad(local.second))"
        if offset == 0 { return text + "Z" }
        let magnitude = abs(offset)
        return text + (offset < 0 ? "-" : "+") + CivilTime.pad(magnitude / 3600) + ":" + CivilTime.pad(magnitude / 60 % 60)
    }

    /// "2026-11-22" for days since 1970-01-01.
    static func date(_ day: Int) -> String { CivilTime.date(Int64(day) * 86_400_000) }
}
