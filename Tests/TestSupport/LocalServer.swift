import Foundation
import SpoolSupport

/// A server process that a test run started: its own temporary folder, a private loopback port (tried
/// at random until one is free), ready when `isReady` says so, and stopped by its own PID.
public final class LocalServer: @unchecked Sendable {
    public let directory: String
    public private(set) var port = 0
    private var process: ChildProcess?
    private let name: String
    private let stopSignal: Int32
    private let spawn: (LocalServer, Int) throws -> ChildProcess
    private let isReady: (Int) -> Bool

    /// Creates the folder; `start()` picks the port and launches.
    public init(
        name: String, stopSignal: Int32, spawn: @escaping (LocalServer, Int) throws -> ChildProcess,
        isReady: @escaping (Int) -> Bool
    ) throws {
        self.name = name
        self.stopSignal = stopSignal
        self.spawn = spawn
        self.isReady = isReady
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("spool-\(name)-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    public func start() throws {
        var lastError: (any Error)?
        for _ in 0..<20 {
            port = Int.random(in: 20_000...45_000)
            do { return try launch() } catch { lastError = error }
        }
        throw lastError ?? TestFailure("could not start \(name)")
    }

    private func launch() throws {
        let process = try spawn(self, port)
        self.process = process
        // A port clash makes the server exit instead of becoming ready.
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            if !process.isRunning { throw TestFailure("\(name) exited at start (port \(port) taken?); see \(directory)") }
            if isReady(port) { return }
            usleep(10_000)
        }
        stop()
        throw TestFailure("\(name) on port \(port) was not ready within 20 s; see \(directory)")
    }

    /// Signals the server and waits for it to exit.
    public func stop() {
        guard let process else { return }
        process.signal(stopSignal)
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
}

extension LocalServer {
    /// A loopback port nothing listens on right now: bound to port 0, read back, and closed.
    public static func freePort() throws -> Int {
        do { return try LoopbackPort.free() } catch { throw TestFailure(error.description) }
    }
}
