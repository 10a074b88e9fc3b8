import SpoolQueue
import Testing

@Suite struct QueueSelectionTests {
    @Test func strictOrderIsByWeight() {
        let selection = QueueSelection(queues: ["low", "high", "mid"], weights: ["high": 10, "mid": 5], order: .strict)
        #expect(selection.next() == ["high", "mid", "low"])
    }

    @Test func weightedOrderPutsQueuesFirstInProportion() {
        let selection = QueueSelection(queues: ["a", "b"], weights: ["a": 3, "b": 1], order: .weighted)
        var generator = 0.0
        var firsts: [String: Int] = [:]
        for _ in 0..<400 {
            // A deterministic sweep over [0, 1) stands in for the random source.
            let order = selection.next {
                generator = (generator + 0.0025).truncatingRemainder(dividingBy: 1); return generator
            }
            firsts[order[0], default: 0] += 1
            #expect(Set(order) == ["a", "b"])
        }
        #expect(firsts["a"]! > 250 && firsts["a"]! < 350)
    }
}
