import FoundationEssentials
import SpoolQueue
import SpoolSupport

/// One job as a producer sends it, `{kind, args, queue?, run_at? | delay_seconds?, idempotency_key?}`,
/// checked field by field into an `EnqueueRequest`. Every refusal names the field (with the item's
/// index in a bulk request) and what is wrong with it.
enum JobSubmission {
    static let knownFields: Set<String> = ["kind", "args", "queue", "run_at", "delay_seconds", "idempotency_key", "tenant"]
    /// How far in the past a run_at may be (clocks differ); further back is refused.
    static let pastTolerance: Int64 = 30_000
    static let maximumDelaySeconds = 366.0 * 86_400

    /// The fields as an EnqueueRequest. The kind's own checks (declared kind, args schema, queue name)
    /// happen when it is enqueued, or with `Enqueuer.validate` first when nothing may be stored unchecked.
    static func parse(
        _ value: JSONValue, principal: Principal, headerIdempotencyKey: String?, declaredQueues: Set<String>,
        nowMs: Int64
    ) throws(APIError) -> EnqueueRequest {
        guard let fields = value.objectValue else { throw APIError.invalid("(body)", "expected a JSON object, got \(value.typeName)") }
        if let unknown = fields.keys.sorted().first(where: { !knownFields.contains($0) }) {
            throw APIError.invalid(unknown, "unknown field; known fields: \(knownFields.sorted().joined(separator: ", "))")
        }
        guard let kindValue = fields["kind"] else { throw APIError.invalid("kind", "is required") }
        guard let kind = kindValue.stringValue else { throw APIError.invalid("kind", "expected a string, got \(kindValue.typeName)") }
        var args = "{}"
        var parsedArgs = JSONValue.object([:])
        if let argsValue = fields["args"], argsValue != .null {
            guard argsValue.objectValue != nil else { throw APIError.invalid("args", "expected an object, got \(argsValue.typeName)") }
            args = argsValue.text
            parsedArgs = argsValue
        }
        var queue: String?
        if let queueValue = fields["queue"], queueValue != .null {
            guard let text = queueValue.stringValue else {
                throw APIError.invalid("queue", "expected a string, got \(queueValue.typeName)")
            }
            // Only queues some kind declares: every queue costs every status lookup and sweep a little,
            // and a job in a queue no worker reads would wait forever.
            guard declaredQueues.contains(text) else {
                throw APIError.invalid(
                    "queue", "'\(text.prefix(64))' is not a declared queue; declared: \(declaredQueues.sorted().joined(separator: ", "))")
            }
            queue = text
        }
        let runAt = try runAt(fields, nowMs: nowMs)
        var idempotencyKey: String?
        if let keyValue = fields["idempotency_key"], keyValue != .null {
            guard let text = keyValue.stringValue else {
                throw APIError.invalid("idempotency_key", "expected a string, got \(keyValue.typeName)")
            }
            idempotencyKey = text
        }
        if let header = headerIdempotencyKey {
            if let idempotencyKey, idempotencyKey != header {
                throw APIError.invalid("idempotency_key", "differs from the Idempotency-Key header; send one or make them equal")
            }
            idempotencyKey = header
        }
        var tenant = principal.tenantID
        if let tenantValue = fields["tenant"], tenantValue != .null {
            guard principal.isOperator else {
                throw APIError.invalid("tenant", "only the operator key may name a tenant; a tenant's key enqueues for its own")
            }
            guard let text = tenantValue.stringValue else {
                throw APIError.invalid("tenant", "expected a string, got \(tenantValue.typeName)")
            }
            tenant = text
        }
        var request = EnqueueRequest(kind: kind, args: args, queue: queue, runAt: runAt, idempotencyKey: idempotencyKey, tenant: tenant)
        request.parsedArgs = parsedArgs
        request.producer = principal.isOperator ? .operator : .tenant
        return request
    }

    private static func runAt(_ fields: [String: JSONValue], nowMs: Int64) throws(APIError) -> Int64? {
        let runAtValue = fields["run_at"].flatMap { $0 == .null ? nil : $0 }
        let delayValue = fields["delay_seconds"].flatMap { $0 == .null ? nil : $0 }
        if runAtValue != nil && delayValue != nil { throw APIError.invalid("run_at", "give run_at or delay_seconds, not both") }
        if let delayValue {
            guard let seconds = delayValue.numberValue, seconds >= 0, seconds <= maximumDelaySeconds else {
                throw APIError.invalid(
                    "delay_seconds", "expected a number of seconds from 0 to \(Int(maximumDelaySeconds)), got \(delayValue.text.prefix(40))"
                )
            }
            return seconds == 0 ? nil : nowMs + Int64((seconds * 1000).rounded())
        }
        guard let runAtValue else { return nil }
        guard let text = runAtValue.stringValue, let ms = RFC3339.parse(text) else {
            throw APIError.invalid("run_at", "expected an RFC 3339 time such as 2026-11-22T10:00:00Z, got \(runAtValue.text.prefix(60))")
        }
        if ms < nowMs - pastTolerance { throw APIError.invalid("run_at", "\(text) is in the past") }
        if ms > nowMs + Int64(maximumDelaySeconds * 1000) { throw APIError.invalid("run_at", "\(text) is more than a year ahead") }
        return ms <= nowMs ? nil : ms
    }
}

/// RFC 3339 times, as JSON APIs write them.
enum RFC3339 {
    static func parse(_ text: String) -> Int64? {
        if let date = try? Date(text, strategy: .iso8601) { return Int64((date.timeIntervalSince1970 * 1000).rounded()) }
        if let date = try? Date(text, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true)) {
            return Int64((date.timeIntervalSince1970 * 1000).rounded())
        }
        return nil
    }

    static func format(_ ms: Int64) -> String { CivilTime(unixMillis: ms).rfc3339 }
}
