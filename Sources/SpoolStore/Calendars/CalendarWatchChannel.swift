/// A connection's push-notification channel (the provider's `events.watch`).
public struct CalendarWatchChannel: Sendable, Equatable {
    /// Our id for the channel, which the provider sends back as X-Goog-Channel-ID.
    public var channelID: String
    /// The secret the provider sends back as X-Goog-Channel-Token: a notification without it is forged.
    public var token: String
    /// The provider's id of the watched resource, which stopping the channel needs.
    public var resourceID: String?
    public var expiresAtMs: Int64

    public init(channelID: String, token: String, resourceID: String?, expiresAtMs: Int64) {
        self.channelID = channelID
        self.token = token
        self.resourceID = resourceID
        self.expiresAtMs = expiresAtMs
    }
}

/// A live connection's channel, found by the channel's id (a push notification) or by its expiry (renewal).
public struct CalendarChannelOwner: Sendable, Equatable {
    public let connectionID: String
    public let tenantID: String
    public let status: CalendarStatus
    public let channel: CalendarWatchChannel
}
