import HTTPTypes
import Hummingbird
import SpoolQueue
import SpoolStore
import SpoolSupport

/// `POST /v1/webhooks/google/calendar`: Google Calendar's push notifications (the channels the
/// `calendar-sync` kind opens with `events.watch`). Not behind API keys: the channel's id names the
/// connection and its secret token (X-Goog-Channel-Token, compared in constant time) proves the
/// notification is the provider's. The body is empty; the headers say what happened:
/// - `X-Goog-Resource-State: sync`: the channel was just opened; nothing to do;
/// - `exists` (or `not_exists`): the calendar changed: a `calendar-sync` job is enqueued, which the
///   kind's `unique` option folds into one already waiting, so a burst of changes is one sync.
///
/// Answers 200 at once (a provider retries anything else). An unknown channel (stopped, replaced, or a
/// disconnected connection's) is 404, which tells Google to stop; a wrong token is 403; a connection
/// that needs reauth is acknowledged and not synced.
struct GoogleCalendarWebhookRoutes: Sendable {
    let services: APIServices

    func register(on router: Router<APIContext>) {
        router.post("/v1/webhooks/google/calendar") { request, _ in try await notification(request) }
    }

    private func notification(_ request: Request) async throws -> Response {
        guard let channelID = request.headers[HTTPField.Name("X-Goog-Channel-ID")!], !channelID.isEmpty, channelID.count <= 200 else {
            throw APIError.invalid("X-Goog-Channel-ID", "X-Goog-Channel-ID: the header naming the channel is missing")
        }
        let state = request.headers[HTTPField.Name("X-Goog-Resource-State")!] ?? ""
        let store = CalendarConnectionStore(pool: services.pool, enqueuer: services.enqueuer, clock: services.clock)
        guard let owner = try await store.connection(forChannel: channelID) else {
            throw APIError.notFound("channel \(channelID.prefix(64))")
        }
        let token = request.headers[HTTPField.Name("X-Goog-Channel-Token")!] ?? ""
        guard !owner.channel.token.isEmpty, Hashing.constantTimeEqual(Array(token.utf8), Array(owner.channel.token.utf8)) else {
            throw APIError(status: 403, code: "forbidden", message: "X-Goog-Channel-Token does not match the channel's")
        }
        guard state == "exists" || state == "not_exists", owner.status != .needsReauth else { return Response(status: .ok) }
        let job = EnqueueRequest(
            kind: CalendarConnectionStore.syncKind, args: CalendarConnectionStore.syncArgs(owner.connectionID), tenant: owner.tenantID)
        _ = try await services.enqueuer.enqueue(job)
        return Response(status: .ok)
    }
}
