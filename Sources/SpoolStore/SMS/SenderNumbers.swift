import SpoolPostgres
import SpoolSupport

/// A sender a tenant holds: campaigns send only from their own tenant's numbers.
public struct SenderNumber: Sendable, Encodable, Equatable {
    public let id: Int
    public let number: String
    public let tenantID: String
    public let createdAt: String?
    /// Whether the AI answers the conversations on this number (`ai_reply`).
    public let aiReply: Bool
    /// The AI's system prompt for this number (`ai_prompt`), a template; nil: none set.
    public let aiPrompt: String?

    enum CodingKeys: String, CodingKey {
        case id, number, tenantID = "tenant_id", createdAt = "created_at", aiReply = "ai_reply", aiPrompt = "ai_prompt"
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(number, forKey: .number)
        try container.encode(tenantID, forKey: .tenantID)
        try container.encodeIfPresent(createdAt, forKey: .createdAt)
        try container.encode(aiReply, forKey: .aiReply)
        // Written as null when none is set, as the API does.
        try container.encode(aiPrompt, forKey: .aiPrompt)
    }
}

/// A change to a number's AI prompt (`SenderNumbers.configure`).
public enum SenderNumberPrompt: Sendable, Equatable {
    /// Leave the prompt as it is.
    case keep
    /// Set it: 1 to `SenderNumbers.maximumPromptCharacters` characters.
    case set(String)
    /// Remove it (NULL).
    case clear
}

/// Why a sender number was refused; the API answers 422, 409 and 404 for them.
public enum SenderNumberError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The input is wrong; `field` names it.
    case invalid(field: String, message: String)
    /// Another tenant holds the number. Which one is never said.
    case conflict(message: String)
    /// Messages still to send use it: it cannot be removed yet.
    case inUse(message: String)
    /// No such number, or another tenant's.
    case notFound(message: String)

    public var description: String {
        switch self {
        case .invalid(let field, let message): "\(field): \(message)"
        case .conflict(let message), .inUse(let message), .notFound(let message): message
        }
    }
}

/// Which tenant holds which sender (`sender_numbers`). The `sms:sender:{from}` limiter is shared by
/// everyone who sends from a number, so a tenant that could name another's number could use up its
/// rate: campaign creation and launch check the number is the campaign's tenant's own.
public struct SenderNumbers: Sendable {
    let pool: PostgresPool

    public init(pool: PostgresPool) { self.pool = pool }

    /// What `register` did: `created` is false when the tenant already held the number.
    public struct Registration: Sendable, Equatable {
        public let number: SenderNumber
        public let created: Bool
    }

    /// How to register a sender, for the errors that refuse an unregistered one.
    public static let howToAdd = "add it with `spool number add` or POST /v1/numbers"

    /// The number as stored: E.164 (`+15005550006`; spaces, dashes, dots and parentheses dropped),
    /// `whatsapp:` and E.164, a 5-6 digit short code, or a messaging service sid (MG and 32 hex digits).
    /// Campaigns accept the same senders, so each can be registered.
    public static func normalise(_ text: String) throws(SenderNumberError) -> String {
        let trimmed = text.trimmingSpaces
        let quoted = "'\(trimmed.prefix(64))'"
        func e164(_ part: Substring) throws(SenderNumberError) -> String {
            let compact = String(part.filter { !" -.()".contains($0) })
            do { return try PhoneNumber(e164: compact).e164 } catch {
                throw SenderNumberError.invalid(field: "number", message: "\(quoted) is not a sender number: \(error.message)")
            }
        }
        if trimmed.lowercased().hasPrefix("whatsapp:") { return "whatsapp:" + (try e164(trimmed.dropFirst("whatsapp:".count))) }
        if trimmed.hasPrefix("+") { return try e164(trimmed[...]) }
        if (5...6).contains(trimmed.count), trimmed.allSatisfy({ $0.isASCII && $0.isNumber }) { return trimmed }
        if trimmed.hasPrefix("MG"), trimmed.count == 34, trimmed.dropFirst(2).allSatisfy({ $0.isASCII && $0.isHexDigit }) { return trimmed }
        throw SenderNumberError.invalid(
            field: "number",
            message: "\(quoted) is not a sender number: give E.164 (+15005550006), whatsapp:+15005550006, "
                + "a 5-6 digit short code or a messaging service sid (MG and 32 hex digits)")
    }

    /// Registers `number` for `tenantID`. The tenant's own number again returns its row, unchanged; a
    /// number another tenant holds is a conflict that does not say whose.
    public func register(_ number: String, tenantID: String) async throws -> Registration {
        let number = try Self.normalise(number)
        return try await pool.transaction { connection in
            guard try connection.query("SELECT 1 FROM tenants WHERE id = $1", [tenantID]).first != nil else {
                throw SenderNumberError.invalid(field: "tenant", message: "no tenant '\(tenantID.prefix(64))'")
            }
            // A holder that removes the number between the insert and the read frees it: try again.
            for _ in 0..<3 {
                if let row = try connection.query(
                    """
                    INSERT INTO sender_numbers (tenant_id, number) VALUES ($1, $2) ON CONFLICT (number) DO NOTHING RETURNING \(Self.columns)
                    """, [tenantID, number]
                ).first {
                    return Registration(number: try Self.senderNumber(row), created: true)
                }
                if let held = try connection.query("SELECT \(Self.columns) FROM sender_numbers WHERE number = $1", [number]).first.map(
                    Self.senderNumber)
                {
                    guard held.tenantID == tenantID else {
                        throw SenderNumberError.conflict(message: "number: \(number) is registered to another tenant")
                    }
                    return Registration(number: held, created: false)
                }
            }
            throw SenderNumberError.conflict(message: "number: \(number) is being registered and removed at once; try again")
        }
    }

    /// The longest AI prompt a number takes, in characters (Unicode code points, as PostgreSQL's
    /// `length` and JSON Schema's `maxLength` count them): `sender_numbers.ai_prompt`'s check.
    public static let maximumPromptCharacters = PromptTemplate.maximumCharacters

    /// Sets a number's AI settings, registering the number to `tenantID` first when no tenant holds it
    /// (`created` then says so). A nil `aiReply` leaves the setting as it is (off for a new number); so
    /// does `.keep` for the prompt. A number another tenant holds is a conflict that does not say whose,
    /// as for `register`; bad input is refused naming its field (`number`, `prompt`, `tenant`) before
    /// anything is written.
    /// - Parameters:
    ///   - number: the sender, in any form `normalise` takes.
    ///   - tenantID: the tenant that holds, or is to hold, the number.
    ///   - aiReply: whether the AI answers the number's conversations; nil: unchanged.
    ///   - prompt: the AI's system prompt: kept, set or cleared.
    public func configure(
        _ number: String, tenantID: String, aiReply: Bool?, prompt: SenderNumberPrompt = .keep
    ) async throws -> Registration {
        let number = try Self.normalise(number)
        let newPrompt: String?
        switch prompt {
        case .set(let text):
            try Self.checkPrompt(text)
            newPrompt = text
        case .keep, .clear:
            newPrompt = nil
        }
        let clear = prompt == .clear
        return try await pool.transaction { connection in
            guard try connection.query("SELECT 1 FROM tenants WHERE id = $1", [tenantID]).first != nil else {
                throw SenderNumberError.invalid(field: "tenant", message: "no tenant '\(tenantID.prefix(64))'")
            }
            // As in `register`: a holder that removes the number between the insert and the update frees it.
            for _ in 0..<3 {
                if let row = try connection.query(
                    """
                    INSERT INTO sender_numbers (tenant_id, number, ai_reply, ai_prompt) VALUES ($1, $2, coalesce($3::boolean, false), $4::text)
                    ON CONFLICT (number) DO NOTHING RETURNING \(Self.columns)
                    """, [tenantID, number, aiReply, newPrompt]
                ).first {
                    return Registration(number: try Self.senderNumber(row), created: true)
                }
                let held = try connection.query("SELECT tenant_id FROM sender_numbers WHERE number = $1 FOR UPDATE", [number])
                guard let owner = try held.first?.string("tenant_id") else { continue }
                guard owner == tenantID else {
                    throw SenderNumberError.conflict(message: "number: \(number) is registered to another tenant")
                }
                let updated = try connection.query(
                    """
                    UPDATE sender_numbers SET ai_reply = coalesce($2::boolean, ai_reply),
                                              ai_prompt = CASE WHEN $4::boolean THEN NULL ELSE coalesce($3::text, ai_prompt) END
                    WHERE number = $1 RETURNING \(Self.columns)
                    """, [number, aiReply, newPrompt, clear])
                if let row = updated.first { return Registration(number: try Self.senderNumber(row), created: false) }
            }
            throw SenderNumberError.conflict(message: "number: \(number) is being registered and removed at once; try again")
        }
    }

    /// A prompt `configure` takes: 1 to 20,000 characters, without a NUL byte (which PostgreSQL cannot store).
    public static func checkPrompt(_ text: String) throws(SenderNumberError) {
        if let problem = PromptTemplate.problem(text) { throw SenderNumberError.invalid(field: "prompt", message: problem) }
    }

    /// `register`, for callers that do not care whether the number was new.
    @discardableResult
    public func add(_ number: String, tenantID: String) async throws -> SenderNumber {
        try await register(number, tenantID: tenantID).number
    }

    /// One tenant's numbers, or every tenant's when `tenantID` is nil.
    public func list(tenantID: String?) async throws -> [SenderNumber] {
        try await pool.withConnection { connection in
            try connection.query(
                "SELECT \(Self.columns) FROM sender_numbers WHERE ($1::text IS NULL OR tenant_id = $1) ORDER BY tenant_id, number",
                [tenantID]
            ).rows.map(Self.senderNumber)
        }
    }

    /// Removes a number; with `tenantID`, only that tenant's. Another tenant's number is not found, as
    /// is one that is not a sender number at all. Campaigns from it can no longer launch.
    @discardableResult
    public func remove(_ number: String, tenantID: String?) async throws -> SenderNumber {
        let number = (try? Self.normalise(number)) ?? number
        let removed = try await pool.transaction { connection -> SenderNumber? in
            guard
                let owner = try connection.query(
                    "SELECT tenant_id FROM sender_numbers WHERE number = $1 AND ($2::text IS NULL OR tenant_id = $2) FOR UPDATE",
                    [number, tenantID]
                ).first?.string("tenant_id")
            else { return nil }
            // Jobs of messages still to send from it book the number's limiter: were it given to another
            // tenant meanwhile, they would book that tenant's. So it is removed only once they are done.
            let busy =
                try connection.query(
                    """
                    SELECT count(*) AS n FROM messages WHERE tenant_id = $1 AND from_sender = $2 AND status IN ('queued', 'sending', 'in_doubt')
                    """, [owner, number]
                ).first?.int("n") ?? 0
            if busy > 0 {
                throw SenderNumberError.inUse(
                    message: "number: \(number) still has \(busy) messages to send; cancel or finish their campaigns first")
            }
            return try connection.query("DELETE FROM sender_numbers WHERE number = $1 RETURNING \(Self.columns)", [number]).first.map(
                Self.senderNumber)
        }
        guard let removed else { throw SenderNumberError.notFound(message: "number: no sender number '\(number.prefix(64))'") }
        return removed
    }

    /// The tenant that holds `number`, or nil.
    public func owner(of number: String) async throws -> String? {
        let number = (try? Self.normalise(number)) ?? number
        return try await pool.withConnection { connection in
            try connection.query("SELECT tenant_id FROM sender_numbers WHERE number = $1", [number]).first?.string("tenant_id")
        }
    }

    public func isOwned(_ number: String, by tenantID: String) async throws -> Bool {
        try await owner(of: number) == tenantID
    }

    /// Whether `tenantID` holds `number` exactly as given, read in the caller's transaction: the row is
    /// share-locked, so a removal waits until that transaction has written what relies on it.
    static func isOwned(_ number: String, by tenantID: String, on connection: PostgresConnection) throws -> Bool {
        try connection.query("SELECT 1 FROM sender_numbers WHERE number = $1 AND tenant_id = $2 FOR SHARE", [number, tenantID]).first != nil
    }

    static let columns = """
        id, tenant_id, number, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS created_at, ai_reply, ai_prompt
        """

    static func senderNumber(_ row: PostgresRow) throws -> SenderNumber {
        SenderNumber(
            id: try row.int("id")!, number: try row.string("number")!, tenantID: try row.string("tenant_id")!,
            createdAt: try row.string("created_at"), aiReply: try row.bool("ai_reply") ?? false, aiPrompt: try row.string("ai_prompt"))
    }
}
