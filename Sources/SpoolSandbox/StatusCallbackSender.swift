import Logging
import SpoolHTTP

/// Posts a message's status callbacks, as Twilio does: `sent`, then `delivered`, `undelivered` or
/// `failed`, form-encoded and signed with X-Twilio-Signature.
struct StatusCallbackSender: Sendable {
    let state: SandboxState
    let client: HTTPClient
    let logger: Logger

    /// Starts the callbacks of a message just accepted. Called with the store locked: only spawns.
    func schedule(sid: String, store: inout SandboxState.Store) {
        guard let message = store.sms.messages[sid], message.callbackURL != nil else { return }
        let delay = store.settings.callbackDelayMs
        Task {
            try? await sleep(milliseconds: delay)
            await post(sid: sid, status: "sent", errorCode: nil)
            try? await sleep(milliseconds: delay)
            let (status, code) = finalStatus(of: sid)
            await post(sid: sid, status: status, errorCode: code)
        }
    }

    private func finalStatus(of sid: String) -> (String, Int?) {
        state.withStore { store in
            guard let message = store.sms.messages[sid] else { return ("failed", 30008) }
            if store.settings.undeliverable.contains(message.to) { return ("undelivered", 30003) }
            let roll = store.random.nextUnit()
            if roll < store.settings.failedRate { return ("failed", 30008) }
            if roll < store.settings.failedRate + store.settings.undeliveredRate { return ("undelivered", 30003) }
            return ("delivered", nil)
        }
    }

    private func post(sid: String, status: String, errorCode: Int?) async {
        let now = SandboxTime.nowMs()
        guard
            let message = state.withStore({ store -> SMSStore.Message? in
                store.sms.messages[sid]?.status = status
                store.sms.messages[sid]?.errorCode = errorCode
                store.sms.messages[sid]?.updatedMs = now
                return store.sms.messages[sid]
            }), let url = message.callbackURL
        else { return }
        var parameters = [
            ("AccountSid", message.accountSid), ("ApiVersion", "2010-04-01"), ("From", message.from), ("To", message.to),
            ("MessageSid", message.sid), ("SmsSid", message.sid), ("MessageStatus", status), ("SmsStatus", status),
        ]
        if let errorCode { parameters.append(("ErrorCode", String(errorCode))) }
        let signature = TwilioSignature.sign(url: url, parameters: parameters, authToken: state.twilioAuthToken)
        let request = HTTPClientRequest(
            "POST", url, headers: ["X-Twilio-Signature": signature], body: .form(parameters), timeout: .seconds(15))
        do {
            let response = try await client.send(request)
            state.withStore { store in
                if (200..<300).contains(response.status) {
                    store.counters.callbacksDelivered += 1
                } else {
                    store.counters.callbacksFailed += 1
                    store.counters.callbackFailures["status \(response.status)", default: 0] += 1
                }
            }
        } catch {
            let kind = (error as? HTTPClientError)?.kind.rawValue ?? "other"
            state.withStore {
                $0.counters.callbacksFailed += 1
                $0.counters.callbackFailures[kind, default: 0] += 1
            }
            logger.debug("status callback failed", metadata: ["sid": "\(sid)", "error": "\(error)"])
        }
    }
}
