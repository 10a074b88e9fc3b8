/// A request that got no HTTP answer. The message names the method and the redacted URL, never a header.
public struct HTTPClientError: Error, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        /// The connect or total timeout ran out.
        case timeout
        /// No connection: refused, unreachable, or the name did not resolve.
        case connect
        /// The connection broke mid-exchange, or the server closed it without answering.
        case connectionLost
        /// TLS failed, certificate verification included.
        case tls
        /// The answer was bigger than the client accepts.
        case responseTooLarge
        /// The request itself is unusable (a malformed URL, say).
        case invalidRequest
        /// The client was closed before the request finished.
        case closed
        /// Anything else libcurl reports.
        case transport
    }

    public let kind: Kind
    public let message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}
