import SpoolHTTP
import SpoolQueue
import SpoolStore
import SpoolSupport

/// Google Calendar push notifications for one calendar: `events.watch` opens a channel that POSTs to
/// our webhook (`POST /v1/webhooks/google/calendar`) whenever the calendar changes, carrying the
/// channel's id and its secret token; `channels.stop` closes one. A channel expires (a week here), so the
/// sync job opens a new one before the old one ends.
struct GoogleCalendarWatch: Sendable {
    let http: HTTPClient
    let google: GoogleConfiguration
    let clock: any WallClock
    /// How long a channel is asked to live (Google's default and usual cap for events).
    var lifetime: Duration = .seconds(7 * 86_400)
    var timeout: Duration = .seconds(30)

    /// Opens a channel for `calendarID` that notifies `address`, with a new id and secret token.
    func watch(calendarID: String, address: String, credentials: any ProviderCredentials) async -> Result<CalendarWatchChannel, WatchRefusal> {
        let channelID = "ch_" + JobID.make(now: clock.nowMillis()).lowercased()
        let token = Hashing.hex((0..<24).map { _ in UInt8.random(in: 0...255) })
        let body: JSONValue = .object([
            "id": .string(channelID), "type": .string("web_hook"), "address": .string(address), "token": .string(token),
            "params": .object(["ttl": .string(String(lifetime.milliseconds / 1000))]),
        ])
        let path = FormEncoding.escape(calendarID).replacing("+", with: "%20")
        let url = "\(google.calendarURL)/calendars/\(path)/events/watch"
        let result = await http.call(clock: clock, credentials: credentials) { credential in
            HTTPClientRequest(
                "POST", url, headers: ["Authorization": HTTPClientRequest.bearerAuthorization(credential ?? "")], body: .json(body.text),
                timeout: timeout)
        }
        guard result.verdict.isSuccess, let response = result.response else { return .failure(WatchRefusal(verdict: result.verdict)) }
        guard let json = try? JSONValue.parse(response.text), json["id"]?.stringValue == channelID else {
            return .failure(WatchRefusal(verdict: .retryable(reason: "events.watch answered what is not the channel asked for", after: nil)))
        }
        // `expiration` is unix ms as a string; without it, the lifetime asked for.
        let expires = json["expiration"]?.stringValue.flatMap { Int64($0) } ?? clock.nowMillis() + lifetime.milliseconds
        return .success(CalendarWatchChannel(channelID: channelID, token: token, resourceID: json["resourceId"]?.stringValue, expiresAtMs: expires))
    }

    /// Closes a channel; one the provider no longer knows (404) is closed already.
    func stop(_ channel: CalendarWatchChannel, credentials: any ProviderCredentials) async -> ProviderVerdict {
        var fields: [String: JSONValue] = ["id": .string(channel.channelID)]
        if let resource = channel.resourceID { fields["resourceId"] = .string(resource) }
        let url = "\(google.calendarURL)/channels/stop"
        let result = await http.call(clock: clock, credentials: credentials) { credential in
            HTTPClientRequest(
                "POST", url, headers: ["Authorization": HTTPClientRequest.bearerAuthorization(credential ?? "")],
                body: .json(JSONValue.object(fields).text), timeout: timeout)
        }
        return result.response?.status == 404 ? .success : result.verdict
    }

    struct WatchRefusal: Error {
        let verdict: ProviderVerdict
    }
}
