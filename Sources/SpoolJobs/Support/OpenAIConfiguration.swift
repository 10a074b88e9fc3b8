import SpoolQueue
import SpoolSupport

/// Where the OpenAI-compatible API is, how to sign in, and what the transcription and ai-reply kinds ask of it,
/// from `SpoolSettings` (`providers.openai.*`).
///
/// The rule is `TwilioConfiguration`'s: without an API key, Spool uses the sandbox provider only in
/// the explicit sandbox mode (`SPOOL_SANDBOX_URL`, which `spool dev` sets), with the sandbox's public
/// key and a warning at start. Without either there is no configuration, and transcription and ai-reply jobs wait.
public struct OpenAIConfiguration: Sendable, Equatable {
    /// The API's base URL with its version, as the OpenAI SDKs take OPENAI_BASE_URL:
    /// `https://api.openai.com/v1`; paths such as `/audio/transcriptions` follow it.
    public var baseURL: String
    public var apiKey: String
    /// The model voice notes are transcribed with (`whisper-1`, `gpt-4o-transcribe` ...).
    public var transcriptionModel: String
    /// What a minute of audio costs, in thousandths of a cent: 0.6 cents a minute is 600.
    public var transcriptionMillicentsPerMinute: Int
    public var usesSandbox: Bool
    /// The chat model AI replies are written with, and what its tokens cost (`AIPricing`).
    public var chatModel = "gpt-4o-mini"
    public var chatPricing = ChatPricing(inputCentsPerMillion: 15, outputCentsPerMillion: 60)
    /// The prompt's token budget, the reply's cap and one call's timeout (`conversations.*` settings).
    public var maxPromptTokens = 3000
    public var maxReplyTokens = 300
    public var chatTimeout: Duration = .seconds(30)
    /// How long a reply waits for the rest of a burst (SPOOL_AI_REPLY_DEBOUNCE_MS), for the replies
    /// handlers ask for, as the webhook uses it for the ones it enqueues.
    public var replyDebounce: Duration = .seconds(2)

    /// The sandbox's key: public, and refused by the real API.
    public static let sandboxAPIKey = "sk-spool-sandbox"

    public init(
        baseURL: String, apiKey: String, transcriptionModel: String = "whisper-1", transcriptionMillicentsPerMinute: Int = 600,
        usesSandbox: Bool = false
    ) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.apiKey = apiKey
        self.transcriptionModel = transcriptionModel
        self.transcriptionMillicentsPerMinute = transcriptionMillicentsPerMinute
        self.usesSandbox = usesSandbox
    }

    /// The configuration the settings give, or nil when they give none (no key and no sandbox mode).
    public static func from(_ settings: SpoolSettings) -> OpenAIConfiguration? {
        guard var configuration = connection(settings) else { return nil }
        configuration.chatModel = settings.chatModel
        configuration.chatPricing = ChatPricing(
            inputCentsPerMillion: settings.chatInputCentsPerMillion, outputCentsPerMillion: settings.chatOutputCentsPerMillion)
        configuration.maxPromptTokens = settings.maxPromptTokens
        configuration.maxReplyTokens = settings.maxReplyTokens
        configuration.chatTimeout = settings.chatTimeout
        configuration.replyDebounce = settings.replyDebounce
        return configuration
    }

    private static func connection(_ settings: SpoolSettings) -> OpenAIConfiguration? {
        // Rounded to the nearest thousandth of a cent, so that 0.6 is 600 and not 599.
        let millicents = Int((settings.transcriptionCentsPerMinute * 1000).rounded())
        if let key = settings.openAIAPIKey {
            return OpenAIConfiguration(
                baseURL: settings.openAIBaseURL ?? "https://api.openai.com/v1", apiKey: key,
                transcriptionModel: settings.transcriptionModel, transcriptionMillicentsPerMinute: millicents)
        }
        guard let sandbox = settings.sandboxURL else { return nil }
        let base = sandbox.hasSuffix("/") ? String(sandbox.dropLast()) : sandbox
        return OpenAIConfiguration(
            baseURL: base + "/v1", apiKey: sandboxAPIKey, transcriptionModel: settings.transcriptionModel,
            transcriptionMillicentsPerMinute: millicents, usesSandbox: true)
    }

    /// Why there is no configuration, for logs and job outcomes.
    public static let missingReason =
        "OpenAI is not configured: set OPENAI_API_KEY, or SPOOL_SANDBOX_URL to use the sandbox provider"

    /// The warning a process logs at start in sandbox mode.
    public static let sandboxWarning =
        "sandbox mode (SPOOL_SANDBOX_URL): voice notes are transcribed, and AI replies written, by the sandbox provider with its public key; never use this in production"

    public var transcriptionsURL: String { baseURL + "/audio/transcriptions" }
    public var chatCompletionsURL: String { baseURL + "/chat/completions" }

    /// What `seconds` of audio cost, in thousandths of a cent, rounded up: whole milliseconds of audio
    /// times the price of a minute, in integers, so that 75.5 s at 0.6 cents a minute is exactly 755.
    public func transcriptionMillicents(seconds: Double) -> Int {
        guard seconds.isFinite, seconds > 0 else { return 0 }
        let milliseconds = Int64((min(seconds, 86_400) * 1000).rounded())
        let perMinute = Int64(transcriptionMillicentsPerMinute)
        return Int((milliseconds * perMinute + 59_999) / 60_000)
    }
}

/// What a chat model's tokens cost, per million, in cents (gpt-4o-mini: 15 in, 60 out).
public struct ChatPricing: Sendable, Equatable {
    public var inputCentsPerMillion: Double
    public var outputCentsPerMillion: Double

    public init(inputCentsPerMillion: Double, outputCentsPerMillion: Double) {
        self.inputCentsPerMillion = inputCentsPerMillion
        self.outputCentsPerMillion = outputCentsPerMillion
    }

    /// The cost of one call in thousandths of a cent, rounded up: a million tokens at 15 cents is
    /// 15,000 millicents, so one token is 0.015, and a 500-token prompt with a 60-token reply at
    /// 15 and 60 costs 7.5 + 3.6 = 11.1, billed 12.
    public func millicents(promptTokens: Int, completionTokens: Int) -> Int {
        let input = Double(max(promptTokens, 0)) * inputCentsPerMillion
        let output = Double(max(completionTokens, 0)) * outputCentsPerMillion
        // Per million tokens, in cents → millicents: × 1000 / 1,000,000.
        let total = (input + output) / 1000
        guard total.isFinite else { return Int.max }
        // A hair under an integer is float noise, not a fraction to round up.
        return Int((total - 1e-9).rounded(.up))
    }
}
