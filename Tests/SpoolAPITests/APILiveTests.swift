import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SpoolAPI
import SpoolJobs
import SpoolQueue
import SpoolSupport
import TestSupport
import Testing

/// The API over a real socket (Hummingbird's live test mode) against real Redis and PostgreSQL.
@Suite struct APILiveTests {
    /// Tenant B's keys, whatever their scope, find nothing of tenant A's: every endpoint answers 404.
    @Test func aTenantSeesAndTouchesOnlyItsOwnJobs() async throws {
        let f = try await APIFixture()
        try await f.test(.live) { client in
            let job = try await client.call(.post, "/v1/jobs", key: f.a.enqueue, json: #"{"kind": "noop", "delay_seconds": 60}"#)
            let id = try #require(job.body["id"]?.stringValue)
            let dead = try await client.call(.post, "/v1/jobs", key: f.a.enqueue, json: #"{"kind": "noop", "args": {"fail": "permanent"}}"#)
            let deadID = try #require(dead.body["id"]?.stringValue)
            let worker = RunningWorker(f.queue, handlers: [NoopHandler()])
            try await waitUntil("the failing job to die") { try await f.queue.admin.job(deadID)?.state == .dead }
            try await worker.stop()

            for (method, path) in [
                (HTTPRequest.Method.get, "/v1/jobs/\(id)"), (.delete, "/v1/jobs/\(id)"), (.post, "/v1/dead/\(deadID)/retry"),
                (.delete, "/v1/dead/\(deadID)"), (.post, "/v1/tenants/\(f.a.id)/pause"), (.post, "/v1/tenants/\(f.a.id)/resume"),
            ] {
                let answer = try await client.call(method, path, key: f.b.admin)
                #expect(answer.status == 404, "\(method) \(path) answered \(answer.status) to another tenant")
            }
            let listed = try await client.call(.get, "/v1/dead", key: f.b.read)
            #expect(listed.status == 200 && listed.body["jobs"]?.arrayValue?.isEmpty == true)
            // The owner and the operator see and act.
            #expect(try await client.call(.get, "/v1/dead", key: f.a.read).body["jobs"]?.arrayValue?.count == 1)
            #expect(try await client.call(.get, "/v1/jobs/\(id)", key: APIFixture.operatorKey).status == 200)
            #expect(try await client.call(.delete, "/v1/jobs/\(id)", key: f.a.enqueue).body["status"] == .string("cancelled"))
            #expect(try await client.call(.delete, "/v1/jobs/\(id)", key: f.a.enqueue).status == 409)
            #expect(try await client.call(.post, "/v1/dead/\(deadID)/retry", key: f.a.read).status == 403)
            #expect(try await client.call(.post, "/v1/dead/\(deadID)/retry", key: f.a.admin).body["status"] == .string("pending"))
        }
    }

    @Test func concurrentIdenticalRequestsMakeExactlyOneJob() async throws {
        let f = try await APIFixture()
        let ids = try await f.test(.live) { client in
            try await withThrowingTaskGroup(of: (Int, String).self) { group in
                for _ in 0..<50 {
                    group.addTask {
                        let answer = try await client.call(
                            .post, "/v1/jobs", key: f.a.enqueue, json: #"{"kind": "noop"}"#,
                            headers: [("Idempotency-Key", "same-order")])
                        return (answer.status, answer.body["id"]?.stringValue ?? "")
                    }
                }
                return try await group.reduce(into: [(Int, String)]()) { $0.append($1) }
            }
        }
        #expect(Set(ids.map(\.1)).count == 1)
        #expect(ids.filter { $0.0 == 202 }.count == 1 && ids.filter { $0.0 == 200 }.count == 49)
        #expect(try await f.queue.pendingCount() == 1)
        // Another tenant with the same key gets its own job.
        let other = try await f.test(.live) { client in
            try await client.call(
                .post, "/v1/jobs", key: f.b.enqueue, json: #"{"kind": "noop"}"#, headers: [("Idempotency-Key", "same-order")])
        }
        #expect(other.status == 202 && other.body["id"]?.stringValue != ids[0].1)
    }

    @Test func bulkTakesTheGoodItemsAndReportsTheBadOnesByIndex() async throws {
        let f = try await APIFixture()
        try await f.test(.live) { client in
            let mixed =
                #"{"jobs": [{"kind": "noop"}, {"kind": "nope"}, {"kind": "noop", "args": {"sleep_ms": "x"}}, {"kind": "noop", "delay_seconds": 30}]}"#
            let answer = try await client.call(.post, "/v1/jobs/bulk", key: f.a.enqueue, json: mixed)
            #expect(answer.status == 200 && answer.body["accepted"] == .number(2) && answer.body["rejected"] == .number(2))
            let items = answer.body["items"]?.arrayValue ?? []
            #expect(items.map { $0["index"]?.intValue } == [0, 1, 2, 3])
            #expect(items[1]["error"]?["field"] == .string("kind") && items[2]["error"]?["field"] == .string("args.sleep_ms"))
            #expect(items[3]["status"] == .string("scheduled"))

            let atomic = try await client.call(.post, "/v1/jobs/bulk?atomic=true", key: f.a.enqueue, json: mixed)
            #expect(atomic.status == 422 && atomic.body["accepted"] == .number(0) && atomic.body["rejected"] == .number(2))

            let lines = (0..<1200).map { #"{"kind": "noop", "args": {"sleep_ms": \#($0 % 3)}}"# }.joined(separator: "\n") + "\nnot json\n"
            let streamed = try await client.call(.post, "/v1/jobs/bulk", key: f.a.enqueue, json: lines, contentType: "application/x-ndjson")
            #expect(streamed.status == 200 && streamed.body["accepted"] == .number(1200) && streamed.body["rejected"] == .number(1))
            #expect(streamed.body["items"]?.arrayValue?.last?["index"] == .number(1200))

            let tooMany = "{\"jobs\": [" + Array(repeating: #"{"kind": "noop"}"#, count: 10_001).joined(separator: ",") + "]}"
            let refused = try await client.call(.post, "/v1/jobs/bulk", key: f.a.enqueue, json: tooMany)
            #expect(refused.status == 422 && refused.body["error"]?["field"] == .string("jobs"))
        }
        #expect(try await f.queue.pendingCount() == 1201)
    }

    /// The kill switch while a worker runs: the tenant's jobs wait (parked), nothing is lost, and they
    /// run after the resume. Another tenant's jobs keep flowing throughout.
    @Test func pausingATenantHoldsItsJobsUntilItResumes() async throws {
        let f = try await APIFixture()
        let worker = RunningWorker(f.queue, handlers: [NoopHandler()], concurrency: 4)
        try await f.test(.live) { client in
            #expect(try await client.call(.post, "/v1/tenants/\(f.a.id)/pause", key: f.a.admin).body["paused"] == .bool(true))
            // The worker reads the pause list twice a second: once a probe job is parked, it has. A probe
            // fetched before that runs instead, so probe until one parks.
            var parked = false
            while !parked {
                let probe = try await client.call(.post, "/v1/jobs", key: f.a.enqueue, json: #"{"kind": "noop"}"#)
                let probeID = try #require(probe.body["id"]?.stringValue)
                try await waitUntil("the probe job to be parked or run") {
                    [JobState.parked, .completed].contains(try await f.queue.admin.job(probeID)?.state)
                }
                parked = try await f.queue.admin.job(probeID)?.state == .parked
            }
            for _ in 0..<20 {
                _ = try await client.call(.post, "/v1/jobs", key: f.a.enqueue, json: #"{"kind": "noop", "args": {"mark": true}}"#)
            }
            let b = try await client.call(.post, "/v1/jobs", key: f.b.enqueue, json: #"{"kind": "noop"}"#)
            let bID = try #require(b.body["id"]?.stringValue)
            try await waitUntil("tenant B's job to complete") { try await f.queue.admin.job(bID)?.state == .completed }
            try await waitUntil("tenant A's jobs to be parked") { try await f.queue.admin.parkedCount(queue: "default") == 21 }
            #expect(try await f.queue.runCounts().isEmpty)
            let queues = try await client.call(.get, "/v1/queues", key: f.a.read)
            #expect(queues.body["queues"]?.arrayValue?.first?["sizes"]?["parked"] == .number(21))
            // Tenant B's job (and any probe that ran) finished within the last minute.
            #expect((queues.body["queues"]?.arrayValue?.first?["throughput_per_second"]?.numberValue ?? 0) > 0)

            #expect(try await client.call(.post, "/v1/tenants/\(f.a.id)/resume", key: f.a.admin).body["paused"] == .bool(false))
            try await waitUntil("tenant A's 20 jobs to run") { try await f.queue.runCounts().count == 20 }
            #expect(try await f.queue.runCounts().values.allSatisfy { $0 == 1 })
        }
        try await worker.stop()
        #expect(try await f.tenants.tenant(id: f.a.id)?.paused == false)
    }

    /// Limits are shared too: the operator sets and clears them; everyone with a key reads them.
    @Test func theOperatorSetsLimitsAtRunTime() async throws {
        let f = try await APIFixture()
        try await f.test { client in
            let body = #"{"key": "sms:sender:{from}", "rate": 5, "per": "second", "burst": 2}"#
            let refused = try await client.call(.put, "/v1/limits", key: f.a.admin, json: body)
            #expect(refused.status == 403 && refused.body["error"]?["code"] == .string("operator_only"))
            let set = try await client.call(.put, "/v1/limits", key: APIFixture.operatorKey, json: body)
            #expect(set.status == 200 && set.body["limit"]?["burst"] == .number(2))
            #expect(try await f.queue.admin.limitOverrides()["sms:sender:{from}"] == .rate(units: 5, period: .seconds(1), burst: 2))
            let bad = try await client.call(
                .put, "/v1/limits", key: APIFixture.operatorKey, json: #"{"key": "k", "rate": 5, "per": "fortnight"}"#)
            #expect(bad.status == 422 && bad.body["error"]?["message"]?.stringValue?.contains("fortnight") == true)
            let both = try await client.call(
                .put, "/v1/limits", key: APIFixture.operatorKey, json: #"{"key": "k", "rate": 5, "per": "second", "concurrency": 3}"#)
            #expect(both.status == 422)
            let shown = try await client.call(.get, "/v1/limits", key: f.a.enqueue)
            #expect(shown.status == 200 && shown.body["overrides"]?["sms:sender:{from}"]?["rate"] == .number(5))
            let cleared = try await client.call(.delete, "/v1/limits?key=sms:sender:%7Bfrom%7D", key: APIFixture.operatorKey)
            #expect(cleared.status == 200)
            #expect(try await client.call(.delete, "/v1/limits?key=sms:sender:%7Bfrom%7D", key: APIFixture.operatorKey).status == 404)
        }
    }

    /// Queues are shared: only the operator pauses them. A tenant cannot lift the operator's pause.
    @Test func sharedControlsBelongToTheOperator() async throws {
        let f = try await APIFixture()
        try await f.test { client in
            _ = try await client.call(.post, "/v1/jobs", key: f.a.enqueue, json: #"{"kind": "noop"}"#)
            let refused = try await client.call(.post, "/v1/queues/default/pause", key: f.a.admin)
            #expect(refused.status == 403 && refused.body["error"]?["code"] == .string("operator_only"))
            #expect(try await client.call(.post, "/v1/queues/default/pause", key: APIFixture.operatorKey).body["paused"] == .bool(true))
            #expect(try await client.call(.post, "/v1/queues/default/resume", key: APIFixture.operatorKey).body["paused"] == .bool(false))

            #expect(try await client.call(.post, "/v1/tenants/\(f.a.id)/pause", key: APIFixture.operatorKey).status == 200)
            let lift = try await client.call(.post, "/v1/tenants/\(f.a.id)/resume", key: f.a.admin)
            #expect(lift.status == 403 && lift.body["error"]?["code"] == .string("paused_by_operator"))
            #expect(try await f.queue.admin.pausedTenants().contains(f.a.id))
            #expect(
                try await client.call(.post, "/v1/tenants/\(f.a.id)/resume", key: APIFixture.operatorKey).body["paused"] == .bool(false))
            // Its own pause, the tenant may lift; "bearer" in lower case is the same scheme.
            #expect(try await client.call(.post, "/v1/tenants/\(f.a.id)/pause", key: f.a.admin).status == 200)
            var headers = HTTPFields()
            headers[.authorization] = "bearer \(f.a.admin)"
            let lower = try await client.execute(uri: "/v1/tenants/\(f.a.id)/resume", method: .post, headers: headers) { $0.status.code }
            #expect(lower == 200)
        }
    }

    /// Jobs that died in the same millisecond are paged without a gap or a repeat.
    @Test func deadPagesDoNotSkipJobsThatDiedTogether() async throws {
        let f = try await APIFixture()
        let keys = f.queue.keys
        var ids: [String] = []
        for _ in 0..<80 {
            let id = JobID.make()
            ids.append(id)
            try await f.queue.redis.run(
                "HSET", keys.job("default", id), "kind", "noop", "state", "dead", "tenant", f.a.id, "dead_reason", "test")
            try await f.queue.redis.run("ZADD", keys.dead("default"), "1795000000000", id)
        }
        try await f.queue.redis.run("SADD", keys.queues, "default")
        let seen = try await f.test { client in
            var seen: [String] = []
            var cursor: String?
            repeat {
                let page = try await client.call(.get, "/v1/dead?limit=50" + (cursor.map { "&before=\($0)" } ?? ""), key: f.a.read)
                seen += page.body["jobs"]?.arrayValue?.compactMap { $0["id"]?.stringValue } ?? []
                cursor = page.body["next_before"]?.stringValue
            } while cursor != nil && seen.count < 200
            return seen
        }
        #expect(seen.count == 80 && Set(seen) == Set(ids))
    }
}
