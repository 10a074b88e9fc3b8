import SpoolQueue
import SpoolRedis
import SpoolSupport
import Synchronization

/// The key that signs dashboard sessions, the same in every API process so that a session started on
/// one is good on all:
/// 1. derived from SPOOL_SECRET_KEY when it is set (`SecretKey.derivedKey`), with no Redis read;
/// 2. else 32 random bytes stored once in Redis (`KeySpace.dashboardSigningKey`, SET NX, then GET in
///    the same round trip): whichever process asks first sets it, and every process reads the winner's.
/// Either way it is cached for the life of the process. The sandbox's secret key is public, so it is
/// never used here: sessions signed with it could be forged by anyone.
final class DashboardSigningKey: Sendable {
    private let derived: [UInt8]?
    private let redis: RedisClient
    private let keys: KeySpace
    private let cached = Mutex<[UInt8]?>(nil)

    static let byteCount = 32

    init(secrets: SecretBox?, redis: RedisClient, keys: KeySpace) {
        derived = secrets.flatMap { $0.usesSandboxKey ? nil : $0.current.derivedKey(purpose: "dashboard-sessions") }
        self.redis = redis
        self.keys = keys
    }

    func key() async throws -> [UInt8] {
        if let derived { return derived }
        if let key = cached.withLock({ $0 }) { return key }
        var generator = SystemRandomNumberGenerator()
        let fresh = (0..<Self.byteCount).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        let replies = try await redis.pipeline([
            RedisCommand("SET", keys.dashboardSigningKey, Hashing.hex(fresh), "NX"),
            RedisCommand("GET", keys.dashboardSigningKey),
        ])
        _ = try replies[0].checked("SET \(keys.dashboardSigningKey) NX")
        guard let text = try replies[1].checked("GET \(keys.dashboardSigningKey)").string,
            let key = CalendarConnectState.bytes(hex: text[...]), key.count == Self.byteCount
        else {
            throw DashboardSigningKeyError(
                "\(keys.dashboardSigningKey) does not hold \(Self.byteCount) bytes in hex; delete it and the next sign-in makes a new one")
        }
        cached.withLock { $0 = key }
        return key
    }
}

/// The signing key stored in Redis is not one this code wrote.
struct DashboardSigningKeyError: Error, Sendable, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
