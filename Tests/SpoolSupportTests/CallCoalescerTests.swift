import SpoolSupport
import Synchronization
import Testing

/// Concurrent callers share calls, and each still gets its own answer.
@Suite struct CallCoalescerTests {
    @Test func concurrentCallersShareCallsAndEachGetsItsOwnResult() async throws {
        let sizes = Mutex<[Int]>([])
        let coalescer = CallCoalescer<Int, Int>(batchSize: 64, lanes: 2) { items in
            sizes.withLock { $0.append(items.count) }
            try await Task.sleep(for: .milliseconds(5))
            return items.map { $0 * 10 }
        }
        let results = try await withThrowingTaskGroup(of: (Int, Int).self) { group in
            for n in 0..<500 { group.addTask { (n, try await coalescer.submit(n)) } }
            return try await group.reduce(into: [:]) { $0[$1.0] = $1.1 }
        }
        #expect(results.count == 500 && results.allSatisfy { $0.value == $0.key * 10 })
        let calls = sizes.withLock { $0 }
        #expect(calls.reduce(0, +) == 500)
        #expect(calls.allSatisfy { $0 <= 64 })
        // 500 callers at once cannot have needed 500 calls.
        #expect(calls.count < 100, "calls: \(calls)")
    }

    @Test func aFailedCallFailsOnlyItsOwnItemsAndTheNextCallsGoOn() async throws {
        struct Refused: Error {}
        let coalescer = CallCoalescer<Int, Int>(batchSize: 1) { items in
            if items == [13] { throw Refused() }
            return items
        }
        await #expect(throws: Refused.self) { try await coalescer.submit(13) }
        #expect(try await coalescer.submit(14) == 14)
    }

    @Test func aCallThatAnswersTheWrongNumberOfResultsIsAnError() async throws {
        let coalescer = CallCoalescer<Int, Int>(batchSize: 8) { _ in [] }
        await #expect(throws: CoalescedCallError.self) { try await coalescer.submit(1) }
    }
}
