import SpoolQueue
import SpoolRedis
import SpoolSupport

@_exported import struct SpoolQueue.EnqueueError
@_exported import struct SpoolQueue.EnqueueRequest
@_exported import struct SpoolQueue.EnqueueResult

/// Enqueue from a Swift service straight to Redis, without the HTTP hop: the same validation against
/// `Jobs/*.json` and the same `Enqueuer` the API and the CLI use.
///
/// ```swift
/// let spool = try SpoolClient(redisURL: "redis://127.0.0.1:6379/0", jobsDirectory: "Jobs")
/// let job = try await spool.enqueue("noop", args: #"{"sleep_ms": 10}"#, tenant: "tn_123")
/// print(job.id)
/// ```
public final class SpoolClient: Sendable {
    private let redis: RedisClient
    private let enqueuer: Enqueuer

    /// - Parameters:
    ///   - redisURL: the Redis the workers use (`redis://[:password@]host:port/db`).
    ///   - jobsDirectory: the folder of job kind declarations, as the workers have it.
    ///   - keyPrefix: the key prefix the workers use (`SPOOL_KEY_PREFIX`), without '{' or '}'.
    public init(redisURL: String, jobsDirectory: String, keyPrefix: String = "spool") throws {
        let keys = KeySpace(prefix: try KeySpace.checkedPrefix(keyPrefix, source: "keyPrefix"))
        redis = RedisClient(url: try RedisURL(parsing: redisURL), name: "spool-client")
        enqueuer = Enqueuer(redis: redis, catalog: try JobKindCatalog.load(directory: jobsDirectory), keys: keys)
    }

    deinit { redis.close() }

    /// Enqueues one job. A bad request throws `EnqueueError` naming the field; a repeated idempotency
    /// key returns the first job's id with `created == false`.
    public func enqueue(
        _ kind: String, args: String = "{}", queue: String? = nil, runAtMs: Int64? = nil,
        idempotencyKey: String? = nil, tenant: String? = nil
    ) async throws -> EnqueueResult {
        var request = EnqueueRequest(kind: kind, args: args, queue: queue, runAt: runAtMs, idempotencyKey: idempotencyKey, tenant: tenant)
        request.producer = .operator
        return try await enqueuer.enqueue(request)
    }

    /// Enqueues many jobs; each gets its own result, and a bad one never stops the others. A service
    /// with this client is trusted like the operator: it may enqueue any kind but Spool's own
    /// (`"enqueue": "internal"`, such as `send`).
    public func enqueue(batch: [EnqueueRequest]) async throws -> [Result<EnqueueResult, EnqueueError>] {
        try await enqueuer.enqueue(
            batch: batch.map {
                var request = $0; request.producer = .operator; return request
            })
    }
}
