import SpoolSupport
import TestSupport

#if canImport(Glibc)
    import Glibc
#endif

/// A real `spool worker` process serving the sms queue (or `queues`) for an `APIFixture`, against the sandbox.
enum SMSWorkerProcess {
    /// A worker a failed test did not stop is killed when the test process exits.
    static func start(
        _ f: APIFixture, sandbox: RunningSandbox, apiPort: Int, log: String, concurrency: Int = 20, queues: String = "sms"
    ) throws -> ChildProcess {
        let worker = try ChildProcess(
            [try TestEnvironment.spoolBinary(), "worker", "--queues", queues, "--concurrency", String(concurrency)],
            environment: [
                "REDIS_URL": f.queue.url.urlString, "SPOOL_KEY_PREFIX": f.queue.keys.prefix, "DATABASE_URL": f.pool.url.text,
                "SPOOL_SANDBOX_URL": sandbox.baseURL, "SPOOL_PUBLIC_URL": "http://127.0.0.1:\(apiPort)",
                "SPOOL_JOBS_DIR": TestEnvironment.packageRoot + "/Jobs", "SPOOL_CONFIG": TestEnvironment.packageRoot + "/config/spool.json",
                "SPOOL_LEASE_MS": "2000", "SPOOL_POLL_INTERVAL_MS": "50", "SPOOL_LOG_LEVEL": "warning",
            ], output: log)
        // isRunning reaps it if it has ended, so a signal never reaches a process that reused its pid.
        StopAtExit.register { if worker.isRunning { worker.signal(SIGKILL) } }
        return worker
    }
}
