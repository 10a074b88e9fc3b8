/// A customer of the deployment: owns jobs and API keys. `paused` is the kill switch.
public struct Tenant: Sendable, Equatable, Codable {
    public var id: String
    public var name: String
    public var timezone: String
    public var paused: Bool
    public var dailyBudgetCents: Int?
    public var monthlyBudgetCents: Int?
    public var createdAt: String

    enum CodingKeys: String, CodingKey {
        case id, name, timezone, paused
        case dailyBudgetCents = "daily_budget_cents"
        case monthlyBudgetCents = "monthly_budget_cents"
        case createdAt = "created_at"
    }
}

/// What a key may do. Each scope includes the ones before it: read < enqueue < admin.
public enum APIScope: String, Sendable, Codable, CaseIterable, Comparable {
    /// Job status, queue sizes, the dead set.
    case read
    /// Also enqueue and cancel jobs.
    case enqueue
    /// Also retry and discard dead jobs, pause queues and the tenant itself.
    case admin

    public func allows(_ needed: APIScope) -> Bool { self >= needed }

    private var rank: Int { APIScope.allCases.firstIndex(of: self)! }
    public static func < (lhs: APIScope, rhs: APIScope) -> Bool { lhs.rank < rhs.rank }
}

/// A key as stored: never the secret, only its hash.
public struct APIKey: Sendable, Equatable, Codable {
    public var id: String
    public var tenantID: String
    public var scope: APIScope
    public var revoked: Bool

    enum CodingKeys: String, CodingKey {
        case id, scope, revoked
        case tenantID = "tenant_id"
    }
}

/// A key just made: the only time its secret is known.
public struct CreatedAPIKey: Sendable, Codable {
    public var id: String
    public var key: String
    public var tenantID: String
    public var scope: APIScope

    enum CodingKeys: String, CodingKey {
        case id, key, scope
        case tenantID = "tenant_id"
    }
}
