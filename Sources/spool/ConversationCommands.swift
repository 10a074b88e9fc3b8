import ArgumentParser
import SpoolPostgres
import SpoolQueue
import SpoolStore
import SpoolSupport

/// `spool conversation list|show|takeover|release|reply`: what contacts wrote to tenants' numbers,
/// human takeover, and an agent's reply, straight on PostgreSQL (and Redis, for the reply's `send`
/// job) through `ConversationStore`, as the API does. The operator's tool: any tenant's conversation.
struct ConversationCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "conversation", abstract: "Read conversations, take them over from the AI, release them, and reply as an agent.",
        subcommands: [List.self, Show.self, Takeover.self, Release.self, Reply.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "A tenant's conversations, the most recently active first.")
        @OptionGroup var common: CommonOptions
        @Option(help: "Tenant id.") var tenant: String
        @Option(help: "Only the conversations with this contact: +E164, or whatsapp:+E164.") var contact: String?
        @Option(help: "At most this many (1 to \(ConversationStore.maximumPageSize)).") var limit = ConversationStore.defaultPageSize
        @Option(help: "Start after this cursor: the next page a previous list printed.") var cursor: String?
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let (tenant, contact, limit, cursor) = (self.tenant, self.contact, self.limit, self.cursor)
            let page = try await withConversations(common) { store in
                try await store.list(tenantID: tenant, contact: contact, limit: limit, cursor: cursor)
            }
            if json {
                let next: JSONValue = page.nextCursor.map { .string($0) } ?? .null
                print(jsonText(JSONValue.object(["conversations": .array(page.conversations.map(\.json)), "next_cursor": next])))
                return
            }
            if page.conversations.isEmpty { print("no conversations") }
            for conversation in page.conversations { print(conversationLine(conversation)) }
            if let next = page.nextCursor { print("more: --cursor \(next)") }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "A conversation and its latest \(ConversationStore.maximumMessages) messages, oldest first.")
        @OptionGroup var common: CommonOptions
        @Argument(help: "Conversation id (cv_...).") var id: String
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let id = self.id
            guard let detail = try await withConversations(common, { try await $0.show(id, tenantID: nil) }) else {
                throw SpoolCommandError("no conversation '\(id)'")
            }
            if json { print(jsonText(detail.json)); return }
            print(conversationLine(detail.conversation))
            if let reason = detail.conversation.modeReason { print("  reason: \(reason)") }
            for message in detail.messages {
                let time = CivilTime(unixMillis: message.createdAtMs).rfc3339
                let arrow = message.direction == "inbound" ? "<-" : "->"
                print("\(time)  \(arrow) \(message.author) [\(message.status)] \(message.id)")
                if !message.body.isEmpty { print("    \(message.body)") }
                if let transcript = message.transcript { print("    (voice) \(transcript)") }
                for media in message.media { print("    (attachment) \(media.contentType) \(media.url)") }
            }
        }
    }

    struct Takeover: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Hand a conversation to a human: the AI stops answering it. Taking over again changes nothing.")
        @OptionGroup var common: CommonOptions
        @Argument(help: "Conversation id (cv_...).") var id: String
        @Option(help: "Why, kept with the conversation and in its event (at most 500 characters).") var reason: String?

        func run() async throws {
            let (id, reason) = (self.id, self.reason)
            let conversation = try await withConversations(common) { try await $0.takeover(id, tenantID: nil, reason: reason, by: "cli") }
            print("\(conversation.id): \(conversation.mode)")
        }
    }

    struct Release: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Hand a conversation back to the AI. Releasing again changes nothing.")
        @OptionGroup var common: CommonOptions
        @Argument(help: "Conversation id (cv_...).") var id: String
        @Option(help: "Why, kept with the conversation and in its event (at most 500 characters).") var reason: String?

        func run() async throws {
            let (id, reason) = (self.id, self.reason)
            let conversation = try await withConversations(common) { try await $0.release(id, tenantID: nil, reason: reason, by: "cli") }
            print("\(conversation.id): \(conversation.mode)")
        }
    }

    struct Reply: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Reply as a human agent: the message is stored in the conversation and its send job enqueued, through every gate.")
        @OptionGroup var common: CommonOptions
        @Argument(help: "Conversation id (cv_...).") var id: String
        @Option(help: "The text, at most 1,600 characters and 10 segments.") var body: String
        @Option(name: .customLong("idempotency-key"), help: "The same key again is the same message, never a second one.")
        var idempotencyKey: String?
        @Flag(help: "Print {\"id\", \"status\"} as JSON.") var json = false

        func run() async throws {
            let (id, body, key) = (self.id, self.body, self.idempotencyKey)
            let runtime = try Runtime.load(common)
            let redis = runtime.redis(name: "reply")
            defer { redis.close() }
            let enqueuer = Enqueuer(redis: redis, catalog: runtime.catalog, keys: runtime.settings.keys)
            let reply = try await withConversations(common, enqueuer: enqueuer) { store in
                try await store.agentReply(conversationID: id, tenantID: nil, body: body, idempotencyKey: key)
            }
            if json {
                print(jsonText(JSONValue.object(["id": .string(reply.message.id), "status": .string(reply.message.status.rawValue)])))
                return
            }
            print("\(reply.message.id): \(reply.message.status.rawValue)\(reply.created ? "" : " (sent before with this key)")")
        }
    }
}

/// One conversation on one line: id, contact, number, channel, mode, last activity.
private func conversationLine(_ conversation: ConversationStore.Conversation) -> String {
    let updated = CivilTime(unixMillis: conversation.updatedAtMs).rfc3339
    return "\(conversation.id)  \(conversation.contact)  \(conversation.number)  \(conversation.channel)  \(conversation.mode)  \(updated)"
}

/// Runs `body` with a ConversationStore on DATABASE_URL (migrated first, as the SMS commands do);
/// refusals come out as `field: problem`.
private func withConversations<T: Sendable>(
    _ common: CommonOptions, enqueuer: Enqueuer? = nil, _ body: (ConversationStore) async throws -> T
) async throws -> T {
    let runtime = try Runtime.load(common)
    let pool = try runtime.postgres(size: 2)
    defer { pool.close() }
    try await Migrator(pool: pool).migrate()
    var store = ConversationStore(pool: pool, enqueuer: enqueuer)
    store.segmentCents = runtime.settings.segmentCents
    do {
        return try await body(store)
    } catch let error as ConversationStoreError {
        throw SpoolCommandError(error.description)
    } catch let error as EnqueueError {
        throw SpoolCommandError("the send job was refused: \(error)")
    }
}
