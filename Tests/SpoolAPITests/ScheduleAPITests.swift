import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SpoolAPI
import SpoolPostgres
import SpoolQueue
import SpoolStore
import SpoolSupport
import TestSupport
import Testing

/// The schedules API (`/v1/schedules...`) against real PostgreSQL and Redis and the API over a socket,
/// and the static schedules file's reconcile (`ScheduleStore.reconcile`) in a database of its own.
@Suite struct ScheduleAPITests {
    /// A kind only the operator may enqueue, beside the fixture's `noop`, which tenants may.
    static let diagnostic: JobKindSpec = {
        var spec = JobKindSpec(kind: "diagnostic")
        spec.enqueue = .operator
        return spec
    }()

    static func fixture() async throws -> APIFixture {
        try await APIFixture(kinds: [QueueFixture.noop, Self.diagnostic])
    }

    /// `POST /v1/schedules` with `body` as `key`.
    static func create(_ client: any TestClientProtocol, key: String, _ body: String) async throws -> (status: Int, body: JSONValue) {
        try await client.call(.post, "/v1/schedules", key: key, json: body)
    }

    /// The names `GET /v1/schedules` + `query` lists for `key`, after checking it answered 200.
    static func names(_ client: any TestClientProtocol, _ query: String = "", key: String) async throws -> [String] {
        let answer = try await client.call(.get, "/v1/schedules" + query, key: key)
        guard answer.status == 200 else { throw TestFailure("GET /v1/schedules\(query) answered \(answer.status): \(answer.body.text)") }
        return answer.body["schedules"]?.arrayValue?.compactMap { $0["name"]?.stringValue } ?? []
    }

    static func field(_ answer: (status: Int, body: JSONValue)) -> String? { answer.body["error"]?["field"]?.stringValue }
    static func message(_ answer: (status: Int, body: JSONValue)) -> String { answer.body["error"]?["message"]?.stringValue ?? "" }

    @Test func aTenantMakesListsShowsPausesResumesAndDeletesItsSchedules() async throws {
        let f = try await Self.fixture()
        try await f.test(.live) { client in
            let now = SystemClock().nowMillis()
            let created = try await Self.create(
                client, key: f.a.admin,
                #"{"name": "morning", "cron": "0 9 * * *", "timezone": "America/New_York", "kind": "noop", "args": {"sleep_ms": 1}, "#
                    + #""missed": "one", "overlap": "skip", "jitter_ms": 500}"#)
            #expect(created.status == 201, "\(created.body.text)")
            let id = try #require(created.body["id"]?.stringValue)
            let body = created.body
            #expect(body["tenant"] == .string(f.a.id) && body["name"] == .string("morning") && body["source"] == .string("api"))
            #expect(body["cron"] == .string("0 9 * * *") && body["every"] == .null && body["timezone"] == .string("America/New_York"))
            #expect(body["kind"] == .string("noop") && body["args"] == .object(["sleep_ms": .number(1)]) && body["queue"] == .null)
            #expect(body["missed"] == .string("one") && body["overlap"] == .string("skip") && body["jitter_ms"] == .number(500))
            #expect(body["missed_limit"] == .number(100) && body["paused"] == .bool(false))
            #expect(body["runs"] == .number(0) && body["skipped"] == .number(0) && body["last_run_at"] == .null && body["last_job_id"] == .null)
            // The first tick: the next 09:00 in New York, 13:00 or 14:00 UTC, within a day.
            let next = try #require(body["next_run_at"]?.stringValue)
            let nextMs = try CivilTime.unixMillis(iso8601: next)
            #expect(next.hasSuffix("Z") && (next.contains("T13:00:00") || next.contains("T14:00:00")), "\(next)")
            #expect(nextMs > now && nextMs <= now + 86_400_000, "\(next)")

            // Without a zone, an interval in the tenant's zone, first firing one interval from now.
            let pulse = try await Self.create(client, key: f.a.admin, #"{"name": "pulse", "every": "5m", "kind": "noop"}"#)
            #expect(pulse.status == 201, "\(pulse.body.text)")
            #expect(pulse.body["every"] == .string("5m") && pulse.body["cron"] == .null && pulse.body["timezone"] == .string("Europe/Paris"))
            let pulseNext = try CivilTime.unixMillis(iso8601: try #require(pulse.body["next_run_at"]?.stringValue))
            #expect(pulseNext >= now + 299_000 && pulseNext <= SystemClock().nowMillis() + 301_000)

            // Listed by name; tenant B has none, the operator sees A's when it names A.
            #expect(try await Self.names(client, key: f.a.read) == ["morning", "pulse"])
            #expect(try await Self.names(client, key: f.b.read).isEmpty)
            #expect(try await Self.names(client, "?tenant=\(f.a.id)", key: APIFixture.operatorKey) == ["morning", "pulse"])
            #expect(try await Self.names(client, key: APIFixture.operatorKey).contains("morning"))
            let named = try await client.call(.get, "/v1/schedules?tenant=\(f.b.id)", key: f.a.read)
            #expect(named.status == 422 && Self.field(named) == "tenant", "\(named.body.text)")

            // Shown with the state of its last job: none yet, then the job a tick enqueued.
            let shown = try await client.call(.get, "/v1/schedules/\(id)", key: f.a.read)
            #expect(shown.status == 200 && shown.body["id"] == .string(id) && shown.body["last_job_state"] == .null, "\(shown.body.text)")
            let job = try await f.queue.enqueuer.enqueue(EnqueueRequest(kind: "noop", tenant: f.a.id))
            _ = try await f.pool.withConnection { connection in
                try connection.query(
                    "UPDATE schedules SET last_job_id = $1, last_job_queue = $2, runs = 1, last_run_ms = $3 WHERE id = $4",
                    [job.id, job.queue, now, id])
            }
            let withJob = try await client.call(.get, "/v1/schedules/\(id)", key: f.a.read)
            #expect(withJob.body["last_job_id"] == .string(job.id) && withJob.body["last_job_state"] == .string("pending"), "\(withJob.body.text)")
            #expect(withJob.body["runs"] == .number(1) && withJob.body["last_run_at"] == .string(CivilTime(unixMillis: now).rfc3339))

            // Tenant B: not found, whatever it asks, and nothing changes.
            #expect(try await client.call(.get, "/v1/schedules/\(id)", key: f.b.admin).status == 404)
            #expect(try await client.call(.post, "/v1/schedules/\(id)/pause", key: f.b.admin).status == 404)
            #expect(try await client.call(.post, "/v1/schedules/\(id)/resume", key: f.b.admin).status == 404)
            #expect(try await client.call(.delete, "/v1/schedules/\(id)", key: f.b.admin).status == 404)
            #expect(try await client.call(.get, "/v1/schedules/sch_nosuchschedule", key: f.a.read).status == 404)

            // Scopes: reading takes read, the rest admin.
            #expect(try await client.call(.post, "/v1/schedules/\(id)/pause", key: f.a.read).status == 403)
            #expect(try await Self.create(client, key: f.a.enqueue, #"{"name": "x", "every": "1m", "kind": "noop"}"#).status == 403)
            #expect(try await client.call(.delete, "/v1/schedules/\(id)", key: f.a.enqueue).status == 403)
            #expect(try await client.call(.get, "/v1/schedules", key: nil).status == 401)

            // Pause, pause again, resume: the next tick from now.
            let paused = try await client.call(.post, "/v1/schedules/\(id)/pause", key: f.a.admin)
            #expect(paused.status == 200 && paused.body["paused"] == .bool(true), "\(paused.body.text)")
            #expect(try await client.call(.post, "/v1/schedules/\(id)/pause", key: f.a.admin).body["paused"] == .bool(true))
            let resumed = try await client.call(.post, "/v1/schedules/\(id)/resume", key: f.a.admin)
            #expect(resumed.status == 200 && resumed.body["paused"] == .bool(false), "\(resumed.body.text)")
            #expect(resumed.body["next_run_at"] == .string(next), "\(resumed.body.text)")

            // A known path with another method.
            #expect(try await client.call(.put, "/v1/schedules/\(id)", key: f.a.admin, json: "{}").status == 405)
            #expect(try await client.call(.delete, "/v1/schedules/preview", key: f.a.admin).status == 405)

            // Deleted: gone, and deleting again is a 404.
            #expect(try await client.call(.delete, "/v1/schedules/\(id)", key: f.a.admin).status == 204)
            #expect(try await client.call(.get, "/v1/schedules/\(id)", key: f.a.read).status == 404)
            #expect(try await client.call(.delete, "/v1/schedules/\(id)", key: f.a.admin).status == 404)
            #expect(try await Self.names(client, key: f.a.read) == ["pulse"])
        }
    }

    @Test func refusalsNameTheField() async throws {
        let f = try await Self.fixture()
        try await f.test(.live) { client in
            func refused(_ body: String, key: String? = nil) async throws -> (status: Int, field: String?, message: String) {
                let answer = try await Self.create(client, key: key ?? f.a.admin, body)
                return (answer.status, Self.field(answer), Self.message(answer))
            }
            // A bad cron expression: the field, what is wrong and its column.
            let cron = try await refused(#"{"name": "bad", "cron": "0 25 * * *", "kind": "noop"}"#)
            #expect(cron.status == 422 && cron.field == "cron", "\(cron)")
            #expect(cron.message.contains("hour: 25 is out of range 0-23") && cron.message.contains("column 3"), "\(cron.message)")
            #expect(try await refused(#"{"name": "bad", "every": "5x", "kind": "noop"}"#).field == "every")
            #expect(try await refused(#"{"name": "bad", "cron": "@daily", "timezone": "Mars/Base", "kind": "noop"}"#).field == "timezone")
            #expect(try await refused(#"{"name": "bad", "cron": "@daily", "every": "1h", "kind": "noop"}"#).field == "every")
            #expect(try await refused(#"{"name": "bad", "kind": "noop"}"#).field == "cron")
            #expect(try await refused(#"{"name": "bad", "every": "1h"}"#).field == "kind")
            #expect(try await refused(#"{"every": "1h", "kind": "noop"}"#).field == "name")
            #expect(try await refused(#"{"name": "", "every": "1h", "kind": "noop"}"#).field == "name")
            #expect(try await refused(#"{"name": "bad", "every": "1h", "kind": "noop", "crom": "x"}"#).field == "crom")
            #expect(try await refused(#"{"name": "bad", "every": "1h", "kind": "noop", "queue": "nowhere"}"#).field == "queue")
            #expect(try await refused(#"{"name": "bad", "every": "1h", "kind": "noop", "missed": "some"}"#).field == "missed")
            #expect(try await refused(#"{"name": "bad", "every": "1h", "kind": "noop", "jitter_ms": 3600001}"#).field == "jitter_ms")
            #expect(try await refused(#"{"name": "bad", "every": "1h", "kind": "noop", "missed_limit": 0}"#).field == "missed_limit")
            #expect(try await refused(#"{"name": "bad", "every": "1h", "kind": "noop", "args": [1]}"#).field == "args")
            // The kind's own checks, as an enqueue by this key: its arguments, and who may enqueue it.
            #expect(try await refused(#"{"name": "bad", "every": "1h", "kind": "noop", "args": {"sleep_ms": "slow"}}"#).field == "args.sleep_ms")
            #expect(try await refused(#"{"name": "bad", "every": "1h", "kind": "nosuchkind"}"#).field == "kind")
            let diagnostic = try await refused(#"{"name": "bad", "every": "1h", "kind": "diagnostic"}"#)
            #expect(diagnostic.status == 422 && diagnostic.field == "kind" && diagnostic.message.contains("operator"), "\(diagnostic)")
            // Times: ISO 8601 with an offset, the end after the start.
            let month = try await refused(#"{"name": "bad", "every": "1h", "kind": "noop", "starts_at": "2026-13-01T00:00Z"}"#)
            #expect(month.field == "starts_at" && month.message.contains("month 13"), "\(month)")
            #expect(try await refused(#"{"name": "bad", "every": "1h", "kind": "noop", "starts_at": "2026-01-01T00:00"}"#).field == "starts_at")
            let window = #""starts_at": "2027-01-02T00:00:00Z", "ends_at": "2027-01-01T00:00:00+01:00""#
            #expect(try await refused(#"{"name": "bad", "every": "1h", "kind": "noop", "# + window + "}").field == "ends_at")
            // Tenants: a tenant's key names only its own; the operator only one that exists.
            #expect(try await refused(#"{"name": "bad", "every": "1h", "kind": "noop", "tenant": "\#(f.b.id)"}"#).field == "tenant")
            let unknown = try await refused(#"{"name": "bad", "every": "1h", "kind": "noop", "tenant": "tn_nosuchtenant"}"#, key: APIFixture.operatorKey)
            #expect(unknown.status == 422 && unknown.field == "tenant", "\(unknown)")
            // Not JSON, not an object.
            #expect(try await refused("{").status == 400)
            #expect(try await refused("[]").status == 422)
            #expect(try await Self.names(client, key: f.a.read).isEmpty)

            // A name taken by the same owner: 409; another tenant may use it.
            let first = try await Self.create(client, key: f.a.admin, #"{"name": "daily", "cron": "@daily", "kind": "noop"}"#)
            #expect(first.status == 201, "\(first.body.text)")
            let again = try await Self.create(client, key: f.a.admin, #"{"name": "daily", "every": "1h", "kind": "noop"}"#)
            #expect(again.status == 409 && again.body["error"]?["code"] == .string("name_taken") && Self.field(again) == "name", "\(again.body.text)")
            #expect(try await Self.create(client, key: f.b.admin, #"{"name": "daily", "every": "1h", "kind": "noop"}"#).status == 201)

            // The operator: its own schedule (tenant null) of an operator-only kind, or a tenant's when it names one.
            let name = "diagnostic-\(UUID().uuidString.prefix(8))"
            let own = try await Self.create(client, key: APIFixture.operatorKey, #"{"name": "\#(name)", "every": "1h", "kind": "diagnostic"}"#)
            #expect(own.status == 201 && own.body["tenant"] == .null && own.body["timezone"] == .string("UTC"), "\(own.body.text)")
            let forA = try await Self.create(
                client, key: APIFixture.operatorKey, #"{"name": "ops", "every": "1h", "kind": "diagnostic", "tenant": "\#(f.a.id)"}"#)
            #expect(forA.status == 201 && forA.body["tenant"] == .string(f.a.id), "\(forA.body.text)")
            #expect(try await Self.names(client, key: f.a.read) == ["daily", "ops"])
            let ownID = try #require(own.body["id"]?.stringValue)
            #expect(try await client.call(.get, "/v1/schedules/\(ownID)", key: f.a.admin).status == 404)
            #expect(try await client.call(.delete, "/v1/schedules/\(ownID)", key: APIFixture.operatorKey).status == 204)
        }
    }

    @Test func previewListsFireTimesInUTC() async throws {
        let f = try await Self.fixture()
        try await f.test(.live) { client in
            func preview(_ query: String, key: String? = nil) async throws -> (status: Int, body: JSONValue) {
                try await client.call(.get, "/v1/schedules/preview?" + query, key: key ?? f.a.read)
            }
            // 09:00 in New York: 14:00 UTC in EST, 13:00 once the clocks go forward on 2026-03-08.
            let newYork = try await preview("cron=0%209%20*%20*%20*&tz=America/New_York&from=2026-03-06T00:00:00Z&count=4")
            #expect(newYork.status == 200, "\(newYork.body.text)")
            #expect(
                newYork.body["times"]
                    == .array(
                        ["2026-03-06T14:00:00.000Z", "2026-03-07T14:00:00.000Z", "2026-03-08T13:00:00.000Z", "2026-03-09T13:00:00.000Z"].map {
                            JSONValue.string($0)
                        }), "\(newYork.body.text)")
            #expect(newYork.body["timezone"] == .string("America/New_York"))
            // An offset in `from` is an instant like any other; `every` counts from it.
            let every = try await preview("every=90m&from=2026-01-01T01:00:00%2B01:00&count=3")
            #expect(
                every.body["times"]
                    == .array(["2026-01-01T01:30:00.000Z", "2026-01-01T03:00:00.000Z", "2026-01-01T04:30:00.000Z"].map { JSONValue.string($0) }),
                "\(every.body.text)")
            // Without tz: a tenant key's tenant's zone (Europe/Paris), the operator's UTC. Ten by default.
            let paris = try await preview("cron=@daily&from=2026-01-05T00:00:00Z")
            #expect(paris.body["timezone"] == .string("Europe/Paris") && paris.body["times"]?.arrayValue?.count == 10, "\(paris.body.text)")
            #expect(paris.body["times"]?.arrayValue?.first == .string("2026-01-05T23:00:00.000Z"))
            let utc = try await preview("cron=@daily&from=2026-01-05T00:00:00Z&count=1", key: APIFixture.operatorKey)
            #expect(utc.body["times"] == .array([.string("2026-01-06T00:00:00.000Z")]), "\(utc.body.text)")
            // Refusals name the parameter.
            let cron = try await preview("cron=0%2025%20*%20*%20*")
            #expect(cron.status == 422 && Self.field(cron) == "cron" && Self.message(cron).contains("column 3"), "\(cron.body.text)")
            for (query, field) in [
                ("every=5x", "every"), ("cron=@daily&tz=Mars/Base", "tz"), ("cron=@daily&count=0", "count"),
                ("cron=@daily&count=1001", "count"), ("cron=@daily&count=ten", "count"), ("cron=@daily&from=yesterday", "from"),
                ("", "cron"), ("cron=@daily&every=1h", "every"),
            ] {
                let refused = try await preview(query)
                #expect(refused.status == 422 && Self.field(refused) == field, "\(query): \(refused.body.text)")
            }
            #expect(try await preview("cron=@daily&count=1000").body["times"]?.arrayValue?.count == 1000)
        }
    }

    /// The static schedules file, in a database of its own: the operator's `config` schedules are the
    /// whole database's.
    @Test func reconcileAddsChangesAndRemovesAndABadFileChangesNothing() async throws {
        let queue = try QueueFixture()
        let pool = PostgresPool(url: try TestPostgres.freshDatabase(), logger: TestEnvironment.logger)
        defer { pool.close() }
        _ = try await Migrator(pool: pool).migrate()
        let store = ScheduleStore(pool: pool, enqueuer: queue.enqueuer)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("schedules-\(UUID().uuidString).json").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        func reconcile(_ text: String) async throws -> (added: Int, changed: Int, removed: Int) {
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            return try await store.reconcile(file: path)
        }
        func refusal(_ text: String) async throws -> ScheduleFileError {
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            do { _ = try await store.reconcile(file: path) } catch let error as ScheduleFileError { return error }
            throw TestFailure("accepted: \(text)")
        }

        let first = try await reconcile(
            #"{"description": "test", "schedules": [{"name": "a", "every": "1m", "kind": "noop"}, "#
                + #"{"name": "b", "cron": "0 9 * * *", "timezone": "Europe/London", "kind": "noop", "args": {"sleep_ms": 1}}]}"#)
        #expect(first.added == 2 && first.changed == 0 && first.removed == 0, "\(first)")
        let made = try await store.list(tenantID: nil)
        try #require(made.map(\.name) == ["a", "b"])
        #expect(made.allSatisfy { $0.source == .config && $0.tenantID == nil && $0.producer == .operator && !$0.paused })
        let (a, b) = (made[0], made[1])
        #expect(a.everyMs == 60_000 && b.cron == "0 9 * * *" && b.timezone == "Europe/London" && a.timezone == "UTC")

        // The same file again changes nothing.
        let same = try await reconcile(
            #"{"schedules": [{"name": "a", "every": "1m", "kind": "noop"}, "#
                + #"{"name": "b", "cron": "0 9 * * *", "timezone": "Europe/London", "kind": "noop", "args": {"sleep_ms": 1}}]}"#)
        #expect(same.added == 0 && same.changed == 0 && same.removed == 0, "\(same)")

        // Changed: a's rule (its next tick computed again, its counts kept), b's args (its next tick kept); c added.
        _ = try await pool.withConnection { connection in
            try connection.query("UPDATE schedules SET runs = 7, skipped = 2, last_run_ms = 1000 WHERE id = $1", [a.id])
        }
        let before = SystemClock().nowMillis()
        let second = try await reconcile(
            #"{"schedules": [{"name": "a", "every": "2h", "kind": "noop"}, "#
                + #"{"name": "b", "cron": "0 9 * * *", "timezone": "Europe/London", "kind": "noop", "args": {"sleep_ms": 2}}, "#
                + #"{"name": "c", "cron": "@hourly", "kind": "noop", "missed": "all", "missed_limit": 5, "overlap": "skip"}]}"#)
        #expect(second.added == 1 && second.changed == 2 && second.removed == 0, "\(second)")
        let changed = try await store.list(tenantID: nil)
        #expect(changed.map(\.name) == ["a", "b", "c"])
        let a2 = try #require(changed.first { $0.name == "a" }), b2 = try #require(changed.first { $0.name == "b" })
        #expect(a2.id == a.id && a2.everyMs == 7_200_000 && a2.runs == 7 && a2.skipped == 2 && a2.lastRunMs == 1000)
        let aNext = try #require(a2.nextRunMs)
        #expect(aNext >= before + 7_199_000 && aNext <= SystemClock().nowMillis() + 7_201_000, "\(aNext)")
        let bArgs = try JSONValue.parse(b2.args)
        #expect(b2.id == b.id && b2.nextRunMs == b.nextRunMs && bArgs == .object(["sleep_ms": .number(2)]))
        let c = try #require(changed.first { $0.name == "c" })
        #expect(c.missed == .all && c.missedLimit == 5 && c.overlap == .skip && c.source == .config)

        // Removed from the file: deleted.
        let third = try await reconcile(
            #"{"schedules": [{"name": "a", "every": "2h", "kind": "noop"}, {"name": "c", "cron": "@hourly", "kind": "noop", "#
                + #""missed": "all", "missed_limit": 5, "overlap": "skip"}]}"#)
        #expect(third.added == 0 && third.changed == 0 && third.removed == 1, "\(third)")
        let kept = try await store.list(tenantID: nil)
        #expect(kept.map(\.name) == ["a", "c"])

        // A bad file names itself, the schedule and the field, and changes nothing.
        let badCron = try await refusal(
            #"{"schedules": [{"name": "a", "cron": "0 25 * * *", "kind": "noop"}, {"name": "d", "every": "1m", "kind": "noop"}]}"#)
        #expect(badCron.path == path && badCron.name == "a" && badCron.index == 0 && badCron.field == "cron", "\(badCron)")
        #expect("\(badCron)".hasPrefix("\(path): schedule 'a' (index 0): cron: hour: 25 is out of range 0-23 (column 3"), "\(badCron)")
        let badKind = try await refusal(#"{"schedules": [{"name": "d", "every": "1m", "kind": "noop"}, {"name": "e", "every": "1m", "kind": "nope"}]}"#)
        #expect(badKind.name == "e" && badKind.index == 1 && badKind.field == "kind", "\(badKind)")
        let twice = try await refusal(#"{"schedules": [{"name": "d", "every": "1m", "kind": "noop"}, {"name": "d", "every": "2m", "kind": "noop"}]}"#)
        #expect(twice.index == 1 && twice.field == "name", "\(twice)")
        let unnamed = try await refusal(#"{"schedules": [{"every": "1m", "kind": "noop"}]}"#)
        #expect(unnamed.name == nil && unnamed.index == 0 && unnamed.field == "name" && "\(unnamed)".contains("schedule at index 0"))
        #expect(try await refusal(#"{"schedules": [{"name": "d", "every": "1m", "kind": "noop", "tenant": "x"}]}"#).field == "tenant")
        #expect(try await refusal(#"{"schedules": [{"name": "d", "every": "1m", "kind": "noop", "args": {"sleep_ms": "x"}}]}"#).field == "args.sleep_ms")
        #expect(try await refusal(#"{"schedule": []}"#).field == "schedule")
        #expect(try await refusal("not json").field == nil)
        // A name the operator holds with a schedule of the API.
        _ = try await store.create(ScheduleRequest(name: "manual", kind: "noop", every: "1h"), tenantID: nil, producer: .operator)
        let taken = try await refusal(#"{"schedules": [{"name": "d", "every": "1m", "kind": "noop"}, {"name": "manual", "every": "1m", "kind": "noop"}]}"#)
        #expect(taken.name == "manual" && taken.field == "name", "\(taken)")
        let after = try await store.list(tenantID: nil)
        #expect(after.map(\.name) == ["a", "c", "manual"] && after.first { $0.name == "a" }?.everyMs == 7_200_000)

        // A file that is not there is an error too.
        try FileManager.default.removeItem(atPath: path)
        do {
            _ = try await store.reconcile(file: path)
            Issue.record("a missing file was accepted")
        } catch let error as ScheduleFileError {
            #expect(error.path == path && error.message.contains("cannot be read"))
        }
        // An empty list removes every config schedule, and leaves the API's.
        let emptied = try await reconcile(#"{"schedules": []}"#)
        let left = try await store.list(tenantID: nil)
        #expect(emptied.removed == 2 && left.map(\.name) == ["manual"], "\(emptied)")
    }
}
