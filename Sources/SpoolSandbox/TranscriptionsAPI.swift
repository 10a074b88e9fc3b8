import Hummingbird
import SpoolSupport

/// OpenAI's audio transcriptions: multipart with `file` and `model`, Bearer auth, `{"text": ...}`.
/// The text is a function of the uploaded bytes alone, so a test can predict it; over 25 MiB is a 413.
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
        let text = Self.transcript(of: Array(file.data))
        let format = parts.first(where: { $0.name == "response_format" }).map { String(decoding: $0.data, as: UTF8.self) } ?? "json"
        if format == "text" { return SandboxResponse.text(200, text) }
        return SandboxResponse.json(200, .object(["text": .string(text)]))
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
