import Foundation
import SpoolQueue
import SpoolRedis
import SpoolSupport
import TestSupport
import Testing

/// Limits shared by real `spool worker` processes through one Redis. (A rate shared by three workers,
/// counted at the provider, is in SMSSenderLimitTests.)
@Suite(.serialized) struct SharedLimitTests {
    /// A Jobs folder whose noop kind carries the given limits and a `from` argument to key them on.
    private func jobsFolder(limits: String, timeoutSeconds: Int = 30) throws -> String {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("jobs-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try """
        {"kind": "noop", "queue": "default", "timeout_seconds": \(timeoutSeconds),
         "retry": {"max_attempts": 5, "backoff": "constant", "delay_seconds": 0.05},
         "args": {"from": {"type": "string", "max_length": 64}, "sleep_ms": {"type": "integer"}, "notify": {"type": "boolean"}, "mark": {"type": "boolean"}},
         "limits": \(limits)}
        """.write(toFile: folder + "/noop.json", atomically: true, encoding: .utf8)
        // Every handler of the binary must be declared: the other kinds come as the repository has them.
        for file in try FileManager.default.contentsOfDirectory(atPath: TestEnvironment.packageRoot + "/Jobs") where file != "noop.json" {
            try FileManager.default.copyItem(atPath: TestEnvironment.packageRoot + "/Jobs/" + file, toPath: folder + "/" + file)
        }
        return folder
    }

    private func fixture() throws -> QueueFixture {
        var kind = QueueFixture.noop
        kind.arguments.fields["from"] = .init(type: .string, required: false)
        return try QueueFixture(kinds: [kind])
    }

    /// Start times of noop jobs that asked to `notify`, in unix ms.
    private func starts(_ f: QueueFixture) async throws -> [Int64] {
        try await f.listItems("\(f.keys.prefix):noop:notify").compactMap { $0.split(separator: " ").last.flatMap { Int64($0) } }.sorted()
    }

    @Test func aConcurrencyLimitHoldsAcrossThreeWorkerProcesses() async throws {
        let f = try fixture()
        let jobs = try jobsFolder(limits: #"[{"key": "account:{from}", "concurrency": 2}]"#)
        let workers = try (0..<3).map { _ in
            try WorkerProcess(url: f.url, prefix: f.keys.prefix, concurrency: 4, extra: ["SPOOL_JOBS_DIR": jobs])
        }
        for worker in workers { try await worker.waitUntilRunning(f) }
        // Twelve processes' worth of slots (3 × 4) for 18 jobs of 300 ms each, two slots for the account.
        for _ in 0..<18 {
            _ = try await f.enqueuer.enqueue(EnqueueRequest(kind: "noop", args: #"{"from": "acct", "sleep_ms": 300, "notify": true}"#))
        }
        try await waitUntil("all 18 ran", timeout: .seconds(60)) { try await f.zsetScores(f.keys.completed("default")).count == 18 }
        for worker in workers { #expect(worker.terminate() == 0) }
        // A job holds its slot from before it starts until after its 300 ms: three starts within any
        // 300 ms would be three holders at once.
        let starts = try await starts(f)
        #expect(starts.count == 18)
        let crowded = zip(starts, starts.dropFirst(2)).filter { $1 - $0 < 300 }
        #expect(crowded.isEmpty, "three jobs started within 300 ms: \(crowded)")
        // And the limit is not a lock: two ran side by side.
        #expect(zip(starts, starts.dropFirst()).contains { $1 - $0 < 300 })
        #expect(try await f.redis.run("ZCARD", f.keys.limiter("account:acct") + ":holders").int == 0)
    }

    @Test func aConcurrencySlotHeldByAKilledWorkerComesBack() async throws {
        let f = try fixture()
        // Timeout 2 s: a slot outlives a dead holder by the timeout plus 5 s.
        let jobs = try jobsFolder(limits: #"[{"key": "account:{from}", "concurrency": 1}]"#, timeoutSeconds: 2)
        let victim = try WorkerProcess(url: f.url, prefix: f.keys.prefix, concurrency: 4, extra: ["SPOOL_JOBS_DIR": jobs])
        try await victim.waitUntilRunning(f)
        let held = try await f.enqueuer.enqueue(
            EnqueueRequest(kind: "noop", args: #"{"from": "acct", "sleep_ms": 1500, "notify": true, "mark": true}"#)
        ).id
        try await waitUntil("the first job holds the slot") { try await starts(f).count == 1 }
        victim.kill9()
        // Another job for the same account, and two fresh workers: it may only run once the slot is back.
        let next = try await f.enqueuer.enqueue(EnqueueRequest(kind: "noop", args: #"{"from": "acct", "mark": true}"#)).id
        let others = try (0..<2).map { _ in
            try WorkerProcess(url: f.url, prefix: f.keys.prefix, concurrency: 4, extra: ["SPOOL_JOBS_DIR": jobs])
        }
        try await waitUntil("both jobs complete", timeout: .seconds(30)) {
            let completed = try await f.zsetScores(f.keys.completed("default"))
            return completed[held] != nil && completed[next] != nil
        }
        for worker in others { #expect(worker.terminate() == 0) }
        #expect(try await f.redis.run("ZCARD", f.keys.limiter("account:acct") + ":holders").int == 0)
        #expect((try await f.runCounts()[held] ?? 0) >= 1)
    }
}
