import FoundationEssentials
import SpoolHTTP
import SpoolPostgres
import SpoolQueue
import SpoolSMS
import SpoolStore
import SpoolSupport

/// The `send` kind: one SMS to one recipient, for one row of `messages`.
///
/// Gates: `SendGates` (SpoolSMS) decides, in order, tenant or campaign paused, campaign cancelled,
/// sender not owned, invalid number, do-not-contact, and for a marketing message (the row's `purpose`)
/// consent and quiet hours; this handler applies the decision, so that no producer can skip them. The
/// budget is reserved atomically with queued → sending (`MessageStore.begin`), or the send is
/// postponed to the next period.
///
/// No double send: queued → sending (with this attempt's token) commits before the provider call, and
/// sending → sent (with the provider's id) after it. A message found past sending is acknowledged
/// without a call; one found in sending from an attempt that died is in doubt, and is looked up at the
/// provider before anything is sent again.
public struct SendHandler: JobKind {
    public let kind = "send"

    /// `Jobs/send.json`'s `args`. `from` and `segments` are what the limiters booked before the run.
    public struct Arguments: Decodable, Sendable {
        public let messageID: String
        public let from: String
        public let segments: Int
        enum CodingKeys: String, CodingKey { case messageID = "message_id", from, segments }
    }

    let services: JobServices?
    /// One per worker process: concurrent sends share its PostgreSQL round trips.
    let messages: MessageStore?
    /// The defaults: texts go out 08:00-21:00 in the recipient's zone, a paused message looks again after 30 s.
    public static let sendGates = SendGates()

    public init(services: JobServices?) {
        self.services = services
        messages = services?.postgres.map { MessageStore(pool: $0) }
    }

    public func perform(_ job: Job, arguments: Arguments, context: JobContext) async throws -> JobOutcome {
        guard let services, let store = messages else {
            return .retry(error: "the send kind needs PostgreSQL: set DATABASE_URL for this worker", delay: .seconds(30))
        }
        let messageID = arguments.messageID
        guard var message = try await store.context(messageID) else {
            throw JobError.permanent("no message \(messageID.prefix(64)) in PostgreSQL")
        }
        // The job's limiter was booked with its `from`: it must be this message's sender, and the
        // message this job's tenant's. Spool writes both (send is an internal kind); a job that
        // disagrees was forged or corrupted, and sends nothing.
        guard message.tenantID == job.tenant else {
            throw JobError.permanent("message \(messageID.prefix(64)) does not belong to this job's tenant")
        }
        guard arguments.from == message.from else {
            throw JobError.permanent("args.from does not match the sender of message \(messageID.prefix(64))")
        }
        // A deployment without a provider is the operator's to fix: the job waits, using no attempt.
        guard let configuration = services.twilio else {
            return .snooze(until: context.clock.nowMillis() + 60_000, reason: TwilioConfiguration.missingReason)
        }
        let twilio = TwilioMessages(http: services.http, configuration: configuration, clock: context.clock)
        let now = context.clock.nowMillis()

        switch message.status {
        case .sending, .inDoubt:
            if message.status == .sending { try await store.markInDoubt(message, jobID: job.id) }
            guard let refreshed = try await store.context(messageID) else { throw JobError.permanent("message \(messageID) vanished") }
            message = refreshed
            if let outcome = try await reconcile(message, store: store, twilio: twilio, job: job) { return outcome }
            guard let released = try await store.context(messageID) else { throw JobError.permanent("message \(messageID) vanished") }
            message = released
        case .queued:
            break
        case .sent, .delivered, .undelivered, .failed, .skipped, .suppressed:
            // Past sending already (a redelivered job): nothing to do, and certainly no second send.
            return .completed(result: "message already \(message.status.rawValue)")
        }

        if let outcome = try await gates(message, store: store, job: job, now: now) { return outcome }

        let token = "\(job.id):\(job.attempt + 1):\(job.leaseToken)"
        switch try await store.begin(message, token: token, jobID: job.id, nowMs: now) {
        case .notQueued(let status):
            return .completed(result: "message already \(status)")
        case .overBudget(let retryAt, let period):
            return .snooze(until: retryAt, reason: "budget: the tenant's \(period)ly cap is reached")
        case .suppressed:
            return .completed(result: "suppressed: a human took the conversation over before the AI reply went")
        case .sending:
            break
        }
        switch await twilio.send(to: message.to, from: message.from, body: message.body, reference: message.id) {
        case .accepted(let sid):
            try await store.markSent(message, token: token, sid: sid, jobID: job.id)
            return .completed(result: sid)
        case .unknown(let reason):
            // Left in `sending` on purpose: the next attempt reconciles before it sends.
            return .retry(error: "no answer from the provider; the next attempt reconciles first: \(reason)")
        case .refused(let verdict):
            return try await refused(verdict, message: message, token: token, store: store, job: job)
        case .busy(let reason):
            try await store.requeue(message, token: token, jobID: job.id, reason: reason)
            // A little spread, so that the jobs refused together do not all come back together.
            return .snooze(until: context.clock.nowMillis() + Int64.random(in: 100...600), reason: reason)
        }
    }

    /// Applies `SendGates`' decision: the event, the skipped or failed row, and the job's outcome.
    private func gates(_ message: MessageContext, store: MessageStore, job: Job, now: Int64) async throws -> JobOutcome? {
        switch Self.sendGates.decide(message.gateInput, nowMs: now) {
        case .pass:
            return nil
        case .postpone(let until, let reason, let event):
            if let event { try await store.note(message, jobID: job.id, kind: event.kind, payload: event.payload) }
            return .snooze(until: until, reason: reason)
        case .skip(let reason):
            try await store.skip(message, jobID: job.id, reason: reason.rawValue)
            return .completed(result: Self.skippedResult(reason, from: message.from))
        case .fail(let code, let reason):
            try await store.fail(message, token: nil, jobID: job.id, code: code.rawValue, reason: reason, optedOut: false)
            let what =
                switch code {
                case .invalidNumber: "invalid number"
                }
            throw JobError.permanent("\(what): \(reason)")
        }
    }

    /// The job's result for a skipped message, as `spool job` shows it.
    static func skippedResult(_ reason: SkipReason, from: String) -> String {
        switch reason {
        case .campaignCancelled: "skipped: campaign cancelled"
        case .senderNotOwned: "skipped: \(from) is no longer one of the tenant's sender numbers"
        case .doNotContact: "skipped: do not contact"
        case .noConsent: "skipped: no consent"
        }
    }

    /// An answer that says the message was not sent.
    private func refused(
        _ verdict: ProviderVerdict, message: MessageContext, token: String, store: MessageStore, job: Job
    ) async throws -> JobOutcome {
        switch verdict {
        case .permanent(let code, let reason) where !ProviderClassifier.quotaCodes.contains(code):
            try await store.fail(message, token: token, jobID: job.id, code: code, reason: reason, optedOut: code == "21610")
            return .completed(result: "failed: provider \(code)")
        default:
            try await store.requeue(message, token: token, jobID: job.id, reason: "\(verdict)")
            // A 429 pauses the sender's limiter until the provider's time and uses no attempt; 5xx retry with backoff.
            if case .rateLimited = verdict { return verdict.outcome(limit: "sender") }
            return verdict.outcome()
        }
    }

    /// An earlier attempt died after queued → sending: ask the provider whether the message exists.
    /// Returns the outcome when settled, nil when it is safe to send (the message is queued again).
    private func reconcile(_ message: MessageContext, store: MessageStore, twilio: TwilioMessages, job: Job) async throws -> JobOutcome? {
        let found: (sid: String, status: String)?
        do {
            found = try await twilio.find(to: message.to, from: message.from, body: message.body, sinceMs: message.sendingAtMs ?? 0)
        } catch {
            // Never guess: the message stays in doubt, and the job tries the lookup again later.
            return .retry(error: "message in doubt; the provider could not be asked: \(error)")
        }
        if let found {
            try await store.markSent(message, token: nil, sid: found.sid, jobID: job.id, from: "in_doubt")
            return .completed(result: "reconciled: \(found.sid)")
        }
        try await store.releaseDoubt(message, jobID: job.id)
        return nil
    }
}
