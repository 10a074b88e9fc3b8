import FoundationEssentials
import SpoolPostgres
import SpoolQueue
import SpoolSupport

/// Why the static schedules file (`schedules_file`, `config/schedules.json` by default) was refused: the
/// file, the schedule (its name, and its index in the list) and the field, as
/// `config/schedules.json: schedule 'nightly' (index 2): cron: hour: 25 is out of range 0-23 (column 3 of "0 25 * * *")`.
/// Nothing was changed.
public struct ScheduleFileError: Error, Sendable, Equatable, CustomStringConvertible {
    public let path: String
    /// The schedule's name, when it has one.
    public let name: String?
    /// The schedule's index in `schedules`, counting from 0; nil when the fault is the file's as a whole.
    public let index: Int?
    /// The field at fault (`cron`, `kind`, `args.sleep_ms` ...); nil when it is the schedule or the file as a whole.
    public let field: String?
    public let message: String

    public init(path: String, name: String? = nil, index: Int? = nil, field: String? = nil, message: String) {
        self.path = path
        self.name = name
        self.index = index
        self.field = field
        self.message = message
    }

    public var description: String {
        var text = path + ": "
        if let index {
            text += name.map { "schedule '\($0.prefix(80))' (index \(index)): " } ?? "schedule at index \(index): "
        }
        if let field { text += "\(field): " }
        return text + message
    }
}

/// The static schedules: `{"schedules": [{"name", "cron" | "every", "timezone"?, "kind", "args"?, "queue"?,
/// "missed"?, "missed_limit"?, "overlap"?, "jitter_ms"?}]}`, the operator's, reconciled into PostgreSQL
/// when Spool starts (see docs/schedules.md).
extension ScheduleStore {
    static let fileFields: Set<String> = [
        "name", "cron", "every", "timezone", "kind", "args", "queue", "missed", "missed_limit", "overlap", "jitter_ms",
    ]
    /// Held for the length of a reconcile's transaction: processes starting together reconcile one after
    /// the other, and the later one finds nothing left to do.
    static let reconcileLockKey = 7_465_626_373

    /// Brings the operator's schedules of source `config` in line with the file at `path`, matched by
    /// name: a schedule new to the file is made, a changed one updated (its runs, skipped ticks, last run
    /// and paused flag kept; its next tick computed again when its rule changed: cron, every, or a cron
    /// expression's time zone), and one no longer in the file deleted. Every schedule is checked as
    /// `create` checks one, with the operator as producer, before anything is written, and all is written
    /// in one transaction: a `ScheduleFileError` (or any failure) changes nothing. `declaredQueues`, when
    /// given, are the queues a schedule may name.
    public func reconcile(file path: String, declaredQueues: Set<String>? = nil) async throws -> (added: Int, changed: Int, removed: Int) {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ScheduleFileError(path: path, message: "cannot be read (it does not exist, or is not readable)")
        }
        let requests = try Self.requests(inFile: String(decoding: data, as: UTF8.self), path: path)
        var checked: [Checked] = []
        for (index, request) in requests.enumerated() {
            if let queue = request.queue, let declaredQueues, !declaredQueues.contains(queue) {
                throw ScheduleFileError(
                    path: path, name: request.name, index: index, field: "queue",
                    message: "'\(queue.prefix(64))' is not a declared queue; declared: \(declaredQueues.sorted().joined(separator: ", "))")
            }
            do {
                let item = try await check(request, tenantID: nil, producer: .operator)
                checked.append(item)
            } catch ScheduleStoreError.invalid(let field, let message) {
                throw ScheduleFileError(path: path, name: request.name, index: index, field: field, message: message)
            }
        }
        let now = clock.nowMillis()
        let ids = checked.map { _ in "sch_" + JobID.make(now: now).lowercased() }
        let items = checked
        return try await pool.transaction { connection in
            try Self.apply(items, ids: ids, path: path, connection)
        }
    }

    /// The schedules `text` (the file at `path`) lists, as requests in the file's order. Every refusal is
    /// a `ScheduleFileError` naming the file, the schedule and the field; names must be unique.
    public static func requests(inFile text: String, path: String) throws -> [ScheduleRequest] {
        let document: JSONValue
        do { document = try JSONValue.parse(text) } catch { throw ScheduleFileError(path: path, message: "not JSON: \(error)") }
        guard let top = document.objectValue else {
            throw ScheduleFileError(path: path, message: "expected an object {\"schedules\": [...]}, got \(document.typeName)")
        }
        if let unknown = top.keys.sorted().first(where: { $0 != "schedules" && $0 != "description" }) {
            throw ScheduleFileError(path: path, field: unknown, message: "unknown field; the file has schedules (and a description)")
        }
        guard let list = top["schedules"] else { throw ScheduleFileError(path: path, field: "schedules", message: "required, a list") }
        guard let items = list.arrayValue else {
            throw ScheduleFileError(path: path, field: "schedules", message: "expected a list, got \(list.typeName)")
        }
        var requests: [ScheduleRequest] = []
        var seen: [String: Int] = [:]
        for (index, item) in items.enumerated() {
            guard let fields = item.objectValue else {
                throw ScheduleFileError(path: path, index: index, message: "expected an object, got \(item.typeName)")
            }
            let givenName = fields["name"]?.stringValue
            func failure(_ field: String, _ message: String) -> ScheduleFileError {
                ScheduleFileError(path: path, name: givenName, index: index, field: field, message: message)
            }
            if let unknown = fields.keys.sorted().first(where: { !fileFields.contains($0) }) {
                throw failure(unknown, "unknown field; known fields: \(fileFields.sorted().joined(separator: ", "))")
            }
            func string(_ field: String) throws -> String? {
                guard let value = fields[field], value != .null else { return nil }
                guard let text = value.stringValue else { throw failure(field, "expected a string, got \(value.typeName)") }
                return text
            }
            func integer(_ field: String) throws -> Int? {
                guard let value = fields[field], value != .null else { return nil }
                guard let number = value.intValue else { throw failure(field, "expected an integer, got \(value.text.prefix(40))") }
                return number
            }
            guard let name = givenName else {
                throw failure("name", fields["name"] == nil ? "required, a string" : "expected a string, got \(fields["name"]!.typeName)")
            }
            if let first = seen[name] { throw failure("name", "the schedule at index \(first) has this name already; names must be unique") }
            seen[name] = index
            guard let kind = try string("kind") else { throw failure("kind", "required, a string") }
            let cron = try string("cron")
            let every = try string("every")
            if cron != nil && every != nil { throw failure("every", "give cron or every, not both") }
            if cron == nil && every == nil { throw failure("cron", "required: a cron expression, or every (30s, 5m, 1h) instead") }
            var args = "{}"
            if let value = fields["args"], value != .null {
                guard value.objectValue != nil else { throw failure("args", "expected an object, got \(value.typeName)") }
                args = value.text
            }
            var missed = MissedTicks.skip
            if let word = try string("missed") {
                guard let value = MissedTicks(rawValue: word) else { throw failure("missed", "'\(word.prefix(40))' is not skip, one or all") }
                missed = value
            }
            var overlap = OverlapPolicy.allow
            if let word = try string("overlap") {
                guard let value = OverlapPolicy(rawValue: word) else { throw failure("overlap", "'\(word.prefix(40))' is not allow or skip") }
                overlap = value
            }
            requests.append(
                ScheduleRequest(
                    name: name, kind: kind, args: args, queue: try string("queue"), cron: cron, every: every,
                    timezone: try string("timezone"), jitterMs: try integer("jitter_ms") ?? 0, missed: missed,
                    missedLimit: try integer("missed_limit") ?? 100, overlap: overlap))
        }
        return requests
    }

    /// Writes a reconcile, in its transaction: the file's schedules were all checked; the names the
    /// operator's other schedules hold are checked here, under the lock.
    static func apply(
        _ items: [Checked], ids: [String], path: String, _ connection: PostgresConnection
    ) throws -> (added: Int, changed: Int, removed: Int) {
        try connection.query("SELECT pg_advisory_xact_lock($1)", [reconcileLockKey])
        let existing = try connection.query(
            "SELECT \(Schedule.columns) FROM schedules WHERE tenant_id IS NULL AND source = 'config' FOR UPDATE"
        ).rows.map(Schedule.init)
        var byName: [String: Schedule] = [:]
        for schedule in existing { byName[schedule.name] = schedule }
        let names = items.map(\.request.name)
        let taken = Set(
            try connection.query(
                "SELECT name FROM schedules WHERE tenant_id IS NULL AND source <> 'config' AND name = ANY($1::text[])",
                [PostgresArray(names)]
            ).rows.compactMap { $0["name"] })
        if let index = names.firstIndex(where: { taken.contains($0) }) {
            throw ScheduleFileError(
                path: path, name: names[index], index: index, field: "name",
                message: "the operator has a schedule of this name made with the API or the CLI; rename one of them")
        }
        var added = 0, changed = 0
        for (index, item) in items.enumerated() {
            if let schedule = byName[item.request.name] {
                if try update(schedule, to: item, connection) { changed += 1 }
            } else {
                _ = try insert(item, id: ids[index], tenantID: nil, producer: .operator, source: .config, connection)
                added += 1
            }
        }
        let kept = Set(names)
        let gone = existing.filter { !kept.contains($0.name) }.map(\.id)
        if !gone.isEmpty {
            try connection.query("DELETE FROM schedules WHERE id = ANY($1::text[])", [PostgresArray(gone)])
        }
        return (added, changed, gone.count)
    }

    /// Brings one stored schedule in line with its checked entry; false when nothing differs. A changed
    /// rule starts over from its next tick (an `every` from now), and drops a scheduler's claim on it, so
    /// that a pass still firing the old rule's ticks does not write the old rule's next tick back.
    static func update(_ schedule: Schedule, to item: Checked, _ connection: PostgresConnection) throws -> Bool {
        let request = item.request
        var everyMs: Int64?
        if case .every(let interval) = item.spec.rule { everyMs = interval.milliseconds }
        let cron = everyMs == nil ? request.cron : nil
        let zone = item.spec.zoneName
        // An interval is real time: its zone is for display only and does not move its ticks.
        let ruleChanged = schedule.cron != cron || schedule.everyMs != everyMs || (cron != nil && schedule.timezone != zone)
        let argsChanged = (try? JSONValue.parse(schedule.args)) != (try? JSONValue.parse(request.args))
        let changed =
            ruleChanged || argsChanged || schedule.timezone != zone || schedule.kind != request.kind || schedule.queue != request.queue
            || schedule.jitterMs != request.jitterMs || schedule.missed != request.missed || schedule.missedLimit != request.missedLimit
            || schedule.overlap != request.overlap
        guard changed else { return false }
        try connection.query(
            """
            UPDATE schedules SET kind = $2, args = $3::jsonb, queue = $4, jitter_ms = $5, missed = $6, missed_limit = $7, overlap = $8,
                   timezone = $9,
                   cron = CASE WHEN $10 THEN $11 ELSE cron END,
                   every_ms = CASE WHEN $10 THEN $12::bigint ELSE every_ms END,
                   anchor_ms = CASE WHEN $10 THEN $13::bigint ELSE anchor_ms END,
                   next_run_ms = CASE WHEN $10 THEN $14::bigint ELSE next_run_ms END,
                   claimed_until = CASE WHEN $10 THEN NULL ELSE claimed_until END,
                   updated_at = now()
            WHERE id = $1
            """,
            [
                schedule.id, request.kind, request.args, request.queue, request.jitterMs, request.missed.rawValue, request.missedLimit,
                request.overlap.rawValue, zone, ruleChanged, cron, everyMs, item.spec.anchorMs, item.nextRunMs,
            ])
        return true
    }
}
