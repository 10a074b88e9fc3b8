import HTTPTypes
import Hummingbird
import SpoolQueue
import SpoolSMS
import SpoolStore
import SpoolSupport

/// `POST /v1/messages`, `GET /v1/messages/{id}`: one SMS a tenant's own services send (a reply, a
/// reminder, a code), outside any campaign. Sending takes a key of scope `enqueue` or `admin`; the
/// operator key sends for the tenant it names with `tenant`, as for campaigns and numbers. Reading
/// takes scope `read`; another tenant's message is a 404.
///
/// A new message answers 202; the same `Idempotency-Key` again answers 200 with the same message as
/// it is now, and stores and enqueues nothing more (`OneOffMessages`).
struct MessageRoutes: Sendable {
    let services: APIServices
    let segmentCents: Int
    static let knownFields: Set<String> = ["to", "from", "body", "purpose", "send_at", "tenant"]

    func register(on router: RouterGroup<APIContext>) {
        router.post("/messages") { request, context in try await send(request, context) }
        router.get("/messages/:id") { _, context in try await show(context) }
    }

    private func send(_ request: Request, _ context: APIContext) async throws -> Response {
        let principal = try context.require(.enqueue)
        var request = request
        let body = try await RequestBody.json(&request, limit: 64 << 10)
        let (message, given) = try Self.parse(
            body, idempotencyKey: request.headers[.idempotencyKey], nowMs: services.clock.nowMillis())
        let tenantID = try Self.tenant(principal, given: given)
        var store = OneOffMessages(pool: services.pool, enqueuer: services.enqueuer, clock: services.clock)
        store.segmentCents = segmentCents
        let sent: OneOffMessages.Sent
        do {
            sent = try await store.send(message, tenantID: tenantID)
        } catch let error as OneOffMessageError {
            switch error {
            case .invalid(let field, _): throw APIError.invalid(field, error.description)
            case .keyReused:
                throw APIError(status: 409, code: "idempotency_key_reused", message: error.description, field: "Idempotency-Key")
            }
        } catch let error as EnqueueError {
            // Only a deployment whose Jobs/ declares no usable send kind gets here: the input was checked.
            throw APIError(
                status: 503, code: "not_configured", message: "messages cannot be sent here: the send kind refuses them (\(error))")
        }
        return APIResponse.json(
            sent.created ? 202 : 200,
            .object([
                "id": .string(sent.message.id), "status": .string(sent.message.status.rawValue),
                "send_at": Self.time(sent.message.sendAtMs),
            ]))
    }

    private func show(_ context: APIContext) async throws -> Response {
        let principal = try context.require(.read)
        let id = context.parameters.get("id") ?? ""
        // No message id holds a NUL byte, and PostgreSQL could not take one as a parameter.
        guard !id.utf8.contains(0), let message = try await MessageRecord.load(id: id, pool: services.pool),
            principal.owns(message.tenantID)
        else {
            throw APIError.notFound("message \(id.prefix(64))")
        }
        return APIResponse.json(200, Self.resource(message))
    }

    /// The body's fields as a message, and the `tenant` it names, if any. Every refusal names its field.
    static func parse(_ body: JSONValue, idempotencyKey: String?, nowMs: Int64) throws(APIError) -> (OneOffMessage, String?) {
        // Unknown fields are refused: a misspelt `send_at` would otherwise send at once.
        let fields = try RequestBody.fields(body, known: knownFields)
        func required(_ name: String) throws(APIError) -> String {
            guard let value = fields[name] else { throw APIError.invalid(name, "\(name): required, a string") }
            guard let text = value.stringValue else { throw APIError.invalid(name, "\(name): expected a string, got \(value.typeName)") }
            return text
        }
        func optional(_ name: String) throws(APIError) -> String? { try RequestBody.optionalString(fields, name) }
        let to = try required("to")
        let from = try required("from")
        let text = try required("body")
        var purpose = MessagePurpose.transactional
        if let word = try optional("purpose") {
            guard let named = MessagePurpose(rawValue: word) else {
                throw APIError.invalid("purpose", "purpose: '\(word.prefix(40))' is not marketing or transactional")
            }
            purpose = named
        }
        var sendAt: Int64?
        if let time = try optional("send_at") {
            guard let ms = RFC3339.parse(time) else {
                throw APIError.invalid(
                    "send_at", "send_at: expected an RFC 3339 time such as 2026-11-22T10:00:00Z, got '\(time.prefix(60))'")
            }
            if ms > nowMs + Int64(JobSubmission.maximumDelaySeconds * 1000) {
                throw APIError.invalid("send_at", "send_at: \(time) is more than a year ahead")
            }
            // A time already past is now.
            sendAt = ms > nowMs ? ms : nil
        }
        let tenant = try optional("tenant")
        if let tenant, tenant.isEmpty || tenant.utf8.contains(0) {
            throw APIError.invalid("tenant", "tenant: expected a tenant id")
        }
        let message = OneOffMessage(
            to: to, from: from, body: text, purpose: purpose, sendAtMs: sendAt, idempotencyKey: idempotencyKey)
        return (message, tenant)
    }

    /// The tenant a request acts for: the key's own, or for the operator the `tenant` given. A tenant's
    /// key naming another tenant is refused rather than quietly acting for its own.
    static func tenant(_ principal: Principal, given: String?) throws(APIError) -> String {
        if let own = principal.tenantID {
            guard given == nil || given == own else {
                throw APIError.invalid("tenant", "tenant: only the operator key may name a tenant; a tenant's key acts for its own")
            }
            return own
        }
        guard let given else { throw APIError.invalid("tenant", "tenant: the operator key must name the tenant") }
        return given
    }

    /// A message as the API shows it; times are RFC 3339, null when they have not happened.
    static func resource(_ message: MessageRecord) -> JSONValue {
        func text(_ value: String?) -> JSONValue { value.map { .string($0) } ?? .null }
        return .object([
            "id": .string(message.id), "tenant": .string(message.tenantID), "campaign": text(message.campaignID),
            "to": .string(message.to), "from": .string(message.from), "body": .string(message.body),
            "purpose": .string(message.purpose.rawValue), "status": .string(message.status.rawValue), "reason": text(message.reason),
            "error_code": text(message.errorCode), "segments": .number(Double(message.segments)), "encoding": .string(message.encoding),
            "cost_cents": .number(Double(message.costCents)), "provider_sid": text(message.providerSid),
            "idempotency_key": text(message.idempotencyKey), "send_at": time(message.sendAtMs),
            "created_at": time(message.createdAtMs), "sent_at": time(message.sentAtMs), "delivered_at": time(message.deliveredAtMs),
            "failed_at": time(message.failedAtMs),
        ])
    }

    static func time(_ ms: Int64?) -> JSONValue { ms.map { .string(RFC3339.format($0)) } ?? .null }
}
