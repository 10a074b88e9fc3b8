import TestSupport
import Testing

@testable import SpoolQueue

/// The worker's two hand-made hand-offs on their own, without Redis: the JobBuffer between the fetch
/// loop and the slots, and the WorkSignal between the queue watchers and an idle fetch loop.
@Suite struct JobBufferTests {
    static func jobs(_ count: Int, from start: Int = 0) -> [Job] {
        (start..<start + count).map {
            Job(id: "j\($0)", queue: "default", kind: "test", args: "{}", attempt: 0, maxAttempts: 3, enqueuedAt: 0, tenant: nil, leaseToken: "t")
        }
    }

    @Test func aFixedPrefetchAsksForSlotsPlusPrefetchAndThenWaitsForHalfAWindow() async {
        let buffer = JobBuffer(concurrency: 4, prefetch: 6)
        #expect(await buffer.waitForDemand() == 10)
        buffer.push(Self.jobs(10))
        for _ in 0..<2 { _ = await buffer.next() }
        // Two finished: less than half the prefetch window (3) is free, so the fetch loop waits.
        buffer.finished(after: .milliseconds(1))
        buffer.finished(after: .milliseconds(1))
        let waiting = Task { await buffer.waitForDemand() }
        _ = await buffer.next()
        buffer.finished(after: .milliseconds(1))
        #expect(await waiting.value == 3)
    }

    @Test func eachSlotGetsItsOwnJobAndCloseReturnsTheUnstarted() async throws {
        let buffer = JobBuffer(concurrency: 2, prefetch: 4)
        // Slots waiting when the jobs arrive get them handed over; a slot that comes later takes one from the queue.
        let first = Task { await buffer.next() }
        let second = Task { await buffer.next() }
        buffer.push(Self.jobs(5))
        let handed = Set([await first.value?.id, await second.value?.id].compactMap { $0 })
        #expect(handed.count == 2)
        let left = buffer.close()
        #expect(left.count == 3 && Set(left.map(\.id)).isDisjoint(with: handed))
        // Closed: slots and the fetch loop are told so at once.
        #expect(await buffer.next() == nil)
        #expect(await buffer.waitForDemand() == 0)
    }

    @Test func slowJobsShrinkTheAdaptiveWindowToOneJob() async {
        let buffer = JobBuffer(concurrency: 10, prefetch: nil)
        buffer.push(Self.jobs(100))
        for _ in 0..<50 {
            _ = await buffer.next()
            buffer.finished(after: .seconds(1))
        }
        // Work left for 50 s: nothing more is wanted until a slot is free beyond the one-job window.
        let wanted = Task { await buffer.waitForDemand() }
        for _ in 0..<40 {
            _ = await buffer.next()
            buffer.finished(after: .seconds(1))
        }
        // 10 running, none waiting: one more job is wanted, and only one.
        #expect(await wanted.value == 1)
    }

    @Test func instantJobsWidenTheAdaptiveWindowToItsMaximum() async {
        let buffer = JobBuffer(concurrency: 10, prefetch: nil)
        buffer.push(Self.jobs(20))
        for _ in 0..<20 {
            _ = await buffer.next()
            buffer.finished(after: .microseconds(1))
        }
        #expect(await buffer.waitForDemand() == 10 + JobBuffer.prefetchRange.upperBound)
    }
}

@Suite struct WorkSignalTests {
    @Test func aFireWhileTheFetchLoopWaitsWakesIt() async throws {
        let signal = WorkSignal()
        let idle = Task { await signal.waitForWork() }
        // The watcher is let go once the fetch loop is idle, and its wake-up ends the wait.
        await signal.waitUntilArmed()
        signal.fire()
        await idle.value
    }

    @Test func aFireBeforeTheWaitIsNotLost() async {
        let signal = WorkSignal()
        signal.fire()
        await signal.waitForWork()  // returns at once: the work seen earlier is still there
    }

    @Test func closeReleasesTheFetchLoopAndTheWatchersForGood() async {
        let signal = WorkSignal()
        let idle = Task { await signal.waitForWork() }
        signal.close()
        await idle.value
        await signal.waitUntilArmed()
        await signal.waitForWork()
        #expect(signal.isClosed)
    }
}
