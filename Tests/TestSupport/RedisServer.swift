import Foundation
import SpoolRedis
import SpoolSupport

/// A redis-server this test run started, on a private loopback port, stopped by its own PID.
public final class RedisServer: @unchecked Sendable {
    private let server: LocalServer

    public var url: RedisURL { RedisURL(host: "127.0.0.1", port: server.port) }
    public var directory: String { server.directory }

    /// Starts a server; `persistent` keeps data across `restart()` (append-only file, fsync always).
    public init(persistent: Bool = false, extraArguments: [String] = []) throws {
        var options = ["--save", "", "--appendonly", persistent ? "yes" : "no"]
        if persistent { options += ["--appendfsync", "always"] }
        let executable = try Self.executable()
        server = try LocalServer(
            name: "redis", stopSignal: SIGTERM,
            spawn: { server, port in
                // The pid file lets scripts/test.sh stop a server that a crashed test run left behind.
                try ChildProcess(
                    [
                        executable, "--port", String(port), "--bind", "127.0.0.1", "--dir", server.directory,
                        "--logfile", "\(server.directory)/redis.log", "--pidfile", "\(server.directory)/redis.pid",
                    ] + options + extraArguments)
            },
            isReady: { port in
                (try? RedisConnection(url: RedisURL(host: "127.0.0.1", port: port), connectTimeout: .milliseconds(200)).run(
                    RedisCommand("PING"))) != nil
            })
        try server.start()
    }

    public func stop() { server.stop() }
    public func restart() throws { try server.restart() }

    static func executable() throws -> String {
        for path in ["/usr/bin/redis-server", "/usr/local/bin/redis-server"] where FileManager.default.isExecutableFile(atPath: path) {
            return path
        }
        throw TestFailure("redis-server is not installed; run scripts/test.sh, which installs it")
    }
}

public struct TestFailure: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
