import HTTPTypes
import Hummingbird
import SpoolQueue
import SpoolStore
import SpoolSupport

/// `GET /v1/conversations`, `GET /v1/conversations/{id}`, `POST /v1/conversations/{id}/takeover`,
/// `POST /v1/conversations/{id}/release`, `POST /v1/conversations/{id}/messages`: what contacts wrote
/// to a tenant's numbers and what was answered, human takeover, and a human agent's replies
/// (`ConversationStore`).
///
/// Reading takes scope `read`; taking over, releasing and replying take `admin`. A tenant's key acts
/// on its own tenant's conversations, and another tenant's conversation is a 404, never a 403; the
/// operator key acts on any (and lists every tenant's unless it names one with `tenant`).
struct ConversationRoutes: Sendable {
    let services: APIServices
    let segmentCents: Int
    static let modeFields: Set<String> = ["reason"]
    static let replyFields: Set<String> = ["body"]

    func register(on router: RouterGroup<APIContext>) {
        router.get("/conversations") { request, context in try await list(request, context) }
        router.get("/conversations/:id") { _, context in try await show(context) }
        router.post("/conversations/:id/takeover") { request, context in try await changeMode(request, context, takeover: true) }
        router.post("/conversations/:id/release") { request, context in try await changeMode(request, context, takeover: false) }
        router.post("/conversations/:id/messages") { request, context in try await reply(request, context) }
    }

    private var store: ConversationStore {
        var store = ConversationStore(pool: services.pool, enqueuer: services.enqueuer, clock: services.clock)
        store.segmentCents = segmentCents
        return store
    }

    /// `?contact=+E164|whatsapp:+E164&tenant=&limit=&cursor=`: newest activity first; `next_cursor` is
    /// null on the last page.
    private func list(_ request: Request, _ context: APIContext) async throws -> Response {
        let principal = try context.require(.read)
        let query = request.uri.queryParameters
        let given = query.get("tenant")
        // The operator sees every tenant's conversations unless it names one.
        let tenantID: String? = try principal.isOperator && given == nil ? nil : MessageRoutes.tenant(principal, given: given)
        var limit = ConversationStore.defaultPageSize
        if let text = query.get("limit") {
            guard let value = Int(text), (1...ConversationStore.maximumPageSize).contains(value) else {
                throw APIError.invalid(
                    "limit", "limit: expected an integer from 1 to \(ConversationStore.maximumPageSize), got '\(text.prefix(20))'")
            }
            limit = value
        }
        let page = try await refusals {
            try await store.list(tenantID: tenantID, contact: query.get("contact"), limit: limit, cursor: query.get("cursor"))
        }
        let next: JSONValue = page.nextCursor.map { JSONValue.string($0) } ?? .null
        return APIResponse.json(200, .object(["conversations": .array(page.conversations.map(\.json)), "next_cursor": next]))
    }

    private func show(_ context: APIContext) async throws -> Response {
        let principal = try context.require(.read)
        let id = context.parameters.get("id") ?? ""
        guard let detail = try await store.show(id, tenantID: principal.tenantID) else {
            throw APIError.notFound("conversation \(id.prefix(64))")
        }
        return APIResponse.json(200, detail.json)
    }

    /// Takeover or release, with an optional body `{"reason"}`; the answer is the conversation as it is
    /// now (the same again changes nothing).
    private func changeMode(_ request: Request, _ context: APIContext, takeover: Bool) async throws -> Response {
        let principal = try context.require(.admin)
        let id = context.parameters.get("id") ?? ""
        var request = request
        let body = try await Self.optionalJSON(&request, limit: 16 << 10)
        var reason: String?
        if let body {
            let fields = try RequestBody.fields(body, known: Self.modeFields)
            if let value = fields["reason"], value != .null {
                guard let text = value.stringValue else {
                    throw APIError.invalid("reason", "reason: expected a string or null, got \(value.typeName)")
                }
                reason = text
            }
        }
        let store = self.store
        let conversation = try await refusals { () async throws -> ConversationStore.Conversation in
            if takeover { return try await store.takeover(id, tenantID: principal.tenantID, reason: reason, by: principal.keyID) }
            return try await store.release(id, tenantID: principal.tenantID, reason: reason, by: principal.keyID)
        }
        return APIResponse.json(200, conversation.json)
    }

    /// `{"body"}` with an optional `Idempotency-Key`: 202 with the new message, 200 with the one the key
    /// named before, as `POST /v1/messages` answers.
    private func reply(_ request: Request, _ context: APIContext) async throws -> Response {
        let principal = try context.require(.admin)
        let id = context.parameters.get("id") ?? ""
        var request = request
        let body = try await RequestBody.json(&request, limit: 64 << 10)
        let fields = try RequestBody.fields(body, known: Self.replyFields)
        guard let value = fields["body"] else { throw APIError.invalid("body", "body: required, a string") }
        guard let text = value.stringValue else { throw APIError.invalid("body", "body: expected a string, got \(value.typeName)") }
        let key = request.headers[.idempotencyKey]
        let reply: ConversationStore.Reply
        do {
            reply = try await refusals {
                try await store.agentReply(conversationID: id, tenantID: principal.tenantID, body: text, idempotencyKey: key)
            }
        } catch let error as EnqueueError {
            // Only a deployment whose Jobs/ declares no usable send kind gets here: the input was checked.
            throw APIError(
                status: 503, code: "not_configured", message: "messages cannot be sent here: the send kind refuses them (\(error))")
        }
        return APIResponse.json(
            reply.created ? 202 : 200, .object(["id": .string(reply.message.id), "status": .string(reply.message.status.rawValue)]))
    }

    /// The store's refusals as the API answers them: 422 naming the field, 404, 409.
    private func refusals<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as ConversationStoreError {
            switch error {
            case .invalid(let field, _): throw APIError.invalid(field, error.description)
            case .notFound: throw APIError(status: 404, code: "not_found", message: error.description)
            case .keyReused:
                throw APIError(status: 409, code: "idempotency_key_reused", message: error.description, field: "Idempotency-Key")
            case .numberNotHeld: throw APIError(status: 409, code: "number_not_held", message: error.description, field: "number")
            }
        }
    }

    /// A JSON object's fields; an unknown one is refused by name, so that a misspelt field is not
    /// quietly ignored.

    /// A body that may be left out: nil when there is none (no bytes); otherwise it must be JSON, as
    /// `RequestBody.json` reads it.
    static func optionalJSON(_ request: inout Request, limit: Int) async throws -> JSONValue? {
        let bytes = try await RequestBody.bytes(&request, limit: limit)
        guard !bytes.isEmpty else { return nil }
        try RequestBody.requireJSON(request)
        do { return try JSONValue.parse(bytes: bytes, maximumValues: max(1_000, limit / 16)) } catch {
            throw APIError.badJSON(error.message)
        }
    }
}
