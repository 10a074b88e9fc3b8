import FoundationEssentials
import SpoolPostgres
import SpoolQueue
import SpoolSupport

#if canImport(Glibc)
    import Glibc
#endif

/// Tenants and their API keys in PostgreSQL, the system of record. Pausing a tenant also updates the
/// copy in Redis that workers read (`QueueAdmin.pauseTenant`), PostgreSQL first: when Redis fails the
/// call fails, and repeating it finishes the job.
public struct TenantStore: Sendable {
    let pool: PostgresPool
    let admin: QueueAdmin?

    public init(pool: PostgresPool, admin: QueueAdmin?) {
        self.pool = pool
        self.admin = admin
    }

    public struct InputError: Error, Sendable, CustomStringConvertible {
        public let field: String
        public let message: String
        public var description: String { "\(field): \(message)" }
    }

    public func create(
        name: String, timezone: String = "UTC", dailyBudgetCents: Int? = nil, monthlyBudgetCents: Int? = nil
    ) async throws -> Tenant {
        let name = String(name.drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed())
        guard (1...200).contains(name.count) else { throw InputError(field: "name", message: "must be 1-200 characters") }
        guard TimeZoneName.isKnown(timezone) else {
            throw InputError(field: "timezone", message: "'\(timezone.prefix(64))' is not an IANA time zone such as America/New_York")
        }
        for (field, value) in [("daily_budget_cents", dailyBudgetCents), ("monthly_budget_cents", monthlyBudgetCents)] {
            if let value, value < 0 { throw InputError(field: field, message: "must be 0 or more") }
        }
        let id = "tn_" + JobID.make(now: SystemClock().nowMillis()).lowercased()
        return try await pool.withConnection { connection in
            let row = try connection.query(
                """
                INSERT INTO tenants (id, name, timezone, daily_budget_cents, monthly_budget_cents) VALUES ($1, $2, $3, $4, $5)
                RETURNING \(Self.columns)
                """, [id, name, timezone, dailyBudgetCents, monthlyBudgetCents]
            ).first!
            return try Self.tenant(row)
        }
    }

    public func list() async throws -> [Tenant] {
        try await pool.withConnection { connection in
            try connection.query("SELECT \(Self.columns) FROM tenants ORDER BY created_at, id").rows.map(Self.tenant)
        }
    }

    public func tenant(id: String) async throws -> Tenant? {
        try await pool.withConnection { connection in
            try connection.query("SELECT \(Self.columns) FROM tenants WHERE id = $1", [id]).first.map(Self.tenant)
        }
    }

    public enum Actor: String, Sendable { case `operator`, tenant }

    /// A tenant's key tried to lift a pause the operator set.
    public struct PausedByOperator: Error, Sendable {}

    /// Sets the kill switch; nil when there is no such tenant. Resuming hands the tenant's parked jobs
    /// back. A tenant cannot resume itself from an operator's pause.
    @discardableResult
    public func setPaused(id: String, _ paused: Bool, by actor: Actor = .operator) async throws -> Tenant? {
        let updated = try await pool.withConnection { connection -> Tenant?? in
            let lifting = actor == .tenant && !paused
            let row = try connection.query(
                """
                UPDATE tenants SET paused = $2, paused_by = CASE WHEN $2 THEN $3 ELSE NULL END, updated_at = now()
                WHERE id = $1 AND NOT ($4 AND paused_by = 'operator') RETURNING \(Self.columns)
                """, [id, paused, actor.rawValue, lifting]
            ).first
            if let row { return try Self.tenant(row) }
            // No row: no such tenant, or an operator's pause the tenant may not lift.
            return try connection.query("SELECT 1 FROM tenants WHERE id = $1", [id]).first == nil ? .some(nil) : nil
        }
        guard let result = updated else { throw PausedByOperator() }
        guard let tenant = result else { return nil }
        if paused { try await admin?.pauseTenant(id) } else { try await admin?.resumeTenant(id) }
        // Two calls racing can leave Redis with the loser's write: make Redis say what PostgreSQL says now.
        if let now = try await self.tenant(id: id), now.paused != paused {
            if now.paused { try await admin?.pauseTenant(id) } else { try await admin?.resumeTenant(id) }
            return now
        }
        return tenant
    }

    /// Copies every tenant's paused flag to Redis: at API start, so the two agree after any failure.
    public func mirrorPausesToRedis() async throws {
        guard let admin else { return }
        let tenants = try await list()
        let inRedis = try await admin.pausedTenants()
        for tenant in tenants where tenant.paused != inRedis.contains(tenant.id) {
            if tenant.paused { try await admin.pauseTenant(tenant.id) } else { try await admin.resumeTenant(tenant.id) }
        }
    }

    public func createKey(tenantID: String, scope: APIScope) async throws -> CreatedAPIKey {
        guard try await tenant(id: tenantID) != nil else {
            throw InputError(field: "tenant", message: "no tenant '\(tenantID.prefix(64))'")
        }
        let (id, text) = APIKeySecret.make()
        try await pool.withConnection { connection in
            _ = try connection.query(
                "INSERT INTO api_keys (id, tenant_id, scope, secret_hash) VALUES ($1, $2, $3, $4)",
                [id, tenantID, scope.rawValue, APIKeySecret.hash(text)])
        }
        return CreatedAPIKey(id: id, key: text, tenantID: tenantID, scope: scope)
    }

    /// Revokes a key; false when there is no such key or it was already revoked.
    public func revokeKey(id: String) async throws -> Bool {
        try await pool.withConnection { connection in
            try connection.query("UPDATE api_keys SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL", [id]).affectedRows == 1
        }
    }

    /// The key a request presented, when it is a live key: right shape, known id, matching hash, not revoked.
    public func authenticate(_ text: String) async throws -> APIKey? {
        guard let id = APIKeySecret.id(in: text) else { return nil }
        let row = try await pool.withConnection { connection in
            try connection.query(
                "SELECT tenant_id, scope, secret_hash, revoked_at IS NOT NULL AS revoked FROM api_keys WHERE id = $1", [id]
            ).first
        }
        guard let row, let stored = row["secret_hash"], let scope = row["scope"].flatMap(APIScope.init(rawValue:)),
            Hashing.constantTimeEqual(Array(stored.utf8), Array(APIKeySecret.hash(text).utf8)), try row.bool("revoked") == false
        else { return nil }
        return APIKey(id: id, tenantID: row["tenant_id"] ?? "", scope: scope, revoked: false)
    }

    /// A key by its id, revoked or not, without its secret: what a dashboard session, which carries
    /// the id and never the key, checks on each request.
    public func key(id: String) async throws -> APIKey? {
        let row = try await pool.withConnection { connection in
            try connection.query("SELECT tenant_id, scope, revoked_at IS NOT NULL AS revoked FROM api_keys WHERE id = $1", [id]).first
        }
        guard let row, let scope = row["scope"].flatMap(APIScope.init(rawValue:)) else { return nil }
        return APIKey(id: id, tenantID: row["tenant_id"] ?? "", scope: scope, revoked: try row.bool("revoked") ?? true)
    }

    /// The names of the tenants with these ids (one indexed read); ids without a tenant are left out.
    public func names(ids: [String]) async throws -> [String: String] {
        if ids.isEmpty { return [:] }
        let rows = try await pool.withConnection { connection in
            try connection.query("SELECT id, name FROM tenants WHERE id = ANY($1::text[])", [PostgresArray(ids)]).rows
        }
        var names: [String: String] = [:]
        for row in rows { if let id = row["id"], let name = row["name"] { names[id] = name } }
        return names
    }

    static let columns =
        "id, name, timezone, paused, daily_budget_cents, monthly_budget_cents, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') AS created_at"

    static func tenant(_ row: PostgresRow) throws -> Tenant {
        Tenant(
            id: row["id"] ?? "", name: row["name"] ?? "", timezone: row["timezone"] ?? "UTC", paused: try row.bool("paused") ?? false,
            dailyBudgetCents: try row.int("daily_budget_cents"), monthlyBudgetCents: try row.int("monthly_budget_cents"),
            createdAt: row["created_at"] ?? "")
    }
}

/// IANA time zone names, checked against the system's zoneinfo database (Debian's tzdata).
public enum TimeZoneName {
    public static let directory = "/usr/share/zoneinfo"

    public static func isKnown(_ name: String) -> Bool {
        if name == "UTC" { return true }
        let allowed = name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "/_+-".contains($0)) }
        guard allowed, !name.isEmpty, name.count <= 64, !name.hasPrefix("/"), !name.contains("..") else { return false }
        var status = stat()
        guard stat(directory + "/" + name, &status) == 0, (status.st_mode & S_IFMT) == S_IFREG,
            let file = fopen(directory + "/" + name, "rb")
        else { return false }
        defer { fclose(file) }
        // A zone file starts with "TZif"; the folder also holds tables such as leapseconds.
        var magic = [UInt8](repeating: 0, count: 4)
        return fread(&magic, 1, 4, file) == 4 && magic == Array("TZif".utf8)
    }
}
