/// Why a message is sent, which decides the gates it passes (`SendGates`). US rules (TCPA, CTIA)
/// ask recorded consent and daytime hours of marketing texts, not of texts a person is waiting for.
/// The raw values are `messages.purpose`'s check constraint (a test compares them).
public enum MessagePurpose: String, Sendable, Codable, CaseIterable {
    /// Campaigns: every gate, recorded consent and quiet hours included.
    case marketing
    /// Replies, reminders, codes, the message API's default: do-not-contact, pauses, the sender and
    /// the budget still apply; marketing consent and quiet hours do not.
    case transactional
}
