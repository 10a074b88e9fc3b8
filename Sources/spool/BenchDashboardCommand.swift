import ArgumentParser
import FoundationEssentials
import SpoolAPI
import SpoolHTTP
import SpoolPostgres
import SpoolQueue
import SpoolRedis
import SpoolStore
import SpoolSupport
import Synchronization

/// `spool bench-dashboard`: every dashboard page's time with `--jobs` jobs in Redis and `--messages`
/// messages in PostgreSQL (issue 17's target: ≤ 50 ms each). The jobs are pending across ten tenants,
/// scheduled an hour ahead, and dead; the messages are one campaign's (a tenant's whole history in one
/// campaign is the worst case for its report). The API runs in this process on a loopback port, signed
/// in with the operator key; each page is fetched `--fetches` times and its p50, p99 and max are
/// printed. A database of its own (dropped afterwards) and a throwaway key prefix.
struct BenchDashboardCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-dashboard", abstract: "Measure every dashboard page's time with a million jobs and a million messages.")

    @OptionGroup var common: CommonOptions
    @Option(help: "Jobs in Redis.") var jobs = 1_000_000
    @Option(help: "Messages in PostgreSQL (one campaign's).") var messages = 1_000_000
    @Option(help: "Fetches of each page.") var fetches = 20

    func run() async throws {
        let (runtime, prefix) = try benchRuntime(common)
        let benchDatabase = try BenchDatabase(runtime, prefix: prefix, command: "bench-dashboard")
        defer { benchDatabase.drop() }
        let (database, url) = (benchDatabase.name, benchDatabase.url)
        var options = PostgresPool.Options()
        options.size = 8
        let pool = PostgresPool(url: try PostgresURL(parsing: url), options: options, logger: runtime.logger)
        defer { pool.close() }
        try await Migrator(pool: pool).migrate()
        let redis = runtime.redis(name: "bench")
        defer { Task { try? await deleteBenchKeys(prefix: prefix, redis: redis) } }
        let keys = runtime.settings.keys
        print("spool bench-dashboard: key prefix \(prefix), database \(database): \(jobs) jobs, \(messages) messages")

        // PostgreSQL: a tenant, its number, one campaign of `messages` messages, a few conversations.
        var started = monotonicNow()
        let tenant = try await TenantStore(pool: pool, admin: nil).create(name: "bench dashboard", timezone: "America/New_York")
        let sender = "+14155550123"
        try await pool.withConnection { connection in
            try connection.query("INSERT INTO sender_numbers (number, tenant_id) VALUES ($1, $2)", [sender, tenant.id])
            try connection.query(
                "INSERT INTO campaigns (id, tenant_id, name, body, sender, status) VALUES ('cmp_bench', $1, 'bench', 'Hi', $2, 'running')",
                [tenant.id, sender])
            try connection.query(
                """
                INSERT INTO messages (id, tenant_id, campaign_id, to_phone, from_sender, body, segments, encoding, cost_cents, status)
                SELECT 'msg_bench_' || g, $1, 'cmp_bench', '+1415' || lpad(g::text, 7, '0'), $2, 'Hi', 1, 'GSM-7', 1,
                       (ARRAY['delivered', 'delivered', 'delivered', 'sent', 'failed', 'skipped', 'queued'])[1 + g % 7]
                FROM generate_series(1, $3::int) g
                """, [tenant.id, sender, messages])
            try connection.query(
                """
                INSERT INTO conversations (id, tenant_id, contact, number, channel)
                SELECT 'cv_bench_' || g, $1, '+1628' || lpad(g::text, 7, '0'), $2, 'sms' FROM generate_series(1, 1000) g
                """, [tenant.id, sender])
            try connection.execute("ANALYZE")
        }
        print("PostgreSQL seeded in \(String(format: (monotonicNow() - started).secondsDouble)) s")

        // Redis: pending jobs across ten tenants, a tenth of them scheduled an hour ahead, and dead ones.
        started = monotonicNow()
        let enqueuer = Enqueuer(redis: redis, catalog: runtime.catalog, keys: keys)
        let dead = max(1, jobs / 50)
        let scheduled = jobs / 10
        let pending = jobs - dead - scheduled
        let later = SystemClock().nowMillis() + 3_600_000
        for first in stride(from: 0, to: pending + scheduled, by: 10_000) {
            let count = min(10_000, pending + scheduled - first)
            let requests = (first..<(first + count)).map { n in
                EnqueueRequest(kind: "noop", args: "{}", runAt: n >= pending ? later : nil, tenant: n % 10 == 0 ? tenant.id : "bench-\(n % 10)")
            }
            _ = try await enqueuer.enqueue(batch: requests)
        }
        let now = SystemClock().nowMillis()
        var deadID = ""
        for first in stride(from: 0, to: dead, by: 5_000) {
            var commands = [RedisCommand("SADD", keys.queues, "default")]
            for index in first..<min(dead, first + 5_000) {
                let id = JobID.make(now: now - Int64(index))
                deadID = id
                commands.append(
                    RedisCommand(
                        "HSET",
                        [
                            keys.job("default", id), "kind", "noop", "args", "{}", "state", "dead", "attempt", "5", "max_attempts", "5",
                            "enqueued_at", String(now - 600_000), "finished_at", String(now - Int64(index)), "dead_reason", "bench",
                            "tenant", tenant.id,
                        ]))
                commands.append(RedisCommand("ZADD", keys.dead("default"), String(now - Int64(index)), id))
            }
            for reply in try await redis.pipeline(commands) { _ = try reply.checked("seed dead jobs") }
        }
        print(
            "Redis seeded in \(String(format: (monotonicNow() - started).secondsDouble)) s: \(pending) pending, \(scheduled) scheduled, \(dead) dead")

        // The API in this process, signed in with the operator key.
        let port = try LoopbackPort.free()
        var configuration = APIServer.Configuration()
        configuration.port = port
        configuration.operatorKey = "bench-dashboard-operator-\(prefix)"
        configuration.publicURL = "http://127.0.0.1:\(port)"
        var settings = runtime.settings
        settings.keyPrefix = prefix
        let api = APIServer(configuration: configuration, redis: redis, pool: pool, settings: settings, catalog: runtime.catalog, logger: runtime.logger)
        let listening = Mutex(false)
        let task = Task { try await api.runUntilCancelled { _ in listening.withLock { $0 = true } } }
        defer { task.cancel() }
        started = monotonicNow()
        while !listening.withLock({ $0 }) {
            if monotonicNow() - started > .seconds(30) { throw SpoolCommandError("the API did not start within 30 s") }
            try await Task.sleep(for: .milliseconds(10))
        }
        let base = "http://127.0.0.1:\(port)"
        let client = HTTPClient(name: "bench-dashboard")
        let login = try await client.send(
            HTTPClientRequest("POST", base + "/dashboard/login", body: .form([("key", configuration.operatorKey!)]), timeout: .seconds(30)))
        guard login.status == 303, let cookie = login.headers["Set-Cookie"]?.split(separator: ";").first.map(String.init) else {
            throw SpoolCommandError("the dashboard login answered \(login.status)")
        }
        let pendingID = try await redis.run("LINDEX", keys.lane("default", tenant: tenant.id), "0").string ?? ""

        let pages = [
            "/dashboard", "/dashboard/live", "/dashboard/queues", "/dashboard/jobs?state=pending", "/dashboard/jobs?state=scheduled",
            "/dashboard/jobs?state=dead", "/dashboard/jobs?state=pending&tenant=\(tenant.id)", "/dashboard/jobs?state=dead&kind=noop",
            "/dashboard/jobs/\(pendingID)", "/dashboard/jobs/\(deadID)", "/dashboard/workers", "/dashboard/limits", "/dashboard/schedules",
            "/dashboard/tenants", "/dashboard/campaigns", "/dashboard/campaigns/cmp_bench", "/dashboard/conversations",
            "/dashboard/conversations/cv_bench_1", "/dashboard/calendars",
        ]
        print("page                                                    status   p50 ms   p99 ms   max ms")
        var slowest: (page: String, ms: Double) = ("", 0)
        for page in pages {
            var times: [Double] = []
            var status = 0
            for _ in 0..<fetches {
                let begun = monotonicNow()
                let answer = try await client.send(HTTPClientRequest("GET", base + page, headers: ["Cookie": cookie], timeout: .seconds(60)))
                times.append((monotonicNow() - begun).secondsDouble * 1000)
                status = answer.status
            }
            times.sort()
            let p99 = times[min(times.count - 1, Int(Double(times.count) * 0.99))]
            if p99 > slowest.ms { slowest = (page, p99) }
            let name = page.count > 54 ? String(page.prefix(51)) + "..." : page
            print(
                name.padding(56) + String(status).padding(9) + String(format: times[times.count / 2]).padding(9) + String(format: p99).padding(9)
                    + String(format: times.last!))
        }
        print("slowest at p99: \(slowest.page) \(String(format: slowest.ms)) ms (target ≤ 50 ms per page)")
    }
}
