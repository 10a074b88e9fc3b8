import SpoolRedis
import SpoolSupport

/// One limiter as `spool stats`, `spool limits show`, `GET /v1/limits` and `/metrics` show it.
public struct LimiterState: Sendable, Codable, Equatable {
    public var key: String
    /// The declared template it was filled in from, e.g. `sms:sender:{from}`.
    public var template: String
    public var queue: String
    public var kind: String
    /// The limit in force when a worker last used it, e.g. `5/second burst 2`.
    public var limit: String
    /// Units a rate limiter could admit right now.
    public var tokens: Double?
    /// Slots held now (concurrency).
    public var holders: Int?
    /// Units used in the current window (quota).
    public var used: Int?
    /// A provider's pause in force (unix ms).
    public var pausedUntil: Int64?
    /// Jobs waiting for this limiter.
    public var postponed: Int
    public var admitted: Int
    public var denied: Int
    public var providerPauses: Int

    enum CodingKeys: String, CodingKey {
        case key, template, queue, kind, limit, tokens, holders, used, postponed, admitted, denied
        case pausedUntil = "paused_until", providerPauses = "provider_pauses"
    }
}

extension QueueAdmin {
    /// Limiters used in the last hour, most recently used first (at most `limit`).
    public func limiters(limit: Int = 200) async throws -> [LimiterState] {
        let flat = try await redis.run("HGETALL", keys.limitsSeen).checked("HGETALL").array ?? []
        let now = clock.nowMillis()
        var entries: [(key: String, json: JSONValue, seen: Int64)] = []
        var stale: [String] = []
        for pair in stride(from: 0, to: flat.count - 1, by: 2) {
            guard let key = flat[pair].string, let json = flat[pair + 1].string.flatMap({ try? JSONValue.parse($0) }) else { continue }
            let seen = Int64(json["seen_at"]?.numberValue ?? 0)
            if now - seen > 3_600_000 { stale.append(key) } else { entries.append((key, json, seen)) }
        }
        if !stale.isEmpty { _ = try await redis.run(RedisCommand("HDEL", [keys.limitsSeen] + stale)) }
        entries.sort { ($0.seen, $1.key) > ($1.seen, $0.key) }
        entries = Array(entries.prefix(limit))
        var commands: [RedisCommand] = []
        var specs: [LimitSpec?] = []
        for entry in entries {
            let limiter = keys.limiterKeys(entry.key)
            let spec = entry.json["limit"].flatMap { try? LimitSpec.parse($0, at: entry.key) }
            specs.append(spec)
            // Six replies per limiter: one that is not a quota reads its pause again in the window's place.
            var window = limiter.paused
            if case .quota(_, let length)? = spec { window = limiter.window(containing: now, length: length) }
            commands += [
                RedisCommand("GET", limiter.tat), RedisCommand("GET", limiter.paused),
                RedisCommand("ZCOUNT", limiter.holders, String(now), "+inf"), RedisCommand("GET", window),
                RedisCommand("HMGET", limiter.stats, "admitted", "denied", "provider_pauses"),
                RedisCommand("LLEN", keys.limited(entry.json["queue"]?.stringValue ?? "", limit: entry.key)),
            ]
        }
        let replies = try await redis.pipeline(commands)
        return entries.enumerated().map { index, entry in
            let r = Array(replies[index * 6..<index * 6 + 6])
            let counts = r[4].array ?? []
            var state = LimiterState(
                key: entry.key, template: entry.json["template"]?.stringValue ?? "", queue: entry.json["queue"]?.stringValue ?? "",
                kind: specs[index]?.kindName ?? "?", limit: specs[index]?.summary ?? "?", postponed: r[5].int ?? 0,
                admitted: counts.first?.string.flatMap { Int($0) } ?? 0,
                denied: counts.count > 1 ? counts[1].string.flatMap { Int($0) } ?? 0 : 0,
                providerPauses: counts.count > 2 ? counts[2].string.flatMap { Int($0) } ?? 0 : 0)
            if let paused = r[1].string.flatMap({ Int64($0) }), paused > now { state.pausedUntil = paused }
            switch specs[index] {
            case .rate(let units, let period, let burst)?:
                let interval = Double(period.milliseconds) / Double(units)
                let ahead = max((r[0].string.flatMap { Double($0) } ?? 0) - Double(now), 0)
                state.tokens = max(0, (Double(burst) * interval - ahead) / interval)
            case .concurrency?: state.holders = r[2].int ?? 0
            case .quota?: state.used = r[3].string.flatMap { Int($0) } ?? 0
            case nil: break
            }
            return state
        }
    }

    /// Run-time settings: limit key or declared template → limit.
    public func limitOverrides() async throws -> [String: LimitSpec] {
        try await LimitOverrides.load(redis: redis, keys: keys)
    }

    /// Sets a limit for one key (`sms:sender:+15005550006`) or a whole template (`sms:sender:{from}`);
    /// every worker applies it within a second.
    public func setLimit(_ key: String, _ spec: LimitSpec) async throws {
        _ = try LimitKeyTemplate(key, at: "key")
        try await redis.run("HSET", keys.limitOverrides, key, spec.json.text).checked("HSET")
    }

    /// Drops a run-time setting: the declaration is in force again. Returns false when there was none.
    @discardableResult
    public func clearLimit(_ key: String) async throws -> Bool {
        try await redis.run("HDEL", keys.limitOverrides, key).checked("HDEL").int == 1
    }
}
