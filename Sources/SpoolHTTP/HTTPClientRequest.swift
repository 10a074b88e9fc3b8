import FoundationEssentials

/// One request to a provider. Credentials go in `headers` (see `basicAuthorization`, `bearerAuthorization`),
/// never in the URL, so that an error naming the URL names no secret.
public struct HTTPClientRequest: Sendable {
    public var method: String
    public var url: String
    public var headers: HeaderFields
    public var body: HTTPClientBody?
    /// Time allowed to open the connection (TCP and TLS).
    public var connectTimeout: Duration
    /// Time allowed for the whole exchange, connection included.
    public var timeout: Duration
    /// The most bytes this answer's body may have, below the client's own `maximumResponseBytes`; nil:
    /// the client's. A bigger answer fails with `.responseTooLarge` without being read further:
    /// libcurl refuses it before its body when its Content-Length says so, and the transfer stops the
    /// moment the body passes the cap when it does not (chunked, or a Content-Length that lied).
    public var maximumResponseBytes: Int?

    public init(
        _ method: String, _ url: String, headers: HeaderFields = [:], body: HTTPClientBody? = nil,
        connectTimeout: Duration = .seconds(5), timeout: Duration = .seconds(30)
    ) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.connectTimeout = connectTimeout
        self.timeout = timeout
    }

    /// `Authorization: Basic ...` for an account id and secret (Twilio's AccountSid and auth token).
    public static func basicAuthorization(user: String, password: String) -> String {
        "Basic " + Data("\(user):\(password)".utf8).base64EncodedString()
    }

    /// `Authorization: Bearer ...` for an API key or OAuth access token.
    public static func bearerAuthorization(_ token: String) -> String { "Bearer " + token }
}
