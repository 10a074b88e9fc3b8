/// Which primary serves each of the 16,384 slots, read from `CLUSTER SLOTS`.
struct SlotMap: Sendable {
    /// The primaries, in the order the cluster listed them.
    let primaries: [RedisEndpoint]
    /// Per slot, an index into `primaries`; -1 for a slot no node serves.
    private var owners: [Int16]

    init() {
        primaries = []
        owners = Array(repeating: -1, count: HashSlot.count)
    }

    /// Reads `CLUSTER SLOTS`: `[[start, end, [ip, port, id, …], replica…], …]`. `seedHost` stands in
    /// for a node that reports no address (an empty ip means "the address you reached me at").
    init(clusterSlots reply: RedisReply, seedHost: String) throws(RedisError) {
        guard let ranges = reply.array else {
            throw RedisError(.unexpectedReply, "CLUSTER SLOTS answered \(reply), not a list of slot ranges")
        }
        var primaries: [RedisEndpoint] = []
        var owners = [Int16](repeating: -1, count: HashSlot.count)
        for range in ranges {
            guard let fields = range.array, fields.count >= 3, let start = fields[0].int, let end = fields[1].int,
                let node = fields[2].array, node.count >= 2, let port = node[1].int, (0..<HashSlot.count).contains(start),
                (start..<HashSlot.count).contains(end)
            else { throw RedisError(.unexpectedReply, "CLUSTER SLOTS has a range this client cannot read: \(range)") }
            var host = node[0].string ?? ""
            if host.isEmpty || host == "?" { host = seedHost }
            let endpoint = RedisEndpoint(host: host, port: port)
            let index: Int
            if let known = primaries.firstIndex(of: endpoint) {
                index = known
            } else {
                primaries.append(endpoint)
                index = primaries.count - 1
            }
            for slot in start...end { owners[slot] = Int16(index) }
        }
        self.primaries = primaries
        self.owners = owners
    }

    /// The primary serving `slot`, if any.
    func owner(of slot: Int) -> RedisEndpoint? {
        let index = owners[slot]
        return index < 0 ? nil : primaries[Int(index)]
    }

    /// Records what a MOVED reply said, until the next full read of the map.
    func moving(slot: Int, to endpoint: RedisEndpoint) -> SlotMap {
        var copy = self
        if let index = copy.primaries.firstIndex(of: endpoint) {
            copy.owners[slot] = Int16(index)
            return copy
        }
        copy = SlotMap(primaries: primaries + [endpoint], owners: owners)
        copy.owners[slot] = Int16(copy.primaries.count - 1)
        return copy
    }

    private init(primaries: [RedisEndpoint], owners: [Int16]) {
        self.primaries = primaries
        self.owners = owners
    }
}
