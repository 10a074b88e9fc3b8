import ArgumentParser
import Logging
import ServiceLifecycle
import SpoolAPI
import SpoolHTTP
import SpoolJobs
import SpoolPostgres
import SpoolQueue
import SpoolRedis
import SpoolSMS
import SpoolSandbox
import SpoolStore
import SpoolSupport

#if canImport(Glibc)
    import Glibc
#endif

/// Every role in one process, for development: the worker (which also promotes, recovers and trims)
/// and the sandbox provider, which stands in for Twilio, OpenAI and Google until real credentials are
/// configured. With --demo it first enqueues a mix of jobs and reports them flowing.
struct DevCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "dev", abstract: "Run every role in one process (development).")

    @OptionGroup var common: CommonOptions
    @Flag(help: "Enqueue a demo mix of jobs (fast, slow, retried, dead, delayed) and report progress.") var demo = false
    @Flag(help: "With --demo: exit when the demo's jobs have settled instead of serving on.") var exitAfterDemo = false
    @Option(name: .customLong("sandbox-port"), help: "Port of the in-process sandbox provider (0: do not run it).") var sandboxPort = 4010
    @Option(name: .customLong("api-port"), help: "Port of the enqueue API, served when DATABASE_URL is set (0: do not serve it).")
    var apiPort = 8080

    func run() async throws {
        // `spool dev` is the explicit sandbox mode: providers without credentials go to the sandbox
        // it runs (TwilioConfiguration), and every process it starts says so at start.
        if sandboxPort != 0, (currentEnvironment()["SPOOL_SANDBOX_URL"] ?? "").isEmpty {
            setenv("SPOOL_SANDBOX_URL", "http://127.0.0.1:\(sandboxPort)", 1)
        }
        // Delivery receipts come back to this process's API.
        if apiPort != 0, (currentEnvironment()["SPOOL_PUBLIC_URL"] ?? "").isEmpty {
            setenv("SPOOL_PUBLIC_URL", "http://127.0.0.1:\(apiPort)", 1)
        }
        // The dashboard's operator needs a key: one made for this run unless one is configured (printed
        // once the API listens, so that a developer can sign in).
        var madeOperatorKey: String?
        if apiPort != 0, (currentEnvironment()["SPOOL_OPERATOR_KEY"] ?? "").isEmpty {
            let key = "dev-operator-" + Hashing.hex((0..<16).map { _ in UInt8.random(in: 0...255) })
            setenv("SPOOL_OPERATOR_KEY", key, 1)
            madeOperatorKey = key
        }
        let runtime = try Runtime.load(common, checkHandlers: true)
        let observers = try runtime.settleObservers()
        let worker = WorkerService(
            settings: runtime.settings, catalog: runtime.catalog, handlers: try runtime.handlers(),
            observers: observers.map { $0 as any SettleObserver }, logger: runtime.logger)
        let redis = runtime.redis()
        // Fail fast with a clear message when Redis is not there.
        do { _ = try await redis.run("PING") } catch {
            throw SpoolCommandError("cannot reach Redis at \(runtime.settings.redisURL): \(error)")
        }
        var services: [any Service] = observers + [worker]
        if sandboxPort != 0 {
            var configuration = SandboxServer.Configuration()
            configuration.port = sandboxPort
            // The sandbox's simulated inbound messages (POST /_sandbox/inbound) go to this process's API,
            // at the public URL the API checks their signatures over.
            if apiPort != 0, runtime.settings.databaseURL != nil {
                let base = runtime.settings.publicURL ?? "http://127.0.0.1:\(apiPort)"
                let url = (base.hasSuffix("/") ? String(base.dropLast()) : base) + "/v1/webhooks/twilio/inbound"
                if SandboxServer.isLoopback(url) {
                    configuration.inboundURL = url
                } else {
                    runtime.logger.notice(
                        "the sandbox posts inbound messages to this machine only: not to \(url); set it with POST /_sandbox/faults")
                }
            }
            let port = sandboxPort
            let sandbox = try SandboxServer(configuration: configuration, logger: runtime.logger)
            services.append(SandboxService(server: sandbox) { _ in say("sandbox provider on http://127.0.0.1:\(port)") })
        }
        if apiPort != 0, runtime.settings.databaseURL != nil {
            let api = try runtime.apiServer(host: "127.0.0.1", port: apiPort)
            services.append(APIService(server: api, operatorKey: madeOperatorKey))
        }
        if let ticker = try await runtime.scheduleTicker() { services.append(ticker) }
        let group = ServiceGroup(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: runtime.logger)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            if demo {
                try await Demo(runtime: runtime, redis: redis).run()
                if apiPort != 0, sandboxPort != 0, runtime.settings.databaseURL != nil {
                    let (tenant, sender) = try await CampaignDemo(runtime: runtime, redis: redis).run()
                    try await ConversationDemo(runtime: runtime, redis: redis, sandboxPort: sandboxPort).run(tenantID: tenant, number: sender)
                    try await CalendarDemo(runtime: runtime, redis: redis, sandboxPort: sandboxPort).run(tenantID: tenant)
                    try await ScheduleDemo(runtime: runtime, redis: redis).run()
                }
                if exitAfterDemo {
                    await group.triggerGracefulShutdown()
                } else {
                    // A second terminal needs the same Redis; show its URL unless it holds a password.
                    let url = runtime.settings.redisURL
                    let env = url.password == nil ? "REDIS_URL=\(url.urlString) " : ""
                    say(
                        "demo done; still serving (Ctrl-C stops). In another terminal: \(env).build/release/spool enqueue noop --args '{\"sleep_ms\":100}'"
                    )
                }
            }
            try await tasks.waitForAll()
        }
    }
}

/// The sandbox as one of dev's services: stopped with the others on SIGTERM or Ctrl-C.
struct SandboxService: Service {
    let server: SandboxServer
    let onListening: @Sendable (Int) async -> Void

    func run() async throws {
        // Hummingbird's server is a Service: on the group's graceful shutdown it stops accepting and
        // drains by itself. Cancelling it instead logs errors at every Ctrl-C.
        try await server.run(onListening: onListening)
    }
}

/// The API as one of dev's services.
struct APIService: Service {
    let server: APIServer
    /// The operator key `spool dev` made for this run, to print; nil when one was configured.
    let operatorKey: String?

    func run() async throws {
        try await server.runUntilCancelled { port in
            say("api on http://127.0.0.1:\(port); dashboard on http://127.0.0.1:\(port)/dashboard")
            if let operatorKey { say("dashboard: sign in with the operator key made for this run: \(operatorKey)") }
        }
    }
}

/// The demo: 2,000 fast jobs, 20 slow ones, 5 that fail twice then succeed, 3 that die, 5 delayed by 2 s.
struct Demo {
    let runtime: Runtime
    let redis: RedisClient

    func run() async throws {
        let enqueuer = Enqueuer(redis: redis, catalog: runtime.catalog, keys: runtime.settings.keys)
        let admin = runtime.admin(redis)
        let before = try await admin.stats().first { $0.queue == "default" }
        var requests = (0..<2000).map { _ in EnqueueRequest(kind: "noop") }
        requests += (0..<20).map { _ in EnqueueRequest(kind: "noop", args: #"{"sleep_ms": 300}"#) }
        requests += (0..<5).map { _ in EnqueueRequest(kind: "noop", args: #"{"fail": "retry", "fail_times": 2}"#) }
        requests += (0..<3).map { _ in EnqueueRequest(kind: "noop", args: #"{"fail": "permanent"}"#) }
        let later = SystemClock().nowMillis() + 2000
        requests += (0..<5).map { _ in EnqueueRequest(kind: "noop", args: "{}", runAt: later) }
        let started = monotonicNow()
        let results = try await enqueuer.enqueue(batch: requests)
        let accepted = results.filter { if case .success = $0 { return true } else { return false } }.count
        say("demo: enqueued \(accepted) noop jobs (2000 fast, 20 slow, 5 failing twice then passing, 3 permanently failing, 5 delayed 2 s)")
        let target = (before?.processed ?? 0) + 2030
        let deadTarget = (before?.dead ?? 0) + 3
        while true {
            try await Task.sleep(for: .milliseconds(500))
            guard let now = try await admin.stats().first(where: { $0.queue == "default" }) else { continue }
            let elapsed = String(format: (monotonicNow() - started).secondsDouble)
            say(
                "demo t=\(elapsed)s  pending=\(now.pending) scheduled=\(now.scheduled) active=\(now.active) retry=\(now.retry) dead=\(now.dead) processed=\(now.processed)"
            )
            if now.processed >= target && now.dead >= deadTarget { break }
            if monotonicNow() - started > .seconds(60) {
                say("demo: not all jobs settled within 60 s; see `spool stats`")
                break
            }
        }
        for job in try await admin.deadJobs(limit: 3) { say("demo: dead job \(job.id): \(job.reason)") }
    }
}

/// What Spool is for: a tenant imports contacts and sends a campaign from its own number; every text
/// passes the gates (consent, do-not-contact, quiet hours in the recipient's zone, budget), goes to the
/// sandbox provider under the sender's rate limit, and its delivery receipt comes back to the API.
struct CampaignDemo {
    let runtime: Runtime
    let redis: RedisClient

    /// Returns the demo tenant's id and its sender number.
    @discardableResult
    func run() async throws -> (tenantID: String, number: String) {
        let pool = try runtime.postgres(size: 2)
        defer { pool.close() }
        let admin = runtime.admin(redis)
        let tenant = try await TenantStore(pool: pool, admin: admin).create(name: "Demo florist", timezone: "America/New_York")
        let numbers = SenderNumbers(pool: pool)
        var sender = ""
        while sender.isEmpty {
            do {
                sender = try await numbers.add(String(Int.random(in: 100_000...999_999)), tenantID: tenant.id).number
            } catch SenderNumberError.conflict(_) {}
        }
        // A zone where it is daytime now, so that quiet hours let the demo's texts go.
        let zone =
            [
                "America/New_York", "Europe/London", "Asia/Tokyo", "America/Los_Angeles", "Asia/Kolkata", "Pacific/Honolulu",
                "Pacific/Kiritimati",
            ]
            .first { QuietHours().nextAllowed(nowMs: SystemClock().nowMillis(), zone: ZoneInfo.named($0)!) == nil } ?? "UTC"
        var lines = ["phone,first_name,timezone,consent"]
        for n in 0..<48 { lines.append("+1 415 555 \(CivilTime.pad(100 + n, 4)),Guest\(n),\(zone),yes") }
        lines.append("+1 415 555 0900,NoConsent,\(zone),")
        lines.append("+15005550001,Invalid,\(zone),yes")  // the sandbox refuses it, as Twilio does (21211)
        let report = try await ContactImporter(pool: pool).run(
            tenantID: tenant.id, csv: Array(lines.joined(separator: "\n").utf8), dryRun: false)
        say("campaign demo: tenant \(tenant.id) imported \(report.inserted) contacts; sender \(sender) at 25 texts/s (`spool limits set`)")
        try await admin.setLimit("sms:sender:\(sender)", .rate(units: 25, period: .seconds(1), burst: 5))
        let store = CampaignStore(pool: pool, enqueuer: Enqueuer(redis: redis, catalog: runtime.catalog, keys: runtime.settings.keys))
        let campaign = try await store.create(
            tenantID: tenant.id, name: "Spring bouquets", sender: sender, body: "Hi {{first_name}}, spring bouquets are 20% off today!")
        let launch = try await store.launch(id: campaign.id)
        say("campaign demo: launched \(campaign.id): \(launch.queued) queued, \(launch.skipped) skipped by the gates")
        let reports = CampaignReports(pool: pool)
        let started = monotonicNow()
        while monotonicNow() - started < .seconds(60) {
            try await Task.sleep(for: .milliseconds(500))
            guard let now = try await reports.report(campaignID: campaign.id) else { continue }
            let counts = now.byStatus.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            say("campaign demo t=\(String(format: (monotonicNow() - started).secondsDouble))s  \(counts)")
            if now.campaign.status == .completed, (now.byStatus["sent"] ?? 0) == 0 {
                say(
                    "campaign demo: done; delivery rate \(now.deliveryRate.map { String(format: $0 * 100) + "%" } ?? "-"), cost \(now.costCents) cents; skipped: \(now.bySkipReason)"
                )
                return (tenant.id, sender)
            }
        }
        say("campaign demo: not finished within 60 s; see GET /v1/campaigns/\(campaign.id)/report")
        return (tenant.id, sender)
    }
}

/// Contacts of the campaign write back: the sandbox, acting as Twilio, posts signed inbound webhooks
/// to the API. The number answers with the AI (`ai_reply` on, a prompt): a text gets one reply, a
/// voice note is transcribed and the transcript gets the reply; an operator takes the conversation
/// over and an agent answers, and the AI stays quiet; HELP is answered with the tenant's help text;
/// STOP opts a contact out of every later campaign.
struct ConversationDemo {
    let runtime: Runtime
    let redis: RedisClient
    let sandboxPort: Int

    func run(tenantID: String, number: String) async throws {
        let http = HTTPClient()
        defer { http.close() }
        let pool = try runtime.postgres(size: 2)
        defer { pool.close() }
        let contact = "+14155550100"
        let inbound = "http://127.0.0.1:\(sandboxPort)/_sandbox/inbound"
        func post(from: String = contact, _ fields: [String: JSONValue]) async throws -> JSONValue {
            var message = fields
            message["from"] = .string(from)
            message["to"] = .string(number)
            let answer = try await http.send(HTTPClientRequest("POST", inbound, body: .json(JSONValue.object(message).text), timeout: .seconds(30)))
            return (try? JSONValue.parse(bytes: answer.body)) ?? .null
        }

        _ = try await SenderNumbers(pool: pool).configure(
            number, tenantID: tenantID, aiReply: true,
            prompt: .set("You are the friendly assistant of {{business_name}}, a flower shop. It is {{now}} ({{timezone}}). Answer {{first_name}} in two sentences."))
        let replies = Replies(pool: pool, contact: contact, number: number)
        say("conversation demo: \(number) answers with the AI (`spool number set \(number) --ai-reply on --prompt ...`)")

        // 1. A text: one reply, after the debounce.
        _ = try await post(["body": .string("Hi! Do you have white tulips today?")])
        say("conversation demo: \(contact) texted \"Hi! Do you have white tulips today?\"")
        if let reply = try await replies.next(after: 0) { say("conversation demo: AI reply, sent: \"\(reply.body)\" (\(reply.usage))") }

        // 2. A voice note: transcribed, then answered from the transcript.
        let words = "Could you deliver the bouquet on Friday morning instead?"
        let note = try await post([
            "body": .string(""),
            "media": .array([.object(["content_type": .string("audio/ogg"), "transcript": .string(words), "duration_seconds": .number(4.2)])]),
        ])
        say("conversation demo: \(contact) sent a voice note → webhook \(note["status"]?.intValue ?? 0); its transcription job is enqueued")
        if let reply = try await replies.next(after: 1) {
            let transcript = try await pool.withConnection {
                try $0.query("SELECT transcripts->0->>'text' AS text FROM inbound_messages WHERE provider_sid = $1", [note["sid"]?.stringValue ?? ""])
                    .first?.string("text")
            }
            say("conversation demo: transcript \"\(transcript ?? "-")\" → AI reply, sent: \"\(reply.body)\" (\(reply.usage))")
        }

        // 3. A human takes over: the AI stays quiet, an agent answers.
        let conversations = ConversationStore(
            pool: pool, enqueuer: Enqueuer(redis: redis, catalog: runtime.catalog, keys: runtime.settings.keys))
        guard let conversation = try await conversations.list(tenantID: tenantID, contact: contact).conversations.first else {
            say("conversation demo: no conversation found for \(contact)")
            return
        }
        _ = try await conversations.takeover(conversation.id, tenantID: tenantID, reason: "the florist answers herself", by: "demo")
        say("conversation demo: the florist took \(conversation.id) over (`spool conversation takeover \(conversation.id)`)")
        _ = try await post(["body": .string("Great, and can I add a card?")])
        _ = try await conversations.agentReply(
            conversationID: conversation.id, tenantID: tenantID, body: "Of course! Tell me what to write on it. — Maria", idempotencyKey: nil)
        try await waitForIdle("ai")
        try await waitForIdle("sms")
        if let detail = try await conversations.show(conversation.id, tenantID: tenantID) {
            say("conversation demo: \(conversation.id), mode \(detail.conversation.mode) (`spool conversation show \(conversation.id)`):")
            for message in detail.messages {
                let text = message.transcript.map { "(voice note) \($0)" } ?? message.body
                say("  \(message.direction == "inbound" ? "←" : "→") \(message.author.padding(7)) \(message.status.padding(9)) \(text)")
            }
        }

        // 4. Keywords, from another contact: HELP is answered, STOP opts out.
        let other = "+14155550101"
        for body in ["HELP", "STOP"] {
            let reply = try await post(from: other, ["body": .string(body)])
            say("conversation demo: \(other) texted \(body) → webhook \(reply["status"]?.intValue ?? 0), TwiML \(reply["twiml"]?.stringValue ?? "")")
        }
        let consent = try await pool.withConnection {
            try $0.query("SELECT consent FROM contacts WHERE tenant_id = $1 AND phone = $2", [tenantID, other]).first?.string("consent")
        }
        say("conversation demo: \(other) is now \(consent ?? "unknown") and on the do-not-contact list; later campaigns skip it")
    }

    /// Waits up to 30 s for a queue to have nothing pending, scheduled or running.
    private func waitForIdle(_ queue: String) async throws {
        let admin = runtime.admin(redis)
        let started = monotonicNow()
        while monotonicNow() - started < .seconds(30) {
            if let stats = try await admin.stats().first(where: { $0.queue == queue }),
                stats.pending + stats.scheduled + stats.active + stats.retry == 0
            {
                return
            }
            try await Task.sleep(for: .milliseconds(200))
        }
    }

    /// The AI's replies to one contact, as they are sent.
    struct Replies {
        let pool: PostgresPool
        let contact: String
        let number: String

        struct Reply {
            let body: String
            let usage: String
        }

        /// The AI reply after the first `count`, once the provider has it (up to 30 s).
        func next(after count: Int) async throws -> Reply? {
            let started = monotonicNow()
            while monotonicNow() - started < .seconds(30) {
                let rows = try await pool.withConnection {
                    try $0.query(
                        """
                        SELECT m.body, m.status, m.ai_prompt_tokens, m.ai_completion_tokens, m.ai_cost_millicents
                        FROM messages m JOIN conversations c ON c.id = m.conversation_id
                        WHERE c.contact = $1 AND c.number = $2 AND m.author = 'ai' ORDER BY m.queued_at, m.id
                        """, [contact, number]
                    ).rows
                }
                if rows.count > count, let row = rows.last, try row.string("status") != "queued", try row.string("status") != "sending" {
                    let usage =
                        "\(try row.int("ai_prompt_tokens") ?? 0)+\(try row.int("ai_completion_tokens") ?? 0) tokens, "
                        + "\(try row.int("ai_cost_millicents") ?? 0) thousandths of a cent; \(try row.string("status") ?? "")"
                    return Reply(body: try row.string("body") ?? "", usage: usage)
                }
                try await Task.sleep(for: .milliseconds(200))
            }
            say("conversation demo: no AI reply within 30 s; see `spool stats` and the ai queue")
            return nil
        }
    }
}

/// A schedule: a job every 2 seconds, fired by this process's ticker, each tick once (its time is part
/// of the job's identity); shown with its next fire times, then paused and deleted.
struct ScheduleDemo {
    let runtime: Runtime
    let redis: RedisClient

    func run() async throws {
        let pool = try runtime.postgres(size: 1)
        defer { pool.close() }
        let store = ScheduleStore(pool: pool, enqueuer: Enqueuer(redis: redis, catalog: runtime.catalog, keys: runtime.settings.keys))
        let name = "demo every 2s \(JobID.make(now: SystemClock().nowMillis()).suffix(6).lowercased())"
        let schedule = try await store.create(
            ScheduleRequest(name: name, kind: "noop", args: #"{"sleep_ms": 20}"#, every: "2s"), tenantID: nil, producer: .operator)
        let upcoming = try schedule.spec().next(after: SystemClock().nowMillis(), count: 3).map { CivilTime(unixMillis: $0).rfc3339 }
        say("schedule demo: \(schedule.id) \"\(name)\" fires noop every 2 s; next: \(upcoming.joined(separator: ", "))")
        let started = monotonicNow()
        var shown = 0
        while monotonicNow() - started < .seconds(20) {
            guard let now = try await store.find(schedule.id, tenantID: nil) else { break }
            if now.runs > shown {
                shown = now.runs
                say("schedule demo: tick \(CivilTime(unixMillis: now.lastRunMs ?? 0).rfc3339) → job \(now.lastJobID ?? "-"), enqueued for that time (runs \(now.runs), skipped \(now.skipped))")
            }
            if now.runs >= 5 { break }
            try await Task.sleep(for: .milliseconds(250))
        }
        try await store.setPaused(schedule.id, tenantID: nil, paused: true)
        try await store.delete(schedule.id, tenantID: nil)
        say("schedule demo: paused and deleted (`spool schedule list`; config/schedules.json holds the static ones)")
    }
}

/// Prints a line and flushes it, so that demo lines interleave with the log on stderr even in a pipe.
func say(_ line: String) {
    print(line)
    fflush(nil)
}

extension String {
    /// The text padded with spaces to `width` characters, for columns.
    func padding(_ width: Int) -> String { self + String(repeating: " ", count: max(0, width - count)) }
}
