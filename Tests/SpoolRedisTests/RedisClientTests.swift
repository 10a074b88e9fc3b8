import SpoolRedis
import SpoolSupport
import TestSupport
import Testing

@Suite struct RedisClientTests {
    let key = TestEnvironment.uniquePrefix("redis")

    func client(_ options: RedisClient.Options = RedisClient.Options()) throws -> RedisClient {
        RedisClient(url: try TestEnvironment.redisURL(), name: "test", options: options, logger: TestEnvironment.logger)
    }

    @Test func runsCommandsWithTypedReplies() async throws {
        let redis = try client()
        #expect(try await redis.run("SET", key, "v") == .status("OK"))
        #expect(try await redis.run("GET", key).string == "v")
        #expect(try await redis.run("INCRBY", key + ":n", "5") == .integer(5))
        #expect(try await redis.run("GET", key + ":missing") == .null)
        #expect(try await redis.run("MGET", key, key + ":missing") == .array([.bulk(Array("v".utf8)), .null]))
        try await redis.run("DEL", key, key + ":n")
    }

    @Test func valuesAreBinarySafe() async throws {
        let redis = try client()
        let bytes: [UInt8] = [0, 13, 10, 255, 36, 42, 0]
        var set = RedisCommand("SET", key)
        set.append(bytes: bytes)
        try await redis.run(set)
        #expect(try await redis.run("GET", key) == .bulk(bytes))
        try await redis.run("DEL", key)
    }

    @Test func errorRepliesNameTheCommand() async throws {
        let redis = try client()
        try await redis.run("SET", key, "text")
        await #expect {
            try await redis.run("LPUSH", key, "x")
        } throws: { error in
            let error = error as! RedisError
            return error.code == .server && error.command == "LPUSH" && error.message.hasPrefix("WRONGTYPE")
        }
        try await redis.run("DEL", key)
    }

    @Test func pipelinesConcurrentCallersInOrder() async throws {
        let redis = try client()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<500 {
                group.addTask { try await redis.run("RPUSH", key, String(index)) }
            }
            try await group.waitForAll()
        }
        #expect(try await redis.run("LLEN", key).int == 500)
        let replies = try await redis.pipeline((0..<100).map { RedisCommand("INCR", "\(key):c\($0 % 3)") })
        #expect(replies.count == 100)
        #expect(replies.last == .integer(34))  // index 99 is the 34th INCR of c0
        try await redis.run(RedisCommand("DEL", [key] + (0..<3).map { "\(key):c\($0)" }))
    }

    @Test func scriptsReloadAfterNOSCRIPT() async throws {
        let redis = try client()
        let script = RedisScript(name: "echo.lua", source: "return ARGV[1] .. KEYS[1] -- \(key)")
        try await redis.run("SCRIPT", "FLUSH")
        #expect(try await redis.run(script, keys: ["k"], arguments: ["a"]).string == "ak")
        #expect(try await redis.run(script, keys: ["k"], arguments: ["b"]).string == "bk")
        let failing = RedisScript(name: "boom.lua", source: "return redis.call('INCR', KEYS[1])")
        try await redis.run("SET", key, "x")
        await #expect {
            try await redis.run(failing, keys: [key], arguments: [])
        } throws: { error in
            (error as? RedisError)?.command == "EVALSHA boom.lua"
        }
        try await redis.run("DEL", key)
    }

    @Test func commandTimeoutDropsTheConnectionAndRecovers() async throws {
        var options = RedisClient.Options()
        options.commandTimeout = .milliseconds(200)
        let redis = try client(options)
        await #expect {
            try await redis.run("BLPOP", key + ":never", "2")
        } throws: { error in
            (error as? RedisError)?.code == .timeout
        }
        #expect(try await redis.run("PING") == .status("PONG"))
    }

    @Test func aCancelledCallerLeavesTheQueueAndItsCommandNeverRuns() async throws {
        var options = RedisClient.Options()
        options.commandTimeout = .seconds(60)
        let redis = try client(options)
        let other = try client()
        let key = self.key
        // While the connection waits on BLPOP, later commands queue behind it.
        let name = "cancel-\(key)"
        try await redis.run("CLIENT", "SETNAME", name)
        let blocked = Task { try await redis.run("BLPOP", key + ":wake", "30") }
        try await waitUntil("BLPOP holds the connection") {
            let clients = try await other.run("CLIENT", "LIST").string ?? ""
            return clients.split(separator: "\n").contains { $0.contains("name=\(name) ") && $0.contains("cmd=blpop") }
        }
        let incr = Task { try await redis.run("INCR", key + ":n") }
        try await waitUntil("the INCR waits in the queue") { redis.waitingCount == 1 }
        let cancelled = ContinuousClock.now
        incr.cancel()
        await #expect(throws: CancellationError.self) { try await incr.value }
        #expect(ContinuousClock.now - cancelled < .seconds(20))  // BLPOP would hold it for 30 s; wide for a busy machine
        #expect(redis.waitingCount == 0)
        try await other.run("RPUSH", key + ":wake", "go")
        #expect(try await blocked.value.array?.count == 2)
        // The next caller is served at once, and the cancelled INCR was never sent.
        let started = ContinuousClock.now
        #expect(try await redis.run("GET", key + ":n") == .null)
        #expect(ContinuousClock.now - started < .seconds(20))
    }

    @Test func aCallFromACancelledTaskSendsNothing() async throws {
        let redis = try client()
        let key = self.key
        let call = Task {
            try? await Task.sleep(for: .seconds(60))  // ends when the task is cancelled
            return try await redis.run("INCR", key)
        }
        call.cancel()
        await #expect(throws: CancellationError.self) { try await call.value }
        #expect(try await redis.run("GET", key) == .null)
    }

    @Test func logsInAndSelectsTheDatabase() async throws {
        let server = try RedisServer(extraArguments: ["--requirepass", "pa:ss"])
        var url = server.url
        url.password = "pa:ss"
        url.database = 3
        let redis = RedisClient(url: url, name: "auth", logger: TestEnvironment.logger)
        try await redis.run("SET", "k", "in-db-3")
        url.database = 0
        let other = RedisClient(url: url, name: "auth0", logger: TestEnvironment.logger)
        #expect(try await other.run("GET", "k") == .null)
        url.password = "wrong"
        let refused = RedisClient(url: url, name: "refused", logger: TestEnvironment.logger)
        await #expect {
            try await refused.run("PING")
        } throws: { error in
            "\(error)".contains("AUTH")
        }
    }

    @Test func reconnectsAfterRedisRestarts() async throws {
        let server = try RedisServer()
        let redis = RedisClient(url: server.url, name: "restart", logger: TestEnvironment.logger)
        #expect(try await redis.run("PING") == .status("PONG"))
        try server.restart()
        // The first command after the restart may meet the dead socket; the client must come back by itself.
        try await waitUntil("the client reconnects", timeout: .seconds(10)) {
            (try? await redis.run("PING")) == .status("PONG")
        }
        server.stop()
        await #expect(throws: RedisError.self) { try await redis.run("PING") }
        #expect(!redis.isConnected)
    }
}
