import Logging
import SpoolHTTP

/// Google Calendar's push notifications (`events.watch`): a `sync` message when a channel opens, then
/// `exists` after each change to its calendar, each a POST with no body and Google's X-Goog-* headers.
/// A channel's messages go out one at a time and in order, from a task that lives while it has some to
/// send; a failed delivery is counted and not retried, as Google does not promise delivery either.
struct PushNotificationSender: Sendable {
    let state: SandboxState
    let client: HTTPClient
    let logger: Logger

    /// Queues a message for one channel. Called with the store locked: only numbers it and spawns.
    func enqueue(_ resourceState: WatchChannels.ResourceState, channelID: String, store: inout SandboxState.Store, nowMs: Int64) {
        let due = nowMs + Int64(store.settings.calendarPushDelayMs)
        store.counters.calendarNotificationsQueued[resourceState.rawValue, default: 0] += 1
        guard let generation = store.channels.enqueue(resourceState, channelID: channelID, dueMs: due) else { return }
        Task { await deliver(channelID: channelID, generation: generation) }
    }

    /// `exists` to every live channel watching the calendar, after a change to it. Called with the store locked.
    func calendarChanged(_ calendarID: String, store: inout SandboxState.Store, nowMs: Int64) {
        for channelID in store.channels.watching(calendarID, nowMs: nowMs) {
            enqueue(.exists, channelID: channelID, store: &store, nowMs: nowMs)
        }
    }

    private func deliver(channelID: String, generation: Int) async {
        while let delivery = state.withStore({ $0.channels.next(channelID, generation: generation, nowMs: SandboxTime.nowMs()) }) {
            let wait = delivery.message.dueMs - SandboxTime.nowMs()
            if wait > 0 { try? await sleep(milliseconds: Int(wait)) }
            // Stopped or expired while it waited: the loop's next turn ends the task.
            guard state.withStore({ $0.channels.isLive(channelID, generation: generation, nowMs: SandboxTime.nowMs()) }) else { continue }
            await post(delivery)
        }
    }

    private func post(_ delivery: WatchChannels.Delivery) async {
        let channel = delivery.channel
        var headers: HeaderFields = [
            "X-Goog-Channel-ID": channel.id,
            "X-Goog-Channel-Expiration": SandboxTime.rfc1123(channel.expirationMs),
            "X-Goog-Resource-ID": channel.resourceID,
            "X-Goog-Resource-URI": channel.resourceURI,
            "X-Goog-Resource-State": delivery.message.state.rawValue,
            "X-Goog-Message-Number": String(delivery.message.number),
        ]
        if let token = channel.token { headers.add("X-Goog-Channel-Token", token) }
        let request = HTTPClientRequest("POST", channel.address, headers: headers, timeout: .seconds(15))
        do {
            let response = try await client.send(request)
            state.withStore { store in
                if (200..<300).contains(response.status) {
                    store.counters.calendarNotificationsDelivered += 1
                } else {
                    store.counters.calendarNotificationsFailed += 1
                    store.counters.calendarNotificationFailures["status \(response.status)", default: 0] += 1
                }
            }
        } catch {
            let kind = (error as? HTTPClientError)?.kind.rawValue ?? "other"
            state.withStore {
                $0.counters.calendarNotificationsFailed += 1
                $0.counters.calendarNotificationFailures[kind, default: 0] += 1
            }
            logger.debug("push notification failed", metadata: ["channel": "\(channel.id)", "error": "\(error)"])
        }
    }
}
