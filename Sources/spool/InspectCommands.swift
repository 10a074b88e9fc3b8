import ArgumentParser
import SpoolQueue
import SpoolStore
import SpoolSupport

struct StatsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats", abstract: "Per-queue counts, totals and the age of the oldest pending job.")
    @OptionGroup var common: CommonOptions
    @Flag(help: "Print JSON.") var json = false

    struct Output: Encodable {
        let queues: [QueueStats]
        let workers: [[String: String]]
        let limiters: [LimiterState]
        /// Queues a provider's spent quota paused: queue → kind, reason, since.
        let alerts: [String: [String: String]]
        /// Schedules (with DATABASE_URL): counts, overdue ones, the next tick.
        let schedules: ScheduleMetrics.Summary?
    }

    func run() async throws {
        let runtime = try Runtime.load(common)
        let admin = runtime.admin(runtime.redis())
        let stats = try await admin.stats()
        let workers = try await admin.workers()
        let limiters = try await admin.limiters()
        let alerts = try await admin.alerts(queues: stats.map(\.queue))
        var schedules: ScheduleMetrics.Summary?
        if runtime.settings.databaseURL != nil {
            let pool = try runtime.postgres(size: 1)
            defer { pool.close() }
            schedules = try await ScheduleMetrics.summary(pool: pool)
        }
        if json {
            print(jsonText(Output(queues: stats, workers: workers, limiters: limiters, alerts: alerts, schedules: schedules)))
            return
        }
        for (queue, alert) in alerts.sorted(by: { $0.key < $1.key }) {
            print(
                "ALERT queue \(queue) paused: provider quota exhausted for kind \(alert["kind"] ?? "?"): \(alert["reason"] ?? "")"
                    + " (fix the account, then `spool queue resume \(queue)`)")
        }
        let header = ["queue", "pending", "scheduled", "active", "retry", "dead", "processed", "failed", "oldest_s", "paused"]
        let rows = stats.map {
            [
                $0.queue, "\($0.pending)", "\($0.scheduled)", "\($0.active)", "\($0.retry)", "\($0.dead)",
                "\($0.processed)", "\($0.failed)", String(format: $0.oldestPendingAgeSeconds), $0.paused ? "yes" : "",
            ]
        }
        printTable([header] + rows)
        print(
            "workers: \(workers.count)"
                + workers.map { "  \($0["id"] ?? "") busy=\($0["busy"] ?? "?")" }.joined(separator: "\n").prefixedNewline)
        printLimiters(limiters)
        if let schedules {
            let next = schedules.nextRunMs.map { "next tick \(CivilTime(unixMillis: $0).rfc3339)" } ?? "no tick ahead"
            print(
                "schedules: \(schedules.active) active, \(schedules.paused) paused, \(schedules.runs) runs, \(schedules.skipped) skipped ticks; \(next)")
            if schedules.overdue > 0 {
                print("ALERT \(schedules.overdue) schedules overdue by more than a minute: is a `spool scheduler` running?")
            }
            if schedules.failing > 0 { print("  \(schedules.failing) schedules failing (see `spool schedule list`)") }
        }
    }
}

struct JobCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "job", abstract: "Show a job's state and record.")
    @OptionGroup var common: CommonOptions
    @Argument(help: "The job id.") var id: String
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        let runtime = try Runtime.load(common)
        guard let record = try await runtime.admin(runtime.redis()).job(id) else {
            printError("no job with id '\(id)' (never enqueued, or its record expired)")
            throw ExitCode(1)
        }
        // The whole hash as text, unknown fields too: this is the operator's debugging view.
        let fields = record.textFields
        if json {
            print(jsonText(fields.merging(["id": record.id, "queue": record.queue]) { $1 }))
        } else {
            print("\(record.id)  \(record.state.rawValue)  queue=\(record.queue)")
            let state = JobRecord.Field.state.rawValue
            for (key, value) in fields.sorted(by: { $0.key < $1.key }) where key != state { print("  \(key): \(value)") }
        }
    }
}

struct CancelCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "cancel", abstract: "Cancel a pending, scheduled or retrying job.")
    @OptionGroup var common: CommonOptions
    @Argument(help: "The job id.") var id: String

    func run() async throws {
        let runtime = try Runtime.load(common)
        switch try await runtime.admin(runtime.redis()).cancel(id) {
        case .cancelled:
            print("cancelled \(id)")
        case .notFound:
            printError("no job with id '\(id)'")
            throw ExitCode(1)
        case .notCancellable(let state):
            printError("job \(id) is \(state); only pending, scheduled or retry jobs can be cancelled")
            throw ExitCode(1)
        }
    }
}

struct DeadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dead", abstract: "Inspect, retry or discard dead jobs.",
        subcommands: [List.self, Retry.self, Discard.self])

    struct List: AsyncParsableCommand {
        @OptionGroup var common: CommonOptions
        @Option(help: "Most jobs to show.") var limit = 100
        @Flag(help: "Print JSON.") var json = false
        func run() async throws {
            let runtime = try Runtime.load(common)
            let jobs = try await runtime.admin(runtime.redis()).deadJobs(limit: limit)
            if json { print(jsonText(jobs)); return }
            printTable(
                [["id", "queue", "kind", "attempts", "reason"]] + jobs.map { [$0.id, $0.queue, $0.kind, "\($0.attempts)", $0.reason] })
        }
    }

    struct Retry: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Put dead jobs back in pending with fresh attempts.")
        @OptionGroup var common: CommonOptions
        @Argument(help: "The job id.") var id: String?
        @Flag(help: "Every dead job.") var all = false
        func run() async throws {
            try await onDeadJobs(common, id: id, all: all, done: "retried") { admin, ids in try await admin.retryDead(ids: ids) }
        }
    }

    struct Discard: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete dead jobs for good.")
        @OptionGroup var common: CommonOptions
        @Argument(help: "The job id.") var id: String?
        @Flag(help: "Every dead job.") var all = false
        func run() async throws {
            try await onDeadJobs(common, id: id, all: all, done: "discarded") { admin, ids in try await admin.discardDead(ids: ids) }
        }
    }
}

/// Runs a dead-set action on one job id or on all (`--all`), and reports how many it touched.
private func onDeadJobs(
    _ common: CommonOptions, id: String?, all: Bool, done verb: String,
    _ action: (QueueAdmin, [String]?) async throws -> Int
) async throws {
    let ids: [String]?
    switch (id, all) {
    case (let id?, false): ids = [id]
    case (nil, true): ids = nil
    default: throw ValidationError("give either a job id or --all")
    }
    let runtime = try Runtime.load(common)
    let count = try await action(runtime.admin(runtime.redis()), ids)
    print("\(verb) \(count) dead job\(count == 1 ? "" : "s")")
    if count == 0, let id { printError("no dead job with id '\(id)'"); throw ExitCode(1) }
}

struct QueueCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "queue", abstract: "Pause or resume a queue.",
        subcommands: [Pause.self, Resume.self])
    struct Pause: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop workers from taking the queue's jobs; enqueueing goes on.")
        @OptionGroup var common: CommonOptions
        @Argument var queue: String
        func run() async throws {
            try checkQueueName(queue)
            let runtime = try Runtime.load(common)
            try await runtime.admin(runtime.redis()).pause(queue: queue)
            print("paused \(queue)")
        }
    }
    struct Resume: AsyncParsableCommand {
        @OptionGroup var common: CommonOptions
        @Argument var queue: String
        func run() async throws {
            try checkQueueName(queue)
            let runtime = try Runtime.load(common)
            try await runtime.admin(runtime.redis()).resume(queue: queue)
            print("resumed \(queue)")
        }
    }
}

private func checkQueueName(_ queue: String) throws {
    guard JobKindCatalog.isValidName(queue) else { throw ValidationError("queue '\(queue)': names are 1-64 of a-z 0-9 - _") }
}

func printTable(_ rows: [[String]]) {
    guard let first = rows.first else { return }
    var widths = first.map(\.count)
    for row in rows { for (index, cell) in row.enumerated() where index < widths.count { widths[index] = max(widths[index], cell.count) } }
    for row in rows {
        print(
            row.enumerated().map { index, cell in cell + String(repeating: " ", count: widths[index] - cell.count) }.joined(separator: "  ")
        )
    }
}

extension String {
    var prefixedNewline: String { isEmpty ? "" : "\n" + self }
}
