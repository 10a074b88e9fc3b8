import SpoolHTTP
import SpoolSupport

/// OpenAI's audio transcriptions (`POST {base}/audio/transcriptions`), and the sandbox's look-alike:
/// one multipart upload of `file`, `model` and `response_format`, Bearer auth.
///
/// The answer is `verbose_json` for the whisper models, which gives the audio's `duration`; the
/// others (`gpt-4o-transcribe` ...) take only `json` and `text`, so they are asked for `json`, whose
/// `usage` gives the duration when it is counted in seconds. The upload is streamed from the
/// downloaded file itself (see `HTTPClientBody.multipart`): the file is in memory once.
struct OpenAITranscriptions: Sendable {
    enum Result: Sendable {
        case transcribed(text: String, durationSeconds: Double?)
        /// No text: the answer, or the lack of one, classified (429, quota, 5xx, a refused file ...).
        case refused(ProviderVerdict)
    }

    let http: HTTPClient
    let configuration: OpenAIConfiguration
    let clock: any WallClock

    var responseFormat: String { configuration.transcriptionModel.hasPrefix("whisper") ? "verbose_json" : "json" }

    func transcribe(_ file: [UInt8], filename: String, contentType: String) async -> Result {
        let request = HTTPClientRequest(
            "POST", configuration.transcriptionsURL,
            headers: ["Authorization": HTTPClientRequest.bearerAuthorization(configuration.apiKey)],
            body: .multipart([
                .field("model", configuration.transcriptionModel),
                .field("response_format", responseFormat),
                .file("file", filename: filename, contentType: contentType, data: file),
            ]),
            timeout: .seconds(80))
        let result = await http.call(clock: clock) { _ in request }
        guard result.verdict == .success else { return .refused(result.verdict) }
        guard let json = result.response?.json, let text = json["text"]?.stringValue else {
            return .refused(
                .retryable(reason: "the transcription API answered \(result.response?.status ?? 0) without a text", after: nil))
        }
        var duration = json["duration"]?.numberValue
        if duration == nil, let usage = json["usage"], usage["type"]?.stringValue == "duration" {
            duration = usage["seconds"]?.numberValue
        }
        return .transcribed(text: text, durationSeconds: duration.flatMap { $0.isFinite && $0 >= 0 ? $0 : nil })
    }
}

/// The audio formats the transcription API takes, which it reads from the file name's extension.
enum AudioFormat {
    /// Media type → the extension the API knows the format by.
    static let extensions: [String: String] = [
        "audio/ogg": "ogg", "audio/opus": "ogg", "audio/oga": "oga",
        "audio/mpeg": "mp3", "audio/mp3": "mp3", "audio/mpeg3": "mp3", "audio/x-mpeg-3": "mp3", "audio/mpga": "mpga",
        "audio/mp4": "m4a", "audio/m4a": "m4a", "audio/x-m4a": "m4a",
        "audio/wav": "wav", "audio/x-wav": "wav", "audio/wave": "wav", "audio/vnd.wave": "wav",
        "audio/webm": "webm", "audio/flac": "flac", "audio/x-flac": "flac",
    ]
    /// As the API's own refusal lists them.
    static let accepted = "flac, m4a, mp3, mp4, mpeg, mpga, oga, ogg, wav, webm"

    /// The type alone, in lower case: `audio/ogg; codecs=opus` is `audio/ogg`.
    static func essence(_ contentType: String) -> String {
        String(contentType.prefix { $0 != ";" }).trimmingSpaces.lowercased()
    }

    /// The extension to name an upload of this type with; nil when the API does not take it.
    static func fileExtension(_ contentType: String) -> String? { extensions[essence(contentType)] }

    /// A type that says nothing about the content (what storage serves when it was not told).
    static func isGeneric(_ contentType: String) -> Bool {
        ["application/octet-stream", "binary/octet-stream", ""].contains(essence(contentType))
    }

    /// Why a file of this type is not transcribed.
    static func refusal(_ contentType: String, served: Bool = false) -> String {
        let type = essence(contentType).isEmpty ? "(no type)" : String(essence(contentType).prefix(100))
        let what = served ? "the media was served as \(type)" : type
        if !type.hasPrefix("audio/") { return "unsupported media: \(what), not audio; the transcription API takes \(accepted)" }
        return "unsupported media: \(what), a format the transcription API does not take (it takes \(accepted))"
    }
}
