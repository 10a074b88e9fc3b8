import FoundationEssentials
import SpoolAPI
import SpoolQueue
import SpoolStore
import SpoolSupport
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// One sender's limit, shared by three worker processes through Redis, as the provider sees it: the
/// sandbox counts every request per sender per calendar second. One test at a time: both read time.
@Suite(.serialized) struct SMSSenderLimitTests {
    /// A campaign of `messages` from tenant A's sender, launched under `limit`, and three `spool worker`
    /// processes sending it. The sandbox itself would allow far more: only Spool's limiter holds the pace.
    private func sendWithThreeWorkers(
        messages: Int, limit: LimitSpec, name: String
    ) async throws
        -> (sandbox: RunningSandbox, workers: [ChildProcess], queued: Int)
    {
        let port = try LocalServer.freePort()
        let sandbox = try await RunningSandbox.start()
        let f = try await APIFixture(kinds: SMSCampaignTests.repositoryKinds) {
            $0.port = port
            $0.publicURL = "http://127.0.0.1:\(port)"
            $0.twilioAuthToken = RunningSandbox.authToken
        }
        let zone = SMSCampaignTests.daytimeZone()
        let csv =
            (["phone,first_name,timezone,consent"] + (0..<messages).map { "+1415\(CivilTime.pad(3_000_000 + $0, 7)),C\($0),\(zone),yes" })
            .joined(separator: "\n")
        try await sandbox.setFaults(#"{"latency_ms": 20, "sender_rates": {"\#(f.a.sender)": 100000}}"#)
        _ = try await ContactImporter(pool: f.pool).run(tenantID: f.a.id, csv: Array(csv.utf8), dryRun: false)
        let store = CampaignStore(pool: f.pool, enqueuer: f.queue.enqueuer)
        let campaign = try await store.create(tenantID: f.a.id, name: name, sender: f.a.sender, body: "Hi {{first_name}}")
        try await f.queue.admin.setLimit("sms:sender:{from}", limit)
        let queued = try await store.launch(id: campaign.id).queued
        let logs = FileManager.default.temporaryDirectory.appendingPathComponent("limited-\(f.queue.keys.prefix)").path
        let workers = try (0..<3).map { try SMSWorkerProcess.start(f, sandbox: sandbox, apiPort: port, log: logs + "-\($0).log") }
        return (sandbox, workers, queued)
    }

    /// The sandbox's requests from the campaign's sender (the only one this sandbox sees) per unix second.
    private func perSecond(_ counters: JSONValue) -> [Int64: Int] {
        let seconds = counters["sender_requests_per_second"]?.objectValue?.values.first?.objectValue ?? [:]
        return Dictionary(uniqueKeysWithValues: seconds.compactMap { key, value in Int64(key).map { ($0, value.intValue ?? 0) } })
    }

    @Test func threeWorkersHoldOneSendersFivePerSecondFor30SecondsAtTheProvider() async throws {
        let (sandbox, workers, queued) = try await sendWithThreeWorkers(
            messages: 240, limit: .rate(units: 5, period: .seconds(1), burst: 2), name: "Paced")
        #expect(queued == 240)
        // The first second is partial (sending starts somewhere in it); the 30 after it are whole.
        try await waitUntil("31 seconds of sending", timeout: .seconds(75)) {
            let seconds = perSecond(try await sandbox.counters()).keys
            return (seconds.max() ?? 0) - (seconds.min() ?? 0) >= 31
        }
        for worker in workers { worker.signal(SIGTERM); _ = worker.wait() }
        let counted = perSecond(try await sandbox.counters())
        await sandbox.stop()

        let first = counted.keys.min()!
        let whole = (first + 1...first + 30).map { counted[$0] ?? 0 }
        let total = whole.reduce(0, +)
        print("sender limit at the provider: \(total) requests in 30 whole seconds (ideal 150), busiest second \(counted.values.max()!)")
        // Never more than the rate plus the burst in any second, the partial first one included.
        #expect(counted.values.max()! <= 5 + 2, "busiest second: \(counted.values.max()!)")
        // And no capacity wasted: within 5% of 5 per second.
        #expect(abs(total - 150) <= 7, "\(total) requests in 30 s, ideal 150; per second: \(whole)")
    }

    @Test func aRetryAfterFromTheProviderPausesTheSenderInEveryWorker() async throws {
        let (sandbox, workers, _) = try await sendWithThreeWorkers(
            messages: 300, limit: .rate(units: 20, period: .seconds(1), burst: 2),
            name: "Paused by the provider")
        func accepted() async throws -> Int { try await sandbox.counters()["sms_accepted_total"]?.intValue ?? 0 }
        try await waitUntil("40 messages sent", timeout: .seconds(30)) { try await accepted() >= 40 }
        // The next request is answered 429 with Retry-After: 3.
        try await sandbox.setFaults(#"{"scope": "sms", "burst_429": 1, "retry_after_seconds": 3}"#)
        let before = try await accepted()
        try await waitUntil("sending again after the pause", timeout: .seconds(30)) { try await accepted() >= before + 40 }
        for worker in workers { worker.signal(SIGTERM); _ = worker.wait() }
        let counters = try await sandbox.counters()
        await sandbox.stop()

        let seconds = perSecond(counters)
        let (first, last) = (seconds.keys.min()!, seconds.keys.max()!)
        let timeline = (first...last).map { seconds[$0] ?? 0 }
        // At 20 per second from three processes, a second without a request only happens when every
        // process holds back: the pause ran from the 429 for 3 s, so two whole seconds are empty.
        var longestQuiet = 0, quiet = 0
        for count in timeline {
            quiet = count == 0 ? quiet + 1 : 0
            longestQuiet = max(longestQuiet, quiet)
        }
        print("provider pause: requests per second \(timeline)")
        #expect(longestQuiet >= 2, "requests per second: \(timeline)")
        #expect(longestQuiet <= 3, "the pause outlasted the provider's 3 s: \(timeline)")
        #expect(counters["statuses"]?["sms"]?["429"]?.intValue == 1)
        #expect(counters["sms_duplicates"] == .number(0))
    }
}
