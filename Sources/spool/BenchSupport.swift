import FoundationEssentials
import SpoolPostgres
import SpoolQueue
import SpoolRedis
import SpoolSupport

#if canImport(Glibc)
    import Glibc
#endif

/// What the benchmarks share: worker processes under a throwaway key prefix, and the cleanup.

/// The configured runtime under a throwaway key prefix, which the benchmark deletes afterwards.
func benchRuntime(_ common: CommonOptions) throws -> (Runtime, String) {
    let loaded = try Runtime.load(common, checkHandlers: true)
    var settings = loaded.settings
    let prefix = "bench-\(String(UInt32.random(in: 0...UInt32.max), radix: 36))"
    settings.keyPrefix = prefix
    return (Runtime(settings: settings, catalog: loaded.catalog, logger: loaded.logger), prefix)
}

/// Starts `spool worker` as a child process, so that its throughput and memory are a real worker's.
func startBenchWorker(
    prefix: String, concurrency: Int, runtime: Runtime, config: String?, recordResults: Bool = false,
    jobsDirectory: String? = nil, queues: [String]? = nil
) throws -> ChildProcess {
    var environment = [
        "SPOOL_KEY_PREFIX": prefix, "SPOOL_LOG_LEVEL": "warning", "REDIS_URL": runtime.settings.redisURL.urlString,
        "SPOOL_RECORD_RESULTS": recordResults ? "1" : "0",
        "SPOOL_JOBS_DIR": jobsDirectory ?? runtime.settings.jobsDirectory,
    ]
    if let config { environment["SPOOL_CONFIG"] = config }
    let queueArguments = queues.map { ["--queues", $0.joined(separator: ",")] } ?? []
    return try ChildProcess(
        [ChildProcess.currentExecutable, "worker", "--concurrency", String(concurrency)] + queueArguments, environment: environment)
}

/// A config file for the bench's workers: the bench's own (or config/spool.json) with `queues` added
/// at weight 1, so that `spool worker --queues` accepts queues no kind declares. Written under TMPDIR.
func benchConfig(adding queues: [String], to base: String?) throws -> String {
    let path = base ?? "config/spool.json"
    var fields: [String: JSONValue] = [:]
    if let data = FileManager.default.contents(atPath: path), case .object(let object) = try JSONValue.parse(String(decoding: data, as: UTF8.self)) {
        fields = object
    }
    var declared: [String: JSONValue] = [:]
    if case .object(let existing)? = fields["queues"] { declared = existing }
    for queue in queues where declared[queue] == nil { declared[queue] = .object(["weight": .number(1)]) }
    fields["queues"] = .object(declared)
    let file = FileManager.default.temporaryDirectory.appendingPathComponent("spool-bench-config-\(UUID().uuidString.prefix(8)).json").path
    guard FileManager.default.createFile(atPath: file, contents: Data(JSONValue.object(fields).text.utf8)) else {
        throw SpoolCommandError("cannot write the bench's config file \(file)")
    }
    return file
}

/// Enqueues `count` copies of a job, 10,000 per bulk call.
func enqueueMany(_ enqueuer: Enqueuer, _ request: EnqueueRequest, count: Int) async throws {
    var remaining = count
    while remaining > 0 {
        let batch = min(remaining, 10_000)
        _ = try await enqueuer.enqueue(batch: Array(repeating: request, count: batch))
        remaining -= batch
    }
}

func waitForBenchWorker(_ admin: QueueAdmin, count: Int = 1) async throws {
    let started = monotonicNow()
    while try await admin.workers().count < count {
        if monotonicNow() - started > .seconds(30) { throw SpoolCommandError("the bench worker did not start within 30 s") }
        try await Task.sleep(for: .milliseconds(10))
    }
}

func deleteBenchKeys(prefix: String, redis: RedisClient) async throws {
    try await deleteKeys(matching: "\(prefix):*", redis: redis)
}

/// Deletes every key matching `pattern` on every primary (SCAN sees one node's keys), one UNLINK per
/// key so that a cluster never sees keys of two slots in one command.
func deleteKeys(matching pattern: String, redis: RedisClient) async throws {
    for node in try await redis.primaryClients() {
        var cursor = "0"
        repeat {
            let reply = try await node.run("SCAN", cursor, "MATCH", pattern, "COUNT", "5000").array ?? []
            cursor = reply.first?.string ?? "0"
            let keys = reply.count > 1 ? reply[1].array?.compactMap(\.string) ?? [] : []
            if !keys.isEmpty { _ = try await node.pipeline(keys.map { RedisCommand("UNLINK", $0) }) }
        } while cursor != "0"
    }
}

/// User plus system CPU seconds this process has used: what a benchmark's in-process work cost.
func processCPUSeconds() -> Double {
    var usage = rusage()
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
    return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
}

/// A database of the bench's own on DATABASE_URL's server, so that only its rows are there (a
/// scheduler fires every schedule of its database, a report reads every tenant's); `drop()` removes it.
final class BenchDatabase {
    let name: String
    let url: String
    private let admin: PostgresConnection

    init(_ runtime: Runtime, prefix: String, command: String) throws {
        guard let serverURL = runtime.settings.databaseURL else { throw SpoolCommandError("\(command) needs DATABASE_URL") }
        name = "spool_bench_\(prefix.replacing("-", with: "_"))"
        admin = try PostgresConnection(url: try PostgresURL(parsing: serverURL))
        try admin.execute("CREATE DATABASE \(name)")
        url = Self.url(serverURL, database: name)
    }

    func drop() { try? admin.execute("DROP DATABASE IF EXISTS \(name) WITH (FORCE)") }

    /// The server's URL with another database (`postgres://user@host:port/name?options`).
    static func url(_ text: String, database: String) -> String {
        let query = text.firstIndex(of: "?").map { String(text[$0...]) } ?? ""
        let base = text[..<(text.firstIndex(of: "?") ?? text.endIndex)]
        return "\(base[..<(base.lastIndex(of: "/") ?? base.endIndex)])/\(database)\(query)"
    }
}
