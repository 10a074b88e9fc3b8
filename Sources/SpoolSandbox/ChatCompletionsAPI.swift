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

/// OpenAI's chat completions, as the official SDKs call it: messages whose content is a string, an
/// array of content parts (`text`, `image_url`, `input_audio`, `file`, `refusal`) or null (an assistant
/// message with `tool_calls` or a `refusal`), validated with OpenAI's 400s (`param` names the field);
/// other request fields (temperature, max_tokens, tools, response_format ...) are accepted and ignored.
/// The reply is a function of the conversation that quotes the last user message. `stream: true`
/// answers server-sent `chat.completion.chunk` events and `[DONE]` (with a final `usage` chunk when
/// `stream_options.include_usage`). Every answer carries the `x-ratelimit-*` headers; a minute's
/// requests or tokens running out is a 429 `rate_limit_exceeded` with retry-after, the
/// `insufficient_quota` fault a 429 that waiting does not fix, a prompt estimated over
/// `chat_context_tokens` a 400 `context_length_exceeded`, and a last user message with one of
/// `chat_refuse_words` a refusal (`finish_reason: content_filter`).
struct ChatCompletionsAPI: Sendable {
    let state: SandboxState

    /// What the assistant says when one of `chat_refuse_words` is in the last user message.
    static let refusalText = "I'm sorry, I can't help with that."
    static let roles: Set<String> = ["system", "developer", "user", "assistant", "tool", "function"]
    /// Tokens counted for a content part that carries no text (an image, audio, a file).
    static let mediaPartTokens = 85

    func register(on router: Router<BasicRequestContext>) {
        router.post("/v1/chat/completions") { request, _ in try await complete(request) }
    }

    private func count(_ outcome: String) {
        state.withStore { $0.counters.chat[outcome, default: 0] += 1 }
    }

    private func invalid(_ status: Int, _ message: String, param: String?, code: String? = nil) -> Response {
        count("invalid_request")
        return OpenAIErrors.error(status, message, type: "invalid_request_error", param: param, code: code)
    }

    private func complete(_ request: Request) async throws -> Response {
        var request = request
        let decision = try await state.enter(.chat, endpoint: "chat")
        if let refusal = OpenAIErrors.authenticate(request) {
            count("unauthorized")
            return refusal
        }
        if let status = decision.injectedStatus {
            count("injected_\(status)")
            return OpenAIErrors.injected(status, retryAfter: decision.retryAfterSeconds)
        }
        guard let bytes = try await request.bodyBytes(limit: 16 * 1024 * 1024) else {
            return invalid(413, "Request too large.", param: nil)
        }
        guard let json = try? JSONValue.parse(bytes: bytes), json.objectValue != nil else {
            return invalid(400, "We could not parse the JSON body of your request.", param: nil)
        }
        let conversation: Conversation
        do { conversation = try Self.parse(json) } catch { return invalid(400, error.message, param: error.param, code: error.code) }
        let model = conversation.model
        let promptTokens = conversation.promptTokens
        let (contextTokens, refuseWords) = state.withStore { ($0.settings.chatContextTokens, $0.settings.chatRefuseWords) }
        if promptTokens > contextTokens {
            count("context_length_exceeded")
            return OpenAIErrors.error(
                400,
                "This model's maximum context length is \(contextTokens) tokens. However, your messages resulted in \(promptTokens) tokens. Please reduce the length of the messages.",
                type: "invalid_request_error", param: "messages", code: "context_length_exceeded")
        }
        let lowered = conversation.lastUser.lowercased()
        let refused = refuseWords.contains { lowered.contains($0) }
        let reply = refused ? Self.refusalText : Self.reply(to: conversation.lastUser, conversation: conversation.prompt)
        let completionTokens = Self.tokens(reply) * conversation.choices

        let now = SandboxTime.nowMs()
        let key = OpenAIErrors.apiKey(request)
        let verdict = state.withStore { store -> (Response?, [(String, String)]) in
            let settings = store.settings
            if settings.insufficientQuota {
                store.counters.chat["insufficient_quota", default: 0] += 1
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
                store.counters.chat["rate_limited", default: 0] += 1
                return (refusal, [])
            }
            window.requests += 1
            window.tokens += promptTokens + completionTokens
            store.chat.windows[key] = window
            store.counters.chat[refused ? "content_filter" : "completed", default: 0] += 1
            if conversation.stream { store.counters.chatStreamed += 1 }
            store.counters.chatPromptTokens += promptTokens
            store.counters.chatCompletionTokens += completionTokens
            return (nil, headers(window))
        }
        if let refusal = verdict.0 { return refusal }
        let answer = Answer(
            id: "chatcmpl-" + String(Hashing.sha1Hex(Array(conversation.prompt.utf8)).prefix(24)), createdSeconds: now / 1000, model: model,
            reply: reply, refused: refused, choices: conversation.choices,
            usage: Self.usage(prompt: promptTokens, completion: completionTokens))
        if conversation.stream {
            return SandboxResponse.eventStream(answer.chunks(includeUsage: conversation.includeUsage), headers: verdict.1)
        }
        return SandboxResponse.json(200, answer.completion, headers: verdict.1)
    }

    /// A chat request as the sandbox reads it.
    struct Conversation: Sendable, Equatable {
        var model: String
        /// "role: text\n" per message (text parts joined with spaces, an assistant's tool calls after
        /// its text): what the reply and the token estimate are functions of.
        var prompt: String
        var messageCount: Int
        /// Content parts that carry no text: images, audio, files.
        var mediaParts: Int
        /// The text of the last user message, its text parts joined with spaces.
        var lastUser: String
        var stream: Bool
        var includeUsage: Bool
        /// `n`: how many choices to answer (all the same reply).
        var choices: Int

        /// Four characters a token, 3 more per message, a flat 85 per image, audio or file part.
        var promptTokens: Int {
            ChatCompletionsAPI.tokens(prompt) + 3 * messageCount + ChatCompletionsAPI.mediaPartTokens * mediaParts
        }
    }

    /// A request OpenAI answers with a 400 `invalid_request_error`: its message, `param` and `code`.
    struct Invalid: Error, Sendable, Equatable {
        let message: String
        let param: String?
        let code: String?

        init(_ message: String, param: String?, code: String? = nil) {
            self.message = message
            self.param = param
            self.code = code
        }

        static func missing(_ param: String) -> Invalid {
            Invalid("Missing required parameter: '\(param)'.", param: param, code: "missing_required_parameter")
        }

        static func wrongType(_ param: String, expected: String, got value: JSONValue) -> Invalid {
            Invalid(
                "Invalid type for '\(param)': expected \(expected), but got \(ChatCompletionsAPI.article(value)) instead.", param: param,
                code: "invalid_type")
        }

        static func emptyArray(_ param: String) -> Invalid {
            Invalid(
                "Invalid '\(param)': empty array. Expected an array with minimum length 1, but got an empty array instead.", param: param,
                code: "empty_array")
        }
    }

    /// Reads and validates a request body the way OpenAI does, naming the offending field.
    static func parse(_ json: JSONValue) throws(Invalid) -> Conversation {
        guard let modelValue = json["model"], modelValue != .null else {
            throw Invalid("you must provide a model parameter", param: "model")
        }
        guard let model = modelValue.stringValue else { throw Invalid.wrongType("model", expected: "a string", got: modelValue) }
        if model.isEmpty { throw Invalid("you must provide a model parameter", param: "model") }
        guard let messagesValue = json["messages"], messagesValue != .null else { throw Invalid.missing("messages") }
        guard let messages = messagesValue.arrayValue else {
            throw Invalid.wrongType("messages", expected: "an array", got: messagesValue)
        }
        if messages.isEmpty { throw Invalid.emptyArray("messages") }

        var prompt = ""
        var mediaParts = 0
        var lastUser = ""
        // Whether the messages since the last one that is not a tool's answer began with tool calls.
        var answeringToolCalls = false
        for (index, message) in messages.enumerated() {
            let path = "messages[\(index)]"
            guard let fields = message.objectValue else { throw Invalid.wrongType(path, expected: "an object", got: message) }
            guard let roleValue = fields["role"], roleValue != .null else { throw Invalid.missing(path + ".role") }
            guard let role = roleValue.stringValue else { throw Invalid.wrongType(path + ".role", expected: "a string", got: roleValue) }
            guard roles.contains(role) else {
                throw Invalid(
                    "Invalid value: '\(role)'. Supported values are: 'system', 'assistant', 'user', 'function', 'tool', and 'developer'.",
                    param: path + ".role", code: "invalid_value")
            }
            var text = ""
            switch fields["content"] {
            case .string(let content)?:
                text = content
            case .array(let parts)?:
                if parts.isEmpty { throw Invalid.emptyArray(path + ".content") }
                var texts: [String] = []
                for (partIndex, part) in parts.enumerated() {
                    let partPath = "\(path).content[\(partIndex)]"
                    guard let partFields = part.objectValue else { throw Invalid.wrongType(partPath, expected: "an object", got: part) }
                    guard let typeValue = partFields["type"], typeValue != .null else { throw Invalid.missing(partPath + ".type") }
                    guard let type = typeValue.stringValue else {
                        throw Invalid.wrongType(partPath + ".type", expected: "a string", got: typeValue)
                    }
                    switch type {
                    case "text":
                        texts.append(try string(partFields, "text", at: partPath))
                    case "refusal":
                        texts.append(try string(partFields, "refusal", at: partPath))
                    case "image_url":
                        let image = try object(partFields, "image_url", at: partPath)
                        _ = try string(image, "url", at: partPath + ".image_url")
                        mediaParts += 1
                    case "input_audio":
                        let audio = try object(partFields, "input_audio", at: partPath)
                        _ = try string(audio, "data", at: partPath + ".input_audio")
                        let format = try string(audio, "format", at: partPath + ".input_audio")
                        guard format == "wav" || format == "mp3" else {
                            throw Invalid(
                                "Invalid value: '\(format)'. Supported values are: 'wav' and 'mp3'.",
                                param: partPath + ".input_audio.format", code: "invalid_value")
                        }
                        mediaParts += 1
                    case "file":
                        _ = try object(partFields, "file", at: partPath)
                        mediaParts += 1
                    default:
                        throw Invalid(
                            "Invalid value: '\(type)'. Supported values are: 'text', 'image_url', 'input_audio', 'refusal', and 'file'.",
                            param: partPath + ".type", code: "invalid_value")
                    }
                    let allowed: Set<String> =
                        role == "user" ? ["text", "image_url", "input_audio", "file"] : role == "assistant" ? ["text", "refusal"] : ["text"]
                    guard allowed.contains(type) else {
                        throw Invalid(
                            "Invalid '\(partPath)': content parts of type '\(type)' are not allowed in messages with role '\(role)'.",
                            param: partPath + ".type", code: "invalid_value")
                    }
                }
                text = texts.joined(separator: " ")
            case nil, .null?:
                // Only an assistant message that calls tools (or refuses, or answers with audio) may have no content.
                let standsInForContent = ["tool_calls", "function_call", "refusal", "audio"].contains { name in
                    fields[name].map { $0 != .null } ?? false
                }
                guard role == "assistant", standsInForContent else {
                    if fields["content"] == nil { throw Invalid.missing(path + ".content") }
                    throw Invalid.wrongType(path + ".content", expected: "one of a string or array of objects", got: .null)
                }
                text = fields["refusal"]?.stringValue ?? ""
            case let other?:
                throw Invalid.wrongType(path + ".content", expected: "one of a string or array of objects", got: other)
            }

            var calls = ""
            var callsTools = false
            if role == "assistant", let value = fields["tool_calls"], value != .null {
                guard let toolCalls = value.arrayValue else {
                    throw Invalid.wrongType(path + ".tool_calls", expected: "an array", got: value)
                }
                if toolCalls.isEmpty { throw Invalid.emptyArray(path + ".tool_calls") }
                for (callIndex, call) in toolCalls.enumerated() {
                    let callPath = "\(path).tool_calls[\(callIndex)]"
                    guard let callFields = call.objectValue else { throw Invalid.wrongType(callPath, expected: "an object", got: call) }
                    _ = try string(callFields, "id", at: callPath)
                    let function = try object(callFields, "function", at: callPath)
                    let name = try string(function, "name", at: callPath + ".function")
                    let arguments = try string(function, "arguments", at: callPath + ".function")
                    calls += " " + name + "(" + arguments + ")"
                }
                callsTools = true
            }
            if role == "tool" {
                _ = try string(fields, "tool_call_id", at: path)
                guard answeringToolCalls else {
                    throw Invalid(
                        "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'.",
                        param: path + ".role")
                }
            } else {
                answeringToolCalls = callsTools
            }
            if role == "user" { lastUser = text }
            prompt += role + ": " + text + calls + "\n"
        }

        var stream = false
        switch json["stream"] {
        case nil, .null?: break
        case .bool(let flag)?: stream = flag
        case let other?: throw Invalid.wrongType("stream", expected: "a boolean", got: other)
        }
        var includeUsage = false
        if let options = json["stream_options"], options != .null {
            guard stream else {
                throw Invalid("The 'stream_options' parameter is only allowed when 'stream' is enabled.", param: "stream_options")
            }
            guard let optionFields = options.objectValue else {
                throw Invalid.wrongType("stream_options", expected: "an object", got: options)
            }
            switch optionFields["include_usage"] {
            case nil, .null?: break
            case .bool(let flag)?: includeUsage = flag
            case let other?: throw Invalid.wrongType("stream_options.include_usage", expected: "a boolean", got: other)
            }
        }
        var choices = 1
        if let value = json["n"], value != .null {
            guard let count = value.intValue else { throw Invalid.wrongType("n", expected: "an integer", got: value) }
            if count < 1 {
                throw Invalid(
                    "Invalid 'n': integer below minimum value. Expected a value >= 1, but got \(count) instead.", param: "n",
                    code: "integer_below_min_value")
            }
            if count > 128 {
                throw Invalid(
                    "Invalid 'n': integer above maximum value. Expected a value <= 128, but got \(count) instead.", param: "n",
                    code: "integer_above_max_value")
            }
            choices = count
        }
        return Conversation(
            model: model, prompt: prompt, messageCount: messages.count, mediaParts: mediaParts, lastUser: lastUser, stream: stream,
            includeUsage: includeUsage, choices: choices)
    }

    private static func string(_ fields: [String: JSONValue], _ name: String, at path: String) throws(Invalid) -> String {
        guard let value = fields[name], value != .null else { throw Invalid.missing("\(path).\(name)") }
        guard let text = value.stringValue else { throw Invalid.wrongType("\(path).\(name)", expected: "a string", got: value) }
        return text
    }

    private static func object(_ fields: [String: JSONValue], _ name: String, at path: String) throws(Invalid) -> [String: JSONValue] {
        guard let value = fields[name], value != .null else { throw Invalid.missing("\(path).\(name)") }
        guard let object = value.objectValue else { throw Invalid.wrongType("\(path).\(name)", expected: "an object", got: value) }
        return object
    }

    /// "a string", "an integer", "null": a JSON value's type as OpenAI's messages name it.
    static func article(_ value: JSONValue) -> String {
        switch value.typeName {
        case "null": return "null"
        case "integer", "array", "object": return "an " + value.typeName
        default: return "a " + value.typeName
        }
    }

    /// One answer, as a `chat.completion` or as `chat.completion.chunk` events.
    struct Answer: Sendable {
        let id: String
        let createdSeconds: Int64
        let model: String
        let reply: String
        /// Refused: the reply is the refusal, `content` is null and the finish reason `content_filter`.
        let refused: Bool
        let choices: Int
        let usage: JSONValue

        var finishReason: String { refused ? "content_filter" : "stop" }
        var fingerprint: String { "fp_" + String(id.suffix(10)) }

        var completion: JSONValue {
            let message: JSONValue = .object([
                "role": .string("assistant"), "content": refused ? .null : .string(reply),
                "refusal": refused ? .string(reply) : .null, "annotations": .array([]),
            ])
            let choiceValues: [JSONValue] = (0..<choices).map { index in
                .object([
                    "index": .number(Double(index)), "message": message, "logprobs": .null,
                    "finish_reason": .string(finishReason),
                ])
            }
            return .object([
                "id": .string(id), "object": .string("chat.completion"), "created": .number(Double(createdSeconds)),
                "model": .string(model), "choices": .array(choiceValues), "usage": usage,
                "service_tier": .string("default"), "system_fingerprint": .string(fingerprint),
            ])
        }

        /// The events of a stream: per choice, a first chunk with the role, the text in pieces, and a
        /// chunk with the finish reason and an empty delta; then, with `includeUsage`, a chunk with no
        /// choices and the usage (the others carry `"usage": null`, as OpenAI's do).
        func chunks(includeUsage: Bool) -> [JSONValue] {
            func chunk(_ choiceValues: [JSONValue], usage: JSONValue = .null) -> JSONValue {
                var fields: [String: JSONValue] = [
                    "id": .string(id), "object": .string("chat.completion.chunk"), "created": .number(Double(createdSeconds)),
                    "model": .string(model), "choices": .array(choiceValues), "service_tier": .string("default"),
                    "system_fingerprint": .string(fingerprint),
                ]
                if includeUsage { fields["usage"] = usage }
                return .object(fields)
            }
            func choice(_ index: Int, _ delta: [String: JSONValue], finish: String? = nil) -> JSONValue {
                .object([
                    "index": .number(Double(index)), "delta": .object(delta), "logprobs": .null,
                    "finish_reason": finish.map { .string($0) } ?? .null,
                ])
            }
            let field = refused ? "refusal" : "content"
            let first: [String: JSONValue] =
                refused
                ? ["role": .string("assistant"), "content": .null, "refusal": .string("")]
                : ["role": .string("assistant"), "content": .string(""), "refusal": .null]
            var events: [JSONValue] = []
            for index in 0..<choices {
                events.append(chunk([choice(index, first)]))
                for piece in ChatCompletionsAPI.pieces(of: reply) { events.append(chunk([choice(index, [field: .string(piece)])])) }
                events.append(chunk([choice(index, [:], finish: finishReason)]))
            }
            if includeUsage { events.append(chunk([], usage: usage)) }
            return events
        }
    }

    /// `usage` as OpenAI writes it now, with the token details (all zero here).
    static func usage(prompt: Int, completion: Int) -> JSONValue {
        .object([
            "prompt_tokens": .number(Double(prompt)), "completion_tokens": .number(Double(completion)),
            "total_tokens": .number(Double(prompt + completion)),
            "prompt_tokens_details": .object(["cached_tokens": .number(0), "audio_tokens": .number(0)]),
            "completion_tokens_details": .object([
                "reasoning_tokens": .number(0), "audio_tokens": .number(0), "accepted_prediction_tokens": .number(0),
                "rejected_prediction_tokens": .number(0),
            ]),
        ])
    }

    /// The text cut after each space, as a stream sends it: the pieces joined are the text.
    static func pieces(of text: String) -> [String] {
        let words = text.split(separator: " ", omittingEmptySubsequences: false)
        return words.enumerated().map { index, word in String(word) + (index < words.count - 1 ? " " : "") }
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
