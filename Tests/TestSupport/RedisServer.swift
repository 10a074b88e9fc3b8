import Foundation
import SpoolRedis
import SpoolSupport

/// A redis-server this test run started itself, on a private loopback port, stopped by its own PID.
public final class RedisServer: @unchecked Sendable {
    public private(set) var port = 0
    public let directory: String
    private let extraArguments: [String]
    private var process: ChildProcess?

    public var url: RedisURL { RedisURL(host: "127.0.0.1", port: port) }

    /// Starts a server; `persistent` keeps data across `restart()` (append-only file, fsync always).
    public init(persistent: Bool = false, extraArguments: [String] = []) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("spool-redis-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var arguments = ["--save", "", "--appendonly", persistent ? "yes" : "no"]
        if persistent { arguments += ["--appendfsync", "always"] }
        self.extraArguments = arguments + extraArguments
        var lastError: (any Error)?
        for _ in 0..<20 {
            let candidate = Int.random(in: 20_000...45_000)
            do {
                port = candidate
                try launch()
                return
            } catch {
                lastError = error
            }
        }
        throw lastError ?? TestFailure("could not start redis-server")
    }

    private func launch() throws {
        // The pid file lets scripts/test.sh stop a server that a crashed test run left behind.
        let process = try ChildProcess([try Self.executable(), "--port", String(port), "--bind", "127.0.0.1", "--dir", directory,
                                        "--logfile", "\(directory)/redis.log", "--pidfile", "\(directory)/redis.pid"] + extraArguments)
        self.process = process
        // Ready when it answers PING; a port clash makes it exit instead.
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            if !process.isRunning { throw TestFailure("redis-server exited at start (port \(port) taken?)") }
            if (try? RedisConnection(url: url, connectTimeout: .milliseconds(200)).run(RedisCommand("PING"))) != nil { return }
            usleep(10_000)
        }
        stop()
        throw TestFailure("redis-server on port \(port) did not answer within 10 s")
    }

    /// Stops the server (SIGTERM, then waits for it to exit).
    public func stop() {
        guard let process else { return }
        process.signal(SIGTERM)
        process.wait()
        self.process = nil
    }

    /// Stops and starts the server on the same port.
    public func restart() throws {
        stop()
        try launch()
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(atPath: directory)
    }

    static func executable() throws -> String {
        for path in ["/usr/bin/redis-server", "/usr/local/bin/redis-server"] where FileManager.default.isExecutableFile(atPath: path) { return path }
        throw TestFailure("redis-server is not installed; run scripts/test.sh, which installs it")
    }
}

public struct TestFailure: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
