import Foundation
import SpoolQueue
import TestSupport
import Testing

/// A job's hash read into typed fields, as `spool job` and `GET /v1/jobs/{id}` show it.
@Suite struct JobRecordTests {
    static let id = "01J0000000000000000000TEST"

    func read(
        _ hash: [String: String], activeScore: String? = nil, completedScore: String? = nil,
        parkedTenants: Set<String> = []
    ) throws -> JobRecord {
        try JobRecord(
            id: Self.id, queue: "default", hash: hash, activeScore: activeScore, completedScore: completedScore,
            parkedTenants: parkedTenants)
    }

    @Test func readsEveryFieldTheScriptsWrite() throws {
        let hash: [String: String] = [
            "kind": "noop", "args": #"{"sleep_ms":5}"#, "tenant": "acme", "state": "dead", "attempt": "3", "max_attempts": "3",
            "enqueued_at": "1795000000000", "run_at": "1795000001000", "finished_at": "1795000002000", "last_error": "boom",
            "dead_reason": "attempts exhausted (3/3)", "result": "ok", "idempotency_key": "k1", "parent_id": "01JPARENT",
            "limited_by": "sms:sender:+15005550006", "snoozed": "rate limited", "snoozes": "2", "written_later": "kept",
            "errors": #"[{"at":1795000001000,"attempt":1,"error":"boom","outcome":"retry"}]"#, "follow_ups": "sms/01JCHILD",
        ]
        // Every field but the one the active set supplies, so that a new field is tested here too.
        let known = Set(JobRecord.Field.allCases.map(\.rawValue)).subtracting([JobRecord.Field.leaseDeadline.rawValue])
        #expect(Set(hash.keys).subtracting(["written_later"]) == known)
        let record = try read(hash)
        #expect(record.id == Self.id && record.queue == "default" && record.state == .dead)
        #expect(record.kind == "noop" && record.args == #"{"sleep_ms":5}"# && record.tenant == "acme")
        #expect(record.attempt == 3 && record.maxAttempts == 3 && record.snoozes == 2)
        #expect(record.enqueuedAt == 1_795_000_000_000)
        #expect(record.runAt == 1_795_000_001_000)
        #expect(record.finishedAt == 1_795_000_002_000)
        #expect(record.lastError == "boom" && record.deadReason == "attempts exhausted (3/3)" && record.result == "ok")
        #expect(record.idempotencyKey == "k1" && record.parentID == "01JPARENT" && record.limitedBy == "sms:sender:+15005550006")
        #expect(record.snoozed == "rate limited" && record.leaseDeadline == nil)
        #expect(record.errors == #"[{"at":1795000001000,"attempt":1,"error":"boom","outcome":"retry"}]"#)
        #expect(record.followUps == "sms/01JCHILD")
        #expect(record.extra == ["written_later": "kept"])
        // `spool job` prints the hash as it is.
        #expect(record.textFields == hash)
    }

    /// The field names are spelled as the scripts spell them (all but the one the active set supplies).
    @Test func everyFieldIsOneTheScriptsWrite() throws {
        let folder = TestEnvironment.packageRoot + "/Sources/SpoolQueue/Scripts"
        var text = ""
        for file in try FileManager.default.contentsOfDirectory(atPath: folder) where file.hasSuffix(".lua") {
            text += try String(contentsOfFile: folder + "/" + file, encoding: .utf8)
        }
        for field in JobRecord.Field.allCases where field != .leaseDeadline {
            #expect(text.contains("'\(field.rawValue)'"), "\(field.rawValue)")
        }
    }

    @Test func readsAMinimalHash() throws {
        // What enqueue.lua writes for a job due now: no attempt, run_at, tenant or key.
        let enqueued: [String: String] = [
            "kind": "noop", "args": "{}", "max_attempts": "3", "enqueued_at": "1795000000000", "state": "pending",
        ]
        let record = try read(enqueued)
        #expect(record.state == .pending && record.attempt == nil && record.runAt == nil && record.tenant == nil)
        #expect(record.maxAttempts == 3 && record.enqueuedAt == 1_795_000_000_000 && record.extra.isEmpty)
        #expect(record.textFields == enqueued)
        // What recover.lua leaves when the job's data is gone: not even a kind.
        let lost = try read(["state": "dead", "finished_at": "1795000000000", "dead_reason": "malformed job"])
        #expect(lost.state == .dead && lost.kind == nil && lost.args == nil && lost.maxAttempts == nil)
        #expect(lost.finishedAt == 1_795_000_000_000 && lost.deadReason == "malformed job")
        #expect(try read(["result": "ok"]).state == .unknown)
    }

    @Test func theActiveAndCompletedSetsAndParkedLanesSayWhereTheJobIs() throws {
        let hash: [String: String] = [
            "kind": "noop", "args": "{}", "max_attempts": "3", "enqueued_at": "1000", "state": "pending", "tenant": "acme",
        ]
        let active = try read(hash, activeScore: "5000")
        #expect(active.state == .active && active.leaseDeadline == 5000)
        #expect(active.textFields["lease_deadline"] == "5000" && active.textFields["state"] == "active")
        let completed = try read(hash, completedScore: "2000")
        #expect(completed.state == .completed && completed.finishedAt == 2000 && completed.attempt == 1)
        #expect(try read(hash, parkedTenants: ["acme"]).state == .parked)
        #expect(try read(hash, parkedTenants: ["other"]).state == .pending)
    }

    @Test func rejectsAFieldThatIsNotItsTypeNamingIt() {
        let attempt = #expect(throws: JobRecordError.self) { try read(["state": "retry", "attempt": "x"]) }
        #expect(attempt?.field == .attempt && attempt?.value == "x")
        #expect(attempt?.description == "job \(Self.id): field attempt is \"x\", expected an integer")

        let time = #expect(throws: JobRecordError.self) { try read(["state": "scheduled", "run_at": "tomorrow"]) }
        #expect(time?.field == .runAt)
        #expect(time?.description == "job \(Self.id): field run_at is \"tomorrow\", expected a time in unix milliseconds")

        let score = #expect(throws: JobRecordError.self) { try read(["state": "pending"], completedScore: "soon") }
        #expect(score?.field == .finishedAt && score?.value == "soon")

        let state = #expect(throws: JobRecordError.self) { try read(["state": "frozen"]) }
        #expect(state?.field == .state && state?.value == "frozen")
    }
}
