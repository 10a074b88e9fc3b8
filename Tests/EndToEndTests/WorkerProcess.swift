import Foundation
import SpoolQueue
import SpoolRedis
import SpoolSupport
import TestSupport

/// A `spool worker` process, as the Procfile runs it, under a test's key prefix.
final class WorkerProcess {
    let child: ChildProcess
    let logFile: String

    init(url: RedisURL, prefix: String, concurrency: Int = 10, lease: Duration = .seconds(2), extra: [String: String] = [:]) throws {
        logFile = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-worker-\(UUID().uuidString.prefix(4)).log").path
        var environment = [
            "REDIS_URL": url.urlString, "SPOOL_KEY_PREFIX": prefix, "SPOOL_LOG_LEVEL": "info",
            "SPOOL_JOBS_DIR": TestEnvironment.packageRoot + "/Jobs", "SPOOL_CONFIG": TestEnvironment.packageRoot + "/config/spool.json",
            "SPOOL_LEASE_MS": String(lease.milliseconds), "SPOOL_POLL_INTERVAL_MS": "50",
        ]
        environment.merge(extra) { $1 }
        child = try ChildProcess(
            [try TestEnvironment.spoolBinary(), "worker", "--concurrency", String(concurrency)],
            environment: environment, output: logFile)
    }

    var log: String { (try? String(contentsOfFile: logFile, encoding: .utf8)) ?? "" }

    /// Waits until the process has registered itself as a worker: its signal handlers are in place.
    func waitUntilRunning(_ fixture: QueueFixture) async throws {
        let pid = String(child.pid)
        try await waitUntil("worker \(pid) is up", timeout: .seconds(30)) {
            try await fixture.admin.workers().contains { $0["pid"] == pid }
        }
    }

    func kill9() {
        child.signal(SIGKILL)
        child.wait()
    }

    /// SIGTERM, then wait for the process to exit; returns its exit status.
    func terminate() -> Int32 {
        child.signal(SIGTERM)
        return child.wait()
    }
}

extension Duration {
    var milliseconds: Int64 { components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000 }
}
