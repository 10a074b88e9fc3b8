import HTTPTypes
import Hummingbird
import NIOCore
import SpoolSupport

/// The OpenAPI 3.1 description of the API, kept in `openapi.json` beside the routes and compiled in.
/// Served with the kinds this deployment declares filled in as the `kind` enum, so that the document
/// tells the truth about what an enqueue accepts.
struct OpenAPIDocument: Sendable {
    static let source = String(decoding: PackageResources.openapi_json, as: UTF8.self)
    let text: String

    init(kinds: [String]) {
        guard var document = try? JSONValue.parse(Self.source) else {
            text = Self.source
            return
        }
        document = document.replacing(
            ["components", "schemas", "JobRequest", "properties", "kind", "enum"],
            with: .array(kinds.sorted().map { .string($0) }))
        text = document.text
    }

    func response() -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}

extension JSONValue {
    /// A copy with the value at `path` (object keys) set; missing objects on the way are created.
    func replacing(_ path: ArraySlice<String>, with value: JSONValue) -> JSONValue {
        guard let key = path.first else { return value }
        var fields = objectValue ?? [:]
        fields[key] = (fields[key] ?? .object([:])).replacing(path.dropFirst(), with: value)
        return .object(fields)
    }

    func replacing(_ path: [String], with value: JSONValue) -> JSONValue { replacing(path[...], with: value) }
}
