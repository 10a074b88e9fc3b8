import SpoolSupport
import Synchronization
import TestSupport
import Testing

@testable import SpoolQueue

/// The slots on their own: a JobBuffer fed by hand, handlers that finish, overrun or ignore
/// cancellation, and the settle calls recorded. No Redis.
@Suite struct SlotPoolTests {
    /// The settle calls the pool made, in order.
    final class Settled: Sendable {
        private let calls = Mutex<[(id: String, outcome: JobOutcome)]>([])
        func add(_ job: Job, _ outcome: JobOutcome) { calls.withLock { $0.append((job.id, outcome)) } }
        var ids: [String] { calls.withLock { $0.map(\.id) } }
        func outcome(_ id: String) -> JobOutcome? { calls.withLock { $0.first { $0.id == id }?.outcome } }
    }

    static func job(_ id: String) -> Job {
        Job(
            id: id, queue: "default", kind: "test", args: "{}", attempt: 0, maxAttempts: 3, enqueuedAt: 0, tenant: nil,
            leaseToken: "t-\(id)")
    }

    private static func pool(
        _ buffer: JobBuffer, timeout: Duration, settled: Settled,
        run: @escaping SlotPool.RunJob
    ) -> SlotPool {
        SlotPool(buffer: buffer, timeouts: { _ in timeout }, run: run, settle: { job, outcome, _ in settled.add(job, outcome) })
    }

    @Test func everyJobIsSettledOnceAndTheSlotsEndWhenTheBufferCloses() async throws {
        let buffer = JobBuffer(concurrency: 3, prefetch: 10)
        let settled = Settled()
        let slots = Self.pool(buffer, timeout: .seconds(60), settled: settled) { _ in .completed }
        let running = Task { await slots.run(count: 3) }
        buffer.push((0..<20).map { Self.job("j\($0)") })
        try await waitUntil("twenty settles") { settled.ids.count == 20 }
        _ = buffer.close()
        await running.value
        #expect(Set(settled.ids).count == 20)
        #expect(slots.liveCount == 0 && slots.allEnded.isFired)
    }

    @Test func aHandlerIgnoringCancellationPastItsTimeoutKeepsNoCapacity() async throws {
        let buffer = JobBuffer(concurrency: 1, prefetch: 1)
        let settled = Settled()
        let release = Latch()
        let slots = Self.pool(buffer, timeout: .milliseconds(100), settled: settled) { job in
            // "stuck" ignores cancellation until the test lets it go.
            if job.id == "stuck" { await withoutCancellation { await release.wait() } }
            return .completed
        }
        let running = Task { await slots.run(count: 1) }
        buffer.push([Self.job("stuck")])
        try await waitUntil("the overrun is settled") { settled.ids == ["stuck"] }
        guard case .retry(let error, _)? = settled.outcome("stuck") else {
            Issue.record("not a retry: \(String(describing: settled.outcome("stuck")))"); return
        }
        #expect(error == "timed out after 0.1s")
        // The only slot is still inside the stuck handler, yet a replacement runs the next job.
        buffer.push([Self.job("next")])
        try await waitUntil("the replacement runs the next job") { settled.ids == ["stuck", "next"] }
        #expect(slots.liveCount == 2)
        // Once the stuck handler returns, its outcome is dropped (already settled) and its slot ends.
        release.fire()
        try await waitUntil("the stuck slot ends") { slots.liveCount == 1 }
        #expect(settled.ids == ["stuck", "next"])
        _ = buffer.close()
        await running.value
    }

    @Test func abandoningTakesTheRunningJobsAndTheirLateOutcomesAreDropped() async throws {
        let buffer = JobBuffer(concurrency: 2, prefetch: 2)
        let settled = Settled()
        let started = Mutex(0)
        let slots = Self.pool(buffer, timeout: .seconds(60), settled: settled) { _ in
            started.withLock { $0 += 1 }
            // Honours cancellation: the cut ends it at once.
            try? await Task.sleep(for: .seconds(60))
            return .completed
        }
        let running = Task { await slots.run(count: 2) }
        buffer.push([Self.job("a"), Self.job("b")])
        try await waitUntil("both run") { started.withLock { $0 } == 2 }
        _ = buffer.close()
        let cut = slots.abandonRunning()
        #expect(Set(cut.map(\.id)) == ["a", "b"])
        await running.value
        #expect(settled.ids.isEmpty, "a job taken by the cut is settled by whoever hands it back, never by its slot")
    }
}

@Suite struct LatchTests {
    @Test func waitersReturnWhenItFiresAndLaterWaitsReturnAtOnce() async throws {
        let latch = Latch()
        let waiting = Task { await latch.wait() }
        latch.fire()
        await waiting.value
        await latch.wait()
        #expect(await latch.wait(atMost: .seconds(60)))
    }

    @Test func aCancelledWaiterReturnsAndLeavesNoWaiterBehind() async throws {
        let latch = Latch()
        let waiting = Task { await latch.wait() }
        waiting.cancel()
        await waiting.value
        #expect(!latch.isFired)
    }

    @Test func aTimedWaitEndsAtItsTimeWithoutTheLatch() async throws {
        let latch = Latch()
        #expect(await latch.wait(atMost: .milliseconds(20)) == false)
    }
}
