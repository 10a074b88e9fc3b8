import FoundationEssentials
import SpoolHTTP
import SpoolQueue
import SpoolRedis
import SpoolStore
import SpoolSupport
import TestSupport
import Testing

@testable import SpoolJobs

/// One access token per calendar connection, shared by every worker process through Redis, refreshed
/// by one process at a time: against a real Redis and the sandbox's token endpoint, with three
/// `SharedAccessToken`s on their own Redis connections and HTTP clients standing for three workers.
@Suite struct SharedAccessTokenTests {
    @Test func threeProcessesRacingOnARejectedTokenShareOneRefresh() async throws {
        let world = try await TokenWorld.start(refreshToken: "refresh-1")
        let first = try await world.tokens[0].current()
        #expect(try await world.tokenRequests() == 1)
        // The other processes find the shared token: no refresh of their own.
        for token in world.tokens { #expect(try await token.current() == first) }
        #expect(try await world.tokenRequests() == 1)

        // The provider refuses it (a 401: it expired early), and five calls in each process saw that at once.
        let renewed = try await withThrowingTaskGroup(of: String.self) { group in
            for token in world.tokens {
                for _ in 0..<5 { group.addTask { try await token.refresh(rejected: first) } }
            }
            var all: [String] = []
            for try await value in group { all.append(value) }
            return all
        }
        #expect(renewed.count == 15 && Set(renewed).count == 1 && renewed[0] != first)
        #expect(try await world.tokenRequests() == 2)
        #expect(try await world.sharedRefreshes() == 2)

        // A late 401 on the old token: the shared token already differs, so there is no refresh.
        #expect(try await world.tokens[2].refresh(rejected: first) == renewed[0])
        for token in world.tokens { #expect(try await token.current() == renewed[0]) }
        #expect(try await world.tokenRequests() == 2)
        var performed = 0
        for token in world.tokens { performed += await token.refreshCount }
        #expect(performed == 2)
        await world.stop()
    }

    @Test func aTokenDueForRefreshIsRefreshedOnceForEveryProcess() async throws {
        let clock = SteppedClock()
        let world = try await TokenWorld.start(refreshToken: "refresh-1", clock: clock)
        let first = try await world.tokens[0].current()
        for token in world.tokens { #expect(try await token.current() == first) }
        // A minute before the sandbox's hour is up, the token is due: every process asks at once.
        clock.advance(by: 3_541_000)
        let next = try await withThrowingTaskGroup(of: String.self) { group in
            for token in world.tokens {
                for _ in 0..<4 { group.addTask { try await token.current() } }
            }
            var all: [String] = []
            for try await value in group { all.append(value) }
            return all
        }
        #expect(Set(next).count == 1 && next[0] != first)
        #expect(try await world.tokenRequests() == 2)
        #expect(try await world.sharedRefreshes() == 2)
        await world.stop()
    }

    @Test func aRevokedRefreshTokenStopsEveryProcessWithOneRequest() async throws {
        let world = try await TokenWorld.start(refreshToken: "revoked")
        let verdicts = await withTaskGroup(of: ProviderVerdict?.self) { group in
            for token in world.tokens {
                group.addTask {
                    do throws(ProviderRefusal) {
                        _ = try await token.current()
                        return nil
                    } catch {
                        return error.verdict
                    }
                }
            }
            var all: [ProviderVerdict?] = []
            for await verdict in group { all.append(verdict) }
            return all
        }
        #expect(verdicts.count == 3)
        for verdict in verdicts {
            guard case .permanent(let code, let reason)? = verdict else {
                Issue.record("a revoked refresh token gave \(String(describing: verdict)), not a permanent refusal")
                continue
            }
            #expect(code == "invalid_grant" && reason.hasPrefix("needs_reauth: invalid_grant"))
            #expect(SharedAccessToken.needsReauth(.permanent(code: code, reason: reason)))
        }
        #expect(try await world.tokenRequests() == 1)
        #expect(await world.store.needsReauth[TokenWorld.connection]?.count == 1)

        // Later calls, from any process, refuse the same way without asking the provider again.
        for token in world.tokens {
            do {
                _ = try await token.current()
                Issue.record("a revoked connection got a token")
            } catch {
                #expect(SharedAccessToken.needsReauth(error.verdict))
            }
        }
        #expect(try await world.tokenRequests() == 1)
        #expect(await world.store.needsReauth[TokenWorld.connection]?.count == 1)
        #expect(!SharedAccessToken.needsReauth(.permanent(code: "http_400", reason: "bad request")))
        await world.stop()
    }

    @Test func theSharedTokenIsSealedInRedisAndOpensOnlyForItsConnection() async throws {
        let world = try await TokenWorld.start(refreshToken: "refresh-1")
        let token = try await world.tokens[0].current()
        let key = world.keys.oauthToken(connection: TokenWorld.connection)
        let fields = try await world.redis[0].run("HGETALL", key).array?.compactMap(\.string) ?? []
        #expect(fields.contains("token") && !fields.contains { $0.contains(token) })
        let sealed = try #require(try await world.redis[0].run("HGET", key, "token").string)
        #expect(sealed.hasPrefix("v1.\(world.box.current.id)."))

        let context = CalendarSecrets.accessTokenContext(connection: TokenWorld.connection)
        #expect(try world.box.open(sealed, context: context) == token)
        let stranger = SecretBox(current: try SecretKey(base64: Data([UInt8](repeating: 7, count: 32)).base64EncodedString()))
        #expect(throws: SecretBoxError.self) { try stranger.open(sealed, context: context) }
        #expect(throws: SecretBoxError.self) {
            try world.box.open(sealed, context: CalendarSecrets.accessTokenContext(connection: "01OTHERCONNECTION"))
        }
        // The refresh token in the connection's row is sealed as well.
        let stored = try await world.store.sealedRefreshToken(connection: TokenWorld.connection)
        #expect(!stored.contains("refresh-1"))
        await world.stop()
    }

    @Test func aRefreshMovesARefreshTokenSealedWithThePreviousKeyToTheCurrentOne() async throws {
        let previous = try SecretKey(base64: Data([UInt8](repeating: 1, count: 32)).base64EncodedString())
        let current = try SecretKey(base64: Data([UInt8](repeating: 2, count: 32)).base64EncodedString())
        let box = SecretBox(current: current, previous: [previous])
        let world = try await TokenWorld.start(refreshToken: "refresh-1", box: box, sealedWith: SecretBox(current: previous))
        _ = try await world.tokens[0].current()
        let stored = try await world.store.sealedRefreshToken(connection: TokenWorld.connection)
        #expect(!box.needsResealing(stored))
        #expect(try box.open(stored, context: CalendarSecrets.refreshTokenContext(connection: TokenWorld.connection)) == "refresh-1")
        #expect(await world.store.replacements == 1)
        await world.stop()
    }

    @Test func aTokenSealedWithAnUnknownKeyIsReplacedNotServed() async throws {
        let world = try await TokenWorld.start(refreshToken: "refresh-1")
        let key = world.keys.oauthToken(connection: TokenWorld.connection)
        let foreign = SecretBox(current: try SecretKey(base64: Data([UInt8](repeating: 9, count: 32)).base64EncodedString()))
        let future = String(SystemClock().nowMillis() + 3_600_000)
        let planted = foreign.seal("ya29.planted", context: CalendarSecrets.accessTokenContext(connection: TokenWorld.connection))
        try await world.redis[0].run("HSET", key, "token", planted, "refresh_at", future, "expires_at", future)
        let token = try await world.tokens[0].current()
        #expect(token != "ya29.planted" && !token.isEmpty)
        #expect(try await world.tokenRequests() == 1)
        await world.stop()
    }

    /// release_token_lock.lua: only the holder lets go; anyone else's release leaves the lock alone.
    @Test func theRefreshLockIsReleasedOnlyByItsOwner() async throws {
        let redis = RedisClient(url: try TestEnvironment.redisURL(), name: "lock", logger: TestEnvironment.logger)
        let key = KeySpace(prefix: TestEnvironment.uniquePrefix("lock")).oauthRefreshLock(connection: TokenWorld.connection)
        #expect(key.hasSuffix(":oauth:{cal:\(TokenWorld.connection)}:lock"))
        let first = TokenRefreshLock(redis: redis, key: key, ttl: .seconds(30))
        let second = TokenRefreshLock(redis: redis, key: key, ttl: .seconds(30))
        #expect(first.owner != second.owner)
        #expect(try await first.acquire())
        #expect(try await second.acquire() == false)
        try await second.release()
        #expect(try await redis.run("GET", key).string == first.owner)
        let ttl = try await redis.run("PTTL", key).int ?? 0
        #expect(ttl > 0 && ttl <= 30_000)
        try await first.release()
        #expect(try await redis.run("EXISTS", key).int == 0)
        #expect(try await second.acquire())
        try await second.release()
        redis.close()
    }
}

/// Three workers' shared tokens for one calendar connection, the sandbox they refresh against, and
/// the connection's row in memory.
private struct TokenWorld {
    static let connection = "01CALENDARCONNECTION"

    let sandbox: RunningSandbox
    let keys: KeySpace
    let box: SecretBox
    let store: MemoryTokenStore
    let redis: [RedisClient]
    let http: [HTTPClient]
    let tokens: [SharedAccessToken]

    /// - Parameters:
    ///   - refreshToken: what the connection's row holds (the sandbox refuses `revoked`).
    ///   - box: the processes' box; nil: one with a test key (32 bytes of 0x2a).
    ///   - sealedWith: the box that sealed it, when not `box` (a row from before a key rotation).
    static func start(
        refreshToken: String, box: SecretBox? = nil, sealedWith: SecretBox? = nil, clock: any WallClock = SystemClock(),
        processes: Int = 3
    ) async throws -> TokenWorld {
        let box = try box ?? SecretBox(current: SecretKey(base64: "KioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKio="))
        let sandbox = try await RunningSandbox.start()
        var settings = SpoolSettings()
        settings.sandboxURL = sandbox.baseURL
        guard let google = GoogleConfiguration.from(settings) else { throw TestFailure("no Google configuration in sandbox mode") }
        let keys = KeySpace(prefix: TestEnvironment.uniquePrefix("oauth"))
        let url = try TestEnvironment.redisURL()
        let sealed = (sealedWith ?? box).seal(refreshToken, context: CalendarSecrets.refreshTokenContext(connection: connection))
        let store = MemoryTokenStore([connection: sealed])
        let redis = (0..<processes).map { RedisClient(url: url, name: "worker-\($0)", logger: TestEnvironment.logger) }
        let http = (0..<processes).map { HTTPClient(name: "worker-\($0)") }
        let tokens = (0..<processes).map {
            SharedAccessToken(
                connection: connection, redis: redis[$0], keys: keys, store: store, box: box, google: google, http: http[$0], clock: clock)
        }
        return TokenWorld(sandbox: sandbox, keys: keys, box: box, store: store, redis: redis, http: http, tokens: tokens)
    }

    /// Refresh grants the sandbox's token endpoint received.
    func tokenRequests() async throws -> Int { try await sandbox.counters()["requests"]?["token"]?.intValue ?? 0 }

    /// Refreshes counted in Redis, by every process.
    func sharedRefreshes() async throws -> Int {
        try await SharedAccessToken.sharedRefreshCount(connection: Self.connection, redis: redis[0], keys: keys)
    }

    func stop() async {
        for client in redis { client.close() }
        for client in http { client.close() }
        await sandbox.stop()
    }
}

/// A calendar connection's row in memory, as the PostgreSQL store keeps it.
private actor MemoryTokenStore: CalendarTokenStore {
    private var sealed: [String: String]
    private(set) var needsReauth: [String: [String]] = [:]
    private(set) var replacements = 0

    init(_ sealed: [String: String]) { self.sealed = sealed }

    func sealedRefreshToken(connection id: String) async throws -> String {
        guard let value = sealed[id] else { throw TestFailure("no calendar connection \(id)") }
        return value
    }

    func replaceRefreshToken(connection id: String, sealed: String) async throws {
        self.sealed[id] = sealed
        replacements += 1
    }

    func markNeedsReauth(connection id: String, reason: String) async throws {
        needsReauth[id, default: []].append(reason)
    }
}
