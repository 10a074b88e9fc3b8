import SpoolHTTP
import SpoolStore
import SpoolSupport

/// Google Calendar v3 `events.list`, as a sync reads it: pages of 250 events, recurring events expanded
/// into their instances (`singleEvents`), deleted ones included (`showDeleted`) so that a full sync and
/// an incremental one see cancellations the same way. With a `syncToken`, Google refuses time filters
/// and ordering, so none is sent; a page token carries on with the parameters of its first page.
struct GoogleCalendarEvents: Sendable {
    let http: HTTPClient
    let google: GoogleConfiguration
    let clock: any WallClock
    var pageSize = 250
    var timeout: Duration = .seconds(30)

    struct Page: Sendable {
        var events: [AppointmentRecord] = []
        var nextPageToken: String?
        var nextSyncToken: String?
    }

    enum Answer: Sendable {
        case page(Page)
        /// 410: the sync token expired (`fullSyncRequired`); sync everything again.
        case fullSyncRequired
        /// Anything else: what the provider's answer means for the job.
        case refused(ProviderVerdict)
    }

    func list(calendarID: String, syncToken: String?, pageToken: String?, credentials: any ProviderCredentials) async -> Answer {
        var query = [("maxResults", String(pageSize)), ("singleEvents", "true"), ("showDeleted", "true")]
        if let pageToken { query.append(("pageToken", pageToken)) } else if let syncToken { query.append(("syncToken", syncToken)) }
        let path = FormEncoding.escape(calendarID).replacing("+", with: "%20")
        let url = "\(google.calendarURL)/calendars/\(path)/events?\(FormEncoding.encode(query))"
        let result = await http.call(clock: clock, credentials: credentials) { token in
            var request = HTTPClientRequest(
                "GET", url, headers: ["Authorization": HTTPClientRequest.bearerAuthorization(token ?? "")], timeout: timeout)
            request.maximumResponseBytes = 16 << 20
            return request
        }
        if result.response?.status == 410 { return .fullSyncRequired }
        guard result.verdict.isSuccess, let response = result.response else { return .refused(result.verdict) }
        do {
            return .page(try Self.page(response.body))
        } catch {
            return .refused(.retryable(reason: "events.list answered what is not an events page: \(error)", after: nil))
        }
    }

    struct BadPage: Error, CustomStringConvertible {
        let description: String
    }

    /// Reads one `calendar#events` page. An event whose times do not read is refused with its id.
    static func page(_ body: [UInt8]) throws -> Page {
        let json = try JSONValue.parse(bytes: body, maximumValues: max(10_000, body.count / 8))
        guard let items = json["items"]?.arrayValue ?? (json["kind"]?.stringValue == "calendar#events" ? [] : nil) else {
            throw BadPage(description: "no items")
        }
        let zone = json["timeZone"]?.stringValue.flatMap(ZoneInfo.named)
        var page = Page()
        page.nextPageToken = json["nextPageToken"]?.stringValue
        page.nextSyncToken = json["nextSyncToken"]?.stringValue
        page.events = try items.map { try event($0, calendarZone: zone) }
        return page
    }

    static func event(_ item: JSONValue, calendarZone: ZoneInfo?) throws -> AppointmentRecord {
        guard let id = item["id"]?.stringValue, !id.isEmpty else { throw BadPage(description: "an event without an id") }
        var record = AppointmentRecord(eventID: id, etag: item["etag"]?.stringValue)
        switch item["status"]?.stringValue {
        case "cancelled":
            // Deleted events come as their id, etag and status only.
            record.status = .cancelled
            return record
        case "tentative": record.status = .tentative
        default: record.status = .confirmed
        }
        record.summary = item["summary"]?.stringValue
        let start = try time(item["start"], of: id, field: "start", calendarZone: calendarZone)
        let end = try time(item["end"], of: id, field: "end", calendarZone: calendarZone)
        record.startsAtMs = start.ms
        record.endsAtMs = end.ms
        record.startZone = start.zone
        record.endZone = end.zone
        record.allDay = start.allDay
        record.contactPhone = item["extendedProperties"]?["private"]?["phone"]?.stringValue
        record.attendeeEmails = (item["attendees"]?.arrayValue ?? []).compactMap { $0["email"]?.stringValue }
        return record
    }

    /// `{"dateTime": RFC 3339, "timeZone"?}` or `{"date": "YYYY-MM-DD"}` (all day: that day's midnight
    /// in the calendar's zone, UTC when it has none).
    static func time(_ value: JSONValue?, of id: String, field: String, calendarZone: ZoneInfo?) throws -> (ms: Int64, zone: String?, allDay: Bool) {
        let zoneName = value?["timeZone"]?.stringValue
        if let text = value?["dateTime"]?.stringValue {
            do { return (try CivilTime.unixMillis(iso8601: text), zoneName, false) } catch {
                throw BadPage(description: "event \(id.prefix(64)): \(field).dateTime '\(text.prefix(40))': \(error)")
            }
        }
        if let text = value?["date"]?.stringValue {
            let parts = text.split(separator: "-").compactMap { Int($0) }
            guard parts.count == 3, (1...12).contains(parts[1]), (1...31).contains(parts[2]) else {
                throw BadPage(description: "event \(id.prefix(64)): \(field).date '\(text.prefix(40))' is not YYYY-MM-DD")
            }
            let local = Int64(CivilTime.daysFromCivil(year: parts[0], month: parts[1], day: parts[2])) * 86_400_000
            guard let zone = calendarZone else { return (local, zoneName, true) }
            let guess = local - Int64(zone.offset(at: local / 1000)) * 1000
            return (local - Int64(zone.offset(at: guess / 1000)) * 1000, zoneName, true)
        }
        throw BadPage(description: "event \(id.prefix(64)): \(field) has neither dateTime nor date")
    }
}
