/// The order in which a worker tries its queues on each fetch.
///
/// `strict`: highest weight first, always; a lower queue runs only when every higher one is empty.
/// `weighted`: a random order where a queue's chance to come first is proportional to its weight,
/// so busy high-weight queues cannot starve low-weight ones (Sidekiq's weighted queues).
public struct QueueSelection: Sendable {
    public let queues: [String]
    public let weights: [Int]
    public let order: SpoolSettings.QueueOrder

    public init(queues: [String], weights: [String: Int], order: SpoolSettings.QueueOrder) {
        // Stable: by weight, then name, so strict order does not depend on dictionary order.
        let sorted = queues.sorted { (weights[$0] ?? 1, $1) > (weights[$1] ?? 1, $0) }
        self.queues = sorted
        self.weights = sorted.map { max(weights[$0] ?? 1, 1) }
        self.order = order
    }

    /// The queues in the order to try now. `random` yields numbers in 0..<1 (injected for tests).
    public func next(random: () -> Double = { Double.random(in: 0..<1) }) -> [String] {
        if order == .strict || queues.count < 2 { return queues }
        var names = queues
        var remaining = weights
        var result: [String] = []
        result.reserveCapacity(names.count)
        while !names.isEmpty {
            var pick = random() * Double(remaining.reduce(0, +))
            var index = 0
            while index < remaining.count - 1 && pick >= Double(remaining[index]) {
                pick -= Double(remaining[index])
                index += 1
            }
            result.append(names.remove(at: index))
            remaining.remove(at: index)
        }
        return result
    }
}
