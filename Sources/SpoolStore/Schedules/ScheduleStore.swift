import SpoolPostgres
import SpoolQueue
import SpoolSupport

/// What a producer asks for when it makes a schedule (`spool schedule create`, `POST /v1/schedules`,
/// a schedule of `config/schedules.json`).
public struct ScheduleRequest: Sendable, Equatable {
    public var name: String
    public var kind: String
    /// JSON text of an object; checked against the kind's arguments like any enqueue.
    public var args: String
    public var queue: String?
    /// Exactly one of `cron` and `every` (`30s`, `5m`, `1h`).
    public var cron: String?
    public var every: String?
    /// An IANA zone; nil: the tenant's, else UTC.
    public var timezone: String?
    public var startsMs: Int64?
    public var endsMs: Int64?
    public var jitterMs: Int
    public var missed: MissedTicks
    public var missedLimit: Int
    public var overlap: OverlapPolicy

    public init(
        name: String, kind: String, args: String = "{}", queue: String? = nil, cron: String? = nil, every: String? = nil,
        timezone: String? = nil, startsMs: Int64? = nil, endsMs: Int64? = nil, jitterMs: Int = 0, missed: MissedTicks = .skip,
        missedLimit: Int = 100, overlap: OverlapPolicy = .allow
    ) {
        self.name = name
        self.kind = kind
        self.args = args
        self.queue = queue
        self.cron = cron
        self.every = every
        self.timezone = timezone
        self.startsMs = startsMs
        self.endsMs = endsMs
        self.jitterMs = jitterMs
        self.missed = missed
        self.missedLimit = missedLimit
        self.overlap = overlap
    }
}

/// Why a schedule request was refused; `field` names what is wrong.
public enum ScheduleStoreError: Error, Sendable, Equatable, CustomStringConvertible {
    case invalid(field: String, message: String)
    /// The owner has a schedule of that name.
    case conflict(message: String)
    case notFound(message: String)

    public var description: String {
        switch self {
        case .invalid(let field, let message): "\(field): \(message)"
        case .conflict(let message), .notFound(let message): message
        }
    }
}

/// Schedules in PostgreSQL: made, listed, shown, paused, resumed and deleted, each scoped to its owner
/// (a tenant's key sees its own; the operator, with `tenantID` nil, every one). The ticks themselves
/// are fired by `ScheduleTicker`.
public struct ScheduleStore: Sendable {
    let pool: PostgresPool
    let enqueuer: Enqueuer
    let clock: any WallClock

    public init(pool: PostgresPool, enqueuer: Enqueuer, clock: any WallClock = SystemClock()) {
        self.pool = pool
        self.enqueuer = enqueuer
        self.clock = clock
    }

    /// Checks `request` as `owner` would make it and stores it, its first tick computed. `tenantID`
    /// nil is the operator's schedule; `producer` is who its jobs are enqueued as.
    public func create(
        _ request: ScheduleRequest, tenantID: String?, producer: Schedule.Producer, source: Schedule.Source = .api
    ) async throws -> Schedule {
        let checked = try await check(request, tenantID: tenantID, producer: producer)
        let id = Self.makeID(now: clock.nowMillis())
        do {
            return try await pool.withConnection { connection in
                try Self.insert(checked, id: id, tenantID: tenantID, producer: producer, source: source, connection)
            }
        } catch let error as PostgresError where error.sqlState == "23505" {
            throw ScheduleStoreError.conflict(message: "name: a schedule named '\(request.name.prefix(80))' exists already")
        }
    }

    /// A new schedule's id: `sch_` and a lowercase ULID.
    static func makeID(now: Int64) -> String { "sch_" + JobID.make(now: now).lowercased() }

    /// The request with everything checked and the first tick computed.
    public struct Checked: Sendable {
        public let request: ScheduleRequest
        public let spec: ScheduleSpec
        public let nextRunMs: Int64?
    }

    /// Checks `request` as `create` does, storing nothing (a dry run, and the bench's bulk insert).
    public func check(_ request: ScheduleRequest, tenantID: String?, producer: Schedule.Producer) async throws -> Checked {
        let name = request.name
        // Counted as PostgreSQL's length() counts them (code points), so that its CHECK never refuses what passed here.
        guard (1...200).contains(name.unicodeScalars.count),
            !name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control })
        else {
            throw ScheduleStoreError.invalid(field: "name", message: "must be 1-200 characters without control characters")
        }
        var zone = request.timezone
        if let tenantID {
            // The tenant must exist (its jobs carry it); with no zone given, the schedule reads the tenant's.
            let found = try await pool.withConnection { try $0.query("SELECT timezone FROM tenants WHERE id = $1", [tenantID]).first }
            guard let tenant = found else {
                throw ScheduleStoreError.invalid(field: "tenant", message: "no tenant '\(tenantID.prefix(64))'")
            }
            if zone == nil { zone = try tenant.string("timezone") }
        }
        let now = clock.nowMillis()
        let spec: ScheduleSpec
        do {
            switch (request.cron, request.every) {
            case (let cron?, nil):
                spec = try ScheduleSpec(cron: cron, zoneName: zone ?? "UTC")
            case (nil, let every?):
                let interval = try ScheduleInterval(parsing: every)
                spec = try ScheduleSpec(.every(interval), zoneName: zone ?? "UTC", anchorMs: request.startsMs ?? now + interval.milliseconds)
            default:
                throw ScheduleStoreError.invalid(field: "cron", message: "give exactly one of cron (an expression) and every (30s, 5m, 1h)")
            }
        } catch let error as ScheduleError {
            let field = error.field == "zone" ? "timezone" : (request.cron != nil ? "cron" : "every")
            throw ScheduleStoreError.invalid(field: field, message: error.description)
        }
        if let starts = request.startsMs, let ends = request.endsMs, ends <= starts {
            throw ScheduleStoreError.invalid(field: "ends_at", message: "must be after starts_at")
        }
        guard (0...3_600_000).contains(request.jitterMs) else {
            throw ScheduleStoreError.invalid(field: "jitter_ms", message: "must be 0 to 3600000, got \(request.jitterMs)")
        }
        guard (1...10_000).contains(request.missedLimit) else {
            throw ScheduleStoreError.invalid(field: "missed_limit", message: "must be 1 to 10000, got \(request.missedLimit)")
        }
        // The kind's own checks, as its jobs will be enqueued at every tick.
        var job = EnqueueRequest(kind: request.kind, args: request.args, queue: request.queue, tenant: tenantID)
        job.producer = producer.enqueueProducer
        do { try enqueuer.validate(job) } catch {
            throw ScheduleStoreError.invalid(field: error.field, message: error.message)
        }
        let from = max(now, (request.startsMs ?? now) - 1)
        var next = spec.next(after: from, count: 1).first
        if let ends = request.endsMs, let tick = next, tick > ends { next = nil }
        return Checked(request: request, spec: spec, nextRunMs: next)
    }

    static func insert(
        _ checked: Checked, id: String, tenantID: String?, producer: Schedule.Producer, source: Schedule.Source,
        _ connection: PostgresConnection
    ) throws -> Schedule {
        let request = checked.request
        let everyMs: Int64? =
            switch checked.spec.rule {
            case .every(let interval): interval.milliseconds
            case .cron: nil
            }
        let row = try connection.query(
            """
            INSERT INTO schedules (id, tenant_id, name, source, producer, kind, args, queue, cron, every_ms, timezone, anchor_ms, starts_ms,
                                   ends_ms, jitter_ms, missed, missed_limit, overlap, next_run_ms)
            VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)
            RETURNING \(Schedule.columns)
            """,
            [
                id, tenantID, request.name, source.rawValue, producer.rawValue, request.kind, request.args, request.queue,
                everyMs == nil ? request.cron : nil, everyMs, checked.spec.zoneName, checked.spec.anchorMs, request.startsMs,
                request.endsMs, request.jitterMs, request.missed.rawValue, request.missedLimit, request.overlap.rawValue,
                checked.nextRunMs,
            ])
        return try Schedule(row.first!)
    }

    /// The owner's schedules by name; the operator's `tenantID` nil lists every one.
    public func list(tenantID: String?, limit: Int = 500) async throws -> [Schedule] {
        try await pool.withConnection { connection in
            try connection.query(
                """
                SELECT \(Schedule.columns) FROM schedules WHERE ($1::text IS NULL OR tenant_id = $1)
                ORDER BY tenant_id NULLS FIRST, name LIMIT $2
                """, [tenantID, limit]
            ).rows.map(Schedule.init)
        }
    }

    /// The schedule, when `tenantID` may see it (nil: the operator sees every one).
    public func find(_ id: String, tenantID: String?) async throws -> Schedule? {
        try await pool.withConnection { connection in
            try connection.query(
                "SELECT \(Schedule.columns) FROM schedules WHERE id = $1 AND ($2::text IS NULL OR tenant_id = $2)", [id, tenantID]
            ).first.map(Schedule.init)
        }
    }

    /// Pauses (no tick fires) or resumes it. Resuming carries on from the next tick after now: the
    /// ticks while paused are not missed ticks, they were asked not to fire.
    @discardableResult
    public func setPaused(_ id: String, tenantID: String?, paused: Bool) async throws -> Schedule {
        guard let schedule = try await find(id, tenantID: tenantID) else { throw ScheduleStoreError.notFound(message: "no schedule \(id.prefix(64))") }
        var next = schedule.nextRunMs
        if !paused {
            let spec = try schedule.spec()
            let from = max(clock.nowMillis(), (schedule.startsMs ?? 0) - 1)
            next = spec.next(after: from, count: 1).first
            if let ends = schedule.endsMs, let tick = next, tick > ends { next = nil }
        }
        let nextRun = next
        return try await pool.withConnection { connection in
            guard
                let row = try connection.query(
                    """
                    UPDATE schedules SET paused = $2, next_run_ms = $3, updated_at = now() WHERE id = $1
                    RETURNING \(Schedule.columns)
                    """, [id, paused, nextRun]
                ).first
            else { throw ScheduleStoreError.notFound(message: "no schedule \(id.prefix(64))") }
            return try Schedule(row)
        }
    }

    /// Spool's own schedules (source `builtin`, the operator's): `retention` every night at 03:17 UTC,
    /// which prunes the append-only tables. Made when missing; an operator may pause it, and that stays.
    public func ensureBuiltins() async throws {
        let exists = try await pool.withConnection { connection in
            try connection.query("SELECT 1 FROM schedules WHERE tenant_id IS NULL AND name = 'retention'").first != nil
        }
        guard !exists else { return }
        do {
            _ = try await create(
                ScheduleRequest(name: "retention", kind: "retention", cron: "17 3 * * *", timezone: "UTC"), tenantID: nil,
                producer: .spool, source: .builtin)
        } catch ScheduleStoreError.conflict {
            // Another scheduler made it at the same moment.
        }
    }

    /// Deletes it; jobs already enqueued run as they are.
    public func delete(_ id: String, tenantID: String?) async throws {
        let deleted = try await pool.withConnection { connection in
            try connection.query("DELETE FROM schedules WHERE id = $1 AND ($2::text IS NULL OR tenant_id = $2) RETURNING id", [id, tenantID]).first
        }
        if deleted == nil { throw ScheduleStoreError.notFound(message: "no schedule \(id.prefix(64))") }
    }
}

extension ScheduleStore {
    /// The most fire times a preview lists.
    public static let maximumPreviewCount = 1000

    /// The next `count` fire times strictly after `fromMs` of a rule, as a schedule made now with it would
    /// fire (`every` counts from `fromMs`, as a new schedule counts from its creation): `spool schedule
    /// preview` and `GET /v1/schedules/preview`. Fewer when a cron expression has none left within 5
    /// years of the last. Refusals name the field: `cron`, `every`, `timezone` (UTC when nil) or `count`.
    public static func preview(cron: String?, every: String?, timezone: String?, fromMs: Int64, count: Int) throws -> [Int64] {
        guard (1...maximumPreviewCount).contains(count) else {
            throw ScheduleStoreError.invalid(field: "count", message: "must be 1 to \(maximumPreviewCount), got \(count)")
        }
        let zoneName = timezone ?? "UTC"
        let spec: ScheduleSpec
        do {
            switch (cron, every) {
            case (let cron?, nil):
                spec = try ScheduleSpec(cron: cron, zoneName: zoneName)
            case (nil, let every?):
                let interval = try ScheduleInterval(parsing: every)
                let (anchor, overflow) = fromMs.addingReportingOverflow(interval.milliseconds)
                spec = try ScheduleSpec(.every(interval), zoneName: zoneName, anchorMs: overflow ? Int64.max : anchor)
            default:
                throw ScheduleStoreError.invalid(field: "cron", message: "give exactly one of cron (an expression) and every (30s, 5m, 1h)")
            }
        } catch let error as ScheduleError {
            let field = error.field == "zone" ? "timezone" : (cron != nil ? "cron" : "every")
            throw ScheduleStoreError.invalid(field: field, message: error.description)
        }
        return spec.next(after: fromMs, count: count)
    }
}

extension Schedule.Producer {
    var enqueueProducer: EnqueueRequest.Producer {
        switch self {
        case .tenant: .tenant
        case .operator: .operator
        case .spool: .spool
        }
    }
}
