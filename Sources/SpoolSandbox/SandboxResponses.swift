import HTTPTypes
import Hummingbird
import NIOCore
import SpoolHTTP
import SpoolSupport

/// Building answers the way the real APIs write them.
enum SandboxResponse {
    static func json(_ status: Int, _ value: JSONValue, headers: [(String, String)] = []) -> Response {
        var fields = HTTPFields()
        fields[.contentType] = "application/json"
        for (name, value) in headers {
            if let field = HTTPField.Name(name) { fields[field] = value }
        }
        return Response(status: .init(code: status), headers: fields, body: .init(byteBuffer: ByteBuffer(string: value.text)))
    }

    static func text(_ status: Int, _ text: String, contentType: String = "text/plain; charset=utf-8") -> Response {
        var fields = HTTPFields()
        fields[.contentType] = contentType
        return Response(status: .init(code: status), headers: fields, body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    /// Server-sent events, as OpenAI streams a completion: each value as one `data: {json}` event,
    /// then `data: [DONE]`, all in one buffer.
    static func eventStream(_ events: [JSONValue], headers: [(String, String)] = []) -> Response {
        var fields = HTTPFields()
        fields[.contentType] = "text/event-stream; charset=utf-8"
        fields[.cacheControl] = "no-cache"
        for (name, value) in headers {
            if let field = HTTPField.Name(name) { fields[field] = value }
        }
        var text = ""
        for event in events {
            text += "data: "
            event.write(into: &text)
            text += "\n\n"
        }
        text += "data: [DONE]\n\n"
        return Response(status: .ok, headers: fields, body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    /// The sandbox's own complaint about a control request.
    static func badRequest(_ message: String) -> Response {
        json(400, .object(["error": .string(message)]))
    }
}

extension Request {
    /// The request body, or nil when it is bigger than `limit`.
    mutating func bodyBytes(limit: Int) async throws -> [UInt8]? {
        do {
            let buffer = try await collectBody(upTo: limit)
            return Array(buffer.readableBytesView)
        } catch is NIOTooManyBytesError {
            return nil
        }
    }

    func header(_ name: String) -> String? {
        HTTPField.Name(name).flatMap { headers[$0] }
    }

    /// Query parameters, percent-decoded.
    var query: [String: String] {
        Dictionary(FormEncoding.decode(uri.query ?? ""), uniquingKeysWith: { first, _ in first })
    }
}

/// The time as unix milliseconds, and as the date formats the APIs print.
enum SandboxTime {
    static func nowMs() -> Int64 { SystemClock().nowMillis() }

    /// RFC 3339 in UTC, as Google writes `updated` and `dateTime`: "2026-11-22T10:00:00.000Z".
    static func rfc3339(_ ms: Int64) -> String { CivilTime(unixMillis: ms).rfc3339 }

    /// RFC 2822, as Twilio writes `date_created`: "Sun, 22 Nov 2026 10:00:00 +0000".
    static func rfc2822(_ ms: Int64) -> String { dayAndTime(ms) + " +0000" }

    /// RFC 1123, as HTTP dates and Google's X-Goog-Channel-Expiration: "Sun, 22 Nov 2026 10:00:00 GMT".
    static func rfc1123(_ ms: Int64) -> String { dayAndTime(ms) + " GMT" }

    private static func dayAndTime(_ ms: Int64) -> String {
        let t = CivilTime(unixMillis: ms)
        let weekday = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"][t.weekday]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        return
            "\(weekday), \(CivilTime.pad(t.day)) \(months[t.month - 1]) \(t.year) \(CivilTime.pad(t.hour)):\(CivilTime.pad(t.minute)):\(CivilTime.pad(t.second))"
    }
}
