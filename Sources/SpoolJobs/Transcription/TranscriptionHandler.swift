import SpoolHTTP
import SpoolPostgres
import SpoolQueue
import SpoolStore
import SpoolSupport

/// The `transcription` kind: one audio attachment (a voice note) of one inbound message, transcribed
/// by OpenAI's audio transcriptions, its text, duration and cost stored on the message
/// (`inbound_messages.transcripts`, `transcription_status`; see docs/conversations.md).
///
/// The inbound webhook enqueues one job per `audio/*` attachment, with the message's tenant and the
/// idempotency key `transcription:<message id>:<index>`. A run:
/// 1. reads the attachment; a message of another tenant, or no such message or attachment, is dead
///    and records nothing (the job was forged or corrupted). One already transcribed completes at
///    once, without a provider call (the run that transcribed it died before its settle);
/// 2. refuses a type the API does not take (`audio/*` in a format it reads, see `AudioFormat`);
/// 3. downloads the media with the Twilio account's Basic auth, following the redirect to storage
///    without it, at most 25 MiB (`MediaDownload`), and checks the type it was served with;
/// 4. uploads it as multipart, streamed from that one buffer (`OpenAITranscriptions`);
/// 5. records the text, the duration and the cost (`SPOOL_TRANSCRIPTION_CENTS_PER_MINUTE`, in
///    thousandths of a cent, rounded up) and the message's status (`Transcripts`).
///
/// Outcomes: an unsupported or oversized file, and every answer that can never succeed, is dead with
/// the reason, which the message records too (`transcription_status` 'failed'); a 429 from the
/// transcription API is throttled on the `openai` limit (no attempt used); a 5xx, a timeout or a
/// dropped connection is retried with the kind's backoff, and the last attempt's failure is recorded
/// on the message before the job goes dead (a last run cut off by the kind's timeout is settled by
/// the worker, not here: the message stays `pending`, the dead job says why); a spent OpenAI quota
/// pauses the queue with an alert. A worker without a provider configuration lets the job wait
/// (snoozed, no attempt used).
///
/// The job that records a message's last transcript (status `done`, or `failed` when an attachment
/// could not be transcribed) asks for the conversation's `ai-reply`, which answers from the
/// transcripts (a note that could not be transcribed reads as such): as its follow-up when it
/// completes, or enqueued directly when it goes dead.
public struct TranscriptionHandler: JobKind {
    public let kind = "transcription"

    /// `Jobs/transcription.json`'s `args`.
    public struct Arguments: Decodable, Sendable {
        public let inboundMessageID: String
        public let mediaIndex: Int
        enum CodingKeys: String, CodingKey { case inboundMessageID = "inbound_message_id", mediaIndex = "media_index" }
    }

    let services: JobServices?
    let transcripts: Transcripts?

    public init(services: JobServices?) {
        self.services = services
        transcripts = services?.postgres.map { Transcripts(pool: $0) }
    }

    public func perform(_ job: Job, arguments: Arguments, context: JobContext) async throws -> JobOutcome {
        guard let services, let store = transcripts else {
            return .retry(error: "the transcription kind needs PostgreSQL: set DATABASE_URL for this worker", delay: .seconds(30))
        }
        let messageID = arguments.inboundMessageID
        let index = arguments.mediaIndex
        guard let attachment = try await store.attachment(messageID: messageID, index: index) else {
            throw JobError.permanent("no inbound message \(messageID.prefix(64)) in PostgreSQL")
        }
        // Spool writes these jobs (an internal kind); one that disagrees with its message was forged
        // or corrupted, and touches nothing.
        guard attachment.tenantID == job.tenant else {
            throw JobError.permanent("inbound message \(messageID.prefix(64)) does not belong to this job's tenant")
        }
        guard let media = attachment.media else {
            throw JobError.permanent("inbound message \(messageID.prefix(64)) has no attachment \(index)")
        }
        if let recorded = attachment.recorded, recorded.status == .done {
            // The run that transcribed it died before its settle, and with it the reply it asked for.
            return .completed(result: "already transcribed", followUps: replyFollowUp(attachment, status: attachment.messageStatus))
        }

        // A retry on the last attempt is turned into a dead job by the Acker: the message learns why first.
        let lastAttempt = job.attempt + 1 >= job.maxAttempts
        let outcome: JobOutcome
        do {
            outcome = try await transcribe(media, of: attachment, services: services, store: store, job: job, context: context)
        } catch {
            if lastAttempt,
                let status = try? await store.record(
                    TranscriptEntry(index: index, status: .failed, reason: "attempts exhausted: \(error)", jobID: job.id),
                    messageID: messageID)
            {
                await askForReply(attachment, status: status, context: context)
            }
            throw error
        }
        switch outcome {
        case .dead(let reason):
            let status = try await store.record(
                TranscriptEntry(index: index, status: .failed, reason: reason, jobID: job.id), messageID: messageID)
            await askForReply(attachment, status: status, context: context)
        case .retry(let error, _) where lastAttempt:
            let status = try await store.record(
                TranscriptEntry(
                    index: index, status: .failed, reason: "attempts exhausted (\(job.attempt + 1)/\(job.maxAttempts)): \(error)",
                    jobID: job.id),
                messageID: messageID)
            await askForReply(attachment, status: status, context: context)
        default:
            break
        }
        return outcome
    }

    private func transcribe(
        _ media: InboundMedia, of attachment: InboundAttachment, services: JobServices, store: Transcripts, job: Job,
        context: JobContext
    ) async throws -> JobOutcome {
        // What the webhook said the file is: refused before anything is downloaded.
        guard InboundMedia.isAudio(media.contentType), var fileExtension = AudioFormat.fileExtension(media.contentType) else {
            return .dead(reason: AudioFormat.refusal(media.contentType))
        }
        var contentType = AudioFormat.essence(media.contentType)
        // A deployment without a provider is the operator's to fix: the job waits, using no attempt.
        guard let twilio = services.twilio else {
            return .snooze(until: context.clock.nowMillis() + 60_000, reason: TwilioConfiguration.missingReason)
        }
        guard let openai = services.openai else {
            return .snooze(until: context.clock.nowMillis() + 60_000, reason: OpenAIConfiguration.missingReason)
        }

        let file: [UInt8]
        switch await MediaDownload(http: services.http, clock: context.clock).fetch(media.url, twilio: twilio) {
        case .tooLarge(let reason):
            return .dead(reason: reason)
        case .refused(let verdict):
            return Self.downloadOutcome(verdict)
        case .file(let bytes, let served):
            // What storage says the file is wins over the webhook, unless it says nothing.
            if let served, !AudioFormat.isGeneric(served) {
                guard InboundMedia.isAudio(served), let servedExtension = AudioFormat.fileExtension(served) else {
                    return .dead(reason: AudioFormat.refusal(served, served: true))
                }
                contentType = AudioFormat.essence(served)
                fileExtension = servedExtension
            }
            guard !bytes.isEmpty else { return .dead(reason: "unsupported media: the file is empty") }
            file = bytes
        }

        let filename = "\(attachment.messageID)-\(attachment.index).\(fileExtension)"
        let api = OpenAITranscriptions(http: services.http, configuration: openai, clock: context.clock)
        switch await api.transcribe(file, filename: filename, contentType: contentType) {
        case .transcribed(let text, let duration):
            let cost = duration.map { openai.transcriptionMillicents(seconds: $0) }
            let status = try await store.record(
                TranscriptEntry(
                    index: attachment.index, status: .done, text: text, durationSeconds: duration, costMillicents: cost,
                    model: openai.transcriptionModel, jobID: job.id),
                messageID: attachment.messageID)
            let length = duration.map { "\($0) s" } ?? "audio of unknown length"
            return .completed(
                result: "transcribed \(length), \(cost.map { "\($0) millicents" } ?? "cost unknown"); message \(status)",
                followUps: replyFollowUp(attachment, status: status))
        case .refused(let verdict):
            // A 429 pauses the `openai` limiter (the account's) until the provider's time, with no
            // attempt used; a spent quota pauses the queue; 5xx retry; a refused file is dead.
            return verdict.outcome(limit: "openai")
        }
    }

    /// The conversation's `ai-reply`, once the message has every transcript it will get (`done`, or
    /// `failed` when another attachment could not be transcribed): the job of the last attachment
    /// asks for it, and the reply reads every transcript. While one is pending, none; none either when
    /// the number does not answer with the AI or a human has the conversation. It waits the setting's
    /// debounce, not the declaration's default: a text sent right after the note joins this reply.
    private func replyFollowUp(_ attachment: InboundAttachment, status: String) -> [FollowUp] {
        guard let arguments = replyArguments(attachment, status: status), let openai = services?.openai else { return [] }
        return [FollowUp(kind: "ai-reply", args: arguments, delay: openai.replyDebounce)]
    }

    /// The same reply, for a transcription that failed for good: its job goes dead, and a dead job has
    /// no follow-ups, so it is enqueued here (unique per conversation: asking twice is one reply).
    /// Without it, a message whose voice note cannot be transcribed would never be answered.
    private func askForReply(_ attachment: InboundAttachment, status: String, context: JobContext) async {
        guard let arguments = replyArguments(attachment, status: status), let openai = services?.openai,
            let enqueuer = services?.enqueuer
        else { return }
        let request = EnqueueRequest(
            kind: "ai-reply", args: arguments, runAt: context.clock.nowMillis() + openai.replyDebounce.milliseconds,
            tenant: attachment.tenantID)
        do { _ = try await enqueuer.enqueue(request) } catch {
            context.logger.error(
                "could not ask for the reply to a voice note that was not transcribed",
                metadata: ["conversation": "\(attachment.conversationID)", "error": "\(error)"])
        }
    }

    private func replyArguments(_ attachment: InboundAttachment, status: String) -> String? {
        guard attachment.aiAnswers, status == "done" || status == "failed", let openai = services?.openai else { return nil }
        return AIReplies.jobArguments(
            conversationID: attachment.conversationID, estimatedTokens: openai.maxPromptTokens + openai.maxReplyTokens)
    }

    /// The outcome of a download that brought no file. The media host's 429 is not OpenAI's: the job
    /// waits until then (no attempt used) and pauses no limiter of this kind.
    static func downloadOutcome(_ verdict: ProviderVerdict) -> JobOutcome {
        switch verdict {
        case .success:
            return .retry(error: "media download: no file in the answer")
        case .retryable(let reason, let after):
            return .retry(error: "media download: \(reason)", delay: after)
        case .rateLimited(let until, let reason):
            return .snooze(until: until, reason: "media download: \(reason)")
        case .authExpired(let reason):
            return .dead(reason: "media download: the account's credentials were refused: \(reason)")
        case .permanent(let code, let reason):
            return .dead(reason: "media download refused (\(code)): \(reason)")
        }
    }
}
