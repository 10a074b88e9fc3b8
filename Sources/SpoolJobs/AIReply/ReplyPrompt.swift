import SpoolStore
import SpoolSupport

/// The chat request an AI reply is written from: the number's system prompt, rendered, then the
/// latest turns of the conversation that fit the token budget, oldest first.
///
/// The system prompt is a template (`MessageTemplate`'s `{{name}}` syntax) over these variables:
/// `business_name` (the tenant's name), `first_name` (the contact's, empty when unknown), `now`
/// (`2026-12-03 09:30` in the tenant's zone), `date`, `time`, `weekday` and `timezone`.
///
/// Tokens are estimated as OpenAI's guidance has it (about four characters a token, plus a few per
/// message for the roles); the provider's own count, in its answer, is what is recorded and billed.
struct ReplyPrompt: Sendable, Equatable {
    struct Message: Sendable, Equatable {
        /// `system`, `user` or `assistant`.
        let role: String
        let content: String
    }

    let messages: [Message]
    /// The estimate for `messages`: what the tenant's token limiter is charged up front.
    let estimatedTokens: Int
    /// Turns of the conversation left out for the budget.
    let omittedTurns: Int

    static let defaultTemplate = """
        You are the text-message assistant of {{business_name}}. Answer {{first_name}} briefly and kindly in plain text, \
        in the language they write in, in at most three sentences. It is {{now}} ({{timezone}}). If you cannot help, \
        say that a person from the team will follow up.
        """

    /// Tokens per message beyond its text (role and separators), as OpenAI counts for chat models.
    static let perMessageTokens = 4

    static func estimate(_ text: String) -> Int { (text.utf8.count + 3) / 4 + perMessageTokens }

    /// The request for `context`, keeping the newest turns whose estimate fits `budget` tokens after the
    /// system prompt (and at least the newest turn, which is the one being answered), at most
    /// `maximumTurns` of them.
    init(context: AIReplyContext, budget: Int, nowMs: Int64, maximumTurns: Int = .max) {
        let system = Self.render(context.promptTemplate ?? Self.defaultTemplate, context: context, nowMs: nowMs)
        var used = Self.estimate(system)
        var kept: [Message] = []
        for turn in context.turns.reversed().prefix(maximumTurns) {
            let cost = Self.estimate(turn.text)
            guard kept.isEmpty || used + cost <= budget else { break }
            used += cost
            kept.append(Message(role: turn.role == .contact ? "user" : "assistant", content: turn.text))
        }
        messages = [Message(role: "system", content: system)] + kept.reversed()
        estimatedTokens = used
        omittedTurns = context.turns.count - kept.count
    }

    /// The system prompt with its variables filled in; an unknown one is left empty (a number's prompt
    /// is checked when it is set, see `PromptTemplate`).
    static func render(_ template: String, context: AIReplyContext, nowMs: Int64) -> String {
        let zone = ZoneInfo.named(context.tenantTimezone)
        let offset = zone.map { $0.offset(at: nowMs / 1000) } ?? 0
        let local = CivilTime(unixMillis: nowMs + Int64(offset) * 1000)
        let date = "\(local.year)-\(CivilTime.pad(local.month))-\(CivilTime.pad(local.day))"
        let time = "\(CivilTime.pad(local.hour)):\(CivilTime.pad(local.minute))"
        let weekdays = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
        let values = [
            "business_name": context.businessName, "first_name": context.firstName ?? "", "now": "\(date) \(time)",
            "date": date, "time": time, "weekday": weekdays[((local.weekday % 7) + 7) % 7],
            "timezone": zone == nil ? "UTC" : context.tenantTimezone,
        ]
        guard let parsed = try? MessageTemplate(template) else { return template }
        return parsed.render(values)
    }
}
