import Hummingbird
import SpoolSupport

/// OpenAI's audio transcriptions: multipart with `file` and `model`, Bearer auth, `{"text": ...}`.
/// When the uploaded bytes are exactly those of an attachment the sandbox hosts for an inbound message
/// (`POST /_sandbox/inbound`), the text is that attachment's `transcript`, so a test can follow a voice
/// note's words; otherwise it is a function of the bytes alone, so a test can predict it. Over 25 MiB
/// is a 413. `response_format`: `json` (the default, with `usage` in seconds, as whisper-1 answers),
/// `text`, or `verbose_json` (`task`, `language`, `duration`, `text`, `segments`); the duration is the
/// attachment's `duration_seconds`, else 1 second per 4,000 bytes (32 kbit/s).
struct TranscriptionsAPI: Sendable {
    let state: SandboxState
    static let maximumFileBytes = 25 * 1024 * 1024

    func register(on router: Router<BasicRequestContext>) {
        router.post("/v1/audio/transcriptions") { request, _ in try await transcribe(request) }
    }

    private func transcribe(_ request: Request) async throws -> Response {
        var request = request
        let decision = try await state.enter(.transcription, endpoint: "transcription")
        if let refusal = OpenAIErrors.authenticate(request) { return refusal }
        if let status = decision.injectedStatus { return OpenAIErrors.injected(status, retryAfter: decision.retryAfterSeconds) }
        guard let boundary = request.header("Content-Type").flatMap(MultipartParser.boundary(fromContentType:)) else {
            return OpenAIErrors.error(
                400, "Content-Type must be multipart/form-data with a boundary", type: "invalid_request_error", param: "file")
        }
        guard let body = try await request.bodyBytes(limit: Self.maximumFileBytes + 1024 * 1024) else { return Self.tooLarge() }
        let parts: [MultipartParser.Part]
        do { parts = try MultipartParser.parse(body, boundary: boundary) } catch {
            return OpenAIErrors.error(400, "Could not parse multipart form: \(error)", type: "invalid_request_error", param: nil)
        }
        guard let file = parts.first(where: { $0.name == "file" && $0.filename != nil }) else {
            return OpenAIErrors.error(400, "you must provide a file", type: "invalid_request_error", param: "file")
        }
        guard let model = parts.first(where: { $0.name == "model" }).map({ String(decoding: $0.data, as: UTF8.self) }), !model.isEmpty
        else {
            return OpenAIErrors.error(400, "you must provide a model parameter", type: "invalid_request_error", param: "model")
        }
        if file.data.count > Self.maximumFileBytes { return Self.tooLarge() }
        if file.data.isEmpty { return OpenAIErrors.error(400, "Audio file is too short.", type: "invalid_request_error", param: "file") }
        let bytes = Array(file.data)
        let digest = Hashing.sha1Hex(bytes)
        let hosted = state.withStore { $0.inbound.hosted(bytes, digest: digest) }
        let text = hosted?.transcript ?? Self.transcript(of: bytes)
        let duration = hosted?.durationSeconds ?? Self.duration(ofBytes: bytes.count)
        let format = parts.first(where: { $0.name == "response_format" }).map { String(decoding: $0.data, as: UTF8.self) } ?? "json"
        switch format {
        case "text":
            return SandboxResponse.text(200, text)
        case "verbose_json":
            let segment: JSONValue = .object([
                "id": .number(0), "seek": .number(0), "start": .number(0), "end": .number(duration), "text": .string(" " + text),
                "tokens": .array([]), "temperature": .number(0), "avg_logprob": .number(-0.25), "compression_ratio": .number(1.2),
                "no_speech_prob": .number(0.01),
            ])
            return SandboxResponse.json(
                200,
                .object([
                    "task": .string("transcribe"), "language": .string("english"), "duration": .number(duration),
                    "text": .string(text), "segments": .array([segment]),
                ]))
        default:
            return SandboxResponse.json(
                200,
                .object([
                    "text": .string(text),
                    "usage": .object(["type": .string("duration"), "seconds": .number(duration.rounded(.up))]),
                ]))
        }
    }

    /// Seconds of audio in a file of this size at 32 kbit/s, to the hundredth, at least 0.1.
    static func duration(ofBytes count: Int) -> Double {
        max(0.1, (Double(count) / 4000 * 100).rounded() / 100)
    }

    private static func tooLarge() -> Response {
        OpenAIErrors.error(413, "Maximum content size limit (\(maximumFileBytes)) exceeded.", type: "invalid_request_error", param: "file")
    }

    private static let words = [
        "hello", "this", "is", "a", "message", "about", "your", "appointment", "please", "call", "me", "back",
        "tomorrow", "morning", "thanks", "the", "delivery", "arrived", "invoice", "order", "number", "confirm",
        "meeting", "at", "three", "pm", "office", "question", "schedule", "update",
    ]

    /// A sentence picked from the bytes' SHA-1: the same audio always reads the same.
    static func transcript(of bytes: [UInt8]) -> String {
        let digest = Hashing.sha1(bytes)
        let count = 6 + Int(digest[0] % 10)
        let sentence = (0..<count).map { words[(Int(digest[1 + $0 % 19]) + $0 * 7) % words.count] }
        return sentence.joined(separator: " ").prefix(1).uppercased() + sentence.joined(separator: " ").dropFirst() + "."
    }
}
