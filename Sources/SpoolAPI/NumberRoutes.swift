import HTTPTypes
import Hummingbird
import SpoolStore
import SpoolSupport

/// `POST /v1/numbers`, `GET /v1/numbers`, `PUT /v1/numbers/{number}`, `DELETE /v1/numbers/{number}`:
/// the sender numbers a tenant holds, which its campaigns may send from, and each number's AI settings
/// (whether the AI answers its conversations, and with which prompt). A tenant's admin key acts on its
/// own numbers; the operator key on any tenant's (`tenant` names it). A number another tenant holds is
/// a 409 to add or set and a 404 to delete, and which tenant holds it is never said.
struct NumberRoutes: Sendable {
    let services: APIServices
    static let settingFields: Set<String> = ["ai_reply", "prompt", "tenant"]

    func register(on router: RouterGroup<APIContext>) {
        router.post("/numbers") { request, context in try await add(request, context) }
        router.get("/numbers") { request, context in try await list(request, context) }
        router.put("/numbers/:number") { request, context in try await configure(request, context) }
        router.delete("/numbers/:number") { _, context in try await remove(context) }
    }

    /// The tenant a request acts for: the key's own, or for the operator the `tenant` given. A tenant's
    /// key naming another tenant is refused rather than quietly acting for its own.
    private func tenant(_ principal: Principal, given: String?) throws -> String {
        if let own = principal.tenantID {
            guard given == nil || given == own else {
                throw APIError.invalid("tenant", "tenant: only the operator key may name a tenant; a tenant's key acts for its own")
            }
            return own
        }
        guard let given, !given.isEmpty else { throw APIError.invalid("tenant", "tenant: the operator key must name the tenant") }
        return given
    }

    private func add(_ request: Request, _ context: APIContext) async throws -> Response {
        let principal = try context.require(.admin)
        var request = request
        let body = try await RequestBody.json(&request, limit: 4 << 10)
        guard body.objectValue != nil else { throw APIError.invalid("(body)", "expected a JSON object, got \(body.typeName)") }
        guard let number = body["number"]?.stringValue, !number.isEmpty else {
            throw APIError.invalid("number", "number: required, a non-empty string such as +15005550006")
        }
        var given: String?
        if let value = body["tenant"] {
            guard let text = value.stringValue else { throw APIError.invalid("tenant", "tenant: expected a string, got \(value.typeName)") }
            given = text
        }
        let tenantID = try tenant(principal, given: given)
        let registration = try await refusals { try await numbers.register(number, tenantID: tenantID) }
        return APIResponse.json(registration.created ? 201 : 200, Self.json(registration.number))
    }

    /// `PUT /v1/numbers/{number}` `{"ai_reply"?, "prompt"?, "tenant"?}`: registers the number to the
    /// tenant when no tenant holds it (201), else sets what the body gives on the tenant's own number
    /// (200). A field left out is left as it is; `"prompt": null` removes the prompt. Unknown fields are
    /// refused, so that a misspelt setting is not quietly ignored.
    private func configure(_ request: Request, _ context: APIContext) async throws -> Response {
        let principal = try context.require(.admin)
        let number = Self.percentDecoded(context.parameters.get("number") ?? "")
        var request = request
        // A prompt of 20,000 characters, each escaped as \uXXXX at worst, fits.
        let body = try await RequestBody.json(&request, limit: 256 << 10)
        let settings = try Self.settings(body)
        let tenantID = try tenant(principal, given: settings.tenant)
        let registration = try await refusals {
            try await numbers.configure(number, tenantID: tenantID, aiReply: settings.aiReply, prompt: settings.prompt)
        }
        return APIResponse.json(registration.created ? 201 : 200, Self.json(registration.number))
    }

    /// A PUT body's settings; every refusal names its field.
    static func settings(_ body: JSONValue) throws(APIError) -> (aiReply: Bool?, prompt: SenderNumberPrompt, tenant: String?) {
        guard let fields = body.objectValue else { throw APIError.invalid("(body)", "expected a JSON object, got \(body.typeName)") }
        if let unknown = fields.keys.sorted().first(where: { !settingFields.contains($0) }) {
            throw APIError.invalid(
                unknown, "\(unknown): unknown field; known fields: \(settingFields.sorted().joined(separator: ", "))")
        }
        var aiReply: Bool?
        if let value = fields["ai_reply"] {
            guard let flag = value.boolValue else {
                throw APIError.invalid("ai_reply", "ai_reply: expected true or false, got \(value.typeName) \(value.text.prefix(40))")
            }
            aiReply = flag
        }
        var prompt = SenderNumberPrompt.keep
        if let value = fields["prompt"] {
            switch value {
            case .null:
                prompt = .clear
            case .string(let text):
                do { try SenderNumbers.checkPrompt(text) } catch { throw APIError.invalid("prompt", error.description) }
                prompt = .set(text)
            default:
                throw APIError.invalid("prompt", "prompt: expected a string or null, got \(value.typeName)")
            }
        }
        var tenant: String?
        if let value = fields["tenant"], value != .null {
            guard let text = value.stringValue else { throw APIError.invalid("tenant", "tenant: expected a string, got \(value.typeName)") }
            guard !text.isEmpty, !text.utf8.contains(0) else { throw APIError.invalid("tenant", "tenant: expected a tenant id") }
            tenant = text
        }
        return (aiReply, prompt, tenant)
    }

    private func list(_ request: Request, _ context: APIContext) async throws -> Response {
        let principal = try context.require(.admin)
        let given = request.uri.queryParameters.get("tenant")
        // The operator sees every tenant's numbers unless it names one.
        let tenantID: String? = try principal.isOperator && given == nil ? nil : tenant(principal, given: given)
        let found = try await numbers.list(tenantID: tenantID)
        return APIResponse.json(200, .object(["numbers": .array(found.map(Self.json))]))
    }

    private func remove(_ context: APIContext) async throws -> Response {
        let principal = try context.require(.admin)
        // Path parameters arrive still percent-encoded (%2B15005550006); `+` stays a plus in a path.
        let number = Self.percentDecoded(context.parameters.get("number") ?? "")
        _ = try await refusals { try await numbers.remove(number, tenantID: principal.tenantID) }
        return Response(status: .noContent)
    }

    private var numbers: SenderNumbers { SenderNumbers(pool: services.pool) }

    /// The store's refusals as the API answers them: 422 naming the field, 409, 404.
    private func refusals<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as SenderNumberError {
            switch error {
            case .invalid(let field, _): throw APIError.invalid(field, error.description)
            case .conflict: throw APIError(status: 409, code: "number_taken", message: error.description, field: "number")
            case .inUse: throw APIError(status: 409, code: "number_in_use", message: error.description, field: "number")
            case .notFound: throw APIError(status: 404, code: "not_found", message: error.description)
            }
        }
    }

    static func json(_ number: SenderNumber) -> JSONValue {
        var fields: [String: JSONValue] = [
            "id": .number(Double(number.id)), "number": .string(number.number), "tenant": .string(number.tenantID),
            "ai_reply": .bool(number.aiReply), "ai_prompt": number.aiPrompt.map { .string($0) } ?? .null,
        ]
        if let createdAt = number.createdAt { fields["created_at"] = .string(createdAt) }
        return .object(fields)
    }

    /// Decodes %XX escapes; a malformed escape is kept as it is.
    static func percentDecoded(_ text: String) -> String {
        guard text.contains("%") else { return text }
        let utf8 = Array(text.utf8)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(utf8.count)
        var index = 0
        while index < utf8.count {
            if utf8[index] == UInt8(ascii: "%"), index + 2 < utf8.count, let high = hexValue(utf8[index + 1]),
                let low = hexValue(utf8[index + 2])
            {
                bytes.append(high << 4 | low)
                index += 3
            } else {
                bytes.append(utf8[index])
                index += 1
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
