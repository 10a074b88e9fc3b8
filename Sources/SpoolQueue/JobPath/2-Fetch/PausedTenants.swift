import SpoolRedis
import Synchronization

/// The tenants paused by their kill switch, as this worker last read them from Redis. Fetch passes
/// them to `fetch.lua`, which parks those tenants' jobs instead of leasing them. Refreshed twice a
/// second, so a pause reaches every worker within about half a second.
public final class PausedTenants: Sendable {
    private let tenants = Mutex<[String]>([])
    public static let refreshInterval: Duration = .milliseconds(500)

    public init() {}

    public var current: [String] { tenants.withLock { $0 } }

    public func refresh(redis: RedisClient, keys: KeySpace) async throws {
        let members = try await TenantParking.pausedTenants(redis: redis, keys: keys)
        tenants.withLock { $0 = members.sorted() }
    }
}
