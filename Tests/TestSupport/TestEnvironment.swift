import Foundation
import Logging
import SpoolQueue
import SpoolRedis
import SpoolSupport

/// The Redis the tests share: the one scripts/test.sh started (SPOOL_TEST_REDIS_URL), or one started
/// here for the whole test process. Each test works under a key prefix of its own, so tests can run
/// in parallel against one server without seeing each other's keys.
public enum TestEnvironment {
    private static let ownServer: RedisServer? = {
        if ProcessInfo.processInfo.environment["SPOOL_TEST_REDIS_URL"] != nil { return nil }
        let server = try? RedisServer()
        if let server { StopAtExit.register { server.stop() } }
        return server
    }()

    public static func redisURL() throws -> RedisURL {
        if let text = ProcessInfo.processInfo.environment["SPOOL_TEST_REDIS_URL"] { return try RedisURL(parsing: text) }
        guard let server = ownServer else { throw TestFailure("no SPOOL_TEST_REDIS_URL and redis-server could not be started") }
        return server.url
    }

    /// The TLS-only Redis scripts/test.sh started (SPOOL_TEST_REDIS_TLS_URL, a `rediss` URL), with the
    /// folder of its certificates (SPOOL_TEST_REDIS_TLS_DIR: ca.crt, client.crt, client.key). The tests
    /// that need it fail without it rather than pass unseen.
    public static func tlsRedis() throws -> (url: RedisURL, certificates: String) {
        let environment = ProcessInfo.processInfo.environment
        guard let text = environment["SPOOL_TEST_REDIS_TLS_URL"], let directory = environment["SPOOL_TEST_REDIS_TLS_DIR"] else {
            throw TestFailure("SPOOL_TEST_REDIS_TLS_URL and SPOOL_TEST_REDIS_TLS_DIR are unset: run scripts/test.sh, which starts a TLS Redis")
        }
        return (try RedisURL(parsing: text), directory)
    }

    /// The Redis Cluster scripts/test.sh started (SPOOL_TEST_REDIS_CLUSTER_URL, three primaries and
    /// their replicas). The tests that need it fail without it rather than pass unseen.
    public static func clusterRedisURL() throws -> RedisURL {
        guard let text = ProcessInfo.processInfo.environment["SPOOL_TEST_REDIS_CLUSTER_URL"] else {
            throw TestFailure("SPOOL_TEST_REDIS_CLUSTER_URL is unset: run scripts/test.sh, which starts a Redis Cluster")
        }
        return try RedisURL(parsing: text)
    }

    public static var logger: Logger {
        var logger = Logger(label: "spool.test")
        logger.logLevel = ProcessInfo.processInfo.environment["SPOOL_TEST_LOG_LEVEL"].flatMap { Logger.Level(rawValue: $0) } ?? .critical
        return logger
    }

    /// A key prefix no other test uses.
    public static func uniquePrefix(_ label: String = "t") -> String { "\(label)-\(UUID().uuidString.prefix(8).lowercased())" }

    /// The repository's root folder (where Package.swift is).
    public static var packageRoot: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    }

    /// The built `spool` executable, for tests that run real worker processes.
    public static func spoolBinary() throws -> String {
        if let path = ProcessInfo.processInfo.environment["SPOOL_BIN"] { return path }
        for configuration in ["debug", "release"] {
            let path = "\(packageRoot)/.build/\(configuration)/spool"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        throw TestFailure("no built spool binary: run `swift build` first or set SPOOL_BIN")
    }
}

/// Waits until `condition` holds, checking every few milliseconds; fails after `timeout`.
public func waitUntil(_ what: String, timeout: Duration = .seconds(10), _ condition: () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(5))
    }
    if try await condition() { return }
    throw TestFailure("timed out after \(timeout) waiting for: \(what)")
}
