import SpoolHTTP
import SpoolSupport

/// OpenAI's chat completions (`POST {base}/chat/completions`), and the sandbox's look-alike: one
/// non-streamed request with Bearer auth, a reply cap (`max_completion_tokens`) and a timeout.
struct OpenAIChat: Sendable {
    enum Result: Sendable, Equatable {
        /// The reply's text and the tokens the provider counted.
        case replied(text: String, promptTokens: Int, completionTokens: Int, model: String)
        /// The model would not answer: a refusal, or the content filter stopped it.
        case refused(reason: String)
        /// The prompt is longer than the model's context (`context_length_exceeded`).
        case contextTooLong(reason: String)
        /// No reply: the answer, or the lack of one, classified (429, quota, 5xx, a timeout ...).
        case failed(ProviderVerdict)
    }

    let http: HTTPClient
    let configuration: OpenAIConfiguration
    let clock: any WallClock
    let timeout: Duration

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
        if case .permanent(let code, let reason) = result.verdict, code == "context_length_exceeded" {
            return .contextTooLong(reason: reason)
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
            return .refused(reason: "the model refused: \(refusal.prefix(200))")
        }
        if choice["finish_reason"]?.stringValue == "content_filter" {
            return .refused(reason: "the provider's content filter stopped the reply")
        }
        guard let text = message?["content"]?.stringValue?.trimmingSpaces, !text.isEmpty else {
            return .failed(.retryable(reason: "chat completions answered without any text", after: nil))
        }
        return .replied(text: text, promptTokens: max(0, promptTokens), completionTokens: max(0, completionTokens), model: model)
    }
}
