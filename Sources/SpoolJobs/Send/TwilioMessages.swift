import SpoolHTTP
import SpoolSupport

/// The Messages API of Twilio (and of the sandbox, which answers the same way): send one SMS, and find
/// one sent earlier when an attempt died before it learned the answer.
public struct TwilioMessages: Sendable {
    public enum SendResult: Sendable, Equatable {
        /// Accepted: the provider's id for the message.
        case accepted(sid: String)
        /// An answer that says the message was not sent: rate limited, refused, a 5xx.
        case refused(ProviderVerdict)
        /// No answer (a timeout, a dropped connection): the message may or may not have gone out.
        case unknown(String)
        /// 20429 with no time to wait: the account has too many requests in flight. Not sent, and
        /// nothing to pause (the sender is not over its rate), so the job just waits a moment. The
        /// `sms:account:{tenant}` concurrency limit, set to the account's allowance, keeps this rare.
        case busy(String)
    }

    let http: HTTPClient
    public let configuration: TwilioConfiguration
    let clock: any WallClock

    public init(http: HTTPClient, configuration: TwilioConfiguration, clock: any WallClock = SystemClock()) {
        self.http = http
        self.configuration = configuration
        self.clock = clock
    }

    private var messagesURL: String { "\(configuration.baseURL)/2010-04-01/Accounts/\(configuration.accountSid)/Messages.json" }
    private var authorization: HeaderFields {
        ["Authorization": HTTPClientRequest.basicAuthorization(user: configuration.accountSid, password: configuration.authToken)]
    }

    /// Sends; `reference` (our message id) rides on the StatusCallback URL, so receipts name it.
    public func send(to: String, from: String, body: String, reference: String) async -> SendResult {
        var fields = [("To", to), ("Body", body), ("StatusCallback", configuration.statusCallbackURL + "?ref=" + reference)]
        fields.append(from.hasPrefix("MG") ? ("MessagingServiceSid", from) : ("From", from))
        let request = HTTPClientRequest("POST", messagesURL, headers: authorization, body: .form(fields), timeout: .seconds(15))
        do {
            let response = try await http.send(request)
            let verdict = ProviderClassifier.classify(response, nowMs: clock.nowMillis())
            if verdict == .success, let sid = response.json?["sid"]?.stringValue { return .accepted(sid: sid) }
            if verdict == .success { return .unknown("the provider answered \(response.status) without a message sid") }
            if response.status == 429, response.json?["code"]?.intValue == 20429,
                RateLimitHeaders(response.headers).resumeAtMs(nowMs: clock.nowMillis()) == nil
            {
                return .busy("429 20429: \(response.json?["message"]?.stringValue ?? "Too Many Requests")")
            }
            return .refused(verdict)
        } catch let error as HTTPClientError where error.kind == .connect || error.kind == .invalidRequest {
            // Never connected, or never sent: certainly not delivered to the provider.
            return .refused(ProviderClassifier.classify(error))
        } catch {
            return .unknown("\(error)")
        }
    }

    /// The provider's id of a message to `to` from `from` with this body, created at or after
    /// `sinceMs`, if one exists: how an attempt that died mid-call is reconciled. Throws when the
    /// provider cannot be asked (the job retries the reconciliation; it never guesses).
    public func find(to: String, from: String, body: String, sinceMs: Int64) async throws -> (sid: String, status: String)? {
        var url = messagesURL + "?To=" + FormEncoding.escape(to) + "&PageSize=100"
        if !from.hasPrefix("MG") { url += "&From=" + FormEncoding.escape(from) }
        let response = try await http.send(HTTPClientRequest("GET", url, headers: authorization, timeout: .seconds(15)))
        guard response.status == 200, let messages = response.json?["messages"]?.arrayValue else {
            throw HTTPClientError(.transport, "listing messages answered \(response.status)")
        }
        for message in messages where message["body"]?.stringValue == body {
            guard let sid = message["sid"]?.stringValue else { continue }
            if let created = message["date_created"]?.stringValue.flatMap(HTTPDate.parse), created < sinceMs - 60_000 { continue }
            return (sid, message["status"]?.stringValue ?? "queued")
        }
        return nil
    }
}
