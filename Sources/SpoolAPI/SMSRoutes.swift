import FoundationEssentials
import HTTPTypes
import Hummingbird
import NIOCore
import SpoolHTTP
import SpoolSMS
import SpoolStore
import SpoolSupport
import Synchronization

/// SMS campaigns over HTTP, for a tenant's keys (the operator names the tenant with `tenant`):
/// `POST /v1/contacts/import` (text/csv; `?dry_run=true`, `?stop_list=true`), `POST /v1/campaigns`,
/// `POST /v1/campaigns/{id}/launch|pause|resume|cancel`, `GET /v1/campaigns/{id}/report`,
/// `GET /v1/reports/dashboard`.
struct SMSRoutes: Sendable {
    let services: APIServices
    let defaultRegion: String
    let segmentCents: Int

    func register(on router: RouterGroup<APIContext>) {
        router.post("/contacts/import") { request, context in try await importContacts(request, context) }
        router.post("/campaigns") { request, context in try await create(request, context) }
        router.post("/campaigns/:id/launch") { request, context in try await launch(request, context) }
        for action in ["pause", "resume", "cancel"] {
            router.post("/campaigns/:id/\(action)") { _, context in try await control(context, action) }
        }
        router.get("/campaigns/:id/report") { _, context in try await report(context) }
        router.get("/reports/dashboard") { request, context in try await dashboard(request, context) }
    }

    /// The tenant a request acts for: the key's own, or for the operator the `tenant` given.
    private func tenant(_ principal: Principal, given: String?) throws -> String {
        if let own = principal.tenantID { return own }
        guard let given, !given.isEmpty else { throw APIError.invalid("tenant", "tenant: the operator key must name the tenant") }
        return given
    }

    private func importContacts(_ request: Request, _ context: APIContext) async throws -> Response {
        let principal = try context.require(.admin)
        let type = RequestBody.mediaType(request)
        guard type == "text/csv" else {
            throw APIError(
                status: 415, code: "unsupported_media_type",
                message: "Content-Type must be text/csv, got \(type.isEmpty ? "none" : "'\(type.prefix(60))'")")
        }
        let query = request.uri.queryParameters
        func flag(_ name: String) throws -> Bool {
            guard let value = query.get(name) else { return false }
            guard value == "true" || value == "false" else {
                throw APIError.invalid(name, "\(name): expected true or false, got '\(value.prefix(20))'")
            }
            return value == "true"
        }
        let tenantID = try tenant(principal, given: query.get("tenant"))
        let (dryRun, stopList) = (try flag("dry_run"), try flag("stop_list"))
        // An import holds a PostgreSQL connection while it parses (and its body in memory): a few at
        // once, so that one tenant's imports cannot take the pool every other request needs.
        guard services.imports.enter() else {
            var error = APIError(
                status: 429, code: "imports_busy",
                message: "\(ImportGate.limit) contact imports are running on this API process; try again shortly")
            error.headers = [("Retry-After", "5")]
            throw error
        }
        defer { services.imports.leave() }
        let body = try await Self.csvBody(request, limit: 64 << 20)
        let importer = ContactImporter(pool: services.pool, defaultRegion: defaultRegion)
        do {
            // The importer reads the file on a PostgreSQL connection's own thread, not on the task pool
            // that serves every request (two 60,000-column files once stalled /health/live for 21 s).
            let report = try await importer.run(tenantID: tenantID, csv: body, dryRun: dryRun, stopList: stopList)
            return APIResponse.json(
                200,
                .object([
                    "rows": .number(Double(report.rows)), "valid": .number(Double(report.valid)),
                    "inserted": .number(Double(report.inserted)),
                    "updated": .number(Double(report.updated)), "duplicates": .number(Double(report.duplicates)),
                    "dry_run": .bool(report.dryRun),
                    "rejected": .array(report.rejected.map { .object(["line": .number(Double($0.line)), "reason": .string($0.reason)]) }),
                    "rejected_total": .number(Double(report.rejectedTotal)), "rejected_truncated": .bool(report.rejectedTruncated),
                ]))
        } catch let error as ContactImporter.InputError {
            throw APIError.invalid(error.message.hasPrefix("tenant") ? "tenant" : "body", error.message)
        }
    }

    /// The body as one array, room reserved from Content-Length and filled chunk by chunk: collecting a
    /// ByteBuffer and copying it out held a 64 MiB file twice.
    private static func csvBody(_ request: Request, limit: Int) async throws -> [UInt8] {
        let tooLarge = APIError(status: 413, code: "too_large", message: "the body is over \(limit) bytes")
        var bytes: [UInt8] = []
        if let length = request.headers[.contentLength].flatMap({ Int($0) }) {
            guard length <= limit else { throw tooLarge }
            bytes.reserveCapacity(length)
        }
        for try await chunk in request.body {
            guard chunk.readableBytes <= limit - bytes.count else { throw tooLarge }
            bytes.append(contentsOf: chunk.readableBytesView)
        }
        return bytes
    }

    private func create(_ request: Request, _ context: APIContext) async throws -> Response {
        let principal = try context.require(.admin)
        var request = request
        // A valid campaign (a 1,600-character body, a 200-character name) is about 22 KB when a client
        // escapes every character outside ASCII as \uXXXX pairs (an emoji is 12 bytes).
        let body = try await RequestBody.json(&request, limit: 64 << 10)
        func field(_ name: String) throws -> String {
            guard let value = body[name]?.stringValue, !value.isEmpty else {
                throw APIError.invalid(name, "\(name): required, a non-empty string")
            }
            guard !value.utf8.contains(0) else { throw APIError.invalid(name, "\(name): contains a NUL byte, which cannot be stored") }
            return value
        }
        let tenantID = try tenant(principal, given: body["tenant"]?.stringValue)
        do {
            let campaign = try await store.create(
                tenantID: tenantID, name: try field("name"), sender: try field("from"), body: try field("body"))
            return APIResponse.json(201, Self.json(campaign))
        } catch let error as ContactImporter.InputError {
            throw APIError.invalid(String(error.message.prefix { $0 != ":" }), error.message)
        }
    }

    private var store: CampaignStore {
        var store = CampaignStore(pool: services.pool, enqueuer: services.enqueuer, clock: services.clock)
        store.segmentCents = segmentCents
        return store
    }

    /// The campaign, when the principal may act on it; another tenant's campaign is a 404.
    private func owned(_ context: APIContext, scope: APIScope) async throws -> Campaign {
        let principal = try context.require(scope)
        let id = context.parameters.get("id") ?? ""
        guard let campaign = try await store.campaign(id: id), principal.owns(campaign.tenantID) else {
            throw APIError.notFound("campaign \(id.prefix(64))")
        }
        return campaign
    }

    /// `POST /v1/campaigns/{id}/launch`: now, or with a JSON body `{"at": "ISO 8601"}` at that instant
    /// (cancellable until then with `/cancel`; launching again moves or replaces it).
    private func launch(_ request: Request, _ context: APIContext) async throws -> Response {
        var request = request
        let campaign = try await owned(context, scope: .admin)
        var atMs: Int64?
        if request.headers[.contentType] != nil {
            let fields = try RequestBody.fields(try await RequestBody.json(&request, limit: 4_096), known: ["at"])
            if let at = try RequestBody.optionalString(fields, "at") { atMs = try ScheduleRoutes.time(at, field: "at") }
        }
        do {
            if let atMs {
                return APIResponse.json(202, Self.json(try await store.scheduleLaunch(id: campaign.id, atMs: atMs)))
            }
            let report = try await store.launch(id: campaign.id)
            return APIResponse.json(
                200,
                .object([
                    "id": .string(campaign.id), "status": .string("running"), "queued": .number(Double(report.queued)),
                    "skipped": .number(Double(report.skipped)), "enqueued": .number(Double(report.enqueued)),
                    "seconds": .number(report.seconds),
                ]))
        } catch let error as ContactImporter.InputError {
            if error.message.hasPrefix("at:") { throw APIError.invalid("at", error.message) }
            throw APIError(status: 409, code: "campaign_state", message: error.message)
        }
    }

    private func control(_ context: APIContext, _ action: String) async throws -> Response {
        let campaign = try await owned(context, scope: .admin)
        do {
            let updated = try await store.control(id: campaign.id, CampaignStore.Control(rawValue: action)!)
            return APIResponse.json(200, Self.json(updated))
        } catch let error as ContactImporter.InputError {
            throw APIError(status: 409, code: "campaign_state", message: error.message)
        }
    }

    private func report(_ context: APIContext) async throws -> Response {
        let campaign = try await owned(context, scope: .read)
        guard let report = try await CampaignReports(pool: services.pool).report(campaignID: campaign.id) else {
            throw APIError.notFound("campaign")
        }
        return APIResponse.json(
            200,
            .object([
                "campaign": Self.json(report.campaign), "purpose": .string(report.purpose.rawValue), "total": .number(Double(report.total)),
                "by_status": .object(report.byStatus.mapValues { .number(Double($0)) }),
                "by_skip_reason": .object(report.bySkipReason.mapValues { .number(Double($0)) }),
                "delivery_rate": report.deliveryRate.map { .number($0) } ?? .null, "cost_cents": .number(Double(report.costCents)),
                "sent_per_minute": .array(
                    report.sentPerMinute.map { .object(["minute": .number(Double($0.minute)), "sent": .number(Double($0.sent))]) }),
            ]))
    }

    private func dashboard(_ request: Request, _ context: APIContext) async throws -> Response {
        let principal = try context.require(.read)
        let tenantID = try tenant(principal, given: request.uri.queryParameters.get("tenant"))
        let dashboard = try await CampaignReports(pool: services.pool).dashboard(tenantID: tenantID)
        return APIResponse.json(
            200,
            .object([
                "contacts": .number(Double(dashboard.contacts)), "active_campaigns": .number(Double(dashboard.activeCampaigns)),
                "sent_today": .number(Double(dashboard.sentToday)),
                "delivery_rate_7d": dashboard.deliveryRate7Days.map { .number($0) } ?? .null,
            ]))
    }

    static func json(_ campaign: Campaign) -> JSONValue {
        .object([
            "id": .string(campaign.id), "tenant": .string(campaign.tenantID), "name": .string(campaign.name),
            "body": .string(campaign.body),
            "from": .string(campaign.sender), "status": .string(campaign.status.rawValue),
            "launch_at": campaign.launchAtMs.map { .string(CivilTime(unixMillis: $0).rfc3339) } ?? .null,
        ])
    }
}

/// `POST /v1/webhooks/twilio/status`: delivery receipts, checked by `TwilioWebhookVerifier`: a bad or
/// missing signature is a 403 that changes nothing. Not behind API keys.
struct TwilioWebhookRoutes: Sendable {
    let services: APIServices
    let verifier: TwilioWebhookVerifier

    func register(on router: Router<APIContext>) {
        router.post("/v1/webhooks/twilio/status") { request, _ in try await receipt(request) }
    }

    private func receipt(_ request: Request) async throws -> Response {
        let fields = try await verifier.form(request, refusing: "delivery receipts")
        let value = { (name: String) in fields.first { $0.0 == name }?.1 }
        guard let status = value("MessageStatus") ?? value("SmsStatus") else {
            throw APIError.invalid("MessageStatus", "MessageStatus: required")
        }
        let reference: String? = request.uri.queryParameters.get("ref").map { String($0) }
        let outcome = try await DeliveryReceipts(pool: services.pool).apply(
            reference: reference,
            sid: value("MessageSid"), status: status, errorCode: value("ErrorCode"))
        let text: String
        switch outcome {
        case .applied: text = "applied"
        case .ignored(let current): text = "ignored: already \(current)"
        case .unknownMessage: text = "unknown message"
        }
        return APIResponse.json(200, .object(["result": .string(text)]))
    }
}

/// How every Twilio webhook is checked: signed by the provider with the account's auth token
/// (X-Twilio-Signature, HMAC-SHA1 over the URL and the sorted form fields), compared in constant time.
/// Without a token (no TWILIO_AUTH_TOKEN and not in sandbox mode) webhooks are refused, never checked
/// against a public one.
struct TwilioWebhookVerifier: Sendable {
    let authToken: String?
    let publicURL: String

    init(authToken: String?, publicURL: String) {
        self.authToken = authToken
        // Callback URLs are built without a trailing slash (TwilioConfiguration), so the signature is
        // checked over the same URL.
        self.publicURL = publicURL.hasSuffix("/") ? String(publicURL.dropLast()) : publicURL
    }

    /// The request's form fields once its signature holds: 503 `not_configured` without a token (what
    /// is refused is named by `what`), 403 `bad_signature` for a missing or wrong signature.
    func form(_ request: Request, refusing what: String) async throws -> [(String, String)] {
        guard let authToken else {
            throw APIError(
                status: 503, code: "not_configured",
                message: "\(what) are refused: no TWILIO_AUTH_TOKEN to check their signatures (and not in sandbox mode)")
        }
        var request = request
        let body = try await RequestBody.bytes(&request, limit: 64 << 10)
        let fields = FormEncoding.decode(String(decoding: body, as: UTF8.self))
        let url = publicURL + request.uri.description
        guard let signature = request.headers[HTTPField.Name("X-Twilio-Signature")!],
            TwilioSignature.isValid(signature: signature, url: url, parameters: fields, authToken: authToken)
        else {
            throw APIError(status: 403, code: "bad_signature", message: "X-Twilio-Signature is missing or does not match this request")
        }
        return fields
    }
}

/// How many contact imports run at once in this process (see `importContacts`).
final class ImportGate: Sendable {
    static let limit = 2
    private let running = Mutex(0)

    func enter() -> Bool {
        running.withLock { count in
            guard count < Self.limit else { return false }
            count += 1
            return true
        }
    }

    func leave() { running.withLock { $0 -= 1 } }
}
