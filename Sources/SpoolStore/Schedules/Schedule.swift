import SpoolPostgres
import SpoolSupport

/// What to do with ticks that passed while no scheduler ran (a deploy, an outage).
public enum MissedTicks: String, Sendable, Codable, CaseIterable {
    /// Fire none of them (counted as skipped), carry on from the next tick.
    case skip
    /// Fire once for all of them (the latest), then carry on.
    case one
    /// Fire each of them, at most `missed_limit`.
    case all
}

/// What to do with a tick while this schedule's previous job is still pending or running.
public enum OverlapPolicy: String, Sendable, Codable, CaseIterable {
    case allow
    /// Skip the tick (counted), so that a slow job never piles up behind itself.
    case skip
}

/// One recurring schedule, as stored (`schedules`, migration 0014). Times are unix milliseconds.
public struct Schedule: Sendable, Equatable {
    public enum Source: String, Sendable { case api, config, builtin }
    public enum Producer: String, Sendable { case tenant, `operator`, spool }

    public var id: String
    /// nil: the operator's.
    public var tenantID: String?
    public var name: String
    public var source: Source
    public var producer: Producer
    public var kind: String
    /// JSON text of an object that fits the kind's arguments.
    public var args: String
    public var queue: String?
    /// Exactly one of `cron` and `everyMs`.
    public var cron: String?
    public var everyMs: Int64?
    public var timezone: String
    public var anchorMs: Int64
    public var startsMs: Int64?
    public var endsMs: Int64?
    public var jitterMs: Int
    public var missed: MissedTicks
    public var missedLimit: Int
    public var overlap: OverlapPolicy
    public var paused: Bool
    public var nextRunMs: Int64?
    public var lastRunMs: Int64?
    public var lastJobID: String?
    public var lastJobQueue: String?
    public var lastError: String?
    public var runs: Int
    public var skipped: Int

    /// The rule and zone as `ScheduleSpec` computes fire times from them.
    public func spec() throws(ScheduleError) -> ScheduleSpec {
        if let cron { return try ScheduleSpec(cron: cron, zoneName: timezone, anchorMs: anchorMs) }
        return try ScheduleSpec(.every(ScheduleInterval(seconds: (everyMs ?? 1000) / 1000)), zoneName: timezone, anchorMs: anchorMs)
    }

    /// The idempotency key of the job for the tick at `tickMs`: the tick is part of the job's identity.
    public func jobKey(tickMs: Int64) -> String { "schedule:\(id):\(tickMs)" }

    static let columns = """
        id, tenant_id, name, source, producer, kind, args::text AS args, queue, cron, every_ms, timezone, anchor_ms, starts_ms, ends_ms,
        jitter_ms, missed, missed_limit, overlap, paused, next_run_ms, last_run_ms, last_job_id, last_job_queue, last_error, runs, skipped
        """

    init(_ row: PostgresRow) throws {
        id = try row.string("id")!
        tenantID = try row.string("tenant_id")
        name = try row.string("name")!
        source = try row.enumeration("source", Source.self)!
        producer = try row.enumeration("producer", Producer.self)!
        kind = try row.string("kind")!
        args = try row.string("args") ?? "{}"
        queue = try row.string("queue")
        cron = try row.string("cron")
        everyMs = try row.int("every_ms").map(Int64.init)
        timezone = try row.string("timezone")!
        anchorMs = Int64(try row.int("anchor_ms")!)
        startsMs = try row.int("starts_ms").map(Int64.init)
        endsMs = try row.int("ends_ms").map(Int64.init)
        jitterMs = try row.int("jitter_ms")!
        missed = try row.enumeration("missed", MissedTicks.self)!
        missedLimit = try row.int("missed_limit")!
        overlap = try row.enumeration("overlap", OverlapPolicy.self)!
        paused = try row.bool("paused")!
        nextRunMs = try row.int("next_run_ms").map(Int64.init)
        lastRunMs = try row.int("last_run_ms").map(Int64.init)
        lastJobID = try row.string("last_job_id")
        lastJobQueue = try row.string("last_job_queue")
        lastError = try row.string("last_error")
        runs = try row.int("runs")!
        skipped = try row.int("skipped")!
    }

    /// The API's and `spool schedule show --json`'s shape; times as ISO 8601 UTC.
    public var json: JSONValue {
        func time(_ ms: Int64?) -> JSONValue { ms.map { .string(CivilTime(unixMillis: $0).rfc3339) } ?? .null }
        func text(_ value: String?) -> JSONValue { value.map(JSONValue.string) ?? .null }
        return .object([
            "id": .string(id), "tenant": text(tenantID), "name": .string(name), "source": .string(source.rawValue),
            "kind": .string(kind), "args": (try? JSONValue.parse(args)) ?? .object([:]), "queue": text(queue),
            "cron": text(cron), "every": everyMs.map { .string((try? ScheduleInterval(seconds: $0 / 1000))?.description ?? "\($0 / 1000)s") } ?? .null,
            "timezone": .string(timezone), "starts_at": time(startsMs), "ends_at": time(endsMs), "jitter_ms": .number(Double(jitterMs)),
            "missed": .string(missed.rawValue), "missed_limit": .number(Double(missedLimit)), "overlap": .string(overlap.rawValue),
            "paused": .bool(paused), "next_run_at": time(nextRunMs), "last_run_at": time(lastRunMs), "last_job_id": text(lastJobID),
            "last_error": text(lastError), "runs": .number(Double(runs)), "skipped": .number(Double(skipped)),
        ])
    }

    /// `json` with `last_job_state`, the state of the last job it enqueued (`QueueAdmin.states(of:)`'s
    /// word, `unknown` once the job's record has expired; nil: it has enqueued none): `GET
    /// /v1/schedules/{id}` and `spool schedule show --json`.
    public func detailJSON(lastJobState: String?) -> JSONValue {
        let shape = self.json
        guard case .object(var fields) = shape else { return shape }
        fields["last_job_state"] = lastJobState.map(JSONValue.string) ?? .null
        return .object(fields)
    }
}
