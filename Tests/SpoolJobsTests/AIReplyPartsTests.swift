import SpoolQueue
import SpoolSMS
import SpoolStore
import Testing

@testable import SpoolJobs

/// The ai-reply kind's pure parts: the prompt and its token budget, the template's variables in the
/// tenant's zone, the cost, the reply cut to one message, and when no reply is due.
@Suite struct AIReplyPartsTests {
    static func context(turns: [String], template: String? = nil, zone: String = "UTC", firstName: String? = "Ana") -> AIReplyContext {
        AIReplyContext(
            conversationID: "cv_1", tenantID: "t1", contact: "+14155550100", number: "+14155550199", promptTemplate: template,
            businessName: "Blue Door Dental", tenantTimezone: zone, firstName: firstName,
            turns: turns.enumerated().map { index, text in
                ConversationTurn(role: index % 2 == 0 ? .contact : .assistant, text: text, atMs: Int64(index))
            })
    }

    @Test func thePromptKeepsTheNewestTurnsThatFitTheBudget() {
        let turns = (0..<10).map { "message \($0) " + String(repeating: "x", count: 396) }  // ~100 tokens + 4 each
        let context = Self.context(turns: turns, template: "You help.")
        let all = ReplyPrompt(context: context, budget: 100_000, nowMs: 0)
        #expect(all.messages.count == 11 && all.omittedTurns == 0)
        #expect(all.messages.first == ReplyPrompt.Message(role: "system", content: "You help."))
        #expect(all.messages[1].role == "user" && all.messages[2].role == "assistant")
        // 350 tokens: the system prompt (~7) and the three newest turns (~105 each), oldest first.
        let some = ReplyPrompt(context: context, budget: 350, nowMs: 0)
        #expect(some.messages.count == 4 && some.omittedTurns == 7, "\(some.messages.map { $0.content.prefix(10) })")
        #expect(some.messages[1].content.hasPrefix("message 7") && some.messages[3].content.hasPrefix("message 9"))
        #expect(some.estimatedTokens <= 350)
        // The newest turn is always there, even over the budget: it is the one being answered.
        let tiny = ReplyPrompt(context: context, budget: 10, nowMs: 0)
        #expect(tiny.messages.count == 2 && tiny.messages[1].content.hasPrefix("message 9"))
        // A retry after a context-length error halves the turns.
        let half = ReplyPrompt(context: context, budget: 100_000, nowMs: 0, maximumTurns: 5)
        #expect(half.messages.count == 6 && half.messages[1].content.hasPrefix("message 5"))
    }

    @Test func theTemplateFillsItsVariablesInTheTenantsZone() {
        // 2026-07-01 16:30 UTC is 09:30 in Los Angeles (PDT), a Wednesday.
        let now: Int64 = 1_782_923_400_000
        let template = "{{business_name}} for {{first_name}}: {{now}} {{weekday}} {{timezone}} ({{date}} {{time}})"
        let rendered = ReplyPrompt.render(template, context: Self.context(turns: ["hi"], zone: "America/Los_Angeles"), nowMs: now)
        #expect(rendered == "Blue Door Dental for Ana: 2026-07-01 09:30 Wednesday America/Los_Angeles (2026-07-01 09:30)")
        let nameless = ReplyPrompt.render("Hi {{first_name}}!", context: Self.context(turns: ["hi"], firstName: nil), nowMs: now)
        #expect(nameless == "Hi !")
        // The default prompt names the business and has no variable left.
        let standard = ReplyPrompt(context: Self.context(turns: ["hi"]), budget: 3000, nowMs: now).messages[0].content
        #expect(standard.contains("Blue Door Dental") && !standard.contains("{{"))
    }

    @Test func promptTemplatesAreCheckedWhenSet() {
        #expect(PromptTemplate.problem("You are {{business_name}}'s assistant. It is {{now}}.") == nil)
        #expect(PromptTemplate.problem("Hello {{customer}}")?.contains("{{customer}} is not a prompt variable") == true)
        #expect(PromptTemplate.problem("Hello {{first_name")?.contains("'{{' without '}}'") == true)
        #expect(PromptTemplate.problem("")?.contains("1 to 20000 characters") == true)
    }

    @Test func theCostIsInThousandthsOfACentRoundedUp() {
        let pricing = ChatPricing(inputCentsPerMillion: 15, outputCentsPerMillion: 60)
        // 500 × 0.015 + 60 × 0.06 = 7.5 + 3.6 = 11.1 → 12.
        #expect(pricing.millicents(promptTokens: 500, completionTokens: 60) == 12)
        #expect(pricing.millicents(promptTokens: 1_000_000, completionTokens: 0) == 15_000)
        #expect(pricing.millicents(promptTokens: 0, completionTokens: 0) == 0)
        #expect(pricing.millicents(promptTokens: 1000, completionTokens: 0) == 15)
    }

    @Test func aLongReplyIsCutToOneMessage() {
        let short = "Thanks, see you Friday."
        #expect(AIReplyHandler.fitted(short) == short)
        let long = String(repeating: "word ", count: 500)
        let cut = AIReplyHandler.fitted(long)
        #expect(cut.hasSuffix("...") && cut.unicodeScalars.count <= 1600 && SMSEncoding(body: cut).segments <= 10)
        // UCS-2 (an emoji) holds 67 characters a segment: 10 segments, not 1,600 characters.
        let wide = String(repeating: "🙂 ok ", count: 400)
        let wideCut = AIReplyHandler.fitted(wide)
        #expect(SMSEncoding(body: wideCut).segments <= 10 && wideCut.hasSuffix("..."))
    }

    @Test func noReplyIsDueForAHumanAnOptOutOrNothingNew() {
        func reason(_ change: (inout AIReplyContext) -> Void) -> String? {
            var context = Self.context(turns: ["hi"])
            change(&context)
            return AIReplyHandler.nothingToDo(context)
        }
        #expect(reason { _ in } == nil)
        #expect(reason { $0 = AIReplyContext(conversationID: "c", tenantID: "t", contact: "+1", number: "+2", mode: .human, businessName: "b", turns: []) }?.contains("human") == true)
        #expect(reason { $0 = AIReplyContext(conversationID: "c", tenantID: "t", contact: "+1", number: "+2", aiReplyOn: false, businessName: "b", turns: []) }?.contains("off") == true)
        #expect(reason { $0 = AIReplyContext(conversationID: "c", tenantID: "t", contact: "+1", number: "+2", businessName: "b", turns: [], optedOut: true) }?.contains("opted out") == true)
        #expect(reason { $0 = AIReplyContext(conversationID: "c", tenantID: "t", contact: "+1", number: "+2", businessName: "b", turns: [], unanswered: false) }?.contains("nothing new") == true)
        #expect(reason { $0 = AIReplyContext(conversationID: "c", tenantID: "t", contact: "+1", number: "+2", businessName: "b", turns: [], transcriptionPending: true) }?.contains("transcript") == true)
    }
}
