import Hummingbird
import SpoolSupport

/// OpenAI's error shape and its API-key check, shared by transcriptions and chat completions.
enum OpenAIErrors {
    static func error(
        _ status: Int, _ message: String, type: String, param: String?, code: String? = nil,
        headers: [(String, String)] = []
    ) -> Response {
        SandboxResponse.json(
            status,
            .object([
                "error": .object([
                    "message": .string(message), "type": .string(type),
                    "param": param.map { .string($0) } ?? .null, "code": code.map { .string($0) } ?? .null,
                ])
            ]), headers: headers)
    }

    /// A Bearer key that looks like an OpenAI key (`sk-...`); anything else is a 401.
    static func authenticate(_ request: Request) -> Response? {
        guard let header = request.header("Authorization"), header.hasPrefix("Bearer sk-"), header.count > 10 else {
            return error(401, "Incorrect API key provided.", type: "invalid_request_error", param: nil, code: "invalid_api_key")
        }
        return nil
    }

    static func apiKey(_ request: Request) -> String { String(request.header("Authorization")?.dropFirst(7) ?? "") }

    static func injected(_ status: Int, retryAfter: Int?) -> Response {
        let headers = retryAfter.map { [("retry-after", String($0)), ("retry-after-ms", String($0 * 1000))] } ?? []
        switch status {
        case 429:
            return error(
                429, "Rate limit reached. Please try again later.", type: "requests", param: nil, code: "rate_limit_exceeded",
                headers: headers)
        case 500:
            return error(500, "The server had an error while processing your request.", type: "server_error", param: nil, headers: headers)
        case 503:
            return error(
                503, "The engine is currently overloaded, please try again later.", type: "server_error", param: nil, headers: headers)
        default: return error(status, "Injected fault", type: "server_error", param: nil, headers: headers)
        }
    }
}
