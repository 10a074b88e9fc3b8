import SpoolHTTP
import SpoolQueue
import SpoolSMS
import SpoolStore
import SpoolSupport

/// The `ai-reply` kind: one reply to one conversation, written by OpenAI's chat completions and handed
/// to `send` as a follow-up (see docs/conversations.md).
///
/// Enqueued by the inbound webhook for a text, and returned as a follow-up by the transcription kind
/// once a message's voice notes have their text; unique per conversation while pending, with a
/// debounce, so that a burst of messages is answered once. A run:
/// 1. reads the conversation (`AIReplies.context`); one of another tenant is dead (forged or corrupt);
/// 2. finds the reply an earlier run of this job stored (it died before its settle) and hands that
///    same message to `send` again, without a second chat call;
/// 3. completes without a call when a human has the conversation, AI replies are off for the number,
///    the contact opted out, nothing arrived since the last answer, or a voice note still waits for its transcript (whose job
///    asks for the reply when it is in);
/// 4. builds the prompt (`ReplyPrompt`) and calls chat completions with the setting's timeout;
/// 5. stores the reply with its tokens and cost (`AIReplies.store`) and returns its `send` follow-up;
///    a reply whose messages another answer covered meanwhile (another job's, an agent's) is dropped.
///
/// Errors: a 429 throttles the `openai` limiter (the account's, every tenant's) until the provider's
/// time, using no attempt; a spent quota pauses the queue with an alert; a prompt over the model's
/// context is tried once more with half the messages, then dead; a refusal or the content filter
/// hands the conversation to a human (with a `conversation.handover` event) and sends nothing; a 5xx,
/// a timeout or a dropped connection is retried with the kind's backoff.
///
/// A worker killed during the chat call leaves no reply: the job runs again and calls again (the call
/// is at least once); a reply, once stored, is sent at most once (the `send` kind's guarantee).
public struct AIReplyHandler: JobKind {
    public let kind = "ai-reply"

    /// `Jobs/ai-reply.json`'s `args`.
    public struct Arguments: Decodable, Sendable {
        public let conversationID: String
        public let estimatedTokens: Int
        enum CodingKeys: String, CodingKey { case conversationID = "conversation_id", estimatedTokens = "estimated_tokens" }
    }

    let services: JobServices?
    let replies: AIReplies?

    public init(services: JobServices?) {
        self.services = services
        replies = services?.postgres.map { AIReplies(pool: $0, segmentCents: services?.segmentCents ?? 1) }
    }

    public func perform(_ job: Job, arguments: Arguments, context: JobContext) async throws -> JobOutcome {
        guard let services, let store = replies else {
            return .retry(error: "the ai-reply kind needs PostgreSQL: set DATABASE_URL for this worker", delay: .seconds(30))
        }
        let id = arguments.conversationID
        guard let conversation = try await store.context(conversationID: id, jobID: job.id) else {
            throw JobError.permanent("no conversation \(id.prefix(64)) in PostgreSQL")
        }
        // Spool writes these jobs (an internal kind); one that disagrees with its conversation was
        // forged or corrupted, and touches nothing.
        guard conversation.tenantID == job.tenant else {
            throw JobError.permanent("conversation \(id.prefix(64)) does not belong to this job's tenant")
        }
        if let stored = conversation.storedReply {
            guard stored.status == .queued else { return .completed(result: "reply \(stored.messageID) stored earlier, \(stored.status.rawValue)") }
            return .completed(
                result: "reply \(stored.messageID) stored earlier", followUps: [Self.send(stored.messageID, from: stored.from, segments: stored.segments)])
        }
        if let reason = Self.nothingToDo(conversation) { return .completed(result: reason) }
        guard let openai = services.openai else {
            return .snooze(until: context.clock.nowMillis() + 60_000, reason: OpenAIConfiguration.missingReason)
        }

        let chat = OpenAIChat(http: services.http, configuration: openai, clock: context.clock, timeout: openai.chatTimeout)
        let now = context.clock.nowMillis()
        var prompt = ReplyPrompt(context: conversation, budget: openai.maxPromptTokens, nowMs: now)
        var result = await chat.complete(prompt, maxReplyTokens: openai.maxReplyTokens, user: conversation.tenantID)
        if case .contextTooLong = result {
            // The estimate was short of the model's count: half the messages, once.
            let turns = max(1, (prompt.messages.count - 1) / 2)
            prompt = ReplyPrompt(context: conversation, budget: openai.maxPromptTokens, nowMs: now, maximumTurns: turns)
            result = await chat.complete(prompt, maxReplyTokens: openai.maxReplyTokens, user: conversation.tenantID)
        }
        switch result {
        case .replied(let text, let promptTokens, let completionTokens, let model):
            let usage = AIUsage(
                model: model, promptTokens: promptTokens, completionTokens: completionTokens,
                costMillicents: openai.chatPricing.millicents(promptTokens: promptTokens, completionTokens: completionTokens))
            let body = Self.fitted(text)
            let spent = "\(promptTokens)+\(completionTokens) tokens, \(usage.costMillicents) millicents"
            switch try await store.store(body, usage: usage, context: conversation, jobID: job.id, nowMs: context.clock.nowMillis()) {
            case .queued(let messageID, let from, let segments):
                return .completed(result: "reply \(messageID) (\(spent))", followUps: [Self.send(messageID, from: from, segments: segments)])
            case .suppressed(let messageID):
                return .completed(result: "reply \(messageID) suppressed: a human took the conversation over (\(spent))")
            case .superseded:
                return .completed(result: "no reply: another answer already covers these messages (\(spent))")
            }
        case .refused(let reason, let promptTokens, let completionTokens, let model):
            let usage =
                promptTokens + completionTokens == 0
                ? nil
                : AIUsage(
                    model: model, promptTokens: promptTokens, completionTokens: completionTokens,
                    costMillicents: openai.chatPricing.millicents(promptTokens: promptTokens, completionTokens: completionTokens))
            try await store.handOver(conversation, reason: reason, usage: usage, jobID: job.id, nowMs: context.clock.nowMillis())
            return .completed(result: "handed to a human: \(reason)")
        case .contextTooLong(let reason):
            return .dead(reason: "the prompt is over the model's context even with \(prompt.messages.count - 1) messages: \(reason)")
        case .failed(let verdict):
            return verdict.outcome(limit: "openai")
        }
    }

    /// Why no reply is due now, or nil when one is.
    static func nothingToDo(_ conversation: AIReplyContext) -> String? {
        if conversation.mode == .human { return "no reply: a human has the conversation" }
        if !conversation.aiReplyOn { return "no reply: AI replies are off for \(conversation.number)" }
        if conversation.optedOut { return "no reply: the contact opted out" }
        if !conversation.unanswered { return "no reply: nothing new since the last answer" }
        if conversation.transcriptionPending { return "no reply yet: a voice note waits for its transcript, whose job asks again" }
        return nil
    }

    /// The `send` follow-up for a stored reply; it carries this job's tenant.
    static func send(_ messageID: String, from: String, segments: Int) -> FollowUp {
        FollowUp(
            kind: "send",
            args: JSONValue.object([
                "message_id": .string(messageID), "from": .string(from), "segments": .number(Double(segments)),
            ]).text)
    }

    /// The reply cut to what one message may carry: 1,600 characters and 10 segments (`Jobs/send.json`),
    /// ending in "..." at a word boundary when there is one near the cut.
    static func fitted(_ text: String) -> String {
        func fits(_ candidate: String) -> Bool {
            candidate.unicodeScalars.count <= OneOffMessages.maximumCharacters
                && SMSEncoding(body: candidate).segments <= SMSEncoding.maximumSegments
        }
        if fits(text) { return text }
        var scalars = Array(text.unicodeScalars.prefix(OneOffMessages.maximumCharacters))
        while !scalars.isEmpty {
            var cut = scalars
            if let space = cut.lastIndex(of: " "), space > cut.count * 9 / 10 { cut.removeSubrange(space...) }
            let candidate = String(String.UnicodeScalarView(cut)) + "..."
            if fits(candidate) { return candidate }
            scalars.removeLast(max(1, scalars.count / 20))
        }
        return "..."
    }
}
