import SpoolClient
import SpoolQueue
import SpoolRedis
import TestSupport
import Testing

/// The README's Swift client example, run against real Redis with the repository's own Jobs/.
@Suite struct SpoolClientTests {
    @Test func enqueuesStraightToRedisWithTheSameValidation() async throws {
        let url = try TestEnvironment.redisURL()
        let prefix = TestEnvironment.uniquePrefix()
        let spool = try SpoolClient(redisURL: url.urlString, jobsDirectory: TestEnvironment.packageRoot + "/Jobs", keyPrefix: prefix)
        let job = try await spool.enqueue("noop", args: #"{"sleep_ms": 10}"#, idempotencyKey: "order-42", tenant: "tn_test")
        let again = try await spool.enqueue("noop", idempotencyKey: "order-42", tenant: "tn_test")
        #expect(job.created && !again.created && again.id == job.id)
        await #expect { try await spool.enqueue("noop", args: #"{"sleep_ms": "slow"}"#) } throws: { error in
            (error as? EnqueueError)?.field == "args.sleep_ms"
        }
        let redis = RedisClient(url: url, name: "check")
        defer { redis.close() }
        #expect(try await redis.run("LLEN", KeySpace(prefix: prefix).lane("default", tenant: "tn_test")).int == 1)
        #expect(try await redis.run("HGET", KeySpace(prefix: prefix).job("default", job.id), "tenant").string == "tn_test")
    }
}
