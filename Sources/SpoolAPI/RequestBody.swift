import HTTPTypes
import Hummingbird
import NIOCore
import SpoolSupport

/// Reading a request body: the content type is checked, the size is capped (413), and JSON is parsed
/// with errors that say where (400).
enum RequestBody {
    static func bytes(_ request: inout Request, limit: Int) async throws -> [UInt8] {
        do {
            return Array(try await request.collectBody(upTo: limit).readableBytesView)
        } catch is NIOTooManyBytesError {
            throw APIError(status: 413, code: "too_large", message: "the body is over \(limit) bytes")
        }
    }

    /// The media type without parameters, lowercased: "application/json".
    static func mediaType(_ request: Request) -> String {
        guard let value = request.headers[.contentType] else { return "" }
        if value == "application/json" { return value }  // the usual case, without splitting
        return value.split(separator: ";").first?.trimmingSpaces.lowercased() ?? ""
    }

    static func requireJSON(_ request: Request) throws(APIError) {
        let type = mediaType(request)
        guard type == "application/json" else {
            throw APIError(
                status: 415, code: "unsupported_media_type",
                message: "Content-Type must be application/json, got \(type.isEmpty ? "none" : "'\(type.prefix(60))'")")
        }
    }

    static func json(_ request: inout Request, limit: Int) async throws -> JSONValue {
        try requireJSON(request)
        let body = try await bytes(&request, limit: limit)
        // A value costs far more parsed than its bytes: bounded too (a job's args need a few hundred).
        do { return try JSONValue.parse(bytes: body, maximumValues: max(1_000, limit / 16)) } catch {
            throw APIError.badJSON(error.message)
        }
    }

    /// A JSON body's fields: it must be an object, and a field not in `known` is refused naming it, so
    /// that a misspelt setting is never quietly ignored.
    static func fields(_ body: JSONValue, known: Set<String>) throws(APIError) -> [String: JSONValue] {
        guard let fields = body.objectValue else { throw APIError.invalid("(body)", "expected a JSON object, got \(body.typeName)") }
        if let unknown = fields.keys.sorted().first(where: { !known.contains($0) }) {
            throw APIError.invalid(unknown, "\(unknown): unknown field; known fields: \(known.sorted().joined(separator: ", "))")
        }
        return fields
    }

    /// An optional string field: nil when it is absent or null.
    static func optionalString(_ fields: [String: JSONValue], _ name: String) throws(APIError) -> String? {
        guard let value = fields[name], value != .null else { return nil }
        guard let text = value.stringValue else {
            throw APIError.invalid(name, "\(name): expected a string or null, got \(value.typeName)")
        }
        return text
    }
}
