import HTTPTypes
import Hummingbird
import NIOCore
import SpoolQueue
import SpoolSupport

#if canImport(Glibc)
    import Glibc
#endif

/// `POST /v1/jobs/bulk`: up to 10,000 jobs as `{"jobs": [...]}`, or any number as NDJSON (one job per
/// line, `Content-Type: application/x-ndjson`, up to 64 MiB) enqueued while the body streams in. A JSON
/// request answers each item: accepted with an id, or rejected with its index and reason. An NDJSON one
/// answers counts and its first 100 rejections: an answer per line kept every line's result in memory
/// (2.25 GB for 5 MB of bad lines). A bad item never drops the good ones, unless `atomic=true` (query
/// or body) asks for all or nothing, which needs every item valid before any is stored; such a request
/// holds every item, so its NDJSON body is capped like a JSON one.
struct BulkRoutes: Sendable {
    let services: APIServices
    static let maximumItems = 10_000
    static let maximumJSONBody = 32 << 20
    /// Values (objects, strings, numbers ...) one JSON bulk body may hold: about 50 per job.
    static let maximumJSONValues = 500_000
    /// An NDJSON body is read up to here; past it, reading stops and the answer is a 413 that counts
    /// what the lines before were.
    static let maximumStreamBody = 64 << 20
    static let maximumLine = 1 << 20
    /// Streamed jobs are stored a thousand at a time, or at 2 MiB of lines if that comes first.
    static let batch = 1000
    static let batchBytes = 2 << 20
    /// Rejections an NDJSON answer lists (the lowest indexes); the rest are counted.
    static let maximumListed = 100
    /// Bytes of a message or field an NDJSON answer quotes: the value quoted may come from a 1 MiB line.
    static let maximumQuoted = 300

    func register(on router: RouterGroup<APIContext>) {
        router.post("/jobs/bulk") { request, context in try await bulk(request, context) }
    }

    /// The answer so far. A JSON request lists every item. A streamed (NDJSON) one lists rejections
    /// only, the `maximumListed` lowest indexes, with messages clipped: its size does not depend on
    /// the body's.
    private struct Outcome {
        let streamed: Bool
        var items: [JSONValue] = []
        var accepted = 0
        var rejected = 0
        /// While streamed: the indexes listed, and the highest of them, which a lower index found later
        /// (a batch refused by the Enqueuer) replaces.
        private var listed: [Int] = []
        private var highest = -1

        init(streamed: Bool) { self.streamed = streamed }

        /// Some rejections are counted and not listed.
        var truncated: Bool { streamed && rejected > items.count }

        var sortedItems: [JSONValue] { items.sorted { ($0["index"]?.intValue ?? 0) < ($1["index"]?.intValue ?? 0) } }

        /// `status` is nil when streamed: accepted items are not listed.
        mutating func accept(_ index: Int, _ stored: EnqueueResult, status: String?) {
            accepted += 1
            guard let status, !streamed else { return }
            items.append(
                .object([
                    "index": .number(Double(index)), "id": .string(stored.id), "status": .string(status),
                    "duplicate": .bool(!stored.created),
                ]))
        }

        mutating func reject(_ index: Int, _ error: APIError) {
            rejected += 1
            guard streamed else {
                items.append(.object(["index": .number(Double(index)), "error": error.json["error"]!]))
                return
            }
            if items.count < BulkRoutes.maximumListed {
                items.append(Self.clipped(index, error))
                listed.append(index)
                highest = max(highest, index)
            } else if index < highest, let slot = listed.firstIndex(of: highest) {
                items[slot] = Self.clipped(index, error)
                listed[slot] = index
                highest = listed.max() ?? index
            }
        }

        private static func clipped(_ index: Int, _ error: APIError) -> JSONValue {
            var fields: [String: JSONValue] = ["code": .string(error.code), "message": .string(BulkRoutes.clipped(error.message))]
            if let field = error.field { fields["field"] = .string(BulkRoutes.clipped(field)) }
            return .object(["index": .number(Double(index)), "error": .object(fields)])
        }
    }

    /// At most `maximumQuoted` bytes of `text`.
    static func clipped(_ text: String) -> String {
        let utf8 = text.utf8
        guard let end = utf8.index(utf8.startIndex, offsetBy: maximumQuoted, limitedBy: utf8.endIndex), end < utf8.endIndex else {
            return text
        }
        return String(decoding: utf8[..<end], as: UTF8.self) + "…"
    }

    private func bulk(_ request: Request, _ context: APIContext) async throws -> Response {
        let principal = try context.require(.enqueue)
        var request = request
        var atomic = false
        if let flag = request.uri.queryParameters["atomic"] {
            guard ["true", "false", "1", "0"].contains(flag) else {
                throw APIError.invalid("atomic", "expected true or false, got '\(flag.prefix(20))'")
            }
            atomic = flag == "true" || flag == "1"
        }
        var outcome: Outcome
        let type = RequestBody.mediaType(request)
        if type == "application/x-ndjson" {
            let stream = try await streamLines(request, atomic: atomic, principal: principal)
            if stream.overCap { return tooLarge(stream) }
            outcome = stream.outcome
        } else {
            outcome = Outcome(streamed: false)
            try RequestBody.requireJSON(request)
            let body = try await RequestBody.bytes(&request, limit: Self.maximumJSONBody)
            let json: JSONValue
            // 10,000 jobs take some 100,000 values; 32 MiB of tiny ones would take gigabytes parsed.
            do { json = try JSONValue.parse(bytes: body, maximumValues: Self.maximumJSONValues) } catch {
                throw APIError.badJSON(error.message)
            }
            guard let fields = json.objectValue else {
                throw APIError.invalid("(body)", "expected {\"jobs\": [...]}, got \(json.typeName)")
            }
            if let unknown = fields.keys.first(where: { $0 != "jobs" && $0 != "atomic" }) {
                throw APIError.invalid(unknown, "unknown field")
            }
            if let flag = fields["atomic"] {
                guard let value = flag.boolValue else { throw APIError.invalid("atomic", "expected true or false") }
                atomic = atomic || value
            }
            guard case .array(let items)? = fields["jobs"] else { throw APIError.invalid("jobs", "expected an array of jobs") }
            guard items.count <= Self.maximumItems else {
                throw APIError.invalid("jobs", "\(items.count) jobs; at most \(Self.maximumItems) per request (NDJSON has no item cap)")
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
            var answer: [String: JSONValue] = [
                "accepted": .number(0), "rejected": .number(Double(outcome.rejected)), "atomic": .bool(true),
                "items": .array(outcome.sortedItems.filter { $0["error"] != nil }),
            ]
            if outcome.streamed { answer["items_truncated"] = .bool(outcome.truncated) }
            return APIResponse.json(422, .object(answer))
        }
        var answer: [String: JSONValue] = [
            "accepted": .number(Double(outcome.accepted)), "rejected": .number(Double(outcome.rejected)), "atomic": .bool(atomic),
            "items": .array(outcome.sortedItems),
        ]
        if outcome.streamed { answer["items_truncated"] = .bool(outcome.truncated) }
        return APIResponse.json(200, .object(answer))
    }

    /// An NDJSON body over its cap. Reading stopped there: the jobs stored by then stay stored, and the
    /// answer counts them and says from which line to send again. An atomic request stored nothing.
    private func tooLarge(_ stream: LineStream) -> Response {
        let outcome = stream.outcome
        let message =
            stream.atomic
            ? "the NDJSON body is over \(stream.limit) bytes, the most an atomic request takes; nothing was enqueued"
            : "the NDJSON body is over \(stream.limit) bytes: reading stopped after line \(stream.index), and the \(outcome.accepted) jobs "
                + "accepted up to there stay enqueued; send the lines after line \(stream.index) in another request"
        return APIResponse.json(
            413,
            .object([
                "error": APIError(status: 413, code: "too_large", message: message).json["error"]!,
                "accepted": .number(Double(outcome.accepted)), "rejected": .number(Double(outcome.rejected)),
                "atomic": .bool(stream.atomic),
                "lines_read": .number(Double(stream.index)), "items": .array(outcome.sortedItems),
                "items_truncated": .bool(outcome.truncated),
            ]))
    }

    /// NDJSON: lines are parsed as they arrive and stored a batch at a time (all at the end when atomic,
    /// if every line passed). Reading stops at the body's cap.
    private func streamLines(_ request: Request, atomic: Bool, principal: Principal) async throws -> LineStream {
        var stream = LineStream(routes: self, principal: principal, atomic: atomic)
        var received = 0
        for try await buffer in request.body {
            var chunk = buffer
            if chunk.readableBytes > stream.limit - received {
                chunk = chunk.getSlice(at: chunk.readerIndex, length: stream.limit - received) ?? ByteBuffer()
                stream.overCap = true
            }
            received += chunk.readableBytes
            while chunk.readableBytes > 0 {
                try stream.consume(&chunk)
                if stream.batchFull { try await flush(&stream) }
            }
            if stream.overCap { break }
            // Parsing is CPU work on the task pool every request shares: let others run between chunks.
            await Task.yield()
        }
        if !stream.overCap { try stream.finish() }
        if !(atomic && (stream.outcome.rejected > 0 || stream.overCap)) { try await flush(&stream) }
        return stream
    }

    private func flush(_ stream: inout LineStream) async throws {
        let batch = stream.pending
        stream.pending = []
        stream.pendingBytes = 0
        try await store(batch, into: &stream.outcome)
    }

    /// An NDJSON body as it streams in: each complete line becomes a pending job or a rejection, a line
    /// over `maximumLine` is refused without being kept, and a partial line waits for the next chunk.
    private struct LineStream {
        let routes: BulkRoutes
        let principal: Principal
        let atomic: Bool
        /// The body's cap: an atomic request holds every item until the end, like a JSON one.
        let limit: Int
        var outcome = Outcome(streamed: true)
        var pending: [(Int, EnqueueRequest)] = []
        var pendingBytes = 0
        /// Valid items so far: an atomic request holds at most `maximumItems`.
        var held = 0
        /// The current line's index, which is also how many lines were read whole.
        var index = 0
        var overCap = false
        var line: [UInt8] = []
        var overlong = false

        init(routes: BulkRoutes, principal: Principal, atomic: Bool) {
            self.routes = routes
            self.principal = principal
            self.atomic = atomic
            limit = atomic ? BulkRoutes.maximumJSONBody : BulkRoutes.maximumStreamBody
        }

        var batchFull: Bool { !atomic && (pending.count >= BulkRoutes.batch || pendingBytes >= BulkRoutes.batchBytes) }

        /// Takes the chunk's complete lines, stopping early when a batch is full (the caller stores it
        /// and calls again); the bytes after the last line break are kept for the next chunk.
        mutating func consume(_ chunk: inout ByteBuffer) throws {
            let used = try chunk.withUnsafeReadableBytes { bytes -> Int in
                guard let base = bytes.baseAddress, !bytes.isEmpty else { return bytes.count }
                var start = 0
                while start < bytes.count && !batchFull {
                    guard let found = memchr(base + start, 0x0A, bytes.count - start) else {
                        append(UnsafeRawBufferPointer(rebasing: bytes[start...]))
                        return bytes.count
                    }
                    let end = base.distance(to: UnsafeRawPointer(found))
                    append(UnsafeRawBufferPointer(rebasing: bytes[start..<end]))
                    try endLine()
                    start = end + 1
                }
                return start
            }
            chunk.moveReaderIndex(forwardBy: used)
        }

        /// The last line, when the body does not end with a line break.
        mutating func finish() throws {
            if overlong || !line.isEmpty { try endLine() }
        }

        private mutating func append(_ bytes: UnsafeRawBufferPointer) {
            if overlong || bytes.isEmpty { return }
            guard line.count + bytes.count <= BulkRoutes.maximumLine else {
                overlong = true
                line = []
                return
            }
            line.append(contentsOf: bytes)
        }

        private mutating func endLine() throws {
            defer {
                index += 1
                overlong = false
                line.removeAll(keepingCapacity: true)
            }
            if overlong {
                // Refused on its own, like any bad item: the lines before and after still count.
                outcome.reject(index, APIError.invalid("(line \(index + 1))", "over \(BulkRoutes.maximumLine) bytes"))
                return
            }
            if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { return }
            if atomic && held >= BulkRoutes.maximumItems {
                throw APIError.invalid("atomic", "an atomic request holds at most \(BulkRoutes.maximumItems) jobs")
            }
            do {
                let json: JSONValue
                do { json = try JSONValue.parse(bytes: line) } catch { throw APIError.invalid("(line \(index + 1))", error.message) }
                var request = try routes.parse(json, principal, validate: atomic)
                held += 1
                if atomic {
                    // Checked now, stored at the end if every line passes: keep the args text only (it is
                    // parsed again when stored), and nothing once a line failed.
                    if outcome.rejected > 0 { return }
                    request.parsedArgs = nil
                }
                pending.append((index, request))
                pendingBytes += line.count
            } catch let error as APIError {
                outcome.reject(index, error)
            }
        }
    }

    /// An item as a request; with `validate`, also checked against its kind now (atomic requests store
    /// nothing until every item has passed). Otherwise the Enqueuer checks it as it stores the batch.
    private func parse(_ item: JSONValue, _ principal: Principal, validate: Bool) throws(APIError) -> EnqueueRequest {
        let request = try JobSubmission.parse(
            item, principal: principal, headerIdempotencyKey: nil, declaredQueues: services.declaredQueues,
            nowMs: services.clock.nowMillis())
        if validate {
            do { try services.enqueuer.validate(request) } catch { throw APIError.invalid(error.field, error.message) }
        }
        return request
    }

    private func store(_ items: [(Int, EnqueueRequest)], into outcome: inout Outcome) async throws {
        if items.isEmpty { return }
        let results = try await services.enqueuer.enqueue(batch: items.map(\.1))
        // A streamed answer lists no accepted items, so it looks up no repeated job's state; otherwise
        // all of them in one round trip.
        let stored = results.compactMap { try? $0.get() }
        let statuses = outcome.streamed ? [] : try await services.statuses(of: stored)
        var next = 0
        for ((index, _), result) in zip(items, results) {
            switch result {
            case .success(let stored):
                var status: String?
                if !outcome.streamed { status = statuses[next] }
                next += 1
                outcome.accept(index, stored, status: status)
            case .failure(let error):
                outcome.reject(index, APIError.invalid(error.field, error.message))
            }
        }
    }
}
