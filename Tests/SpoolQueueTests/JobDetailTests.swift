import SpoolJobs
import SpoolRedis
import SpoolSupport
import TestSupport
import Testing

@testable import SpoolQueue

/// `QueueAdmin.jobDetail`: a job's record with its failed attempts, its parent and its follow-ups, and
/// the `errors` the failure scripts keep.
@Suite struct JobDetailTests {
    @Test func aJobRetriedTwiceShowsBothFailuresAndItsFollowUp() async throws {
        let f = try QueueFixture()
        let args = #"{"fail":"retry","fail_times":2,"then":[{"kind":"noop","args":{"mark":true}}]}"#
        let parent = try await f.enqueuer.enqueue(EnqueueRequest(kind: "noop", args: args, tenant: "acme")).id
        let worker = RunningWorker(f, handlers: [NoopHandler()], concurrency: 2)
        try await waitUntil("the follow-up ran") { try await f.runCounts().count == 1 }
        try await worker.stop()

        let detail = try #require(try await f.admin.jobDetail(parent))
        #expect(detail.record.state == .completed && detail.record.attempt == 3)
        #expect(detail.failures.map(\.attempt) == [1, 2] && detail.failures.allSatisfy { $0.outcome == "retry" && $0.at > 0 })
        #expect(detail.failures.map(\.error) == ["noop asked to fail (attempt 1)", "noop asked to fail (attempt 2)"])
        #expect(detail.parent == nil)
        let child = try #require(detail.followUps.first)
        #expect(detail.followUps.count == 1 && child.queue == "default" && child.kind == "noop" && child.state == .completed)

        let childDetail = try #require(try await f.admin.jobDetail(child.id))
        #expect(childDetail.parent == JobLink(id: parent, queue: "default", kind: "noop", state: .completed))
        #expect(childDetail.followUps.isEmpty && childDetail.failures.isEmpty && childDetail.record.tenant == "acme")
    }

    /// Leases the job (token "w.1"), as fetch does.
    func lease(_ f: QueueFixture) async throws {
        _ = try await f.redis.run(f.keys.fetchCall("default", limit: 1, deadline: 900_000, token: "w.1"))
    }

    @Test func theHashKeepsTheLastTenFailuresOldestFirst() async throws {
        let f = try QueueFixture()
        let id = try await f.seedPending(1)[0]
        for attempt in 1...12 {
            try await lease(f)
            _ = try await f.redis.run(
                f.keys.retryCall("default", id: id, token: "w.1", at: 1, error: "boom \(attempt)", now: Int64(attempt)))
            _ = try await f.redis.run(f.keys.promoteCall("default", source: f.keys.retry("default"), now: 10, limit: 10))
        }
        try await lease(f)
        _ = try await f.redis.run(
            f.keys.killCall("default", id: id, token: "w.1", now: 99, reason: "permanent error: 21211", error: "HTTP 400"))
        let failures = try #require(try await f.admin.jobDetail(id)).failures
        #expect(failures.count == JobFailure.kept)
        #expect(failures.map(\.attempt) == Array(4...13))
        #expect(failures.first == JobFailure(attempt: 4, at: 4, outcome: "retry", error: "boom 4"))
        #expect(failures.last == JobFailure(attempt: 13, at: 99, outcome: "dead", error: "permanent error: 21211: HTTP 400"))
    }

    @Test func aLongErrorIsCutAtACharacterBoundary() async throws {
        let f = try QueueFixture()
        let id = try await f.seedPending(1)[0]
        try await lease(f)
        // 1 + 800 × 2 bytes: byte 1000 starts an "é", which must not be split.
        let error = "x" + String(repeating: "é", count: 800)
        _ = try await f.redis.run(f.keys.retryCall("default", id: id, token: "w.1", at: 1, error: error, now: 5))
        let failure = try #require(try await f.admin.jobDetail(id)?.failures.first)
        #expect(failure.error == "x" + String(repeating: "é", count: 499))
        // The record's last error keeps it whole.
        #expect(try await f.fields(id)["last_error"] == error)
    }

    @Test func aLostLeaseIsAFailureToo() async throws {
        let f = try QueueFixture()
        let id = try await f.seedPending(1)[0]
        try await lease(f)
        _ = try await f.redis.run(f.keys.recoverCall("default", now: 1_000_000, limit: 10))
        let failures = try #require(try await f.admin.jobDetail(id)).failures
        #expect(
            failures == [
                JobFailure(
                    attempt: 1, at: 1_000_000, outcome: "retry", error: "lease expired: the worker holding the job stopped heartbeating")
            ])
    }

    @Test func aParentWhoseRecordIsGoneIsStillNamed() async throws {
        let f = try QueueFixture()
        let id = try await f.seedPending(1)[0]
        let gone = "01J" + String(repeating: "Z", count: 23)
        try await f.redis.run("HSET", f.keys.job("default", id), "parent_id", gone)
        let detail = try #require(try await f.admin.jobDetail(id))
        #expect(detail.parent == JobLink(id: gone, queue: nil, kind: nil, state: .unknown))
        #expect(try await f.admin.jobDetail(gone) == nil)
    }

    @Test func redactsSecretLookingKeysAtAnyDepth() throws {
        let args = #"""
            {"to":"+15005550006","auth":{"api_key":"k1","nested":[{"refresh_token":"r1"},{"Password":"p1","note":"hi"}]},
             "accessToken":"a1","tokens_used":3,"Authorization":"Bearer x","X-Api-Key":"k2","client_secret":{"v":1},"monkey":"m"}
            """#
        let redacted = try JSONValue.parse(ArgumentRedaction.redactedArguments(args))
        let mask = JSONValue.string(ArgumentRedaction.mask)
        #expect(
            redacted
                == .object([
                    "to": .string("+15005550006"),
                    "auth": .object([
                        "api_key": mask,
                        "nested": .array([.object(["refresh_token": mask]), .object(["Password": mask, "note": .string("hi")])]),
                    ]),
                    "accessToken": mask, "tokens_used": .number(3), "Authorization": mask, "X-Api-Key": mask, "client_secret": mask,
                    "monkey": .string("m"),
                ]))
        // Text that is not JSON cannot be searched for secrets: it is not shown.
        let broken = ArgumentRedaction.redactedArguments(#"{"token":"t0p"#)
        #expect(!broken.contains("t0p") && broken.hasPrefix("[not valid JSON"))
        for key in ["token", "SECRET", "apiKey", "api-key", "refreshToken", "x_auth_token", "db.password"] {
            #expect(ArgumentRedaction.isSecret(key), "\(key)")
        }
        for key in ["to", "max_tokens", "keyword", "turkey", "body"] { #expect(!ArgumentRedaction.isSecret(key), "\(key)") }
    }
}
