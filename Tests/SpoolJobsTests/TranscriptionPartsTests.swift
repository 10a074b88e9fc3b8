import SpoolHTTP
import SpoolQueue
import Testing

@testable import SpoolJobs

/// The transcription kind's pure parts: settings, cost, formats, redirects, and download verdicts.
@Suite struct TranscriptionPartsTests {
    @Test func theConfigurationFollowsTheSettingsAndTheSandboxRule() throws {
        let none = try SpoolSettings.load(configPath: nil, environment: [:])
        #expect(OpenAIConfiguration.from(none) == nil)

        let sandbox = try SpoolSettings.load(configPath: nil, environment: ["SPOOL_SANDBOX_URL": "http://127.0.0.1:4010/"])
        let fromSandbox = try #require(OpenAIConfiguration.from(sandbox))
        #expect(fromSandbox.usesSandbox && fromSandbox.apiKey == OpenAIConfiguration.sandboxAPIKey)
        #expect(fromSandbox.transcriptionsURL == "http://127.0.0.1:4010/v1/audio/transcriptions")
        #expect(fromSandbox.transcriptionModel == "whisper-1" && fromSandbox.transcriptionMillicentsPerMinute == 600)

        let real = try SpoolSettings.load(
            configPath: nil,
            environment: [
                "OPENAI_API_KEY": "sk-real", "SPOOL_SANDBOX_URL": "http://127.0.0.1:4010", "SPOOL_TRANSCRIPTION_MODEL": "gpt-4o-transcribe",
                "SPOOL_TRANSCRIPTION_CENTS_PER_MINUTE": "0.3",
            ])
        let configured = try #require(OpenAIConfiguration.from(real))
        #expect(!configured.usesSandbox && configured.apiKey == "sk-real")
        #expect(configured.transcriptionsURL == "https://api.openai.com/v1/audio/transcriptions")
        #expect(configured.transcriptionModel == "gpt-4o-transcribe" && configured.transcriptionMillicentsPerMinute == 300)
        #expect(real.entries.first { $0.name == "providers.openai.api_key" }?.value == "***")
        #expect(real.warnings.allSatisfy { !$0.hasPrefix("providers.openai") })
        #expect(none.warnings.contains { $0.hasPrefix("providers.openai: no API key") })

        #expect(throws: SpoolConfigError.self) {
            try SpoolSettings.load(configPath: nil, environment: ["SPOOL_TRANSCRIPTION_CENTS_PER_MINUTE": "cheap"])
        }
        #expect(throws: SpoolConfigError.self) {
            try SpoolSettings.load(configPath: nil, environment: ["SPOOL_TRANSCRIPTION_MODEL": "whisper 1"])
        }
    }

    @Test func costIsInThousandthsOfACentRoundedUp() {
        let openai = OpenAIConfiguration(baseURL: "http://127.0.0.1:9/v1", apiKey: "sk-x")
        #expect(openai.transcriptionMillicents(seconds: 75.5) == 755)
        #expect(openai.transcriptionMillicents(seconds: 10) == 100)
        #expect(openai.transcriptionMillicents(seconds: 60) == 600)
        #expect(openai.transcriptionMillicents(seconds: 0.001) == 1)
        #expect(openai.transcriptionMillicents(seconds: 0) == 0)
        #expect(openai.transcriptionMillicents(seconds: .nan) == 0)
    }

    @Test func formatsAreReadFromTheTypeWithoutItsParameters() {
        #expect(AudioFormat.fileExtension("audio/ogg; codecs=opus") == "ogg")
        #expect(AudioFormat.fileExtension("Audio/MPEG") == "mp3")
        #expect(AudioFormat.fileExtension("audio/x-m4a") == "m4a")
        #expect(AudioFormat.fileExtension("audio/amr") == nil)
        #expect(AudioFormat.fileExtension("image/jpeg") == nil)
        #expect(AudioFormat.isGeneric("application/octet-stream") && AudioFormat.isGeneric("") && !AudioFormat.isGeneric("text/html"))
        #expect(AudioFormat.refusal("audio/amr").hasPrefix("unsupported media: audio/amr, a format"))
        #expect(AudioFormat.refusal("text/html; charset=utf-8", served: true).hasPrefix("unsupported media: the media was served as text/html, not audio"))
    }

    @Test func redirectsAreResolvedAndCredentialsStayHome() {
        let media = "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1"
        #expect(MediaDownload.origin(of: media) == "https://api.twilio.com")
        #expect(MediaDownload.origin(of: "HTTPS://API.twilio.com:443/x") == "https://api.twilio.com")
        #expect(MediaDownload.origin(of: "http://127.0.0.1:4010") == "http://127.0.0.1:4010")
        #expect(MediaDownload.origin(of: "ftp://example.com/x") == nil)
        #expect(
            MediaDownload.resolve("https://s3.amazonaws.com/media/ME1?Signature=x", against: media)
                == "https://s3.amazonaws.com/media/ME1?Signature=x")
        #expect(MediaDownload.resolve("//cdn.example.com/ME1", against: media) == "https://cdn.example.com/ME1")
        #expect(MediaDownload.resolve("/storage/ME1?x=1", against: media) == "https://api.twilio.com/storage/ME1?x=1")
        #expect(MediaDownload.resolve("ME2", against: media) == "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME2")
        #expect(MediaDownload.resolve("file:///etc/passwd", against: media) == nil)
        #expect(MediaDownload.resolve("", against: media) == nil)
    }

    @Test func aDownloadThatBroughtNoFileHasOneOutcome() {
        #expect(
            TranscriptionHandler.downloadOutcome(.retryable(reason: "HTTP 503", after: nil))
                == .retry(error: "media download: HTTP 503", delay: nil))
        #expect(
            TranscriptionHandler.downloadOutcome(.rateLimited(untilMs: 9_000, reason: "HTTP 429"))
                == .snooze(until: 9_000, reason: "media download: HTTP 429"))
        #expect(
            TranscriptionHandler.downloadOutcome(.permanent(code: "20404", reason: "not found"))
                == .dead(reason: "media download refused (20404): not found"))
    }
}
