import SpoolSupport

/// What came back: the status, the parsed header fields of the final response, and the body.
public struct HTTPClientResponse: Sendable {
    public var status: Int
    public var headers: HeaderFields
    public var body: [UInt8]

    public init(status: Int, headers: HeaderFields = [:], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    public var text: String { String(decoding: body, as: UTF8.self) }

    /// The body as JSON, or nil when it is not JSON (an HTML error page from a proxy, say).
    public var json: JSONValue? { try? JSONValue.parse(bytes: body) }
}
