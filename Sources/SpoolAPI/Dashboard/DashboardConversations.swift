import HTTPTypes
import Hummingbird
import SpoolHTTP
import SpoolQueue
import SpoolStore
import SpoolSupport

/// What contacts wrote to a tenant's numbers and what was answered (a tenant admin its own; the
/// operator every tenant's, or one tenant's), through the same `ConversationStore` calls as the API's
/// `ConversationRoutes`:
///
/// 1. `GET /dashboard/conversations`: the most recently active first, paged by the store's cursor, each
///    with who answers it (AI or human) and its latest message (`lastMessages`: one statement for the
///    page, two index steps per conversation).
/// 2. `GET /dashboard/conversations/{id}`: its latest messages both ways, oldest first, with voice
///    notes' transcripts and each message's status; take over or release it; reply as an agent.
/// 3. `POST /dashboard/conversations/{id}/takeover|release` (an optional `reason`) and
///    `POST /dashboard/conversations/{id}/messages` (`body`, and the hidden `key` the page was rendered
///    with, which is the message's idempotency key: the same form posted twice sends one message).
///    Each answers 303 back to the conversation with what was done (`?done=replied`), shown once.
///
/// Another tenant's conversation is a 404, as in the API.
struct DashboardConversations: Sendable {
    let services: APIServices
    let pages: DashboardPages
    /// What one segment costs, in cents (SPOOL_SMS_SEGMENT_CENTS), for agent replies.
    let segmentCents: Int

    static let path = "/dashboard/conversations"
    /// The start of a reply form's key; the rest is 32 random hex digits, made when the page renders.
    static let replyKeyPrefix = "dash_"
    /// How much of a message the list shows.
    static let previewCharacters = 120

    struct Row: Sendable {
        let href: String
        let contact: String
        let number: String
        let channel: String
        /// `ai` or `human`, for the CSS class; `label` for people.
        let mode: String
        let modeLabel: String
        /// The operator's view only ("" otherwise, never shown).
        let tenant: String
        /// Its latest message, cut short; "" when it has none.
        let preview: String
        /// "contact", "ai", "agent" or "system": who wrote the latest message; nil when it has none.
        let previewAuthor: String?
        let updatedAt: String
    }

    struct ListView: Sendable {
        let conversations: [Row]
        let showsTenant: Bool
        let filter: DashboardScope.Filter?
        let nextHref: String?
    }

    struct Attachment: Sendable {
        let contentType: String
        let url: String
    }

    struct MessageView: Sendable {
        /// `inbound` or `outbound`, for the CSS class.
        let direction: String
        let author: String
        let body: String
        let hasBody: Bool
        let transcript: String?
        let attachments: [Attachment]
        let status: String
        let at: String
    }

    /// The agent's reply form: its action, CSRF token, and the key that makes a second post of the same
    /// form send nothing more.
    struct ReplyForm: Sendable {
        let action: String
        let csrf: String
        let key: String
    }

    struct DetailView: Sendable {
        let id: String
        let contact: String
        let number: String
        let channel: String
        let mode: String
        let modeLabel: String
        let modeReason: String?
        let modeChangedAt: String?
        let showsTenant: Bool
        let tenant: String
        let messages: [MessageView]
        /// The store returns the latest `maximumMessages`; older ones are not shown.
        let olderNotShown: Bool
        let takeover: DashboardFormAction?
        let release: DashboardFormAction?
        let reply: ReplyForm
    }

    func register(on group: RouterGroup<APIContext>) {
        group.get("/conversations") { request, context in try await list(request, context) }
        group.get("/conversations/:id") { request, context in try await show(request, context) }
        group.post("/conversations/:id/takeover") { _, context in try await changeMode(context, takeover: true) }
        group.post("/conversations/:id/release") { _, context in try await changeMode(context, takeover: false) }
        group.post("/conversations/:id/messages") { _, context in try await reply(context) }
    }

    static func href(_ id: String) -> String { "\(path)/\(id)" }

    private var store: ConversationStore {
        var store = ConversationStore(pool: services.pool, enqueuer: services.enqueuer, clock: services.clock)
        store.segmentCents = segmentCents
        return store
    }

    // MARK: - The list

    private func list(_ request: Request, _ context: APIContext) async throws -> Response {
        let visit = try context.visit()
        let query = request.uri.queryParameters
        let scope = try DashboardScope(visit, query: query, action: Self.path)
        let page = try await refusals(Self.path) { try await store.list(tenantID: scope.tenantID, cursor: query.get("cursor")) }
        let latest = try await store.lastMessages(conversationIDs: page.conversations.map(\.id))
        var names: [String: String] = [:]
        if scope.showsTenant { names = try await services.tenants.names(ids: Array(Set(page.conversations.map(\.tenantID)))) }
        let rows = page.conversations.map { conversation in
            let last = latest[conversation.id]
            return Row(
                href: Self.href(conversation.id), contact: conversation.contact, number: conversation.number, channel: conversation.channel,
                mode: conversation.mode, modeLabel: Self.modeLabel(conversation.mode),
                tenant: scope.showsTenant ? DashboardScope.label(conversation.tenantID, names: names) : "",
                preview: last.map(Self.preview) ?? "", previewAuthor: last?.author,
                updatedAt: DashboardFormat.utc(conversation.updatedAtMs))
        }
        let next = page.nextCursor.map { Self.path + "?" + FormEncoding.encode(scope.query + [("cursor", $0)]) }
        let view = ListView(conversations: rows, showsTenant: scope.showsTenant, filter: scope.filter, nextHref: next)
        return pages.render(.conversations, page: view, layout: DashboardLayout(visit: visit, current: .conversations))
    }

    static func modeLabel(_ mode: String) -> String { mode == "human" ? "human" : "AI" }

    /// A message as one line of the list: its text, else its voice notes' transcript, else what it carries.
    static func preview(_ message: ConversationStore.Message) -> String {
        var text = message.body.isEmpty ? (message.transcript ?? "") : message.body
        if text.isEmpty, !message.media.isEmpty {
            text = message.media.count == 1 ? "(an attachment)" : "(\(message.media.count) attachments)"
        }
        let flat = text.split(whereSeparator: \.isNewline).joined(separator: " ")
        return flat.count > previewCharacters ? String(flat.prefix(previewCharacters - 1)) + "…" : flat
    }

    // MARK: - One conversation

    private func show(_ request: Request, _ context: APIContext) async throws -> Response {
        let visit = try context.visit()
        let id = try Self.plausibleID(context)
        guard let detail = try await store.show(id, tenantID: visit.principal.tenantID) else { throw DashboardRefusal.notFound }
        let conversation = detail.conversation
        var names: [String: String] = [:]
        if visit.principal.isOperator { names = try await services.tenants.names(ids: [conversation.tenantID]) }
        let human = conversation.mode == "human"
        let replyPath = Self.href(id) + "/messages"
        let view = DetailView(
            id: conversation.id, contact: conversation.contact, number: conversation.number, channel: conversation.channel,
            mode: conversation.mode, modeLabel: Self.modeLabel(conversation.mode), modeReason: conversation.modeReason,
            modeChangedAt: conversation.modeChangedAtMs.map(DashboardFormat.utc), showsTenant: visit.principal.isOperator,
            tenant: DashboardScope.label(conversation.tenantID, names: names),
            messages: detail.messages.map(Self.messageView), olderNotShown: detail.messages.count >= ConversationStore.maximumMessages,
            takeover: human ? nil : visit.formAction(Self.href(id) + "/takeover"),
            release: human ? visit.formAction(Self.href(id) + "/release") : nil,
            reply: ReplyForm(action: replyPath, csrf: visit.formAction(replyPath).csrf, key: Self.freshReplyKey()))
        let layout = DashboardLayout(visit: visit, current: .conversations, flash: Self.flash(request.uri.queryParameters))
        return pages.render(.conversation, page: view, layout: layout)
    }

    static func messageView(_ message: ConversationStore.Message) -> MessageView {
        MessageView(
            direction: message.direction, author: message.author, body: message.body, hasBody: !message.body.isEmpty,
            transcript: message.transcript, attachments: message.media.map { Attachment(contentType: $0.contentType, url: $0.url) },
            status: message.status, at: DashboardFormat.utc(message.createdAtMs))
    }

    /// The line that says what the last action did; only a known word is read from the query.
    static func flash(_ query: Parameters) -> String? {
        switch query.get("done") ?? "" {
        case "takeover": "You have taken the conversation over: the AI no longer answers it."
        case "release": "Released: the AI answers the conversation again."
        case "replied": "Reply queued."
        case "replied_before": "That reply was sent already: it was not sent again."
        default: nil
        }
    }

    // MARK: - Actions

    private func changeMode(_ context: APIContext, takeover: Bool) async throws -> Response {
        let visit = try context.visit()
        let id = try Self.plausibleID(context)
        let given = (visit.form["reason"] ?? "").trimmingSpaces
        let reason = given.isEmpty ? nil : given
        let store = self.store
        let principal = visit.principal
        _ = try await refusals(Self.href(id)) { () async throws -> ConversationStore.Conversation in
            if takeover { return try await store.takeover(id, tenantID: principal.tenantID, reason: reason, by: principal.keyID) }
            return try await store.release(id, tenantID: principal.tenantID, reason: reason, by: principal.keyID)
        }
        return DashboardResponse.redirect(to: Self.href(id) + "?" + FormEncoding.encode([("done", takeover ? "takeover" : "release")]))
    }

    private func reply(_ context: APIContext) async throws -> Response {
        let visit = try context.visit()
        let id = try Self.plausibleID(context)
        let key = visit.form["key"] ?? ""
        guard Self.isReplyKey(key) else {
            throw DashboardRefusal(
                .unprocessableContent, heading: "Not sent",
                message: "key: the form's key is missing or is not one this dashboard made; reload the conversation and send again",
                linkHref: Self.href(id), linkText: "Back to the conversation")
        }
        let body = visit.form["body"] ?? ""
        let store = self.store
        let tenantID = visit.principal.tenantID
        let sent: ConversationStore.Reply
        do {
            sent = try await refusals(Self.href(id)) {
                try await store.agentReply(conversationID: id, tenantID: tenantID, body: body, idempotencyKey: key)
            }
        } catch let error as EnqueueError {
            // Only a deployment whose Jobs/ declares no usable send kind gets here: the input was checked.
            throw DashboardRefusal(
                .serviceUnavailable, heading: "Not sent", message: "messages cannot be sent here: the send kind refuses them (\(error))",
                linkHref: Self.href(id), linkText: "Back to the conversation")
        }
        return DashboardResponse.redirect(
            to: Self.href(id) + "?" + FormEncoding.encode([("done", sent.created ? "replied" : "replied_before")]))
    }

    // MARK: - Helpers

    /// The conversation id in the path; one that could be no conversation's is a 404 before any read.
    static func plausibleID(_ context: APIContext) throws(DashboardRefusal) -> String {
        let id = context.parameters.get("id") ?? ""
        guard DashboardRecordID.isPlausible(id) else { throw .notFound }
        return id
    }

    /// A new reply form's key: `dash_` and 128 random bits in hex.
    static func freshReplyKey() -> String {
        var generator = SystemRandomNumberGenerator()
        return replyKeyPrefix + Hashing.hex((0..<16).map { _ in UInt8.random(in: .min ... .max, using: &generator) })
    }

    /// Whether `key` is what `freshReplyKey` makes: a form's own key, not one a client of the API chose.
    static func isReplyKey(_ key: String) -> Bool {
        guard key.hasPrefix(replyKeyPrefix) else { return false }
        let digits = key.utf8.dropFirst(replyKeyPrefix.utf8.count)
        return digits.count == 32 && digits.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) }
    }

    /// The store's refusals as pages: 404 for what is not this visit's to see, 422 for bad input naming
    /// the field, 409 for a key used for another reply or a number the tenant no longer holds.
    private func refusals<T: Sendable>(_ back: String, _ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as ConversationStoreError {
            switch error {
            case .notFound: throw DashboardRefusal.notFound
            case .invalid:
                throw DashboardRefusal(
                    .unprocessableContent, heading: "Not done", message: error.description, linkHref: back, linkText: "Back")
            case .keyReused, .numberNotHeld:
                throw DashboardRefusal(.conflict, heading: "Not done", message: error.description, linkHref: back, linkText: "Back")
            }
        }
    }
}
