import SpoolHTTP
import SpoolSupport

/// OpenAI's chat completions (`POST {base}/chat/completions`), and the sandbox's look-alike: one
/// non-streamed request with Bearer auth, a reply cap (`max_completion_tokens`) and a timeout.
struct OpenAIChat: Sendable {
    enum Result: Sendable, Equatable {
        /// The reply's text and the tokens the provider counted.
        case replied(text: String, promptTokens: Int, completionTokens: Int, model: String)
        /// The model would not answer: a refusal, or the content filter stopped it. The tokens of a
        /// refusal the provider answered (and bills) are counted; a 400 for the prompt has none.
        case refused(reason: String, promptTokens: Int, completionTokens: Int, model: String)
        /// The prompt is longer than the model's context (`context_length_exceeded`).
        case contextTooLong(reason: String)
        /// No reply: the answer, or the lack of one, classified (429, quota, 5xx, a timeout ...).
        case failed(ProviderVerdict)
    }

    let http: HTTPClient
    let configuration: OpenAIConfiguration
    let clock: any WallClock
    let timeout: Duration

    /// Error codes of a prompt refused by moderation, as OpenAI and Azure OpenAI answer them.
    static let contentFilterCodes: Set<String> = ["content_filter", "content_policy_violation"]

    func complete(_ prompt: ReplyPrompt, maxReplyTokens: Int, user: String) async -> Result {
        let body = JSONValue.object([
            "model": .string(configuration.chatModel),
            "messages": .array(prompt.messages.map { .object(["role": .string($0.role), "content": .string($0.content)]) }),
            "max_completion_tokens": .number(Double(maxReplyTokens)),
            // The tenant, so that the provider's abuse monitoring can tell one tenant's traffic from another's.
            "user": .string(user),
        ])
        var request = HTTPClientRequest(
            "POST", configuration.chatCompletionsURL,
            headers: ["Authorization": HTTPClientRequest.bearerAuthorization(configuration.apiKey)],
            body: .json(body.text), timeout: timeout)
        request.maximumResponseBytes = 4 << 20
        let result = await http.call(clock: clock) { _ in request }
        if case .permanent(let code, let reason) = result.verdict {
            if code == "context_length_exceeded" { return .contextTooLong(reason: reason) }
            // The prompt itself was refused by the provider's moderation (a 400 with these codes).
            if Self.contentFilterCodes.contains(code) {
                return .refused(reason: "the provider's content filter refused the prompt: \(reason)", promptTokens: 0, completionTokens: 0, model: configuration.chatModel)
            }
        }
        guard result.verdict == .success else { return .failed(result.verdict) }
        guard let json = result.response?.json, let choice = json["choices"]?.arrayValue?.first else {
            return .failed(.retryable(reason: "chat completions answered \(result.response?.status ?? 0) without a choice", after: nil))
        }
        let message = choice["message"]
        let usage = json["usage"]
        let promptTokens = usage?["prompt_tokens"]?.intValue ?? prompt.estimatedTokens
        let completionTokens = usage?["completion_tokens"]?.intValue ?? 0
        let model = json["model"]?.stringValue ?? configuration.chatModel
        if let refusal = message?["refusal"]?.stringValue, !refusal.isEmpty {
            return .refused(
                reason: "the model refused: \(refusal.prefix(200))", promptTokens: max(0, promptTokens),
                completionTokens: max(0, completionTokens), model: model)
        }
        if choice["finish_reason"]?.stringValue == "content_filter" {
            return .refused(
                reason: "the provider's content filter stopped the reply", promptTokens: max(0, promptTokens),
                completionTokens: max(0, completionTokens), model: model)
        }
        guard let text = message?["content"]?.stringValue?.trimmingSpaces, !text.isEmpty else {
            return .failed(.retryable(reason: "chat completions answered without any text", after: nil))
        }
        return .replied(text: text, promptTokens: max(0, promptTokens), completionTokens: max(0, completionTokens), model: model)
    }
}
