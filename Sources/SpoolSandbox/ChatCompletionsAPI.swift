import Hummingbird
import SpoolSupport

/// Requests and tokens used by one API key in the current minute.
struct ChatStore: Sendable {
    struct Window: Sendable {
        var startMs: Int64
        var requests = 0
        var tokens = 0
    }
    var windows: [String: Window] = [:]
}

/// OpenAI's chat completions: a reply that is a function of the conversation, the `x-ratelimit-*`
/// headers on every answer, a 429 `rate_limit_exceeded` with retry-after when a minute's requests or
/// tokens run out, and a 429 `insufficient_quota` (which waiting does not fix) when that fault is set.
struct ChatCompletionsAPI: Sendable {
    let state: SandboxState

    func register(on router: Router<BasicRequestContext>) {
        router.post("/v1/chat/completions") { request, _ in try await complete(request) }
    }

    private func complete(_ request: Request) async throws -> Response {
        var request = request
        let decision = try await state.enter(.chat, endpoint: "chat")
        if let refusal = OpenAIErrors.authenticate(request) { return refusal }
        if let status = decision.injectedStatus { return OpenAIErrors.injected(status, retryAfter: decision.retryAfterSeconds) }
        guard let bytes = try await request.bodyBytes(limit: 1024 * 1024) else {
            return OpenAIErrors.error(413, "Request too large.", type: "invalid_request_error", param: nil)
        }
        guard let json = try? JSONValue.parse(bytes: bytes), json.objectValue != nil else {
            return OpenAIErrors.error(400, "We could not parse the JSON body of your request.", type: "invalid_request_error", param: nil)
        }
        guard let model = json["model"]?.stringValue, !model.isEmpty else {
            return OpenAIErrors.error(400, "you must provide a model parameter", type: "invalid_request_error", param: "model")
        }
        guard case .array(let messages)? = json["messages"], !messages.isEmpty else {
            return OpenAIErrors.error(400, "'messages' must be a non-empty array", type: "invalid_request_error", param: "messages")
        }
        var prompt = ""
        for (index, message) in messages.enumerated() {
            guard let role = message["role"]?.stringValue, let content = message["content"]?.stringValue else {
                return OpenAIErrors.error(
                    400, "messages[\(index)] needs a string 'role' and 'content'", type: "invalid_request_error",
                    param: "messages[\(index)]")
            }
            prompt += role + ": " + content + "\n"
        }
        let lastUser = messages.last { $0["role"]?.stringValue == "user" }?["content"]?.stringValue ?? ""
        let reply = Self.reply(to: lastUser, conversation: prompt)
        let promptTokens = Self.tokens(prompt) + 3 * messages.count
        let completionTokens = Self.tokens(reply)

        let now = SandboxTime.nowMs()
        let key = OpenAIErrors.apiKey(request)
        let verdict = state.withStore { store -> (Response?, [(String, String)]) in
            let settings = store.settings
            if settings.insufficientQuota {
                return (
                    OpenAIErrors.error(
                        429, "You exceeded your current quota, please check your plan and billing details.",
                        type: "insufficient_quota", param: nil, code: "insufficient_quota"), []
                )
            }
            var window = store.chat.windows[key] ?? .init(startMs: now)
            if now - window.startMs >= 60_000 { window = .init(startMs: now) }
            let resetMs = window.startMs + 60_000 - now
            let resetText = Self.goDuration(resetMs)
            func headers(_ window: ChatStore.Window) -> [(String, String)] {
                [
                    ("x-ratelimit-limit-requests", String(settings.chatRequestsPerMinute)),
                    ("x-ratelimit-remaining-requests", String(max(0, settings.chatRequestsPerMinute - window.requests))),
                    ("x-ratelimit-reset-requests", resetText),
                    ("x-ratelimit-limit-tokens", String(settings.chatTokensPerMinute)),
                    ("x-ratelimit-remaining-tokens", String(max(0, settings.chatTokensPerMinute - window.tokens))),
                    ("x-ratelimit-reset-tokens", resetText),
                ]
            }
            let overRequests = window.requests + 1 > settings.chatRequestsPerMinute
            let overTokens = window.tokens + promptTokens + completionTokens > settings.chatTokensPerMinute
            if overRequests || overTokens {
                let seconds = String(max(1, (resetMs + 999) / 1000))
                let what = overRequests ? "requests" : "tokens"
                let limit = overRequests ? settings.chatRequestsPerMinute : settings.chatTokensPerMinute
                let refusal = OpenAIErrors.error(
                    429, "Rate limit reached for \(model) on \(what) per min (RPM): Limit \(limit). Please try again in \(resetText).",
                    type: what, param: nil, code: "rate_limit_exceeded",
                    headers: headers(window) + [("retry-after", seconds), ("retry-after-ms", String(resetMs))])
                store.chat.windows[key] = window
                return (refusal, [])
            }
            window.requests += 1
            window.tokens += promptTokens + completionTokens
            store.chat.windows[key] = window
            return (nil, headers(window))
        }
        if let refusal = verdict.0 { return refusal }
        let digest = Hashing.sha1Hex(Array(prompt.utf8))
        return SandboxResponse.json(
            200,
            .object([
                "id": .string("chatcmpl-" + digest.prefix(24)), "object": .string("chat.completion"),
                "created": .number(Double(now / 1000)), "model": .string(model),
                "choices": .array([
                    .object([
                        "index": .number(0), "finish_reason": .string("stop"),
                        "message": .object(["role": .string("assistant"), "content": .string(reply)]),
                    ])
                ]),
                "usage": .object([
                    "prompt_tokens": .number(Double(promptTokens)), "completion_tokens": .number(Double(completionTokens)),
                    "total_tokens": .number(Double(promptTokens + completionTokens)),
                ]),
            ]), headers: verdict.1)
    }

    private static let openings = ["Thanks for reaching out.", "Got it, thank you.", "Happy to help.", "Thanks for your message."]
    private static let closings = [
        "We will get back to you shortly.", "A team member will confirm soon.",
        "Reply STOP to opt out.", "Let us know if anything else comes up.",
    ]

    /// A reply that depends on the whole conversation and quotes the last thing the user said.
    static func reply(to lastUser: String, conversation: String) -> String {
        let digest = Hashing.sha1(Array(conversation.utf8))
        let quote = lastUser.split(separator: " ").prefix(8).joined(separator: " ")
        return "\(openings[Int(digest[0]) % openings.count]) About \"\(quote)\": \(closings[Int(digest[1]) % closings.count])"
    }

    /// Roughly four characters a token, as OpenAI's guidance has it.
    static func tokens(_ text: String) -> Int { max(1, (text.utf8.count + 3) / 4) }

    /// "1m2.5s"-style durations, as OpenAI writes its resets.
    static func goDuration(_ ms: Int64) -> String {
        if ms < 1000 { return "\(max(ms, 0))ms" }
        let minutes = ms / 60_000
        let seconds = Double(ms % 60_000) / 1000
        let secondsText = seconds == seconds.rounded() ? String(Int(seconds)) : String(seconds)
        return minutes > 0 ? "\(minutes)m\(secondsText)s" : "\(secondsText)s"
    }
}
