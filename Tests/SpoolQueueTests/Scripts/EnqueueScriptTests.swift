import SpoolRedis
import SpoolSupport
import TestSupport
import Testing

@testable import SpoolQueue

@Suite struct EnqueueScriptTests {
    @Test func storesTheJobAndMakesItPending() async throws {
        let f = try QueueFixture()
        let result = try await f.enqueuer.enqueue(EnqueueRequest(kind: "noop", args: #"{"mark":true}"#, tenant: "acme"))
        #expect(result.created && !result.scheduled)
        #expect(try await f.listItems(f.keys.lane("default", tenant: "acme")) == [result.id])
        #expect(try await f.listItems(f.keys.lanes("default")) == ["acme"])
        let job = try await f.fields(result.id)
        #expect(job["state"] == "pending")
        #expect(job["kind"] == "noop")
        #expect(job["args"] == #"{"mark":true}"#)
        #expect(job["attempt"] == nil, "a missing attempt reads as 0")
        #expect(job["max_attempts"] == "3")
        #expect(job["queue"] == nil && job["idempotency_key"] == nil, "the queue is in the key; empty fields are not stored")
        #expect(job["tenant"] == "acme")
        #expect(try await f.redis.run("SISMEMBER", f.keys.queues, "default").int == 1)
    }

    @Test func aFutureRunAtSchedulesInstead() async throws {
        let f = try QueueFixture()
        let at = SystemClock().nowMillis() + 60_000
        let result = try await f.enqueuer.enqueue(EnqueueRequest(kind: "noop", runAt: at))
        #expect(result.scheduled)
        #expect(try await f.listItems(f.keys.pending("default")).isEmpty)
        #expect(try await f.zsetScores(f.keys.scheduled("default")) == [result.id: at])
        #expect(try await f.fields(result.id)["state"] == "scheduled")
    }

    @Test func anIdempotencyKeyAddsNothingTheSecondTime() async throws {
        let f = try QueueFixture()
        let first = try await f.enqueuer.enqueue(EnqueueRequest(kind: "noop", idempotencyKey: "order-42"))
        let again = try await f.enqueuer.enqueue(EnqueueRequest(kind: "noop", args: #"{"mark":true}"#, idempotencyKey: "order-42"))
        #expect(first.created && !again.created)
        #expect(again.id == first.id)
        #expect(try await f.listItems(f.keys.pending("default")) == [first.id])
        let ttl = try await f.redis.run("TTL", f.keys.idempotencyPrefix("default") + ":order-42").int ?? 0
        #expect(ttl > 86_000 && ttl <= 86_400)
    }

    @Test func concurrentIdenticalRequestsMakeExactlyOneJob() async throws {
        let f = try QueueFixture()
        let ids = try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<50 { group.addTask { try await f.enqueuer.enqueue(EnqueueRequest(kind: "noop", idempotencyKey: "same")).id } }
            return try await group.reduce(into: Set<String>()) { $0.insert($1) }
        }
        #expect(ids.count == 1)
        #expect(try await f.listItems(f.keys.pending("default")).count == 1)
    }

    @Test func bulkKeepsGoodItemsAndReportsBadOnesByIndex() async throws {
        let f = try QueueFixture()
        let results = try await f.enqueuer.enqueue(batch: [
            EnqueueRequest(kind: "noop"),
            EnqueueRequest(kind: "nope"),
            EnqueueRequest(kind: "noop", args: #"{"sleep_ms": "slow"}"#),
            EnqueueRequest(kind: "noop", args: "[1]"),
            EnqueueRequest(kind: "noop", queue: "bad queue"),
            EnqueueRequest(kind: "noop", args: "{not json"),
            EnqueueRequest(kind: "noop"),
        ])
        let errors = results.map { result -> String? in if case .failure(let error) = result { return "\(error)" } else { return nil } }
        #expect(errors[0] == nil && errors[6] == nil)
        #expect(errors[1]?.hasPrefix("kind: unknown kind 'nope'") == true)
        #expect(errors[2] == #"args.sleep_ms: expected integer, got string "slow""#)
        #expect(errors[3] == "args: expected a JSON object, got array")
        #expect(errors[4]?.hasPrefix("queue: 'bad queue'") == true)
        #expect(errors[5]?.hasPrefix("args: not valid JSON") == true)
        #expect(try await f.listItems(f.keys.pending("default")).count == 2)
    }

    @Test func bulkSpansManyScriptCallsInOrder() async throws {
        let f = try QueueFixture()
        let ids = try await f.seedPending(1_234)
        // FIFO: the first enqueued is the first fetch pops (from the right).
        let pending = try await f.listItems(f.keys.pending("default"))
        #expect(pending.count == 1_234)
        #expect(pending.last == ids.first)
        #expect(pending.first == ids.last)
    }

    @Test func idempotencyKeysArePerTenantAndEnqueuesAreCountedByKind() async throws {
        let f = try QueueFixture()
        let a = try await f.enqueuer.enqueue(EnqueueRequest(kind: "noop", idempotencyKey: "k", tenant: "a"))
        let b = try await f.enqueuer.enqueue(EnqueueRequest(kind: "noop", idempotencyKey: "k", tenant: "b"))
        let again = try await f.enqueuer.enqueue(EnqueueRequest(kind: "noop", idempotencyKey: "k", tenant: "a"))
        #expect(a.id != b.id && a.created && b.created)
        #expect(again.id == a.id && !again.created)
        #expect(try await f.redis.run("HGET", f.keys.stats("default"), "enqueued:noop").int == 2)
    }

    /// Concurrent single enqueues share script calls; each caller still gets its own job's answer.
    @Test func concurrentSingleEnqueuesEachGetTheirOwnResult() async throws {
        let f = try QueueFixture()
        let results = try await withThrowingTaskGroup(of: (Int, EnqueueResult).self) { group in
            for index in 0..<200 {
                group.addTask { (index, try await f.enqueuer.enqueue(EnqueueRequest(kind: "noop", idempotencyKey: "key-\(index)"))) }
            }
            return try await group.reduce(into: [Int: EnqueueResult]()) { $0[$1.0] = $1.1 }
        }
        #expect(Set(results.values.map(\.id)).count == 200 && results.values.allSatisfy(\.created))
        for index in [0, 57, 199] {
            let again = try await f.enqueuer.enqueue(EnqueueRequest(kind: "noop", idempotencyKey: "key-\(index)"))
            #expect(again.id == results[index]?.id && !again.created)
        }
        #expect(try await f.listItems(f.keys.pending("default")).count == 200)
    }
}
