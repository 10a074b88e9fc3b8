import SpoolRedis
import Testing

@testable import SpoolQueue

/// Every script call's KEYS share one hash tag, so Redis Cluster runs each call in one slot, and the
/// KEYS that scripts extend carry that tag whole (docs/architecture.md, "Keys and slots").
@Suite struct KeySlotTests {
    /// The text Redis Cluster hashes: between a key's first '{' and the next '}', when that is not empty.
    static func hashTag(_ key: String) -> Substring? {
        guard let open = key.firstIndex(of: "{") else { return nil }
        let start = key.index(after: open)
        guard let close = key[start...].firstIndex(of: "}"), close > start else { return nil }
        return key[start..<close]
    }

    /// One call of each builder in ScriptCalls.swift: a queue's with a tenant and ids holding braces, a
    /// limiter's with the limit key `limit`.
    static func calls(_ keys: KeySpace, limit: String) -> [ScriptCall] {
        let q = "default"
        let tenant = "}t{"
        let id = "{id}"
        let specs: [LimitSpec] = [
            .rate(units: 5, period: .seconds(1), burst: 2), .concurrency(max: 3), .quota(units: 100, window: .seconds(86_400)),
        ]
        var calls: [ScriptCall] = [
            keys.fetchCall(q, limit: 10, deadline: 2, token: "w", pausedTenants: [tenant]),
            keys.unparkCall(q, tenant: tenant),
            keys.ackCall(q, now: 1, keep: true, jobs: [(id: id, token: "w", result: "")]),
            keys.retryCall(q, id: id, token: "w", at: 2, error: "e", now: 1),
            keys.snoozeCall(q, id: id, token: "w", until: 2, reason: "r"),
            keys.killCall(q, id: id, token: "w", now: 1, reason: "r"),
            keys.requeueCall(q, id: id, token: "w", tenant: tenant),
            keys.requeueCall(q, id: id, token: "w", tenant: nil),
            keys.extendCall(q, deadline: 2, leases: [(id: id, token: "w")]),
            keys.recoverCall(q, now: 1, limit: 10),
            keys.promoteCall(q, source: keys.retry(q), now: 1, limit: 10),
            keys.cancelCall(q, id: id, now: 1, keepSeconds: 60),
            keys.deadRetryCall(q, now: 1, ids: [id]),
            keys.deadDiscardCall(q, ids: [id]),
            keys.trimCompletedCall(q, oldestKept: 1, limit: 10),
            keys.completeCall(q, now: 1, keep: true, id: id, token: "w", result: "", followUps: []),
            keys.enqueueCall(q, now: 1, idempotencyTTL: 60, fieldsPerJob: 8, arguments: []),
            keys.waitForLimitCall(q, limit: limit, template: limit, due: 2, pace: 1, reason: "r", jobs: [(id: id, token: "w")]),
            keys.releaseLimitedCall(q, now: 1, limits: 10, jobsPerLimit: 10, only: limit),
            keys.quotaAlertCall(q, kind: "k", reason: "r", now: 1),
            keys.trimDeadCall(q, oldestKept: 1, maxEntries: 10, limit: 10),
            keys.limitReleaseCall(limit, ids: [id]),
            keys.limitPauseCall(limit, now: 1, until: 2),
        ]
        let now: Int64 = 1_700_000_000_000
        for spec in specs {
            calls.append(keys.limitAcquireCall(limit, spec: spec, hold: .seconds(60), now: now, requests: [(id: id, cost: 1)]))
            calls.append(keys.limitRefundCall(limit, spec: spec, now: now, id: id, cost: 1))
        }
        return calls
    }

    @Test(arguments: ["sms:sender:+15005550006", "}", "{", "}x{y}", "a%7Bb", "tenant:{t}", ""])
    func everyCallsKeysShareOneTag(limit: String) {
        for call in Self.calls(KeySpace(prefix: "spool"), limit: limit) {
            let tags = call.keys.map { Self.hashTag($0) }
            #expect(!tags.isEmpty && tags.allSatisfy { $0 != nil && $0 == tags[0] }, "\(call.script.name): \(call.keys)")
        }
    }

    /// The exceptions' guard (ScriptKeyExceptions): a call that builds keys from a KEY also carries one
    /// that never exists, a prefix ending in ':', so that Redis refuses it whole while its slot migrates.
    @Test func aScriptThatBuildsKeysIsAlsoGivenOneThatNeverExists() {
        var checked = Set<String>()
        for call in Self.calls(KeySpace(prefix: "spool"), limit: "l") {
            guard let allowed = ScriptKeyExceptions.prefixes.first(where: { $0.key.hasSuffix("/" + call.script.name) })?.value else { continue }
            checked.insert(call.script.name)
            #expect(call.keys.contains { $0.hasSuffix(":") }, "\(call.script.name): \(call.keys)")
            #expect(allowed.keys.allSatisfy { $0 <= call.keys.count }, "\(call.script.name) has \(call.keys.count) KEYS")
        }
        // Every queue script with an exception was among the calls (live_counts.lua is SpoolAPI's).
        #expect(checked.count == ScriptKeyExceptions.prefixes.count - 1, "\(checked.sorted())")
    }

    @Test func aLimitKeysBracesArePercentEncodedSoTwoKeysNeverShareALimiter() {
        let keys = KeySpace(prefix: "spool")
        #expect(keys.limiter("sms:sender:+15005550006") == "spool:limit:{sms:sender:+15005550006}")
        #expect(keys.limiter("}a{") == "spool:limit:{%7Da%7B}")
        #expect(keys.limiter("50%") == "spool:limit:{50%25}")
        #expect(keys.limiter("a{b") != keys.limiter("a%7Bb"))
        #expect(keys.limiterKeys("}").holders == "spool:limit:{%7D}:holders")
        #expect(Self.hashTag(keys.limiter("")) == "%00")
        // A limited list lives in its queue's slot whatever its limit key holds.
        #expect(Self.hashTag(keys.limited("default", limit: "}x{")) == "default")
    }
}
