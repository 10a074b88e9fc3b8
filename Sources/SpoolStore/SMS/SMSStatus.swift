/// A message's status; `messages.status`'s check constraint lists the same words (a test compares them).
public enum MessageStatus: String, Sendable, Codable, CaseIterable {
    case queued, sending, sent, delivered, undelivered, failed, skipped
    /// An AI reply whose conversation a human took over before it went: kept, never sent.
    case suppressed
    /// An attempt died after queued → sending: the provider must be asked before anything is resent.
    case inDoubt = "in_doubt"
}

/// A campaign's status; `campaigns.status`'s check constraint lists the same words.
public enum CampaignStatus: String, Sendable, Codable, CaseIterable {
    case draft, scheduled, running, paused, cancelled, completed
}
