import SpoolRedis
import SpoolSupport
import TestSupport
import Testing

@Suite struct HashSlotTests {
    @Test func matchesTheClusterSpecification() {
        // CRC16/XMODEM of "123456789" is 0x31C3; the specification's examples share their {tag}'s slot.
        #expect(HashSlot.of("123456789") == 0x31C3 % 16_384)
        #expect(HashSlot.of("foo") == 12_182)
        #expect(HashSlot.of("{user1000}.following") == HashSlot.of("{user1000}.followers"))
        #expect(HashSlot.of("{user1000}.following") == HashSlot.of("user1000"))
        // An empty tag hashes the whole key; only the first {…} counts.
        #expect(HashSlot.of("foo{}{bar}") == HashSlot.of(Array("foo{}{bar}".utf8)))
        #expect(HashSlot.of("foo{{bar}}zap") == HashSlot.of("{bar"))
    }

    @Test func commandsKnowTheirFirstKey() {
        #expect(RedisCommand("GET", "a:{q}:b").routingKey.map { Array($0) } == Array("a:{q}:b".utf8))
        let script = RedisScript(name: "s.lua", source: "return 1")
        #expect(script.command(keys: ["k1", "k2"], arguments: ["x"]).routingKey.map { Array($0) } == Array("k1".utf8))
        #expect(script.command(keys: [], arguments: ["x"]).routingKey == nil)
        #expect(RedisCommand("PING").routingKey == nil)
        #expect(RedisCommand.wait(replicas: 1, timeout: .milliseconds(50), onNodeOf: "x:{q}").routingKey.map { Array($0) } == Array("x:{q}".utf8))
    }
}

/// The client against the 6-node cluster of scripts/test.sh.
@Suite(.serialized) struct RedisClusterTests {
    let prefix = TestEnvironment.uniquePrefix("cluster")

    func client() throws -> RedisClient {
        RedisClient(url: try TestEnvironment.clusterRedisURL(), name: "cluster-test", logger: TestEnvironment.logger)
    }

    @Test func aPipelineSpreadOverEveryPrimaryComesBackInOrder() async throws {
        let redis = try client()
        let keys = (0..<300).map { "\(prefix):{k\($0)}" }
        let sets = try await redis.pipeline(keys.enumerated().map { RedisCommand("SET", $1, String($0)) })
        #expect(sets.allSatisfy { $0 == .status("OK") })
        let gets = try await redis.pipeline(keys.map { RedisCommand("GET", $0) })
        #expect(gets.map(\.string) == (0..<300).map { String($0) })
        // Each primary holds its slots' share.
        let primaries = try await redis.primaryClients()
        #expect(primaries.count == 3)
        var held: [Int] = []
        for node in primaries {
            var count = 0
            for key in keys where try await node.pipeline([RedisCommand("EXISTS", key)])[0] == .integer(1) { count += 1 }
            held.append(count)
        }
        #expect(held.reduce(0, +) == 300 && held.allSatisfy { $0 > 0 })
        _ = try await redis.pipeline(keys.map { RedisCommand("DEL", $0) })
    }

    @Test func everyNodeLoadsTheScriptsItIsAskedToRun() async throws {
        let redis = try client()
        for node in try await redis.primaryClients() { try await node.run("SCRIPT", "FLUSH") }
        let script = RedisScript(name: "incr.lua", source: "return redis.call('INCRBY', KEYS[1], ARGV[1])")
        let calls = (0..<30).map { ScriptCall(script, keys: ["\(prefix):{s\($0)}"], arguments: [String($0 + 1)]) }
        let replies = try await redis.run(calls)
        #expect(replies == (0..<30).map { RedisReply.integer($0 + 1) })
        _ = try await redis.pipeline(calls.map { RedisCommand("DEL", $0.keys[0]) })
    }

    /// A slot moved from one primary to another while the client uses it: ASK during the move, MOVED after.
    @Test func followsASKWhileASlotMigratesAndMOVEDAfter() async throws {
        let redis = try client()
        let key = "\(prefix):{migrating}"
        let fresh = "\(prefix):{migrating}:fresh"
        let slot = HashSlot.of(key)
        try await redis.run("SET", key, "before")
        let primaries = try await redis.primaryClients()
        var ids: [(client: RedisClient, id: String, port: Int)] = []
        for node in primaries {
            ids.append((node, try await node.run("CLUSTER", "MYID").string ?? "", node.url.port))
        }
        let owners = try await ids.asyncFilter { try await $0.client.run("CLUSTER", "COUNTKEYSINSLOT", String(slot)).int == 1 }
        let source = try #require(owners.first)
        let target = try #require(ids.first { $0.id != source.id })

        try await target.client.run("CLUSTER", "SETSLOT", String(slot), "IMPORTING", source.id)
        try await source.client.run("CLUSTER", "SETSLOT", String(slot), "MIGRATING", target.id)
        // A key the source does not have is written on the target (ASK); one it has is still the source's.
        try await redis.run("SET", fresh, "asked")
        #expect(try await redis.run("GET", key).string == "before")
        let onTarget = try await target.client.pipeline([RedisCommand("ASKING"), RedisCommand("GET", fresh)])
        #expect(onTarget[1].string == "asked")

        try await source.client.run("MIGRATE", "127.0.0.1", String(target.port), "", "0", "5000", "KEYS", key)
        for node in [target, source] + ids.filter({ $0.id != target.id && $0.id != source.id }) {
            try await node.client.run("CLUSTER", "SETSLOT", String(slot), "NODE", target.id)
        }
        // The client still maps the slot to the source, which now answers MOVED.
        #expect(try await redis.run("GET", key).string == "before")
        #expect(try await redis.run("GET", fresh).string == "asked")
        try await redis.run("DEL", key)
        try await redis.run("DEL", fresh)
    }
}

extension Array {
    fileprivate func asyncFilter(_ keep: (Element) async throws -> Bool) async rethrows -> [Element] {
        var kept: [Element] = []
        for element in self where try await keep(element) { kept.append(element) }
        return kept
    }
}
