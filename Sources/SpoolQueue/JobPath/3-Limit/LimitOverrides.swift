import SpoolRedis
import SpoolSupport
import Synchronization

/// Limits set at run time (`spool limits set`, `PUT /v1/limits`), kept in one Redis hash: field = a
/// limit key (`sms:sender:+15005550006`) or a declared template (`sms:sender:{from}`), value = the
/// spec's JSON. Every worker reads the hash every quarter second, so a change holds everywhere within a
/// second (about 250 ms after it in the test), without a restart. A key's own setting beats its template's, which beats the declaration.
public final class LimitOverrides: Sendable {
    private let specs = Mutex<[String: LimitSpec]>([:])
    public static let refreshInterval = Duration.milliseconds(250)

    public init(_ initial: [String: LimitSpec] = [:]) { specs.withLock { $0 = initial } }

    public func spec(key: String, template: String, declared: LimitSpec) -> LimitSpec {
        specs.withLock { $0[key] ?? $0[template] } ?? declared
    }

    public var current: [String: LimitSpec] { specs.withLock { $0 } }

    /// Returns true when the settings changed since the last read.
    @discardableResult
    public func refresh(redis: RedisClient, keys: KeySpace) async throws -> Bool {
        let loaded = try await Self.load(redis: redis, keys: keys)
        return specs.withLock { specs in
            defer { specs = loaded }
            return specs != loaded
        }
    }

    /// An entry that does not parse (written by hand) is skipped: the declaration stays in force.
    static func load(redis: RedisClient, keys: KeySpace) async throws -> [String: LimitSpec] {
        let flat = try await redis.run("HGETALL", keys.limitOverrides).checked("HGETALL").array ?? []
        var loaded: [String: LimitSpec] = [:]
        for pair in stride(from: 0, to: flat.count - 1, by: 2) {
            guard let key = flat[pair].string, let text = flat[pair + 1].string,
                let json = try? JSONValue.parse(text), let spec = try? LimitSpec.parse(json, at: key)
            else { continue }
            loaded[key] = spec
        }
        return loaded
    }
}
