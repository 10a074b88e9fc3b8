import SpoolHTTP
import SpoolSupport
import TestSupport
import Testing

@testable import SpoolSandbox

/// The sandbox's Google Calendar events: seeded and edited events as Google writes them, incremental
/// sync of edits made through the control endpoints, and the faults calendar calls can meet.
@Suite struct GoogleCalendarSandboxTests {
    private func accessToken(_ sandbox: RunningSandbox, _ client: HTTPClient) async throws -> String {
        let response = try await GoogleOAuthSandboxTests.refresh(sandbox, client, "calendar-test")
        return try #require(response.json?["access_token"]?.stringValue)
    }

    private func list(
        _ sandbox: RunningSandbox, _ client: HTTPClient, token: String, calendar: String, _ query: String
    ) async throws
        -> HTTPClientResponse
    {
        try await client.send(
            HTTPClientRequest(
                "GET", sandbox.baseURL + "/calendar/v3/calendars/\(calendar)/events?" + query,
                headers: ["Authorization": HTTPClientRequest.bearerAuthorization(token)]))
    }

    private func put(
        _ sandbox: RunningSandbox, _ client: HTTPClient, calendar: String, event: String, _ json: String
    ) async throws
        -> HTTPClientResponse
    {
        try await client.send(
            HTTPClientRequest("PUT", sandbox.baseURL + "/_sandbox/calendars/\(calendar)/events/\(event)", body: .json(json)))
    }

    private func delete(_ sandbox: RunningSandbox, _ client: HTTPClient, calendar: String, event: String) async throws -> HTTPClientResponse
    {
        try await client.send(HTTPClientRequest("DELETE", sandbox.baseURL + "/_sandbox/calendars/\(calendar)/events/\(event)"))
    }

    /// Every page of a listing, and the sync token at its end.
    private func listAll(
        _ sandbox: RunningSandbox, _ client: HTTPClient, token: String, calendar: String, _ query: String
    ) async throws
        -> (items: [JSONValue], syncToken: String)
    {
        var items: [JSONValue] = []
        var next = query
        while true {
            let page = try await list(sandbox, client, token: token, calendar: calendar, next)
            let json = try #require(page.json, "page \(page.status): \(page.text)")
            items += json["items"]?.arrayValue ?? []
            if let pageToken = json["nextPageToken"]?.stringValue {
                next = query + "&pageToken=" + FormEncoding.escape(pageToken)
            } else {
                let syncToken = try #require(json["nextSyncToken"]?.stringValue)
                return (items, syncToken)
            }
        }
    }

    @Test func seededEventsCarryZonesPhonesAttendeesAndAllDayDates() async throws {
        let sandbox = try await RunningSandbox.start()
        let client = HTTPClient()
        defer { client.close() }
        let token = try await accessToken(sandbox, client)
        let (items, _) = try await listAll(sandbox, client, token: token, calendar: "primary", "maxResults=250")
        #expect(items.count == 30)
        let phones = items.compactMap { $0["extendedProperties"]?["private"]?["phone"]?.stringValue }
        #expect(phones.count == 24)
        #expect(phones.allSatisfy { (try? PhoneNumber(parsing: $0)) != nil })
        let allDay = items.filter { $0["start"]?["date"] != nil }
        #expect(allDay.count == 3)
        #expect(allDay.allSatisfy { $0["start"]?["dateTime"] == nil && $0["end"]?["date"] != nil })
        let timed = items.filter { $0["start"]?["dateTime"] != nil }
        #expect(timed.allSatisfy { CalendarStore.seededZones.contains($0["start"]?["timeZone"]?.stringValue ?? "") })
        #expect(timed.allSatisfy { item in (try? CivilTime.unixMillis(iso8601: item["start"]?["dateTime"]?.stringValue ?? "")) != nil })
        // Every fifth event reaches its contact by an attendee's e-mail only.
        let emailOnly = items.filter { $0["extendedProperties"] == nil && $0["attendees"] != nil }
        #expect(emailOnly.count == 3)
        #expect(items.allSatisfy { $0["etag"]?.stringValue?.hasPrefix("\"") == true && $0["updated"] != nil })

        try await sandbox.setFaults(#"{"calendar_seeded_events": 1000}"#)
        let (bench, _) = try await listAll(sandbox, client, token: token, calendar: "bench", "maxResults=250")
        #expect(bench.count == 1000)
        #expect(Set(bench.compactMap { $0["id"]?.stringValue }).count == 1000)
        await sandbox.stop()
    }

    @Test func putAndDeleteShowInTheNextIncrementalSync() async throws {
        let sandbox = try await RunningSandbox.start()
        let client = HTTPClient()
        defer { client.close() }
        let token = try await accessToken(sandbox, client)
        let calendar = "clinic%40example.com"
        let (_, syncToken) = try await listAll(sandbox, client, token: token, calendar: calendar, "maxResults=100")

        let created = try await put(
            sandbox, client, calendar: calendar, event: "dentist-1",
            #"{"summary": "Dentist", "start": "2030-01-15T14:00:00Z", "end": "2030-01-15T14:30:00Z", "timeZone": "America/New_York", "phone": "+15552001234", "email": "pat@example.com"}"#
        )
        #expect(created.status == 201)
        let event = try #require(created.json?["event"])
        #expect(event["start"]?["dateTime"]?.stringValue == "2030-01-15T09:00:00-05:00")
        #expect(event["start"]?["timeZone"]?.stringValue == "America/New_York")
        #expect(event["end"]?["dateTime"]?.stringValue == "2030-01-15T09:30:00-05:00")
        #expect(event["extendedProperties"]?["private"]?["phone"]?.stringValue == "+15552001234")
        #expect(event["attendees"]?.arrayValue?.first?["email"]?.stringValue == "pat@example.com")
        #expect(event["sequence"]?.intValue == 0)

        // A move keeps the event's length; its sequence and etag change.
        let moved = try await put(sandbox, client, calendar: calendar, event: "dentist-1", #"{"start": "2030-07-15T13:00:00Z"}"#)
        #expect(moved.status == 200)
        let movedEvent = try #require(moved.json?["event"])
        #expect(movedEvent["start"]?["dateTime"]?.stringValue == "2030-07-15T09:00:00-04:00")
        #expect(movedEvent["end"]?["dateTime"]?.stringValue == "2030-07-15T09:30:00-04:00")
        #expect(movedEvent["sequence"]?.intValue == 1 && movedEvent["etag"] != event["etag"])

        let allDay = try await put(
            sandbox, client, calendar: calendar, event: "closed", #"{"summary": "Closed", "allDay": true, "start": "2030-03-11"}"#)
        #expect(allDay.json?["event"]?["end"]?["date"]?.stringValue == "2030-03-12")
        #expect(try await delete(sandbox, client, calendar: calendar, event: "evt2").status == 200)
        #expect(try await delete(sandbox, client, calendar: calendar, event: "no-such-event").status == 404)

        let changes = try await list(sandbox, client, token: token, calendar: calendar, "syncToken=" + FormEncoding.escape(syncToken))
        let items = try #require(changes.json?["items"]?.arrayValue)
        #expect(items.compactMap { $0["id"]?.stringValue }.sorted() == ["closed", "dentist-1", "evt2"])
        let cancelled = try #require(items.first { $0["id"]?.stringValue == "evt2" })
        #expect(cancelled["status"]?.stringValue == "cancelled" && cancelled["summary"] == nil)
        #expect(items.first { $0["id"]?.stringValue == "dentist-1" }?["start"]?["dateTime"]?.stringValue == "2030-07-15T09:00:00-04:00")

        // A full listing leaves the cancelled event out, unless showDeleted.
        let (full, _) = try await listAll(sandbox, client, token: token, calendar: calendar, "maxResults=100")
        #expect(full.count == 31 && !full.contains { $0["id"]?.stringValue == "evt2" })
        let (withDeleted, _) = try await listAll(sandbox, client, token: token, calendar: calendar, "maxResults=100&showDeleted=true")
        #expect(withDeleted.count == 32)

        let counters = try await sandbox.counters()
        #expect(counters["calendar"]?["events_put"]?.intValue == 3 && counters["calendar"]?["events_cancelled"]?.intValue == 1)
        await sandbox.stop()
    }

    @Test func aBadEventIsRefusedNamingTheField() async throws {
        let sandbox = try await RunningSandbox.start()
        let client = HTTPClient()
        defer { client.close() }
        func refusal(_ json: String, event: String = "e1") async throws -> String {
            let response = try await put(sandbox, client, calendar: "primary", event: event, json)
            #expect(response.status == 400)
            return response.json?["error"]?.stringValue ?? ""
        }
        #expect(try await refusal(#"{"start": "2030-01-15T14:00:00Z", "phone": "555-1234"}"#).contains("field 'phone'"))
        #expect(try await refusal(#"{"start": "tomorrow"}"#).contains("field 'start'"))
        #expect(try await refusal(#"{"summary": "no start"}"#).contains("field 'start': required"))
        #expect(try await refusal(#"{"start": "2030-01-15T14:00:00Z", "end": "2030-01-15T13:00:00Z"}"#).contains("field 'end'"))
        #expect(try await refusal(#"{"start": "2030-01-15T14:00:00Z", "timeZone": "Mars/Olympus"}"#).contains("field 'timeZone'"))
        #expect(try await refusal(#"{"start": "2030-01-15T14:00:00Z", "status": "gone"}"#).contains("field 'status'"))
        #expect(try await refusal(#"{"start": "2030-01-15T14:00:00Z", "colour": "red"}"#).contains("unknown field 'colour'"))
        #expect(try await refusal(#"{"start": "2030-01-15T14:00:00Z"}"#, event: "bad%20id").contains("event id"))
        await sandbox.stop()
    }

    @Test func theUnauthorizedRatioRefusesValidTokensDeterministicallyAndDropsThem() async throws {
        let sandbox = try await RunningSandbox.start()
        let client = HTTPClient()
        defer { client.close() }
        var token = try await accessToken(sandbox, client)
        func refusals(_ calls: Int) async throws -> Int {
            var refused = 0
            for _ in 0..<calls {
                let response = try await list(sandbox, client, token: token, calendar: "primary", "maxResults=1")
                if response.status == 401 {
                    refused += 1
                    #expect(response.json?["error"]?["errors"]?.arrayValue?.first?["reason"]?.stringValue == "authError")
                    // The refused token stays refused, as a revoked one does; a client refreshes it.
                    let injected = try await sandbox.counters()["calendar"]?["unauthorized_injected"]?.intValue
                    #expect(try await list(sandbox, client, token: token, calendar: "primary", "maxResults=1").status == 401)
                    #expect(try await sandbox.counters()["calendar"]?["unauthorized_injected"]?.intValue == injected)
                    token = try await accessToken(sandbox, client)
                } else {
                    #expect(response.status == 200)
                }
            }
            return refused
        }
        try await sandbox.setFaults(#"{"calendar_unauthorized_ratio": 0.3, "seed": 42}"#)
        let first = try await refusals(100)
        #expect((10...50).contains(first))
        #expect(try await sandbox.counters()["calendar"]?["unauthorized_injected"]?.intValue == first)
        // The same seed makes the same choices.
        try await sandbox.setFaults(#"{"seed": 42}"#)
        #expect(try await refusals(100) == first)
        try await sandbox.setFaults(#"{"calendar_unauthorized_ratio": 1}"#)
        #expect(try await refusals(5) == 5)
        try await sandbox.setFaults(#"{"calendar_unauthorized_ratio": 0}"#)
        #expect(try await refusals(5) == 0)
        await sandbox.stop()
    }

    @Test func googleRateLimitsAre403sOr429sInTheUsageLimitsDomain() async throws {
        let sandbox = try await RunningSandbox.start()
        let client = HTTPClient()
        defer { client.close() }
        let token = try await accessToken(sandbox, client)
        try await sandbox.setFaults(#"{"scope": "calendar", "burst_403": 1, "calendar_rate_limit_reason": "userRateLimitExceeded"}"#)
        let limited = try await list(sandbox, client, token: token, calendar: "primary", "maxResults=1")
        #expect(limited.status == 403)
        let error = try #require(limited.json?["error"])
        #expect(error["code"]?.intValue == 403 && error["status"]?.stringValue == "PERMISSION_DENIED")
        let detail = try #require(error["errors"]?.arrayValue?.first)
        #expect(detail["domain"]?.stringValue == "usageLimits" && detail["reason"]?.stringValue == "userRateLimitExceeded")
        guard case .rateLimited = ProviderClassifier.classify(limited, nowMs: SystemClock().nowMillis()) else {
            Issue.record("a 403 userRateLimitExceeded is not a rate limit"); return
        }
        #expect(try await list(sandbox, client, token: token, calendar: "primary", "maxResults=1").status == 200)

        try await sandbox.setFaults(#"{"scope": "calendar", "burst_429": 1, "calendar_rate_limit_reason": "rateLimitExceeded"}"#)
        let tooMany = try await list(sandbox, client, token: token, calendar: "primary", "maxResults=1")
        #expect(tooMany.status == 429 && tooMany.json?["error"]?["status"]?.stringValue == "RESOURCE_EXHAUSTED")
        #expect(tooMany.json?["error"]?["errors"]?.arrayValue?.first?["reason"]?.stringValue == "rateLimitExceeded")
        await #expect { try await sandbox.setFaults(#"{"calendar_rate_limit_reason": "slowDown"}"#) } throws: {
            "\($0)".contains("calendar_rate_limit_reason")
        }
        await sandbox.stop()
    }

    @Test func aSyncTokenRefusesTheParametersGoogleRefusesBesideIt() async throws {
        let sandbox = try await RunningSandbox.start()
        let client = HTTPClient()
        defer { client.close() }
        let token = try await accessToken(sandbox, client)
        let (_, syncToken) = try await listAll(sandbox, client, token: token, calendar: "primary", "maxResults=250")
        let refused = try await list(
            sandbox, client, token: token, calendar: "primary", "syncToken=\(FormEncoding.escape(syncToken))&timeMin=2030-01-01T00:00:00Z")
        #expect(refused.status == 400 && refused.json?["error"]?["message"]?.stringValue?.contains("timeMin") == true)
        // timeMin and timeMax bound a full listing: events ending after the one, starting before the other.
        let (window, _) = try await listAll(
            sandbox, client, token: token, calendar: "primary", "maxResults=250&timeMin=2000-01-01T00:00:00Z&timeMax=2000-01-02T00:00:00Z")
        #expect(window.isEmpty)
        await sandbox.stop()
    }

    @Test func dateTimesAreWrittenAtTheirZonesOffset() throws {
        let winter = try CivilTime.unixMillis(iso8601: "2030-01-15T14:00:00Z")
        #expect(GoogleEventResource.dateTime(winter, zone: "America/New_York") == "2030-01-15T09:00:00-05:00")
        #expect(GoogleEventResource.dateTime(winter, zone: "Asia/Kolkata") == "2030-01-15T19:30:00+05:30")
        #expect(GoogleEventResource.dateTime(winter, zone: "UTC") == "2030-01-15T14:00:00Z")
        #expect(SandboxTime.rfc1123(winter) == "Tue, 15 Jan 2030 14:00:00 GMT")
    }
}
