import SpoolPostgres
import SpoolSupport

/// A sender a tenant holds: campaigns send only from their own tenant's numbers.
public struct SenderNumber: Sendable, Encodable, Equatable {
    public let id: Int
    public let number: String
    public let tenantID: String
    public let createdAt: String?

    enum CodingKeys: String, CodingKey { case id, number, tenantID = "tenant_id", createdAt = "created_at" }
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

    static let columns = "id, tenant_id, number, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') AS created_at"

    static func senderNumber(_ row: PostgresRow) throws -> SenderNumber {
        SenderNumber(
            id: try row.int("id")!, number: try row.string("number")!, tenantID: try row.string("tenant_id")!,
            createdAt: try row.string("created_at"))
    }
}
