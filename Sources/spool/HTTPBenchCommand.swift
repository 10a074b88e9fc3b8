import ArgumentParser
import FoundationEssentials
import SpoolHTTP
import SpoolSupport

#if canImport(Glibc)
    import Glibc
#endif

/// `spool bench-http`: the provider HTTP client against the sandbox, which runs as a separate process
/// (this binary's `sandbox` command) so that the CPU measured here is the client's alone.
struct HTTPBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-http", abstract: "Measure provider HTTP requests/s and client CPU per request against the sandbox.")

    @Option(help: "Requests per concurrency level.") var requests = 20_000
    @Option(help: "Concurrency levels, comma-separated.") var concurrency = "50,200"
    @Option(name: .customLong("latency-ms"), help: "The sandbox's latency per answer.") var latencyMs = 50

    func run() async throws {
        let levels = concurrency.split(separator: ",").compactMap { Int($0) }
        let output = "/tmp/spool-bench-sandbox-\(getpid()).log"
        let sandbox = try ChildProcess(
            [ChildProcess.currentExecutable, "sandbox", "--port", "0", "--latency-ms", String(latencyMs)], output: output)
        defer {
            sandbox.signal(SIGTERM)
            _ = sandbox.wait()
            unlink(output)
        }
        let base = try await waitForSandbox(logFile: output, process: sandbox)
        let client = HTTPClient(name: "bench-http")
        defer { client.close() }
        print("spool bench-http: sandbox \(base), \(latencyMs) ms per answer, \(requests) requests per level")
        print("concurrency  requests/s  ideal   of ideal  p50 ms  p99 ms  client CPU/request  errors")
        for level in levels {
            _ = try await measure(client: client, url: base + "/_sandbox/echo", concurrency: level, total: level * 2)  // warm the connections
            let before = processCPUSeconds()
            let started = monotonicNow()
            let run = try await measure(client: client, url: base + "/_sandbox/echo", concurrency: level, total: requests)
            let elapsed = (monotonicNow() - started).secondsDouble
            let cpu = processCPUSeconds() - before
            let rate = Double(requests) / elapsed
            let ideal = Double(level) * 1000 / Double(latencyMs)
            let latencies = run.latencies.sorted()
            func percentile(_ p: Double) -> Double { latencies[min(latencies.count - 1, Int(Double(latencies.count) * p))] }
            print(
                pad(String(level), 11), pad(String(Int(rate)), 11), pad(String(Int(ideal)), 6),
                pad(String(format1(100 * rate / ideal)) + "%", 9),
                pad(format1(percentile(0.5)), 7), pad(format1(percentile(0.99)), 7),
                pad(String(Int(cpu / Double(requests) * 1e6)) + " µs", 19),
                run.errors)
        }
    }

    private struct Run { var latencies: [Double] = []; var errors = 0 }

    private func measure(client: HTTPClient, url: String, concurrency: Int, total: Int) async throws -> Run {
        let perWorker = total / concurrency
        return try await withThrowingTaskGroup(of: Run.self) { group in
            for worker in 0..<concurrency {
                let count = perWorker + (worker < total % concurrency ? 1 : 0)
                group.addTask {
                    var run = Run()
                    run.latencies.reserveCapacity(count)
                    for _ in 0..<count {
                        let started = monotonicNow()
                        do {
                            let response = try await client.send(HTTPClientRequest("GET", url))
                            if response.status != 200 { run.errors += 1 }
                        } catch { run.errors += 1 }
                        run.latencies.append((monotonicNow() - started).secondsDouble * 1000)
                    }
                    return run
                }
            }
            return try await group.reduce(into: Run()) {
                $0.latencies += $1.latencies; $0.errors += $1.errors
            }
        }
    }

    private func waitForSandbox(logFile: String, process: ChildProcess) async throws -> String {
        for _ in 0..<400 {
            if let data = FileManager.default.contents(atPath: logFile),
                let line = String(decoding: data, as: UTF8.self)
                    .split(separator: "\n").first(where: { $0.hasPrefix("sandbox listening on ") })
            {
                return String(line.dropFirst("sandbox listening on ".count))
            }
            if !process.isRunning { throw SpoolCommandError("the sandbox exited at start; see \(logFile)") }
            try await Task.sleep(for: .milliseconds(25))
        }
        throw SpoolCommandError("the sandbox did not start within 10 s; see \(logFile)")
    }

    /// User plus system CPU seconds this process has used.
    private func format1(_ value: Double) -> String { String(Double(Int(value * 10)) / 10) }
    private func pad(_ text: String, _ width: Int) -> String { text + String(repeating: " ", count: max(0, width - text.count)) }
}
