import Hummingbird
import SpoolSupport

/// Which rate limit an injected Google 403 or 429 names (the `calendar_rate_limit_reason` setting).
enum GoogleRateLimitReason: String, Sendable, CaseIterable {
    case rateLimitExceeded, userRateLimitExceeded

    var message: String {
        switch self {
        case .rateLimitExceeded: return "Rate Limit Exceeded"
        case .userRateLimitExceeded: return "User Rate Limit Exceeded"
        }
    }
}

/// Google's JSON error shape: `{"error": {"code", "message", "errors": [{"domain", "reason",
/// "message"}], "status"}}`; the calendar job reads `errors[0].reason`.
enum GoogleErrors {
    static func error(
        _ code: Int, _ message: String, reason: String, status: String, domain: String = "global",
        location: (name: String, type: String)? = nil, headers: [(String, String)] = []
    ) -> Response {
        var detail: [String: JSONValue] = ["domain": .string(domain), "reason": .string(reason), "message": .string(message)]
        if let location {
            detail["location"] = .string(location.name)
            detail["locationType"] = .string(location.type)
        }
        return SandboxResponse.json(
            code,
            .object([
                "error": .object([
                    "code": .number(Double(code)), "message": .string(message), "status": .string(status),
                    "errors": .array([.object(detail)]),
                ])
            ]), headers: headers)
    }

    /// A missing, unknown, expired or revoked access token (or the `calendar_unauthorized_ratio` fault).
    static func unauthenticated() -> Response {
        error(
            401, "Request had invalid authentication credentials. Expected OAuth 2 access token.", reason: "authError",
            status: "UNAUTHENTICATED", location: ("Authorization", "header"),
            headers: [("WWW-Authenticate", #"Bearer realm="sandbox", error="invalid_token""#)])
    }

    /// 403 or 429 for a spent rate limit, in the `usageLimits` domain as Google writes them.
    static func rateLimited(_ code: Int, reason: GoogleRateLimitReason, headers: [(String, String)] = []) -> Response {
        error(
            code, reason.message, reason: reason.rawValue, status: code == 429 ? "RESOURCE_EXHAUSTED" : "PERMISSION_DENIED",
            domain: "usageLimits", headers: headers)
    }

    /// The answer for a status the faults injected.
    static func injected(_ status: Int, retryAfterSeconds: Int?, rateLimitReason: GoogleRateLimitReason) -> Response {
        let headers = retryAfterSeconds.map { [("Retry-After", String($0))] } ?? []
        switch status {
        case 401: return unauthenticated()
        case 403, 429: return rateLimited(status, reason: rateLimitReason, headers: headers)
        case 503:
            return error(503, "The service is currently unavailable.", reason: "backendError", status: "UNAVAILABLE", headers: headers)
        default: return error(status, "Backend Error", reason: "backendError", status: "INTERNAL", headers: headers)
        }
    }

    /// 400 for a bad parameter or body field, naming it.
    static func invalid(_ message: String, reason: String = "invalid") -> Response {
        error(400, message, reason: reason, status: "INVALID_ARGUMENT")
    }

    static func notFound(_ message: String) -> Response {
        error(404, message, reason: "notFound", status: "NOT_FOUND")
    }
}

/// A request a Google endpoint refuses with 400, with the reason Google gives.
struct GoogleRequestError: Error, Sendable {
    let message: String
    let reason: String

    init(_ message: String, reason: String = "invalid") {
        self.message = message
        self.reason = reason
    }

    var response: Response { GoogleErrors.invalid(message, reason: reason) }
}
