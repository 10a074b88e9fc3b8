/// Notification channels opened by `events.watch`, each with its queue of notifications still to
/// post. A channel past its expiration is forgotten: it gets nothing more, and its id may be used again.
struct WatchChannels: Sendable {
    /// X-Goog-Resource-State: `sync` once when the channel opens, `exists` after each change.
    enum ResourceState: String, Sendable {
        case sync, exists
    }

    struct Message: Sendable {
        let state: ResourceState
        /// X-Goog-Message-Number: 1 for the sync message, then one more for each message.
        let number: Int
        /// Not posted before this moment (the `calendar_push_delay_ms` setting).
        let dueMs: Int64
    }

    struct Channel: Sendable {
        let id: String
        let resourceID: String
        let resourceURI: String
        let calendarID: String
        let address: String
        let token: String?
        let expirationMs: Int64
        /// Which opening of this id: a delivering task left over from an expired channel whose id was
        /// used again (or from before a `reset`) must not take the new channel's messages.
        var generation = 0
        var messagesNumbered = 0
        var outbox: [Message] = []
        /// Whether a task is posting this channel's outbox; one at a time keeps the messages in order.
        var delivering = false
    }

    /// A message taken from a channel's outbox, with the channel it goes to.
    struct Delivery: Sendable {
        let channel: Channel
        let message: Message
    }

    private(set) var channels: [String: Channel] = [:]

    /// Opens a channel; false when a live channel already has its id.
    mutating func open(_ channel: Channel, nowMs: Int64) -> Bool {
        removeExpired(nowMs: nowMs)
        guard channels[channel.id] == nil else { return false }
        var channel = channel
        channel.generation = Int.random(in: 1...Int.max)  // unique across resets, which start a new store
        channels[channel.id] = channel
        return true
    }

    /// Closes a channel (`channels.stop`); false when no live channel has this id and resource id.
    mutating func stop(id: String, resourceID: String, nowMs: Int64) -> Bool {
        removeExpired(nowMs: nowMs)
        guard channels[id]?.resourceID == resourceID else { return false }
        channels[id] = nil
        return true
    }

    /// The live channels watching a calendar, by id.
    mutating func watching(_ calendarID: String, nowMs: Int64) -> [String] {
        removeExpired(nowMs: nowMs)
        return channels.values.filter { $0.calendarID == calendarID }.map(\.id).sorted()
    }

    /// Numbers a message and queues it. Answers the channel's generation when no task is delivering
    /// for it, so the caller must start one for that generation; nil otherwise.
    mutating func enqueue(_ state: ResourceState, channelID: String, dueMs: Int64) -> Int? {
        guard var channel = channels[channelID] else { return nil }
        channel.messagesNumbered += 1
        channel.outbox.append(Message(state: state, number: channel.messagesNumbered, dueMs: dueMs))
        let start = !channel.delivering
        channel.delivering = true
        channels[channelID] = channel
        return start ? channel.generation : nil
    }

    /// The next message to post on a channel; nil when there is none (the delivering task then ends),
    /// or when the channel was stopped or has expired.
    mutating func next(_ channelID: String, generation: Int, nowMs: Int64) -> Delivery? {
        guard var channel = channels[channelID], channel.generation == generation else { return nil }
        guard nowMs < channel.expirationMs else {
            channels[channelID] = nil
            return nil
        }
        guard !channel.outbox.isEmpty else {
            channels[channelID]?.delivering = false
            return nil
        }
        let message = channel.outbox.removeFirst()
        channels[channelID] = channel
        return Delivery(channel: channel, message: message)
    }

    /// Whether the channel may still be posted to.
    func isLive(_ channelID: String, generation: Int, nowMs: Int64) -> Bool {
        channels[channelID].map { $0.generation == generation && nowMs < $0.expirationMs } ?? false
    }

    private mutating func removeExpired(nowMs: Int64) {
        channels = channels.filter { nowMs < $0.value.expirationMs }
    }
}
