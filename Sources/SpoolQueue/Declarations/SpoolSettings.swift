import SpoolSupport
import FoundationEssentials
import SpoolRedis

/// Everything a Spool process is configured with: defaults in `config/spool.json`, overridden by
/// environment variables. A bad value stops the process at start with the variable or field, and the value.
public struct SpoolSettings: Sendable {
    public enum QueueOrder: String, Sendable { case weighted, strict }

    public var redisURL = RedisURL()
    /// PostgreSQL, checked when a command needs it (`spool migrate`, job kinds with side effects).
    public var databaseURL: String?
    public var keyPrefix = "spool"
    public var jobsDirectory = "Jobs"
    /// Queue weights: with `weighted`, a queue of weight 3 is polled first three times as often as one of
    /// weight 1; with `strict`, higher weights always go first.
    public var queueWeights: [String: Int] = [:]
    public var queueOrder = QueueOrder.weighted
    public var concurrency = 10
    /// Jobs leased ahead of free slots, so slots never wait on a round trip. Nil (the default) adapts it
    /// to the jobs' pace: about 2 ms of work, from 1 to 1,000 jobs.
    public var prefetch: Int?
    public var lease: Duration = .seconds(30)
    public var shutdownGrace: Duration = .seconds(25)
    public var pollInterval: Duration = .milliseconds(200)
    public var completedTTL: Duration = .seconds(3600)
    public var deadMaxJobs = 10_000
    public var deadMaxAge: Duration = .seconds(180 * 86_400)
    public var logLevel = "info"
    /// Write every settled job's outcome to PostgreSQL's job_results (when a database is configured).
    public var recordResults = true

    public init() {}

    public var keys: KeySpace { KeySpace(prefix: keyPrefix) }

    /// Reads the config file (the default path may be missing; a named one may not) and then the environment.
    public static func load(configPath: String? = nil, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> SpoolSettings {
        var settings = SpoolSettings()
        let path = configPath ?? environment["SPOOL_CONFIG"] ?? "config/spool.json"
        if let data = FileManager.default.contents(atPath: path) {
            try settings.apply(file: String(decoding: data, as: UTF8.self), path: path)
        } else if configPath != nil || environment["SPOOL_CONFIG"] != nil {
            throw SpoolConfigError("\(path): config file not found")
        }
        try settings.apply(environment: environment)
        return settings
    }

    mutating func apply(file text: String, path: String) throws {
        let json: JSONValue
        do { json = try JSONValue.parse(text) } catch { throw SpoolConfigError("\(path): \(error)") }
        var reader = try FieldReader(json, file: path, path: "")
        reader.optional("description")
        if let url = try reader.string("redis_url") {
            do { redisURL = try RedisURL(parsing: url) } catch let error as RedisError { throw SpoolConfigError("\(path): field 'redis_url': \(error.message)") }
        }
        if let url = try reader.string("database_url") { databaseURL = url }
        if let prefix = try reader.string("key_prefix") { keyPrefix = prefix }
        if let dir = try reader.string("jobs_dir") { jobsDirectory = dir }
        if let order = try reader.string("queue_order") {
            guard let value = QueueOrder(rawValue: order) else { throw SpoolConfigError("\(path): field 'queue_order': '\(order)' is not weighted or strict") }
            queueOrder = value
        }
        if var queues = try reader.object("queues") {
            for name in queues.remainingKeys {
                guard JobKindCatalog.isValidName(name) else { throw SpoolConfigError("\(path): field 'queues.\(name)': queue names are 1-64 of a-z 0-9 - _") }
                var queue = try queues.object(name, required: true)!
                queueWeights[name] = Int(try queue.number("weight", range: 1...1000, integer: true) ?? 1)
                try queue.finish()
            }
        }
        if var worker = try reader.object("worker") {
            if let value = try worker.number("concurrency", range: 1...10_000, integer: true) { concurrency = Int(value) }
            if let value = try worker.number("prefetch", range: 0...10_000, integer: true) { prefetch = Int(value) }
            if let value = try worker.number("lease_seconds", range: 1...86_400) { lease = .milliseconds(Int64(value * 1000)) }
            if let value = try worker.number("shutdown_grace_seconds", range: 0...3600) { shutdownGrace = .milliseconds(Int64(value * 1000)) }
            try worker.finish()
        }
        if var scheduler = try reader.object("scheduler") {
            if let value = try scheduler.number("poll_interval_ms", range: 10...60_000, integer: true) { pollInterval = .milliseconds(Int64(value)) }
            try scheduler.finish()
        }
        if var retention = try reader.object("retention") {
            if let value = try retention.number("completed_seconds", range: 0...31_536_000, integer: true) { completedTTL = .seconds(Int64(value)) }
            if let value = try retention.number("dead_max_jobs", range: 1...100_000_000, integer: true) { deadMaxJobs = Int(value) }
            if let value = try retention.number("dead_max_age_days", range: 0.001...3650) { deadMaxAge = .seconds(Int64(value * 86_400)) }
            try retention.finish()
        }
        if let flag = try reader.bool("record_results") { recordResults = flag }
        if let level = try reader.string("log_level") { logLevel = try Self.checkedLogLevel(level, source: "\(path): field 'log_level'") }
        try reader.finish()
    }

    mutating func apply(environment: [String: String]) throws {
        if let url = environment["REDIS_URL"], !url.isEmpty {
            do { redisURL = try RedisURL(parsing: url) } catch let error as RedisError { throw SpoolConfigError(error.message) }
        }
        if let url = environment["DATABASE_URL"], !url.isEmpty { databaseURL = url }
        if let prefix = environment["SPOOL_KEY_PREFIX"], !prefix.isEmpty { keyPrefix = prefix }
        if let dir = environment["SPOOL_JOBS_DIR"], !dir.isEmpty { jobsDirectory = dir }
        if let value = try Self.int(environment, "SPOOL_CONCURRENCY", 1...10_000) { concurrency = value }
        if let value = try Self.int(environment, "SPOOL_PREFETCH", 0...10_000) { prefetch = value }
        if let value = try Self.int(environment, "SPOOL_LEASE_MS", 100...86_400_000) { lease = .milliseconds(Int64(value)) }
        if let value = try Self.int(environment, "SPOOL_SHUTDOWN_GRACE_MS", 0...3_600_000) { shutdownGrace = .milliseconds(Int64(value)) }
        if let value = try Self.int(environment, "SPOOL_POLL_INTERVAL_MS", 10...60_000) { pollInterval = .milliseconds(Int64(value)) }
        if let value = try Self.int(environment, "SPOOL_COMPLETED_TTL_SECONDS", 0...31_536_000) { completedTTL = .seconds(Int64(value)) }
        if let flag = environment["SPOOL_RECORD_RESULTS"], !flag.isEmpty {
            guard flag == "0" || flag == "1" else { throw SpoolConfigError("SPOOL_RECORD_RESULTS='\(flag)': expected 0 or 1") }
            recordResults = flag == "1"
        }
        if let level = environment["SPOOL_LOG_LEVEL"], !level.isEmpty { logLevel = try Self.checkedLogLevel(level, source: "SPOOL_LOG_LEVEL") }
    }

    static func int(_ environment: [String: String], _ name: String, _ range: ClosedRange<Int>) throws -> Int? {
        guard let text = environment[name], !text.isEmpty else { return nil }
        guard let value = Int(text), range.contains(value) else {
            throw SpoolConfigError("\(name)='\(text)': expected a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return value
    }

    static let logLevels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]
    static func checkedLogLevel(_ level: String, source: String) throws -> String {
        guard logLevels.contains(level) else { throw SpoolConfigError("\(source)='\(level)': expected one of \(logLevels.joined(separator: ", "))") }
        return level
    }
}
