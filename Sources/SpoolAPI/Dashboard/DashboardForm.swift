import Hummingbird
import SpoolHTTP

/// A dashboard form's fields, as browsers post them (application/x-www-form-urlencoded), read once.
struct DashboardForm: Sendable {
    let fields: [(name: String, value: String)]

    static let empty = DashboardForm(fields: [])
    /// Forms carry a key, a token and a few choices: far below this.
    static let byteLimit = 64 << 10

    /// The first value of field `name`.
    subscript(_ name: String) -> String? { fields.first { $0.name == name }?.value }

    /// The body's fields; another content type reads as none, so a POST that is not a form carries no
    /// CSRF token either. Over `byteLimit` bytes: 413.
    static func read(_ request: inout Request) async throws -> DashboardForm {
        guard RequestBody.mediaType(request) == "application/x-www-form-urlencoded" else { return .empty }
        let body = try await RequestBody.bytes(&request, limit: byteLimit)
        return DashboardForm(fields: FormEncoding.decode(String(decoding: body, as: UTF8.self)).map { (name: $0.0, value: $0.1) })
    }
}
