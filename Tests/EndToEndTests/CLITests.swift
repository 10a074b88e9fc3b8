import Foundation
import SpoolQueue
import SpoolRedis
import SpoolSupport
import TestSupport
import Testing

/// The `spool` command line as operators and scripts use it.
@Suite struct CLITests {
    struct Run { let status: Int32; let output: String }

    func spool(_ f: QueueFixture, _ arguments: [String], stdin: String? = nil) throws -> Run {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("cli-\(UUID().uuidString).out").path
        var args = arguments
        if let stdin {
            let input = out + ".in"
            try stdin.write(toFile: input, atomically: true, encoding: .utf8)
            args = args.map { $0 == "-" ? input : $0 }
        }
        let child = try ChildProcess(
            [try TestEnvironment.spoolBinary()] + args,
            environment: [
                "REDIS_URL": f.url.urlString, "SPOOL_KEY_PREFIX": f.keys.prefix, "SPOOL_LOG_LEVEL": "error",
                "SPOOL_JOBS_DIR": TestEnvironment.packageRoot + "/Jobs", "SPOOL_CONFIG": TestEnvironment.packageRoot + "/config/spool.json",
            ], output: out)
        let status = child.wait()
        return Run(status: status, output: (try? String(contentsOfFile: out, encoding: .utf8)) ?? "")
    }

    /// `spool config show` lists every setting with its source; `spool config check` reaches Redis and
    /// names what production should not run with.
    @Test func configShowsEverySettingAndCheckReachesRedis() throws {
        let f = try QueueFixture()
        let shown = try spool(f, ["config", "show", "--json"])
        #expect(shown.status == 0, "\(shown.output)")
        let entries = try JSONValue.parse(shown.output).arrayValue ?? []
        let byName = Dictionary(uniqueKeysWithValues: entries.compactMap { entry in entry["name"]?.stringValue.map { ($0, entry) } })
        #expect(
            byName["redis.key_prefix"]?["value"]?.stringValue == f.keys.prefix
                && byName["redis.key_prefix"]?["source"] == .string("SPOOL_KEY_PREFIX"))
        #expect(byName["worker.concurrency"]?["source"]?.stringValue?.hasSuffix("config/spool.json") == true)
        #expect(byName["api.operator_key"]?["value"] == .string("(unset)") && byName["sandbox.url"] != nil)
        let checked = try spool(f, ["config", "check"])
        #expect(checked.status == 0, "\(checked.output)")
        #expect(checked.output.contains("reachable") && checked.output.contains("warning: api.operator_key: unset"))
    }

    @Test func enqueuePrintsTheIdAndJobShowsIt() throws {
        let f = try QueueFixture()
        let enqueued = try spool(f, ["enqueue", "noop", "--args", #"{"sleep_ms": 5}"#, "--in", "60"])
        #expect(enqueued.status == 0)
        let id = enqueued.output.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(JobID.isValid(id))
        let shown = try spool(f, ["job", id, "--json"])
        #expect(shown.output.contains(#""state" : "scheduled""#))
        #expect(try spool(f, ["cancel", id]).output.contains("cancelled \(id)"))
        let again = try spool(f, ["cancel", id])
        #expect(again.status == 1 && again.output.contains("is cancelled; only pending, scheduled or retry jobs can be cancelled"))
    }

    @Test func limitsAreSetShownAndClearedAtRunTime() throws {
        let f = try QueueFixture()
        let set = try spool(f, ["limits", "set", "sms:sender:{from}", "--rate", "5/s", "--burst", "2"])
        #expect(set.status == 0 && set.output.contains("sms:sender:{from}: 5/second burst 2"))
        let shown = try spool(f, ["limits", "show", "--json"])
        #expect(
            shown.output.contains(#""sms:sender:{from}" : "5\/second burst 2""#)
                || shown.output.contains(#""sms:sender:{from}" : "5/second burst 2""#))
        let bad = try spool(f, ["limits", "set", "k", "--rate", "5/fortnight"])
        #expect(bad.status != 0 && bad.output.contains("--rate: '5/fortnight': expected <count>/<second|minute|hour|day>"))
        let two = try spool(f, ["limits", "set", "k", "--rate", "5/s", "--concurrency", "3"])
        #expect(two.status != 0 && two.output.contains("give exactly one of --rate, --concurrency or --quota"))
        #expect(try spool(f, ["limits", "clear", "sms:sender:{from}"]).status == 0)
        let again = try spool(f, ["limits", "clear", "sms:sender:{from}"])
        #expect(again.status == 1 && again.output.contains("no run-time setting for 'sms:sender:{from}'"))
    }

    @Test func badInputSaysWhatIsWrong() throws {
        let f = try QueueFixture()
        let unknown = try spool(f, ["enqueue", "teleport"])
        #expect(unknown.status != 0 && unknown.output.contains("kind: unknown kind 'teleport'"))
        let badArgs = try spool(f, ["enqueue", "noop", "--args", #"{"sleep_ms": "x"}"#])
        #expect(badArgs.output.contains(#"args.sleep_ms: expected integer, got string "x""#))
        let badTime = try spool(f, ["enqueue", "noop", "--at", "tomorrow"])
        #expect(badTime.output.contains("--at 'tomorrow': not an ISO 8601 time"))
        let badURL = try ChildProcess([try TestEnvironment.spoolBinary(), "stats"], environment: ["REDIS_URL": "localhost"], output: nil)
        #expect(badURL.wait() != 0)
    }

    @Test func enqueueFromAFileKeepsGoodLinesAndNamesBadOnes() async throws {
        let f = try QueueFixture()
        let lines = (0..<1_000).map { #"{"sleep_ms": \#($0 % 3)}"# } + ["", #"{"sleep_ms": "slow"}"#, "not json", #"{"mark": true}"#]
        let run = try spool(f, ["enqueue", "noop", "--file", "-"], stdin: lines.joined(separator: "\n"))
        #expect(run.status == 2)
        #expect(run.output.contains(#"line 1002: args.sleep_ms: expected integer, got string "slow""#))
        #expect(run.output.contains("line 1003: args: not valid JSON"))
        #expect(run.output.contains("enqueued 1001 noop jobs"))
        #expect(run.output.contains("2 lines rejected"))
        #expect(try await f.stats().pending == 1_001)
    }

    @Test func statsJSONUsesTheDocumentedFieldNames() async throws {
        let f = try QueueFixture()
        try await f.seedPending(3)
        let run = try spool(f, ["stats", "--json"])
        let json = try JSONSerialization.jsonObject(with: Data(run.output.utf8)) as! [String: Any]
        let queue = (json["queues"] as! [[String: Any]]).first { $0["queue"] as? String == "default" }!
        for field in ["pending", "scheduled", "active", "retry", "dead", "processed", "failed"] {
            #expect(queue[field] != nil, "missing \(field)")
        }
        #expect(queue["pending"] as? Int == 3)
    }

    @Test func deadListRetryAndDiscard() async throws {
        let f = try QueueFixture()
        let id = try await f.enqueuer.enqueue(EnqueueRequest(kind: "noop", args: #"{"fail":"permanent"}"#)).id
        let worker = try WorkerProcess(url: f.url, prefix: f.keys.prefix, concurrency: 2)
        try await worker.waitUntilRunning(f)
        try await waitUntil("the job is dead") { try await f.fields(id)["state"] == "dead" }
        #expect(worker.terminate() == 0)
        let listed = try spool(f, ["dead", "list", "--json"])
        #expect(listed.output.contains(id) && listed.output.contains("permanent error: noop asked to fail permanently"))
        #expect(try spool(f, ["dead", "retry", id]).output.contains("retried 1 dead job"))
        #expect(try await f.fields(id)["state"] == "pending")
        #expect(try spool(f, ["dead", "discard", "--all"]).output.contains("discarded 0 dead jobs"))
        #expect(try spool(f, ["dead", "retry"]).output.contains("give either a job id or --all"))
    }

    @Test func pauseAndResumeAQueue() async throws {
        let f = try QueueFixture()
        #expect(try spool(f, ["queue", "pause", "default"]).output.contains("paused default"))
        #expect(try await f.stats().paused)
        #expect(try spool(f, ["queue", "resume", "default"]).output.contains("resumed default"))
        #expect(try await !f.stats().paused)
    }
}
