import ArgumentParser
import FoundationEssentials
import Logging
import SpoolPostgres
import SpoolQueue
import SpoolStore
import SpoolSupport

/// `spool schedule create|list|show|pause|resume|delete|preview|reconcile`: recurring schedules, straight
/// on PostgreSQL through `ScheduleStore`, as the API makes them. The operator's tool: its schedules are
/// enqueued as the operator's, any tenant's schedule may be shown, paused or deleted, and `--tenant` makes
/// a tenant's. `preview` needs no database.
struct ScheduleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schedule", abstract: "Recurring schedules: create, list, show, pause, resume, delete, preview fire times, reconcile the file.",
        subcommands: [Create.self, List.self, Show.self, Pause.self, Resume.self, Delete.self, Preview.self, Reconcile.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make a schedule: a job of KIND at every tick of a cron expression or an interval; prints its id.",
            discussion:
                "Give --cron (in quotes: --cron \"0 9 * * MON-FRI\") or --every (30s, 5m, 1h, 2h30m, 1d). The cron expression is read in --tz, by default the tenant's zone, else UTC. Times are ISO 8601 with an offset: 2026-11-22T09:00:00Z or 2026-11-22T10:00+01:00. See docs/schedules.md."
        )
        @OptionGroup var common: CommonOptions
        @Option(help: "A name, unique among its owner's schedules (1 to 200 characters).") var name: String
        @Option(help: "A cron expression: 5 fields (minute hour day-of-month month day-of-week), 6 with seconds first, or @daily ...")
        var cron: String?
        @Option(help: "An interval instead of --cron: 30s, 5m, 1h, 2h30m, 1d (from 1 second to 366 days).") var every: String?
        @Option(help: "The IANA zone the cron expression is read in (default: the tenant's, else UTC).") var tz: String?
        @Option(help: "The job kind each tick enqueues.") var kind: String
        @Option(help: "The jobs' arguments, a JSON object.") var args: String?
        @Option(help: "A queue other than the kind's.") var queue: String?
        @Option(help: "Make it this tenant's schedule (its jobs carry the tenant); by default the operator's.") var tenant: String?
        @Option(help: "Ticks missed while no scheduler ran: skip (the default), one (the latest), or all (at most --missed-limit).")
        var missed: String?
        @Option(name: .customLong("missed-limit"), help: "With --missed all: at most this many missed ticks fire (1 to 10000; 100).")
        var missedLimit: Int?
        @Option(help: "allow (the default), or skip: skip a tick while the previous job is still waiting or running.") var overlap: String?
        @Option(name: .customLong("jitter-ms"), help: "Run each job up to this many milliseconds after its tick, at random (0 to 3600000).")
        var jitterMs: Int?
        @Option(help: "No tick before this time (ISO 8601); an interval counts from it.") var starts: String?
        @Option(help: "No tick after this time (ISO 8601).") var ends: String?
        @Flag(help: "Print {\"id\": ...} as JSON.") var json = false

        func run() async throws {
            let request = try makeRequest()
            let tenant = self.tenant
            let schedule = try await withSchedules(common, given: given) { store, runtime, _ in
                if let queue = request.queue { try runtime.checkScheduleQueue(queue) }
                return try await store.create(request, tenantID: tenant, producer: .operator)
            }
            if json {
                print(jsonText(["id": schedule.id]))
                return
            }
            let next = schedule.nextRunMs.map { "next run \(CivilTime(unixMillis: $0).rfc3339)" } ?? "no run ahead"
            print("\(schedule.id): \(schedule.name), \(ruleText(schedule)), \(next)")
        }

        /// The flags as a request; mistakes the store would not name by flag are refused here.
        func makeRequest() throws -> ScheduleRequest {
            if cron == nil && every == nil { throw ValidationError("give --cron EXPRESSION or --every DURATION") }
            if cron != nil && every != nil { throw ValidationError("--cron and --every: give one or the other") }
            var argsText = "{}"
            if let args {
                let parsed: JSONValue
                do { parsed = try JSONValue.parse(args) } catch { throw ValidationError("--args '\(args.prefix(80))': not JSON: \(error)") }
                guard parsed.objectValue != nil else {
                    throw ValidationError("--args '\(args.prefix(80))': expected a JSON object, got \(parsed.typeName)")
                }
                argsText = parsed.text
            }
            var missedTicks = MissedTicks.skip
            if let missed {
                guard let value = MissedTicks(rawValue: missed) else {
                    throw ValidationError("--missed '\(missed.prefix(40))': expected skip, one or all")
                }
                missedTicks = value
            }
            var overlapPolicy = OverlapPolicy.allow
            if let overlap {
                guard let value = OverlapPolicy(rawValue: overlap) else {
                    throw ValidationError("--overlap '\(overlap.prefix(40))': expected allow or skip")
                }
                overlapPolicy = value
            }
            var startsMs: Int64?
            if let starts { startsMs = try scheduleTime(starts, flag: "--starts") }
            var endsMs: Int64?
            if let ends { endsMs = try scheduleTime(ends, flag: "--ends") }
            return ScheduleRequest(
                name: name, kind: kind, args: argsText, queue: queue, cron: cron, every: every, timezone: tz, startsMs: startsMs,
                endsMs: endsMs, jitterMs: jitterMs ?? 0, missed: missedTicks, missedLimit: missedLimit ?? 100, overlap: overlapPolicy)
        }

        /// Each field the store may refuse, as the flag and the value that gave it.
        var given: [String: String] {
            var flags = ["name": "--name '\(name)'", "kind": "--kind '\(kind)'"]
            if let cron { flags["cron"] = "--cron '\(cron)'" }
            if let every { flags["every"] = "--every '\(every)'" }
            if let tz { flags["timezone"] = "--tz '\(tz)'" }
            if let args { flags["args"] = "--args '\(args.prefix(80))'" }
            if let queue { flags["queue"] = "--queue '\(queue)'" }
            if let tenant { flags["tenant"] = "--tenant '\(tenant)'" }
            if let missedLimit { flags["missed_limit"] = "--missed-limit \(missedLimit)" }
            if let jitterMs { flags["jitter_ms"] = "--jitter-ms \(jitterMs)" }
            if let starts { flags["starts_at"] = "--starts '\(starts)'" }
            if let ends { flags["ends_at"] = "--ends '\(ends)'" }
            return flags
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Schedules by name: every one (the operator's first), or one tenant's.")
        @OptionGroup var common: CommonOptions
        @Option(help: "Tenant id: only this tenant's schedules.") var tenant: String?
        @Flag(help: "Print {\"schedules\": [...]} as JSON, as GET /v1/schedules answers.") var json = false

        func run() async throws {
            let tenant = self.tenant
            let schedules = try await withSchedules(common) { store, _, _ in try await store.list(tenantID: tenant) }
            if json {
                print(jsonText(JSONValue.object(["schedules": .array(schedules.map(\.json))])))
                return
            }
            if schedules.isEmpty { print("no schedules") }
            for schedule in schedules {
                let next = schedule.nextRunMs.map { CivilTime(unixMillis: $0).rfc3339 } ?? "-"
                print(
                    "\(schedule.id)  \(schedule.tenantID ?? "operator")  \(schedule.name)  \(ruleText(schedule))  \(schedule.kind)  next \(next)"
                        + (schedule.paused ? "  PAUSED" : ""))
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "A schedule: its rule, next and last run, the last job and its state, runs, skipped ticks and the last error.")
        @OptionGroup var common: CommonOptions
        @Argument(help: "Schedule id (sch_...).") var id: String
        @Flag(help: "Print JSON, as GET /v1/schedules/{id} answers.") var json = false

        func run() async throws {
            let id = self.id
            let (schedule, state) = try await withSchedules(common) {
                (store: ScheduleStore, _: Runtime, admin: QueueAdmin) async throws -> (Schedule, JobState?) in
                guard let schedule = try await store.find(id, tenantID: nil) else { throw SpoolCommandError("no schedule '\(id.prefix(64))'") }
                guard let job = schedule.lastJobID else { return (schedule, nil) }
                let states = try await admin.states(of: [(job, schedule.lastJobQueue ?? "default")])
                return (schedule, states.first)
            }
            if json {
                print(jsonText(schedule.detailJSON(lastJobState: state?.rawValue)))
                return
            }
            func time(_ ms: Int64?) -> String { ms.map { CivilTime(unixMillis: $0).rfc3339 } ?? "-" }
            print("\(schedule.id)  \(schedule.name)  \(schedule.paused ? "PAUSED" : "active")")
            let owner = schedule.tenantID.map { "tenant " + $0 } ?? "operator"
            print("  owner:      \(owner)  (from \(schedule.source.rawValue))")
            print("  rule:       \(ruleText(schedule))")
            print("  job:        \(schedule.kind) \(schedule.args)  queue \(schedule.queue ?? "(the kind's)")")
            print(
                "  policies:   missed \(schedule.missed.rawValue) (limit \(schedule.missedLimit)), overlap \(schedule.overlap.rawValue), jitter \(schedule.jitterMs) ms"
            )
            if schedule.startsMs != nil || schedule.endsMs != nil {
                print("  window:     \(time(schedule.startsMs)) to \(time(schedule.endsMs))")
            }
            print("  next run:   \(time(schedule.nextRunMs))")
            print("  last run:   \(time(schedule.lastRunMs))")
            let lastJob = schedule.lastJobID.map { job in "\(job) (\(state?.rawValue ?? "unknown"))" } ?? "-"
            print("  last job:   \(lastJob)")
            print("  runs:       \(schedule.runs)   skipped: \(schedule.skipped)")
            if let error = schedule.lastError { print("  last error: \(error)") }
        }
    }

    struct Pause: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Pause a schedule: no tick fires until it is resumed.")
        @OptionGroup var common: CommonOptions
        @Argument(help: "Schedule id (sch_...).") var id: String

        func run() async throws { try await setSchedulePaused(common, id: id, true) }
    }

    struct Resume: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Resume a schedule from its next tick after now (the ticks while it was paused are not fired).")
        @OptionGroup var common: CommonOptions
        @Argument(help: "Schedule id (sch_...).") var id: String

        func run() async throws { try await setSchedulePaused(common, id: id, false) }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a schedule; jobs it enqueued already run as they are.")
        @OptionGroup var common: CommonOptions
        @Argument(help: "Schedule id (sch_...).") var id: String

        func run() async throws {
            let id = self.id
            try await withSchedules(common) { store, _, _ in try await store.delete(id, tenantID: nil) }
            print("deleted \(id)")
        }
    }

    struct Preview: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The next fire times of a cron expression or an interval, in UTC (no database needed).",
            discussion: "--every counts from --from, as a schedule made then would. With --json, a JSON array of RFC 3339 UTC times.")
        @Option(help: "A cron expression, in quotes.") var cron: String?
        @Option(help: "An interval instead of --cron: 30s, 5m, 1h, 2h30m, 1d.") var every: String?
        @Option(help: "The IANA zone the cron expression is read in (default UTC).") var tz: String?
        @Option(help: "List the times after this one (ISO 8601 with an offset; default now).") var from: String?
        @Option(help: "How many (1 to \(ScheduleStore.maximumPreviewCount)).") var count = 10
        @Flag(help: "Print a JSON array of times.") var json = false

        func run() async throws {
            if cron == nil && every == nil { throw ValidationError("give --cron EXPRESSION or --every DURATION") }
            if cron != nil && every != nil { throw ValidationError("--cron and --every: give one or the other") }
            guard (1...ScheduleStore.maximumPreviewCount).contains(count) else {
                throw ValidationError("--count \(count): expected 1 to \(ScheduleStore.maximumPreviewCount)")
            }
            var fromMs = SystemClock().nowMillis()
            if let from { fromMs = try scheduleTime(from, flag: "--from") }
            var given: [String: String] = [:]
            if let cron { given["cron"] = "--cron '\(cron)'" }
            if let every { given["every"] = "--every '\(every)'" }
            if let tz { given["timezone"] = "--tz '\(tz)'" }
            let times: [Int64]
            do {
                times = try ScheduleStore.preview(cron: cron, every: every, timezone: tz, fromMs: fromMs, count: count)
            } catch let error as ScheduleStoreError {
                throw scheduleRefusal(error, given: given)
            }
            if json {
                print(jsonText(times.map { CivilTime(unixMillis: $0).rfc3339 }))
                return
            }
            let zoneName = tz ?? "UTC"
            let zone = ZoneInfo.named(zoneName)
            let weekdays = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
            for ms in times {
                let offsetMs = Int64(zone?.offset(at: ms / 1000) ?? 0) * 1000
                let local = CivilTime(unixMillis: ms + offsetMs)
                let wall =
                    "\(weekdays[local.weekday]) \(CivilTime.pad(local.year, 4))-\(CivilTime.pad(local.month))-\(CivilTime.pad(local.day)) "
                    + "\(CivilTime.pad(local.hour)):\(CivilTime.pad(local.minute)):\(CivilTime.pad(local.second))"
                print("\(CivilTime(unixMillis: ms).rfc3339)  \(wall) \(zoneName)")
            }
            if times.count < count {
                printError("only \(times.count) fire times: the expression has none within 5 years of the last")
            }
        }
    }

    struct Reconcile: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Bring the static schedules file into PostgreSQL now: add, change and remove the file's schedules.",
            discussion:
                "Processes that fire schedules do this at start. The file is the schedules_file setting (config/schedules.json, SPOOL_SCHEDULES_FILE) unless --file names another. A bad schedule changes nothing and names the file, the schedule and the field."
        )
        @OptionGroup var common: CommonOptions
        @Option(help: "The file (default: the schedules_file setting).") var file: String?

        func run() async throws {
            let runtime = try Runtime.load(common)
            let pool = try runtime.postgres(size: 1)
            defer { pool.close() }
            let redis = runtime.redis(name: "schedules")
            defer { redis.close() }
            try await Migrator(pool: pool).migrate()
            let enqueuer = Enqueuer(redis: redis, catalog: runtime.catalog, keys: runtime.settings.keys)
            guard let counts = try await runtime.reconcileSchedules(pool: pool, enqueuer: enqueuer, path: file) else {
                print("no static schedules: \(runtime.settings.schedulesFile) does not exist")
                return
            }
            print("\(file ?? runtime.settings.schedulesFile): \(counts.added) added, \(counts.changed) changed, \(counts.removed) removed")
        }
    }
}

extension Runtime {
    /// Brings the static schedules into PostgreSQL (`ScheduleStore.reconcile`), as a process that fires
    /// schedules does at start. `path` nil is the `schedules_file` setting, whose default file may be
    /// missing: nil then, nothing to do. A bad file is an error naming it, the schedule and the field.
    func reconcileSchedules(
        pool: PostgresPool, enqueuer: Enqueuer, path: String? = nil
    ) async throws -> (added: Int, changed: Int, removed: Int)? {
        let file = path ?? settings.schedulesFile
        if path == nil, settings.schedulesFileIsDefault, !FileManager.default.fileExists(atPath: file) { return nil }
        let store = ScheduleStore(pool: pool, enqueuer: enqueuer)
        do {
            let counts = try await store.reconcile(file: file, declaredQueues: Set(catalog.queues).union(settings.queueWeights.keys))
            logger.info(
                "static schedules reconciled",
                metadata: ["file": "\(file)", "added": "\(counts.added)", "changed": "\(counts.changed)", "removed": "\(counts.removed)"])
            return counts
        } catch let error as ScheduleFileError {
            throw SpoolCommandError("schedules not loaded: \(error)")
        }
    }

    /// A queue a schedule names must be one some kind declares or the config weighs, as the API requires.
    func checkScheduleQueue(_ queue: String) throws {
        guard catalog.queues.contains(queue) || settings.queueWeights[queue] != nil else {
            throw ValidationError(
                "--queue '\(queue.prefix(64))': not a queue of any kind in \(settings.jobsDirectory)/ (known: \(catalog.queues.joined(separator: ", ")))"
            )
        }
    }
}

/// `cron 0 9 * * * (Europe/London)` or `every 5m`.
private func ruleText(_ schedule: Schedule) -> String {
    (try? schedule.spec())?.description ?? (schedule.cron.map { "cron \($0)" } ?? "every \((schedule.everyMs ?? 0) / 1000)s")
}

/// An ISO 8601 time given to `flag`, as unix milliseconds; a mistake names the flag and the value.
private func scheduleTime(_ text: String, flag: String) throws -> Int64 {
    do {
        return try CivilTime.unixMillis(iso8601: text)
    } catch {
        throw ValidationError("\(flag) '\(text.prefix(60))': \(error); expected \(CivilTime.iso8601Form)")
    }
}

/// A store refusal as the command line says it: the flag and the value at fault, then what is wrong
/// (`--cron '0 25 * * *': hour: 25 is out of range 0-23 (column 3 of "0 25 * * *")`).
private func scheduleRefusal(_ error: ScheduleStoreError, given: [String: String]) -> SpoolCommandError {
    guard case .invalid(let field, let message) = error else { return SpoolCommandError(error.description) }
    // The kind's checks name an argument as args.<name>; the flag is --args.
    let key = field.hasPrefix("args") ? "args" : field
    let flag = given[key] ?? "--" + String(key.map { $0 == "_" ? "-" : $0 })
    return SpoolCommandError("\(flag): \(key == field ? "" : "\(field): ")\(message)")
}

private func setSchedulePaused(_ common: CommonOptions, id: String, _ paused: Bool) async throws {
    let schedule = try await withSchedules(common) { store, _, _ in try await store.setPaused(id, tenantID: nil, paused: paused) }
    let next = schedule.nextRunMs.map { ", next run " + CivilTime(unixMillis: $0).rfc3339 } ?? ""
    print(schedule.id + (paused ? ": paused" : ": resumed" + next))
}

/// Runs `body` with a ScheduleStore on DATABASE_URL (migrated first, as the other PostgreSQL commands do),
/// the runtime and a QueueAdmin; the store checks kinds as an enqueue would, and only `show` reaches
/// Redis. Refusals come out naming the flag (`given`: field → flag and value).
@discardableResult
private func withSchedules<T: Sendable>(
    _ common: CommonOptions, given: [String: String] = [:], _ body: (ScheduleStore, Runtime, QueueAdmin) async throws -> T
) async throws -> T {
    let runtime = try Runtime.load(common)
    let pool = try runtime.postgres(size: 1)
    defer { pool.close() }
    let redis = runtime.redis(name: "schedules")
    defer { redis.close() }
    try await Migrator(pool: pool).migrate()
    let store = ScheduleStore(pool: pool, enqueuer: Enqueuer(redis: redis, catalog: runtime.catalog, keys: runtime.settings.keys))
    do {
        return try await body(store, runtime, runtime.admin(redis))
    } catch let error as ScheduleStoreError {
        throw scheduleRefusal(error, given: given)
    }
}
