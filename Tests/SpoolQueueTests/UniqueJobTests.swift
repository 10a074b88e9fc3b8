import SpoolRedis
import SpoolSupport
import TestSupport
import Testing

@testable import SpoolQueue

/// A kind declared `"unique"`: one job per key waits at a time; enqueue.lua and the Enqueuer.
@Suite struct UniqueJobTests {
    static func kind(_ scope: UniqueSpec.Scope, debounce: Duration = .zero) throws -> JobKindSpec {
        var spec = JobKindSpec(
            kind: "reply", queue: "default", maxAttempts: 3,
            arguments: ArgumentSchema(fields: [
                "conversation_id": .init(type: .string, required: true, maxLength: 64), "n": .init(type: .integer, required: false),
            ]))
        spec.unique = UniqueSpec(key: try LimitKeyTemplate("{conversation_id}", arguments: spec.arguments), scope: scope, debounce: debounce)
        return spec
    }

    static func request(_ conversation: String, tenant: String? = "acme", n: Int = 0) -> EnqueueRequest {
        EnqueueRequest(kind: "reply", args: #"{"conversation_id":"\#(conversation)","n":\#(n)}"#, tenant: tenant)
    }

    func fetch(_ f: QueueFixture) async throws -> [String] {
        let reply = try await f.redis.run(f.keys.fetchCall("default", limit: 10, deadline: SystemClock().nowMillis() + 30_000, token: "w.1"))
        let fields = reply.array ?? []
        return stride(from: 0, to: fields.count, by: 7).compactMap { fields[$0].string }
    }

    @Test func aBurstWhileTheFirstWaitsIsOneJob() async throws {
        let f = try QueueFixture(kinds: [try Self.kind(.pending)])
        let first = try await f.enqueuer.enqueue(Self.request("c1", n: 1))
        let results = try await f.enqueuer.enqueue(batch: (2...5).map { Self.request("c1", n: $0) })
        #expect(first.created)
        for result in results { #expect(try result.get().id == first.id && !(try result.get().created)) }
        // Another conversation, and the same conversation id of another tenant, are jobs of their own.
        let other = try await f.enqueuer.enqueue(Self.request("c2"))
        let otherTenant = try await f.enqueuer.enqueue(Self.request("c1", tenant: "globex"))
        #expect(other.created && otherTenant.created && Set([first.id, other.id, otherTenant.id]).count == 3)
        #expect(try await f.pendingCount() == 3)
    }

    @Test func onceTheHolderRunsANewJobIsMadeUnlessTheScopeIncludesRunning() async throws {
        for scope in UniqueSpec.Scope.allCases {
            let f = try QueueFixture(kinds: [try Self.kind(scope)])
            let first = try await f.enqueuer.enqueue(Self.request("c1"))
            #expect(try await fetch(f) == [first.id])
            let during = try await f.enqueuer.enqueue(Self.request("c1"))
            switch scope {
            case .pending: #expect(during.created && during.id != first.id, "a trigger while it runs is a new job")
            case .pendingOrRunning: #expect(!during.created && during.id == first.id, "never two at once")
            }
        }
    }

    @Test func aFinishedHolderFreesTheKey() async throws {
        let f = try QueueFixture(kinds: [try Self.kind(.pendingOrRunning)])
        let first = try await f.enqueuer.enqueue(Self.request("c1"))
        #expect(try await fetch(f) == [first.id])
        _ = try await f.redis.run(f.keys.ackCall("default", now: 2000, keep: true, jobs: [(first.id, "w.1", "ok")]))
        let next = try await f.enqueuer.enqueue(Self.request("c1"))
        #expect(next.created && next.id != first.id)
    }

    @Test func aDebounceDelaysTheJobSoTheBurstFindsItWaiting() async throws {
        // A long debounce, so that even a busy machine stores the job before its run time.
        let f = try QueueFixture(kinds: [try Self.kind(.pending, debounce: .seconds(60))])
        let before = SystemClock().nowMillis()
        let first = try await f.enqueuer.enqueue(Self.request("c1"))
        let second = try await f.enqueuer.enqueue(Self.request("c1"))
        #expect(first.scheduled && second.id == first.id)
        let runAt = try #require(try await f.zsetScores(f.keys.scheduled("default"))[first.id])
        #expect(runAt >= before + 60_000 && runAt <= SystemClock().nowMillis() + 60_000)
    }

    @Test func anIdempotencyKeyMergedIntoAHolderKeepsFindingIt() async throws {
        let f = try QueueFixture(kinds: [try Self.kind(.pending)])
        let holder = try await f.enqueuer.enqueue(Self.request("c1"))
        var request = Self.request("c1")
        request.idempotencyKey = "followup:x"
        #expect(try await f.enqueuer.enqueue(request).id == holder.id)
        // The holder runs now; the same request again (a follow-up moved twice) still finds it, not a new job.
        #expect(try await fetch(f) == [holder.id])
        let again = try await f.enqueuer.enqueue(request)
        #expect(again.id == holder.id && !again.created)
    }

    @Test func aMissingKeyArgumentIsRefusedNamingIt() async throws {
        let f = try QueueFixture(kinds: [try Self.kind(.pending)])
        await #expect {
            try await f.enqueuer.enqueue(EnqueueRequest(kind: "reply", args: #"{"conversation_id":""}"#, tenant: "acme"))
        } throws: { error in
            guard let error = error as? EnqueueError else { return false }
            return error.field == "args.conversation_id" && error.message.contains("unique key '{conversation_id}'")
        }
    }

    @Test func theDeclarationIsReadAndCheckedNamingTheField() throws {
        let good = #"{"kind": "reply", "args": {"conversation_id": {"type": "string", "required": true, "max_length": 64}},"#
            + #" "unique": {"key": "{conversation_id}", "while": "pending_or_running", "debounce_seconds": 2}}"#
        let spec = try JobKindCatalog.parse(good, file: "Jobs/reply.json")
        #expect(spec.unique == UniqueSpec(key: try LimitKeyTemplate("{conversation_id}"), scope: .pendingOrRunning, debounce: .seconds(2)))
        let badScope = good.replacing("pending_or_running", with: "forever")
        #expect { try JobKindCatalog.parse(badScope, file: "Jobs/reply.json") } throws: {
            "\($0)".contains("Jobs/reply.json: field 'unique.while': 'forever' is not one of pending, pending_or_running")
        }
        let undeclared = good.replacing(#""key": "{conversation_id}""#, with: #""key": "{thread}""#)
        #expect { try JobKindCatalog.parse(undeclared, file: "Jobs/reply.json") } throws: {
            "\($0)".contains("Jobs/reply.json: field 'unique.key'") && "\($0)".contains("{thread}")
        }
    }
}
