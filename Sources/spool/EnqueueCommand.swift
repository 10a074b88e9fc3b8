import ArgumentParser
import FoundationEssentials
import SpoolQueue
import SpoolRedis

#if canImport(Glibc)
    import Glibc
    import SpoolSupport
#endif

struct EnqueueCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "enqueue",
        abstract: "Enqueue a job and print its id, or one job per line of a file.",
        discussion:
            "With --file, each non-blank line is one JSON object of args. Bad lines are reported with their line number; every good line is enqueued."
    )

    @OptionGroup var common: CommonOptions
    @Argument(help: "The job kind, as declared in Jobs/.") var kind: String
    @Option(help: "Arguments as a JSON object.") var args: String = "{}"
    @Option(help: "Queue (default: the kind's declared queue).") var queue: String?
    @Option(name: .customLong("in"), help: "Run in this many seconds.") var delay: Double?
    @Option(help: "Run at this time (ISO 8601, e.g. 2026-11-22T10:00:00Z).") var at: String?
    @Option(help: "Enqueue nothing if a job with this key was enqueued within the kind's idempotency TTL.") var idempotencyKey: String?
    @Option(help: "Read args, one JSON object per line, from this file (- for standard input).") var file: String?

    func run() async throws {
        let runtime = try Runtime.load(common)
        let runAt = try runAtMillis()
        let redis = runtime.redis()
        let enqueuer = Enqueuer(redis: redis, catalog: runtime.catalog, keys: runtime.settings.keys)
        if let file {
            try await enqueueFile(file, enqueuer: enqueuer, runAt: runAt)
            return
        }
        var request = EnqueueRequest(kind: kind, args: args, queue: queue, runAt: runAt, idempotencyKey: idempotencyKey)
        request.producer = .operator
        do {
            let result = try await enqueuer.enqueue(request)
            print(result.id)
            if !result.created {
                printError("idempotency key '\(idempotencyKey ?? "")' already used: this is the earlier job's id; nothing enqueued")
            }
        } catch let error as EnqueueError {
            throw SpoolCommandError("not enqueued: \(error)")
        }
    }

    private func runAtMillis() throws -> Int64? {
        if delay != nil && at != nil { throw ValidationError("--in and --at are exclusive; give one") }
        if let delay {
            guard delay >= 0, delay < 10 * 365 * 86_400 else { throw ValidationError("--in \(delay): expected seconds from 0 to 10 years") }
            return SystemClock().nowMillis() + Int64(delay * 1000)
        }
        if let at {
            guard let date = try? Date(at, strategy: .iso8601) else {
                throw ValidationError("--at '\(at)': not an ISO 8601 time such as 2026-11-22T10:00:00Z")
            }
            return Int64(date.timeIntervalSince1970 * 1000)
        }
        return nil
    }

    private func enqueueFile(_ path: String, enqueuer: Enqueuer, runAt: Int64?) async throws {
        guard let handle = path == "-" ? fdopen(0, "r") : fopen(path, "r") else {
            throw ValidationError(
                "--file \(path): cannot open (\(String(decoding: UnsafeRawBufferPointer(start: strerror(errno), count: strlen(strerror(errno))), as: UTF8.self)))"
            )
        }
        defer { if path != "-" { fclose(handle) } }
        let started = monotonicNow()
        var batch: [EnqueueRequest] = []
        var batchLines: [Int] = []
        var lineNumber = 0, accepted = 0, duplicates = 0
        var rejected: [String] = []
        var nextProgress = 100_000
        var linePointer: UnsafeMutablePointer<CChar>?
        var capacity = 0
        defer { free(linePointer) }

        func flush() async throws {
            if batch.isEmpty { return }
            let results = try await enqueuer.enqueue(batch: batch)
            for (line, result) in zip(batchLines, results) {
                switch result {
                case .success(let item): if item.created { accepted += 1 } else { duplicates += 1 }
                case .failure(let error): rejected.append("line \(line): \(error)")
                }
            }
            batch.removeAll(keepingCapacity: true)
            batchLines.removeAll(keepingCapacity: true)
        }

        while getline(&linePointer, &capacity, handle) != -1 {
            lineNumber += 1
            let line = String(cString: linePointer!).trimmed
            if line.isEmpty { continue }
            var request = EnqueueRequest(kind: kind, args: line, queue: queue, runAt: runAt)
            request.producer = .operator
            batch.append(request)
            batchLines.append(lineNumber)
            if batch.count >= 10_000 { try await flush() }
            if lineNumber >= nextProgress {
                printError("… \(lineNumber) lines read, \(accepted) enqueued")
                nextProgress += 100_000
            }
        }
        try await flush()
        let seconds = max((monotonicNow() - started).secondsDouble, 0.000_001)
        for message in rejected.prefix(50) { printError(message) }
        if rejected.count > 50 { printError("… and \(rejected.count - 50) more rejected lines") }
        var summary = "enqueued \(accepted) \(kind) jobs in \(String(format: seconds)) s (\(Int(Double(accepted) / seconds)) jobs/s)"
        if duplicates > 0 { summary += "; \(duplicates) duplicates skipped" }
        if !rejected.isEmpty { summary += "; \(rejected.count) lines rejected" }
        print(summary)
        if !rejected.isEmpty { throw ExitCode(2) }
    }
}

extension String {
    /// Seconds with three decimals.
    init(format seconds: Double) { self = String((seconds * 1000).rounded() / 1000) }
}
