import ArgumentParser
import FoundationEssentials
import SpoolAPI
import SpoolHTTP
import SpoolPostgres
import SpoolQueue
import SpoolRedis
import SpoolSandbox
import SpoolStore
import SpoolSupport
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// `spool bench-conversations`: the conversations issue's numbers against the configured Redis and
/// PostgreSQL, with the API and the sandbox in this process and one `spool worker` process.
///
/// 1. Webhook: signed inbound texts at each of `--rates` per second to a `spool api` process of its own,
///    each from a new contact to a number with AI replies on (stored, and its `ai-reply` enqueued), no
///    worker running: latency as the client sees it, and the API process's CPU per webhook.
/// 2. Overhead: `--conversations` texts one after another, debounce 0, sandbox at 0 ms: from the
///    message stored to its reply accepted by the provider (`inbound_messages.created_at` to
///    `messages.sent_at`, both PostgreSQL's clock).
/// 3. Realistic: voice notes with chat at `--chat-latency` and transcription at
///    `--transcription-latency`: the same span against the sum of those latencies.
/// 4. In flight: `--in-flight` conversations at once on the worker (chat held at 5 s): its peak RSS.
/// The bench's tenant, rows and keys are deleted afterwards.
struct BenchConversationsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-conversations", abstract: "Measure the inbound webhook, the reply path's overhead, and conversations in flight.")

    @OptionGroup var common: CommonOptions
    @Option(help: "Webhooks for each latency run.") var webhooks = 10_000
    @Option(help: "Webhooks per second, one latency run each (comma-separated).") var rates = "250,1000"
    @Option(help: "The reply debounce for the overhead and realistic runs, ms.") var debounce = 0
    @Option(help: "Conversations for the overhead run (a quarter of them for the realistic run).") var conversations = 200
    @Option(help: "Conversations in flight at once for the memory run.") var inFlight = 1_000
    @Option(help: "Sandbox chat latency for the realistic run, ms.") var chatLatency = 800
    @Option(help: "Sandbox transcription latency for the realistic run, ms.") var transcriptionLatency = 1_500

    func run() async throws {
        let (runtime, prefix) = try benchRuntime(common)
        let pool = try runtime.postgres(size: 8)
        defer { pool.close() }
        try await Migrator(pool: pool).migrate()
        let redis = runtime.redis(name: "bench")
        let admin = runtime.admin(redis)
        let tenant = try await TenantStore(pool: pool, admin: nil).create(name: "Bench Bistro", timezone: "UTC")
        print("spool bench-conversations: key prefix \(prefix), tenant \(tenant.id)")
        var worker: ChildProcess?
        do {
            let number = try await Self.registerNumber(pool: pool, tenant: tenant.id)
            _ = try await pool.withConnection { try $0.query("UPDATE sender_numbers SET ai_reply = true WHERE number = $1", [number]) }
            // Spool's own limits and the sandbox's are lifted: the bench measures Spool, not them.
            for (key, spec) in [
                ("openai:chat", LimitSpec.rate(units: 1_000_000, period: .seconds(1), burst: 100_000)),
                ("openai:tokens:{tenant}", .rate(units: 1_000_000_000, period: .seconds(1), burst: 100_000_000)),
                ("openai:audio", .rate(units: 1_000_000, period: .seconds(1), burst: 100_000)),
                ("openai:audio:{tenant}", .concurrency(max: 100_000)),
                ("sms:sender:{from}", .rate(units: 1_000_000, period: .seconds(1), burst: 100_000)),
                ("sms:account:{tenant}", .concurrency(max: 100_000)),
            ] {
                try await admin.setLimit(key, spec)
            }
            let apiPort = try LoopbackPort.free()
            let apiURL = "http://127.0.0.1:\(apiPort)"
            let inboundURL = apiURL + "/v1/webhooks/twilio/inbound"
            var sandboxConfiguration = SandboxServer.Configuration()
            sandboxConfiguration.port = 0
            sandboxConfiguration.faults = [
                .object([
                    "latency_ms": .number(0), "sender_rates": .object([number: .number(1_000_000)]),
                    "max_concurrent_requests": .number(Double(inFlight * 4)), "callback_delay_ms": .number(600_000),
                    "chat_requests_per_minute": .number(100_000_000), "chat_tokens_per_minute": .number(100_000_000),
                    "inbound_url": .string(inboundURL),
                ])
            ]
            let sandbox = try SandboxServer(configuration: sandboxConfiguration, logger: runtime.logger)
            let sandboxPort = Mutex<Int>(0)
            let sandboxTask = Task { try await sandbox.run { port in sandboxPort.withLock { $0 = port } } }
            defer { sandboxTask.cancel() }
            var apiConfiguration = APIServer.Configuration()
            apiConfiguration.port = apiPort
            apiConfiguration.publicURL = apiURL
            apiConfiguration.twilioAuthToken = SandboxServer.defaultAuthToken
            apiConfiguration.replyDebounce = .milliseconds(Int64(debounce))
            apiConfiguration.segmentCents = runtime.settings.segmentCents
            let api = APIServer(
                configuration: apiConfiguration, redis: redis, pool: pool, settings: runtime.settings, catalog: runtime.catalog,
                logger: runtime.logger)
            let apiListening = Mutex(false)
            let apiTask = Task { try await api.runUntilCancelled { _ in apiListening.withLock { $0 = true } } }
            defer { apiTask.cancel() }
            let started = monotonicNow()
            while sandboxPort.withLock({ $0 }) == 0 || !apiListening.withLock({ $0 }) {
                if monotonicNow() - started > .seconds(30) { throw SpoolCommandError("the sandbox or the API did not start within 30 s") }
                try await Task.sleep(for: .milliseconds(10))
            }
            let client = HTTPClient(name: "bench-webhooks", options: { var o = HTTPClient.Options(); o.maximumConnections = 512; return o }())
            defer { client.close() }
            let poster = WebhookPoster(client: client, url: inboundURL, number: number)
            let sandboxURL = "http://127.0.0.1:\(sandboxPort.withLock { $0 })"

            // 1. The webhook alone, served by a `spool api` process of its own, so that its CPU per
            // webhook is the API's alone (this process is the load generator).
            let webhookPort = try LoopbackPort.free()
            let webhookURL = "http://127.0.0.1:\(webhookPort)/v1/webhooks/twilio/inbound"
            var apiEnvironment = [
                "SPOOL_KEY_PREFIX": prefix, "SPOOL_LOG_LEVEL": "warning", "REDIS_URL": runtime.settings.redisURL.urlString,
                "SPOOL_JOBS_DIR": runtime.settings.jobsDirectory, "DATABASE_URL": runtime.settings.databaseURL ?? "",
                "SPOOL_SANDBOX_URL": sandboxURL, "SPOOL_PUBLIC_URL": "http://127.0.0.1:\(webhookPort)",
                "SPOOL_AI_REPLY_DEBOUNCE_MS": "0",
            ]
            if let config = common.config { apiEnvironment["SPOOL_CONFIG"] = config }
            let apiProcess = try ChildProcess(
                [ChildProcess.currentExecutable, "api", "--port", String(webhookPort)], environment: apiEnvironment)
            defer {
                apiProcess.signal(SIGTERM)
                apiProcess.wait()
            }
            let apiStarted = monotonicNow()
            while (try? await client.send(HTTPClientRequest("GET", "http://127.0.0.1:\(webhookPort)/health/live")))?.status != 200 {
                if monotonicNow() - apiStarted > .seconds(30) { throw SpoolCommandError("the bench's spool api did not start within 30 s") }
                try await Task.sleep(for: .milliseconds(50))
            }
            let separate = WebhookPoster(client: client, url: webhookURL, number: number)
            var firstContact = 1_000_000
            for rate in rates.split(separator: ",").compactMap({ Int($0.trimmingSpaces) }) {
                let apiBefore = apiProcess.cpuSeconds ?? 0
                let cpuBefore = processCPUSeconds()
                let latencies = try await separate.paced(count: webhooks, perSecond: rate, firstContact: firstContact)
                let apiCPU = (apiProcess.cpuSeconds ?? 0) - apiBefore
                let clientCPU = processCPUSeconds() - cpuBefore
                firstContact += webhooks
                let sent = Double(max(latencies.sent, 1))
                print(
                    "webhook: \(latencies.sent) texts at \(rate)/s (achieved \(Int(latencies.achievedRate))/s), "
                        + "p50 \(Self.ms(latencies.percentile(0.5))) ms, p99 \(Self.ms(latencies.percentile(0.99))) ms, "
                        + "max \(Self.ms(latencies.percentile(1))) ms, \(latencies.errors) errors; CPU per webhook: API \(Int(apiCPU / sent * 1_000_000)) µs, "
                        + "load generator \(Int(clientCPU / sent * 1_000_000)) µs (target p99 ≤ 5 ms at 1,000/s)")
            }
            // Those replies are never to run: their jobs go, their conversations stay unanswered.
            try await Self.deleteQueue("ai", prefix: prefix, redis: redis)

            // 2. Spool's own overhead, every provider at 0 ms and no debounce.
            var environment = [
                "SPOOL_KEY_PREFIX": prefix, "SPOOL_LOG_LEVEL": "warning", "REDIS_URL": runtime.settings.redisURL.urlString,
                "SPOOL_JOBS_DIR": runtime.settings.jobsDirectory, "DATABASE_URL": runtime.settings.databaseURL ?? "",
                "SPOOL_SANDBOX_URL": sandboxURL, "SPOOL_PUBLIC_URL": apiURL, "SPOOL_RECORD_RESULTS": "0",
                "SPOOL_AI_REPLY_DEBOUNCE_MS": String(debounce),
            ]
            if let config = common.config { environment["SPOOL_CONFIG"] = config }
            func startWorker(concurrency: Int) async throws -> ChildProcess {
                let process = try ChildProcess(
                    [ChildProcess.currentExecutable, "worker", "--queues", "ai,sms", "--concurrency", String(concurrency)],
                    environment: environment)
                try await waitForBenchWorker(admin)
                return process
            }
            worker = try await startWorker(concurrency: 50)
            let firstOverhead = 2_000_000
            for n in 0..<conversations {
                try await poster.post(contact: firstOverhead + n, body: "Hi, do you have a table for two at eight?")
                try await Task.sleep(for: .milliseconds(20))
            }
            let overhead = try await Self.spans(pool: pool, number: number, contacts: firstOverhead..<(firstOverhead + conversations))
            print(
                "overhead (webhook stored → reply accepted by the provider, sandbox 0 ms, debounce \(debounce) ms): \(overhead.count) conversations, "
                    + "p50 \(Self.ms(overhead.percentile(0.5))) ms, p99 \(Self.ms(overhead.percentile(0.99))) ms (target ≤ 25 ms p50, ≤ 100 ms p99)")

            // 3. Realistic provider latencies: a voice note is transcribed, then answered.
            let sandboxClient = SandboxControl(client: client, baseURL: sandboxURL)
            try await sandboxClient.faults(#"{"scope": "chat", "latency_ms": \#(chatLatency)}"#)
            try await sandboxClient.faults(#"{"scope": "transcription", "latency_ms": \#(transcriptionLatency)}"#)
            let voiceNotes = max(1, conversations / 4)
            let firstVoice = 3_000_000
            for n in 0..<voiceNotes {
                try await sandboxClient.inbound(
                    from: WebhookPoster.contact(firstVoice + n), to: number, transcript: "Can you move my booking to Friday?")
                try await Task.sleep(for: .milliseconds(50))
            }
            let realistic = try await Self.spans(pool: pool, number: number, contacts: firstVoice..<(firstVoice + voiceNotes))
            let expected = Double(chatLatency + transcriptionLatency + debounce)
            let p50 = realistic.percentile(0.5)
            print(
                "realistic (transcription \(transcriptionLatency) ms + chat \(chatLatency) ms + debounce \(debounce) ms = \(Int(expected)) ms): "
                    + "\(realistic.count) voice notes, p50 \(Self.ms(p50)) ms (\(Self.percent(p50 / expected - 1)) over the sum), "
                    + "p99 \(Self.ms(realistic.percentile(0.99))) ms (target within 5%)")
            worker?.signal(SIGTERM)
            worker?.wait()

            // 4. Conversations in flight at once on one worker: the chat call held at 5 s.
            try await sandboxClient.faults(#"{"scope": "chat", "latency_ms": 5000}"#)
            worker = try await startWorker(concurrency: inFlight)
            // What the worker holds before any conversation: its slots, connections and code.
            try await Task.sleep(for: .seconds(1))
            let idleRSS = worker?.peakRSSKilobytes ?? 0
            let firstFlight = 4_000_000
            let cpuBefore = worker?.cpuSeconds ?? 0
            let flight = try await poster.paced(count: inFlight, perSecond: 1_000, firstContact: firstFlight)
            var peakActive = 0
            let deadline = monotonicNow() + .seconds(300)
            while true {
                let active = try await admin.stats().first { $0.queue == "ai" }?.active ?? 0
                peakActive = max(peakActive, active)
                let answered = try await Self.answered(pool: pool, number: number, contacts: firstFlight..<(firstFlight + inFlight))
                if answered >= flight.sent { break }
                if monotonicNow() > deadline { throw SpoolCommandError("the in-flight run did not finish in 300 s (\(answered) answered)") }
                try await Task.sleep(for: .milliseconds(100))
            }
            let rss = worker?.peakRSSKilobytes ?? 0
            let cpu = (worker?.cpuSeconds ?? 0) - cpuBefore
            print(
                "in flight: \(flight.sent) conversations, up to \(peakActive) ai-reply jobs running at once on one worker, "
                    + "peak RSS \(rss / 1024) MB, \(idleRSS / 1024) MB before the first (target ≤ 80 MB for 1,000); worker CPU \(Int(cpu / Double(max(flight.sent, 1)) * 1_000_000)) µs per conversation")
            worker?.signal(SIGTERM)
            worker?.wait()
            worker = nil
        } catch {
            worker?.signal(SIGKILL)
            worker?.wait()
            try? await Self.cleanUp(pool: pool, tenant: tenant.id, redis: redis, prefix: prefix)
            throw error
        }
        try await Self.cleanUp(pool: pool, tenant: tenant.id, redis: redis, prefix: prefix)
    }

    /// Milliseconds from each contact's first message stored to its first AI reply accepted by the
    /// provider, once every contact has one (at most 300 s).
    static func spans(pool: PostgresPool, number: String, contacts: Range<Int>) async throws -> Samples {
        let deadline = monotonicNow() + .seconds(300)
        while try await answered(pool: pool, number: number, contacts: contacts) < contacts.count {
            if monotonicNow() > deadline { throw SpoolCommandError("replies did not all reach the provider within 300 s") }
            try await Task.sleep(for: .milliseconds(100))
        }
        let values = try await pool.withConnection { connection in
            try connection.query(
                """
                SELECT extract(epoch FROM (min(m.sent_at) - min(i.created_at))) * 1000 AS ms
                FROM conversations c JOIN inbound_messages i ON i.conversation_id = c.id JOIN messages m ON m.conversation_id = c.id
                WHERE c.number = $1 AND c.contact = ANY($2::text[]) AND m.author = 'ai' AND m.sent_at IS NOT NULL GROUP BY c.id
                """, [number, PostgresArray(contacts.map(WebhookPoster.contact))]
            ).rows.compactMap { try $0.double("ms") }
        }
        return Samples(values: values)
    }

    static func answered(pool: PostgresPool, number: String, contacts: Range<Int>) async throws -> Int {
        try await pool.withConnection { connection in
            try connection.query(
                """
                SELECT count(DISTINCT c.id) AS n FROM conversations c JOIN messages m ON m.conversation_id = c.id
                WHERE c.number = $1 AND c.contact = ANY($2::text[]) AND m.author = 'ai' AND m.sent_at IS NOT NULL
                """, [number, PostgresArray(contacts.map(WebhookPoster.contact))]
            ).first?.int("n") ?? 0
        }
    }

    static func registerNumber(pool: PostgresPool, tenant: String) async throws -> String {
        let numbers = SenderNumbers(pool: pool)
        for _ in 0..<100 {
            do {
                return try await numbers.add("+1628555\(CivilTime.pad(Int.random(in: 0...9999), 4))", tenantID: tenant).number
            } catch SenderNumberError.conflict(_) { continue }
        }
        throw SpoolCommandError("no free number found for the bench after 100 tries")
    }

    /// Every key of one queue under the bench's prefix.
    static func deleteQueue(_ queue: String, prefix: String, redis: RedisClient) async throws {
        try await deleteKeys(matching: "\(prefix):{\(queue)}:*", redis: redis)
    }

    static func cleanUp(pool: PostgresPool, tenant: String, redis: RedisClient, prefix: String) async throws {
        try await pool.withConnection { connection in
            for table in [
                "events", "messages", "inbound_messages", "conversations", "ai_usage", "budget_spend", "do_not_contact", "contacts",
                "api_keys", "sender_numbers", "tenants",
            ] {
                try connection.query("DELETE FROM \(table) WHERE \(table == "tenants" ? "id" : "tenant_id") = $1", [tenant])
            }
        }
        try await deleteBenchKeys(prefix: prefix, redis: redis)
    }

    /// User plus system CPU seconds of this process.
    static func ms(_ value: Double) -> String { String(Double(Int((value * 10).rounded())) / 10) }
    static func percent(_ fraction: Double) -> String { "\(Double(Int((fraction * 1000).rounded())) / 10)%" }
}

/// Latencies or spans, in milliseconds.
struct Samples: Sendable {
    var values: [Double]
    var errors = 0
    var seconds = 0.0

    init(values: [Double], errors: Int = 0, seconds: Double = 0) {
        self.values = values.sorted()
        self.errors = errors
        self.seconds = seconds
    }

    var count: Int { values.count }
    var sent: Int { values.count }
    var achievedRate: Double { seconds > 0 ? Double(values.count) / seconds : 0 }

    func percentile(_ p: Double) -> Double {
        guard !values.isEmpty else { return 0 }
        return values[min(values.count - 1, Int(Double(values.count) * p))]
    }
}

/// Posts Twilio-signed inbound texts straight to the API, as Twilio would.
struct WebhookPoster: Sendable {
    let client: HTTPClient
    let url: String
    let number: String

    static func contact(_ n: Int) -> String { "+1415\(CivilTime.pad(n, 7))" }

    func post(contact n: Int, body: String) async throws {
        let response = try await client.send(request(contact: n, body: body))
        guard response.status == 200 else { throw SpoolCommandError("the webhook answered \(response.status): \(response.text.prefix(200))") }
    }

    func request(contact n: Int, body: String) -> HTTPClientRequest {
        let fields = [
            ("AccountSid", SandboxServer.defaultAccountSid), ("Body", body), ("From", Self.contact(n)),
            ("MessageSid", "SM" + Hashing.sha1Hex(Array("bench-\(n)-\(url)".utf8)).prefix(32)), ("NumMedia", "0"), ("To", number),
        ]
        let signature = TwilioSignature.sign(url: url, parameters: fields, authToken: SandboxServer.defaultAuthToken)
        return HTTPClientRequest("POST", url, headers: ["X-Twilio-Signature": signature], body: .form(fields), timeout: .seconds(30))
    }

    /// `count` texts from new contacts at `perSecond`, each sent at its own time whatever the answers
    /// before it (an open loop, so a slow answer shows as latency, not as a lower rate).
    func paced(count: Int, perSecond: Int, firstContact: Int) async throws -> Samples {
        let started = monotonicNow()
        let interval = 1.0 / Double(max(perSecond, 1))
        let (latencies, errors) = await withTaskGroup(of: Double?.self) { group -> ([Double], Int) in
            for n in 0..<count {
                let due = started + .milliseconds(Int64(Double(n) * interval * 1000))
                let wait = due - monotonicNow()
                if wait > .zero { try? await Task.sleep(for: wait) }
                let request = request(contact: firstContact + n, body: "Hello, is anyone there? (\(n))")
                group.addTask {
                    let sent = monotonicNow()
                    guard let response = try? await client.send(request), response.status == 200 else { return nil }
                    return (monotonicNow() - sent).secondsDouble * 1000
                }
            }
            var latencies: [Double] = []
            var errors = 0
            for await latency in group {
                if let latency { latencies.append(latency) } else { errors += 1 }
            }
            return (latencies, errors)
        }
        return Samples(values: latencies, errors: errors, seconds: (monotonicNow() - started).secondsDouble)
    }
}

/// The sandbox's control API: faults, and inbound messages it posts as Twilio.
struct SandboxControl: Sendable {
    let client: HTTPClient
    let baseURL: String

    func faults(_ json: String) async throws {
        let response = try await client.send(HTTPClientRequest("POST", baseURL + "/_sandbox/faults", body: .json(json)))
        guard response.status == 200 else { throw SpoolCommandError("sandbox faults answered \(response.status): \(response.text.prefix(200))") }
    }

    func inbound(from: String, to: String, transcript: String) async throws {
        let body = JSONValue.object([
            "from": .string(from), "to": .string(to), "body": .string(""),
            "media": .array([.object(["content_type": .string("audio/ogg"), "transcript": .string(transcript)])]),
        ])
        let response = try await client.send(
            HTTPClientRequest("POST", baseURL + "/_sandbox/inbound", body: .json(body.text), timeout: .seconds(30)))
        guard response.status == 200, response.json?["status"]?.intValue == 200 else {
            throw SpoolCommandError("the sandbox's inbound message answered \(response.status): \(response.text.prefix(200))")
        }
    }
}
