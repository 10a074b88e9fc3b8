import SpoolQueue
import SpoolRedis
import SpoolSupport
import TestSupport
import Testing

/// SPOOL_REDIS_WAIT_REPLICAS: an enqueue is acknowledged only once that many replicas have the job.
@Suite struct EnqueueDurabilityTests {
    @Test func aClusterPrimarysReplicaConfirmsEveryEnqueue() async throws {
        let f = try QueueFixture(url: try TestEnvironment.clusterRedisURL())
        let enqueuer = Enqueuer(
            redis: f.redis, catalog: f.catalog, keys: f.keys, durability: EnqueueDurability(replicas: 1, timeout: .seconds(5)))
        // Queues spread over the primaries: each WAIT goes to the node that stored its jobs.
        for queue in ["default", "a", "b", "c", "d", "e"] {
            let result = try await enqueuer.enqueue(EnqueueRequest(kind: "noop", queue: queue))
            #expect(result.created)
        }
        let batch = try await enqueuer.enqueue(batch: (0..<50).map { EnqueueRequest(kind: "noop", queue: ["a", "b", "c"][$0 % 3]) })
        #expect(batch.allSatisfy { (try? $0.get().created) == true })
    }

    @Test func fewerReplicasThanAskedIsAnErrorThatSaysSo() async throws {
        // A Redis of this test's own, with no replicas at all.
        let server = try RedisServer()
        defer { server.stop() }
        let f = try QueueFixture(url: server.url)
        let enqueuer = Enqueuer(
            redis: f.redis, catalog: f.catalog, keys: f.keys, durability: EnqueueDurability(replicas: 1, timeout: .milliseconds(20)))
        await #expect {
            try await enqueuer.enqueue(EnqueueRequest(kind: "noop", idempotencyKey: "k1"))
        } throws: { error in
            "\(error)".contains("only 0 of 1 replicas confirmed it within 20 ms")
        }
        // The job was stored all the same: retrying with the same key cannot make a second one.
        #expect(try await f.admin.stats().first { $0.queue == "default" }?.pending == 1)
    }
}
