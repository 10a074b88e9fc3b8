import SpoolHTTP
import SpoolQueue
import SpoolRedis
import SpoolStore
import SpoolSupport
import Synchronization

/// The calendar connections' shared access tokens in one worker process: one `SharedAccessToken` per
/// connection, so that every sync job of the process uses its cache and joins its refresh in flight.
public final class SharedAccessTokens: Sendable {
    private let redis: RedisClient
    private let keys: KeySpace
    private let store: any CalendarTokenStore
    private let box: SecretBox
    private let google: GoogleConfiguration
    private let http: HTTPClient
    private let clock: any WallClock
    private let options: SharedAccessToken.Options
    private let tokens = Mutex<[String: SharedAccessToken]>([:])

    public init(
        redis: RedisClient, keys: KeySpace, store: any CalendarTokenStore, box: SecretBox, google: GoogleConfiguration, http: HTTPClient,
        clock: any WallClock = SystemClock(), options: SharedAccessToken.Options = SharedAccessToken.Options()
    ) {
        self.redis = redis
        self.keys = keys
        self.store = store
        self.box = box
        self.google = google
        self.http = http
        self.clock = clock
        self.options = options
    }

    /// The credentials calls on `connection`'s calendar send (`HTTPClient.call(credentials:)`).
    public func credentials(for connection: String) -> SharedAccessToken {
        tokens.withLock { tokens in
            if let token = tokens[connection] { return token }
            let token = SharedAccessToken(
                connection: connection, redis: redis, keys: keys, store: store, box: box, google: google, http: http, clock: clock,
                options: options)
            tokens[connection] = token
            return token
        }
    }

    /// Forgets a disconnected connection here and in Redis.
    public func forget(_ connection: String) async throws {
        _ = tokens.withLock { $0.removeValue(forKey: connection) }
        try await SharedAccessToken.discard(connection: connection, redis: redis, keys: keys)
    }
}
