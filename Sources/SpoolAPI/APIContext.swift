import HTTPTypes
import Hummingbird
import SpoolStore

/// Who is asking: a tenant's key with its scope, or the operator key, which acts across tenants.
public struct Principal: Sendable, Equatable {
    public let tenantID: String?
    public let scope: APIScope
    public let keyID: String

    public var isOperator: Bool { tenantID == nil }

    public static func tenant(_ key: APIKey) -> Principal { Principal(tenantID: key.tenantID, scope: key.scope, keyID: key.id) }
    public static let `operator` = Principal(tenantID: nil, scope: .admin, keyID: "operator")

    /// Whether this principal may see something that belongs to `tenant` (nil: no tenant).
    func owns(_ tenant: String?) -> Bool { isOperator || tenant == tenantID }
}

/// The request context of every API route: Hummingbird's core storage plus the authenticated principal.
public struct APIContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public var principal: Principal?
    /// A dashboard request's session, set by `DashboardSessionCheck`; nil elsewhere.
    var dashboard: DashboardVisit?
    /// The peer's IP address, for limits per client ("unknown" when the channel has none, as in tests).
    public let clientAddress: String

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        principal = nil
        dashboard = nil
        clientAddress = source.channel.remoteAddress?.ipAddress ?? "unknown"
    }

    /// The principal, which the authenticator set; a route reached without one is refused.
    func require(_ scope: APIScope) throws(APIError) -> Principal {
        guard let principal else { throw APIError.unauthorized("missing API key") }
        guard principal.scope.allows(scope) else {
            throw APIError(
                status: 403, code: "insufficient_scope",
                message: "this key's scope is '\(principal.scope.rawValue)'; '\(scope.rawValue)' is needed")
        }
        return principal
    }

    /// The operator, for what every tenant shares (queues, limits); a tenant's key, even an admin
    /// one, gets 403 `operator_only` saying `why`.
    func requireOperator(_ why: String) throws(APIError) {
        guard try require(.admin).isOperator else { throw APIError(status: 403, code: "operator_only", message: why) }
    }
}
