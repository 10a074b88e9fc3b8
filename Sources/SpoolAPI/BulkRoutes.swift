import Hummingbird
import HTTPTypes
import NIOCore
import SpoolQueue
import SpoolSupport

/// `POST /v1/jobs/bulk`: up to 10,000 jobs as `{"jobs": [...]}`, or any number as NDJSON (one job per
/// line, `Content-Type: application/x-ndjson`) enqueued while the body streams in. Each item gets its
/// own answer: accepted with an id, or rejected with its index and reason. A bad item never drops the
/// good ones, unless `atomic=true` (query or body) asks for all or nothing, which needs every item
/// valid before any is stored.
struct BulkRoutes: Sendable {
    let services: APIServices
    static let maximumItems = 10_000
    static let maximumJSONBody = 32 << 20
    static let maximumLine = 1 << 20
    static let batch = 1000

    func register(on router: RouterGroup<APIContext>) {
        router.post("/jobs/bulk") { request, context in try await bulk(request, context) }
    }

    private struct Outcome {
        var items: [JSONValue] = []
        var accepted = 0
        var rejected = 0

        mutating func reject(_ index: Int, _ error: APIError) {
            rejected += 1
            items.append(.object(["index": .number(Double(index)), "error": error.json["error"]!]))
        }
    }

    private func bulk(_ request: Request, _ context: APIContext) async throws -> Response {
        let principal = try context.require(.enqueue)
        var request = request
        var atomic = false
        if let flag = request.uri.queryParameters["atomic"] {
            guard ["true", "false", "1", "0"].contains(flag) else { throw APIError.invalid("atomic", "expected true or false, got '\(flag.prefix(20))'") }
            atomic = flag == "true" || flag == "1"
        }
        var outcome = Outcome()
        let type = RequestBody.mediaType(request)
        if type == "application/x-ndjson" {
            try await streamLines(request, atomic: atomic, principal: principal, into: &outcome)
        } else {
            try RequestBody.requireJSON(request)
            let body = try await RequestBody.bytes(&request, limit: Self.maximumJSONBody)
            let json: JSONValue
            do { json = try JSONValue.parse(bytes: body) } catch { throw APIError.badJSON(error.message) }
            guard let fields = json.objectValue else { throw APIError.invalid("(body)", "expected {\"jobs\": [...]}, got \(json.typeName)") }
            if let unknown = fields.keys.first(where: { $0 != "jobs" && $0 != "atomic" }) { throw APIError.invalid(unknown, "unknown field") }
            if let flag = fields["atomic"] {
                guard let value = flag.boolValue else { throw APIError.invalid("atomic", "expected true or false") }
                atomic = atomic || value
            }
            guard case .array(let items)? = fields["jobs"] else { throw APIError.invalid("jobs", "expected an array of jobs") }
            guard items.count <= Self.maximumItems else {
                throw APIError.invalid("jobs", "\(items.count) jobs; at most \(Self.maximumItems) per request (NDJSON has no cap)")
            }
            var parsed: [(Int, EnqueueRequest)] = []
            if let index = items.firstIndex(where: { $0.objectValue == nil }) {
                throw APIError.invalid("jobs[\(index)]", "expected a job object, got \(items[index].typeName)")
            }
            for (index, item) in items.enumerated() {
                do { parsed.append((index, try parse(item, principal, validate: atomic))) } catch { outcome.reject(index, error) }
            }
            if !(atomic && outcome.rejected > 0) { try await store(parsed, into: &outcome) }
        }
        if atomic && outcome.rejected > 0 {
            return APIResponse.json(422, .object([
                "accepted": .number(0), "rejected": .number(Double(outcome.rejected)), "atomic": .bool(true),
                "items": .array(outcome.items.filter { $0["error"] != nil }),
            ]))
        }
        return APIResponse.json(200, .object([
            "accepted": .number(Double(outcome.accepted)), "rejected": .number(Double(outcome.rejected)), "atomic": .bool(atomic),
            "items": .array(outcome.items.sorted { ($0["index"]?.intValue ?? 0) < ($1["index"]?.intValue ?? 0) }),
        ]))
    }

    /// NDJSON: jobs are enqueued a thousand at a time as lines arrive (all at the end when atomic).
    private func streamLines(_ request: Request, atomic: Bool, principal: Principal, into outcome: inout Outcome) async throws {
        var pending: [(Int, EnqueueRequest)] = []
        var line: [UInt8] = []
        var index = 0
        var overlong = false
        func take(_ line: [UInt8]) throws {
            defer { index += 1 }
            if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { return }
            if atomic && pending.count >= Self.maximumItems {
                throw APIError.invalid("atomic", "an atomic request holds at most \(Self.maximumItems) jobs")
            }
            do {
                let json: JSONValue
                do { json = try JSONValue.parse(bytes: line) } catch { throw APIError.invalid("(line \(index + 1))", error.message) }
                pending.append((index, try parse(json, principal, validate: atomic)))
            } catch let error as APIError {
                outcome.reject(index, error)
            }
        }
        for try await buffer in request.body {
            for byte in buffer.readableBytesView {
                if byte == 0x0A {
                    if overlong {
                        // Refused on its own, like any bad item: the lines before and after still count.
                        outcome.reject(index, APIError.invalid("(line \(index + 1))", "over \(Self.maximumLine) bytes"))
                        index += 1
                        overlong = false
                    } else {
                        try take(line)
                    }
                    line.removeAll(keepingCapacity: true)
                } else if !overlong {
                    line.append(byte)
                    if line.count > Self.maximumLine {
                        overlong = true
                        line.removeAll()
                    }
                }
            }
            if !atomic && pending.count >= Self.batch {
                try await store(pending, into: &outcome)
                pending.removeAll(keepingCapacity: true)
            }
        }
        if overlong {
            outcome.reject(index, APIError.invalid("(line \(index + 1))", "over \(Self.maximumLine) bytes"))
        } else if !line.isEmpty {
            try take(line)
        }
        if !(atomic && outcome.rejected > 0) { try await store(pending, into: &outcome) }
    }

    /// An item as a request; with `validate`, also checked against its kind now (atomic requests store
    /// nothing until every item has passed). Otherwise the Enqueuer checks it as it stores the batch.
    private func parse(_ item: JSONValue, _ principal: Principal, validate: Bool) throws(APIError) -> EnqueueRequest {
        let request = try JobSubmission.parse(item, principal: principal, headerIdempotencyKey: nil, declaredQueues: services.declaredQueues,
                                                 nowMs: services.clock.nowMillis())
        if validate {
            do { try services.enqueuer.validate(request) } catch { throw APIError.invalid(error.field, error.message) }
        }
        return request
    }

    private func store(_ items: [(Int, EnqueueRequest)], into outcome: inout Outcome) async throws {
        if items.isEmpty { return }
        let results = try await services.enqueuer.enqueue(batch: items.map(\.1))
        for ((index, _), result) in zip(items, results) {
            switch result {
            case .success(let stored):
                outcome.accepted += 1
                outcome.items.append(.object([
                    "index": .number(Double(index)), "id": .string(stored.id),
                    "status": .string(stored.scheduled ? "scheduled" : "pending"), "duplicate": .bool(!stored.created),
                ]))
            case .failure(let error):
                outcome.reject(index, APIError.invalid(error.field, error.message))
            }
        }
    }
}
