import ArgumentParser
import FoundationEssentials
import SpoolPostgres
import SpoolQueue
import SpoolRedis
import SpoolSMS
import SpoolSandbox
import SpoolStore
import SpoolSupport
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// `spool bench-sms`: the SMS issue's numbers against the configured Redis and PostgreSQL.
///
/// 1. Import: `--contacts` rows of CSV for a fresh tenant.
/// 2. Launch: a campaign to all of them, from request to every job queued.
/// 3. End to end: `--send` messages through one `spool worker` process and the in-process sandbox
///    at 50 ms latency, sender limits lifted (Spool's and the sandbox's, and the account's allowance of
///    requests in flight raised above the concurrency), counting a message when PostgreSQL says it is sent.
/// The bench's tenants, rows and keys are deleted afterwards.
struct BenchSMSCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-sms", abstract: "Measure contact import, campaign launch and end-to-end sends.")

    @OptionGroup var common: CommonOptions
    @Option(help: "Contacts to import and launch to.") var contacts = 100_000
    @Option(help: "Messages for the end-to-end run.") var send = 20_000
    @Option(help: "The worker's concurrency for the end-to-end run.") var concurrency = 300
    @Option(help: "Sandbox latency per request, ms.") var latency = 50

    func run() async throws {
        let (runtime, prefix) = try benchRuntime(common)
        let pool = try runtime.postgres(size: 4)
        defer { pool.close() }
        try await Migrator(pool: pool).migrate()
        let redis = runtime.redis(name: "bench")
        let admin = runtime.admin(redis)
        let enqueuer = Enqueuer(redis: redis, catalog: runtime.catalog, keys: runtime.settings.keys)
        let tenants = TenantStore(pool: pool, admin: nil)
        // A zone where it is daytime now, so that quiet hours hold nothing back.
        let now = SystemClock().nowMillis()
        let zone = [
            "Europe/London", "Asia/Tokyo", "America/New_York", "America/Los_Angeles", "Pacific/Honolulu", "Asia/Kolkata",
            "Pacific/Kiritimati",
        ]
        .first { QuietHours().nextAllowed(nowMs: now, zone: ZoneInfo.named($0)!) == nil }!
        print("spool bench-sms: key prefix \(prefix), \(contacts) contacts, \(send) end-to-end messages at \(latency) ms sandbox latency")
        var created: [String] = []
        do {
            // 1. Import.
            let big = try await tenants.create(name: "bench import", timezone: "UTC")
            created.append(big.id)
            let csv = Self.csv(count: contacts, offset: 2_000_000, zone: zone)
            var started = monotonicNow()
            let report = try await ContactImporter(pool: pool).run(tenantID: big.id, csv: csv, dryRun: false)
            guard report.rejected.isEmpty else { throw SpoolCommandError("the bench's own CSV was refused: \(report.rejected.prefix(3))") }
            print(
                "import: \(report.inserted) contacts in \(String(format: (monotonicNow() - started).secondsDouble)) s (target ≤ 10 s for 100,000)"
            )

            // 2. Launch.
            let store = CampaignStore(pool: pool, enqueuer: enqueuer)
            let campaign = try await store.create(
                tenantID: big.id, name: "bench launch", sender: try await Self.registerSender(pool: pool, tenant: big.id),
                body: "Hi {{first_name}}, your code is {{code}}")
            started = monotonicNow()
            let launch = try await store.launch(id: campaign.id)
            print(
                "launch: \(launch.queued) messages queued and \(launch.enqueued) jobs enqueued in \(String(format: (monotonicNow() - started).secondsDouble)) s (target ≤ 10 s for 100,000)"
            )
            try await explain(pool: pool, tenant: big.id)
            _ = try await store.control(id: campaign.id, .cancel)
            try await deleteBenchKeys(prefix: prefix, redis: redis)

            // 3. End to end through one worker process.
            let small = try await tenants.create(name: "bench send", timezone: "UTC")
            created.append(small.id)
            let sender = try await Self.registerSender(pool: pool, tenant: small.id)
            _ = try await ContactImporter(pool: pool).run(
                tenantID: small.id, csv: Self.csv(count: send, offset: 5_000_000, zone: zone), dryRun: false)
            try await admin.setLimit("sms:sender:{from}", .rate(units: 1_000_000, period: .seconds(1), burst: 10_000))
            try await admin.setLimit("sms:account:{tenant}", .concurrency(max: 100_000))
            var sandboxConfiguration = SandboxServer.Configuration()
            sandboxConfiguration.port = 0
            sandboxConfiguration.faults = [
                .object([
                    "latency_ms": .number(Double(latency)), "sender_rates": .object([sender: .number(1_000_000)]),
                    "max_concurrent_requests": .number(Double(concurrency * 2)),
                    "callback_delay_ms": .number(600_000),
                ])
            ]
            let sandbox = try SandboxServer(configuration: sandboxConfiguration, logger: runtime.logger)
            let sandboxPort = Mutex<Int>(0)
            let sandboxTask = Task { try await sandbox.run { port in sandboxPort.withLock { $0 = port } } }
            defer { sandboxTask.cancel() }
            while sandboxPort.withLock({ $0 }) == 0 { try await Task.sleep(for: .milliseconds(10)) }
            try await admin.pause(queue: "sms")
            let sms = try await store.create(
                tenantID: small.id, name: "bench send", sender: sender, body: "Hi {{first_name}}, your code is {{code}}")
            _ = try await store.launch(id: sms.id)
            var environment = [
                "SPOOL_KEY_PREFIX": prefix, "SPOOL_LOG_LEVEL": "warning", "REDIS_URL": runtime.settings.redisURL.urlString,
                "SPOOL_JOBS_DIR": runtime.settings.jobsDirectory, "DATABASE_URL": runtime.settings.databaseURL ?? "",
                "SPOOL_SANDBOX_URL": "http://127.0.0.1:\(sandboxPort.withLock { $0 })", "SPOOL_RECORD_RESULTS": "0",
            ]
            if let config = common.config { environment["SPOOL_CONFIG"] = config }
            let worker = try ChildProcess(
                [ChildProcess.currentExecutable, "worker", "--queues", "sms", "--concurrency", String(concurrency)],
                environment: environment)
            try await waitForBenchWorker(admin)
            started = monotonicNow()
            let cpuBefore = worker.cpuSeconds ?? 0
            try await admin.resume(queue: "sms")
            var sent = 0
            while sent < send {
                try await Task.sleep(for: .milliseconds(200))
                sent = try await pool.withConnection {
                    try $0.query("SELECT count(*) AS n FROM messages WHERE campaign_id = $1 AND status = 'sent'", [sms.id]).first?.int("n")
                        ?? 0
                }
                if monotonicNow() - started > .seconds(600) {
                    throw SpoolCommandError("the end-to-end run did not finish in 600 s (\(sent) sent)")
                }
            }
            let seconds = (monotonicNow() - started).secondsDouble
            let rss = worker.peakRSSKilobytes ?? 0
            let cpu = (worker.cpuSeconds ?? 0) - cpuBefore
            worker.signal(SIGTERM)
            worker.wait()
            print(
                "end to end: \(send) messages sent in \(String(format: seconds)) s = \(Int(Double(send) / seconds)) messages/s by one worker process "
                    + "(concurrency \(concurrency), sandbox \(latency) ms, peak RSS \(rss / 1024) MB; target ≥ 3,000/s)")
            // The worker shares the machine with the sandbox, PostgreSQL, Redis and this process: its own
            // CPU per message says what it would do with a core to itself.
            print(
                "worker CPU: \(Int(cpu / Double(send) * 1_000_000)) µs per message, \(Int(cpu / seconds * 100))% of one core "
                    + "(a core of its own: about \(Int(Double(send) / cpu)) messages/s)")
        } catch {
            try? await cleanUp(pool: pool, tenants: created, redis: redis, prefix: prefix)
            throw error
        }
        try await cleanUp(pool: pool, tenants: created, redis: redis, prefix: prefix)
    }

    /// The plans of the launch's and the reports' queries over the 100,000 rows just written: each
    /// must reach its rows through an index, never by reading the whole table. The campaign queries
    /// ask about another, small campaign: reading every row of a campaign that is the whole table is
    /// rightly a sequential scan, and says nothing about the index.
    private func explain(pool: PostgresPool, tenant: String) async throws {
        let other = "cmp_" + JobID.make(now: SystemClock().nowMillis()).lowercased()
        let queries: [(String, String, [any PostgresBindable])] = [
            (
                "launch: next contacts (keyset)",
                "SELECT c.id FROM contacts c LEFT JOIN do_not_contact d ON d.tenant_id = c.tenant_id AND d.phone = c.phone WHERE c.tenant_id = $1 AND c.id > $2 ORDER BY c.id LIMIT 5000",
                [tenant, 50_000]
            ),
            (
                "report: counts by status",
                "SELECT status, coalesce(reason, '') AS reason, count(*) AS n FROM messages WHERE campaign_id = $1 GROUP BY status, reason",
                [other]
            ),
            (
                "completion: any message open",
                "SELECT 1 FROM messages WHERE campaign_id = $1 AND status IN ('queued', 'sending', 'in_doubt') LIMIT 1", [other]
            ),
            ("receipt: message by sid", "SELECT id FROM messages WHERE provider_sid = $1", ["SM0123"]),
            (
                "dashboard: sent today", "SELECT count(*) FROM messages WHERE tenant_id = $1 AND sent_at >= date_trunc('day', now())",
                [tenant]
            ),
            ("contact delete: messages of a contact", "SELECT 1 FROM messages WHERE contact_id = $1", [1]),
        ]
        try await pool.withConnection { connection in
            try connection.execute("ANALYZE contacts; ANALYZE messages")
            for (name, sql, parameters) in queries {
                let plan = try connection.query("EXPLAIN " + sql, parameters).rows.compactMap { try $0.string("QUERY PLAN") }
                // Plan lines look like "  ->  Index Scan using messages_provider_sid on messages m  (cost=...)".
                let scans = plan.filter { $0.contains("Scan") }.map { line in
                    String(line.drop(while: { $0 == " " || $0 == "-" || $0 == ">" }).prefix(while: { $0 != "(" })).trimmingSpaces
                }
                print("plan, \(name): \(scans.joined(separator: "; "))")
                if let full = scans.first(where: { $0.hasPrefix("Seq Scan on messages") || $0.hasPrefix("Seq Scan on contacts") }) {
                    throw SpoolCommandError("\(name) reads a whole table over 100,000 rows: \(full)")
                }
            }
        }
    }

    /// A short code for the tenant's campaigns, one no tenant holds yet: campaigns send only from their
    /// tenant's own numbers, and a short code is one the sandbox lets through at 100 per second.
    static func registerSender(pool: PostgresPool, tenant: String) async throws -> String {
        let numbers = SenderNumbers(pool: pool)
        for _ in 0..<100 {
            do {
                return try await numbers.add(String(Int.random(in: 100_000...999_999)), tenantID: tenant).number
            } catch SenderNumberError.conflict(_) { continue }
        }
        throw SpoolCommandError("no free short code found for the bench's sender after 100 tries")
    }

    static func csv(count: Int, offset: Int, zone: String) -> [UInt8] {
        var text = "phone,first_name,timezone,consent,code\n"
        text.reserveCapacity(count * 48)
        for n in 0..<count { text += "+1415\(CivilTime.pad(offset + n, 7)),Name\(n),\(zone),yes,\(n % 9973)\n" }
        return Array(text.utf8)
    }

    private func cleanUp(pool: PostgresPool, tenants: [String], redis: RedisClient, prefix: String) async throws {
        try await pool.withConnection { connection in
            for tenant in tenants {
                for table in [
                    "events", "inbound_messages", "conversations", "messages", "budget_spend", "campaigns", "do_not_contact", "contacts",
                    "api_keys", "sender_numbers", "tenants",
                ] {
                    try connection.query("DELETE FROM \(table) WHERE \(table == "tenants" ? "id" : "tenant_id") = $1", [tenant])
                }
            }
        }
        try await deleteBenchKeys(prefix: prefix, redis: redis)
    }
}
