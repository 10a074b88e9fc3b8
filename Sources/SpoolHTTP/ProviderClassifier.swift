import SpoolSupport

/// Turns an HTTP answer, or the lack of one, into a `ProviderVerdict`.
///
/// Pure: the caller passes the clock. The provider's error code is read from the JSON shapes of the
/// APIs Spool talks to: Twilio (`{"code": 21211, "message": ...}`), OpenAI
/// (`{"error": {"type": ..., "code": ...}}`), Google (`{"error": {"errors": [{"reason": ...}]}}`) and
/// OAuth token endpoints (`{"error": "invalid_grant"}`).
public enum ProviderClassifier {
    /// 429s that no amount of waiting fixes: the account has no money or quota left.
    public static let quotaCodes: Set<String> = ["insufficient_quota", "billing_hard_limit_reached", "quotaExceeded", "dailyLimitExceeded"]
    /// Rate limits some providers answer with another status (Google Calendar uses 403).
    public static let rateLimitCodes: Set<String> = ["rateLimitExceeded", "userRateLimitExceeded", "rate_limit_exceeded"]
    /// When a 429 names no time, wait this long.
    public static let defaultRateLimitPause: Duration = .seconds(1)

    public static func classify(_ response: HTTPClientResponse, nowMs: Int64) -> ProviderVerdict {
        let status = response.status
        if (200..<300).contains(status) { return .success }
        let error = ProviderErrorBody(response)
        let reason = error.summary(status: status)
        switch status {
        case 401:
            return .authExpired(reason: reason)
        case 403 where error.code.map(rateLimitCodes.contains) == true, 429:
            if let code = error.code, quotaCodes.contains(code) { return .permanent(code: code, reason: reason) }
            let until =
                RateLimitHeaders(response.headers).resumeAtMs(nowMs: nowMs)
                ?? nowMs + defaultRateLimitPause.milliseconds
            return .rateLimited(untilMs: until, reason: reason)
        case 408, 425, 500...599:
            return .retryable(reason: reason, after: RateLimitHeaders(response.headers).retryAfter(nowMs: nowMs))
        default:
            return .permanent(code: error.code ?? "http_\(status)", reason: reason)
        }
    }

    public static func classify(_ error: any Error) -> ProviderVerdict {
        guard let error = error as? HTTPClientError else { return .retryable(reason: "\(error)", after: nil) }
        switch error.kind {
        case .timeout, .connect, .connectionLost, .tls, .transport, .closed:
            return .retryable(reason: error.message, after: nil)
        case .responseTooLarge, .invalidRequest:
            return .permanent(code: error.kind.rawValue, reason: error.message)
        }
    }
}

/// The error code and message a provider put in its JSON body, when it did.
struct ProviderErrorBody {
    var code: String?
    var message: String?

    init(_ response: HTTPClientResponse) {
        guard let json = response.json else { return }
        if let value = json["code"] { code = Self.text(value) }
        message = json["message"]?.stringValue
        switch json["error"] {
        case .string(let text)?:  // OAuth: {"error": "invalid_grant", "error_description": ...}
            code = code ?? text
            message = message ?? json["error_description"]?.stringValue
        case .object(let error)?:
            let reason = error["errors"].flatMap {
                if case .array(let list) = $0 { return list.first?["reason"]?.stringValue }; return nil
            }
            code = code ?? error["code"].flatMap(Self.text) ?? error["type"]?.stringValue ?? reason ?? error["status"]?.stringValue
            if code == nil || Int(code!) != nil, let reason { code = reason }  // Google's numeric code repeats the status
            message = message ?? error["message"]?.stringValue
        default:
            break
        }
    }

    func summary(status: Int) -> String {
        var text = "HTTP \(status)"
        if let code { text += " (\(code))" }
        if let message, !message.isEmpty { text += ": " + String(message.prefix(300)) }
        return text
    }

    private static func text(_ value: JSONValue) -> String? {
        if let int = value.intValue { return String(int) }
        return value.stringValue
    }
}
