import Hummingbird
import HTTPTypes
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
    static func rfc3339(_ ms: Int64) -> String {
        let (year, month, day, hour, minute, second) = civil(ms)
        return "\(pad(year, 4))-\(pad(month))-\(pad(day))T\(pad(hour)):\(pad(minute)):\(pad(second)).\(pad(Int(((ms % 1000) + 1000) % 1000), 3))Z"
    }

    /// RFC 2822, as Twilio writes `date_created`: "Sun, 22 Nov 2026 10:00:00 +0000".
    static func rfc2822(_ ms: Int64) -> String {
        let days = Int((ms / 1000).floorDiv(86_400))
        let weekday = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][((days % 7) + 7) % 7]
        let (year, month, day, hour, minute, second) = civil(ms)
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        return "\(weekday), \(pad(day)) \(months[month - 1]) \(year) \(pad(hour)):\(pad(minute)):\(pad(second)) +0000"
    }

    private static func civil(_ ms: Int64) -> (Int, Int, Int, Int, Int, Int) {
        let seconds = Int((ms).floorDiv(1000))
        let days = seconds.floorDiv(86_400)
        let rest = seconds - days * 86_400
        // Howard Hinnant's civil_from_days.
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        return (year, month, day, rest / 3600, rest % 3600 / 60, rest % 60)
    }

    private static func pad(_ value: Int, _ width: Int = 2) -> String {
        let text = String(value)
        return String(repeating: "0", count: max(0, width - text.count)) + text
    }
}

extension BinaryInteger {
    func floorDiv(_ divisor: Self) -> Self {
        let quotient = self / divisor
        return (self % divisor != 0 && (self < 0) != (divisor < 0)) ? quotient - 1 : quotient
    }
}
