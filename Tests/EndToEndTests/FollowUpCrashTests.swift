import Foundation
import SpoolQueue
import SpoolRedis
import SpoolSupport
import TestSupport
import Testing

/// A worker process killed after its handler returned and before its settle landed: the job runs
/// again, and its follow-ups exist exactly once.
@Suite(.serialized) struct FollowUpCrashTests {
    @Test func aWorkerKilledBetweenHandlerAndSettleLeavesOneSetOfFollowUps() async throws {
        // A Redis of its own: the test pauses its writes, which would stall every other test's.
        let server = try RedisServer()
        let f = try QueueFixture(url: server.url)
        // The handler sleeps 3 s after it is seen to start: time enough to pause Redis's writes before it
        // returns, even on a busy machine.
        let args = #"{"mark":true,"sleep_ms":3000,"then":[{"kind":"noop","args":{"mark":true}},{"kind":"noop","args":{"mark":true}}]}"#
        let parent = try await f.enqueuer.enqueue(EnqueueRequest(kind: "noop", args: args, tenant: "acme")).id
        let first = try WorkerProcess(url: f.url, prefix: f.keys.prefix, concurrency: 2, lease: .seconds(2))
        try await waitUntil("the parent to start") { try await f.runCounts()[parent] == 1 }
        let started = monotonicNow()
        // Writes wait from here: the handler returns when its sleep ends, and its settle (complete.lua) blocks.
        _ = try await f.redis.run("CLIENT", "PAUSE", "30000", "WRITE").checked("CLIENT PAUSE")
        try await waitUntil("the settle to wait behind the pause", timeout: .seconds(25)) {
            let info = try await f.redis.run("INFO", "clients").string ?? ""
            let blocked = info.split(separator: "\r\n").first { $0.hasPrefix("blocked_clients:") }.flatMap { Int($0.dropFirst(16)) } ?? 0
            return blocked >= 1 && monotonicNow() - started > .milliseconds(3500)
        }
        first.kill9()
        _ = try await f.redis.run("CLIENT", "UNPAUSE").checked("CLIENT UNPAUSE")
        #expect(try await f.followUps(of: parent).isEmpty, "a settle that never landed left follow-ups")
        #expect(try await f.redis.run("HLEN", f.keys.outbox("default")).int == 0)

        let second = try WorkerProcess(url: f.url, prefix: f.keys.prefix, concurrency: 2, lease: .seconds(2))
        try await second.waitUntilRunning(f)
        try await waitUntil("the parent to run again and its follow-ups to run", timeout: .seconds(60)) {
            let runs = try await f.runCounts()
            return runs[parent] == 2 && runs.count == 3
        }
        #expect(second.terminate() == 0)
        let followUps = try await f.followUps(of: parent)
        #expect(followUps.count == 2, "\(followUps)")
        let runs = try await f.runCounts()
        #expect(followUps.allSatisfy { runs[$0] == 1 }, "\(runs)")
        for id in followUps { #expect(try await f.admin.job(id)?.tenant == "acme") }
    }
}
