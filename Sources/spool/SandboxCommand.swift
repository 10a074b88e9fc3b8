import ArgumentParser
import FoundationEssentials
import Logging
import SpoolSandbox
import SpoolSupport

#if canImport(Glibc)
    import Glibc
#endif

struct SandboxCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sandbox",
        abstract: "Run the sandbox provider: Twilio, OpenAI and Google Calendar look-alikes with fault injection.",
        discussion: """
            Twilio credentials come from SPOOL_SANDBOX_TWILIO_ACCOUNT_SID and SPOOL_SANDBOX_TWILIO_AUTH_TOKEN \
            (defaults: \(SandboxServer.defaultAccountSid) and \(SandboxServer.defaultAuthToken)). Faults can be changed \
            while it runs with POST /_sandbox/faults; GET /_sandbox/counters shows what it saw. POST /_sandbox/inbound \
            acts as a contact texting one of the account's numbers: a signed webhook to --inbound-url.
            """)

    @Option(help: "Loopback address to listen on.") var host = "127.0.0.1"
    @Option(help: "Port to listen on (0 picks a free one).") var port = 4010
    @Option(name: .customLong("latency-ms"), help: "Added to every provider answer.") var latencyMs: Int?
    @Option(name: .customLong("jitter-ms"), help: "Random extra latency, up to this many ms.") var jitterMs: Int?
    @Option(name: .customLong("error-rate"), help: "STATUS=PROBABILITY, e.g. 503=0.05; repeatable.") var errorRates: [String] = []
    @Option(name: .customLong("drop-rate"), help: "Probability of closing a connection without an answer.") var dropRate: Double?
    @Option(name: .customLong("sms-burst"), help: "Segments a sender may send beyond its per-second rate.") var smsBurst: Int?
    @Option(help: "Seed for the fault dice, so a run can be repeated.") var seed: Int?
    @Option(help: "More settings as JSON, in the shape POST /_sandbox/faults takes, or @FILE.") var faults: String?
    @Option(
        name: .customLong("inbound-url"),
        help: "Where POST /_sandbox/inbound posts inbound-message webhooks, e.g. http://127.0.0.1:8080/v1/webhooks/twilio/inbound.")
    var inboundURL: String?

    func run() async throws {
        var configuration = SandboxServer.Configuration()
        configuration.host = host
        configuration.port = port
        let environment = ProcessInfo.processInfo.environment
        if let sid = environment["SPOOL_SANDBOX_TWILIO_ACCOUNT_SID"], !sid.isEmpty { configuration.twilioAccountSid = sid }
        if let token = environment["SPOOL_SANDBOX_TWILIO_AUTH_TOKEN"], !token.isEmpty { configuration.twilioAuthToken = token }
        configuration.faults = try faultSettings()
        configuration.inboundURL = inboundURL

        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .notice
            return handler
        }
        let server: SandboxServer
        do { server = try SandboxServer(configuration: configuration) } catch { throw SpoolCommandError("sandbox: \(error.message)") }
        try await server.runUntilSignalled { port in
            print("sandbox listening on http://\(host.contains(":") ? "[\(host)]" : host):\(port)")
            fflush(nil)
        }
    }

    /// The flags as fault settings, then --faults on top.
    private func faultSettings() throws -> [JSONValue] {
        var fields: [String: JSONValue] = [:]
        if let latencyMs { fields["latency_ms"] = .number(Double(latencyMs)) }
        if let jitterMs { fields["jitter_ms"] = .number(Double(jitterMs)) }
        if let dropRate { fields["drop_rate"] = .number(dropRate) }
        if let smsBurst { fields["sms_burst"] = .number(Double(smsBurst)) }
        if let seed { fields["seed"] = .number(Double(seed)) }
        if !errorRates.isEmpty {
            var rates: [String: JSONValue] = [:]
            for entry in errorRates {
                let parts = entry.split(separator: "=", maxSplits: 1)
                guard parts.count == 2, let rate = Double(parts[1]) else {
                    throw ValidationError("--error-rate \(entry): expected STATUS=PROBABILITY, e.g. 503=0.05")
                }
                rates[String(parts[0])] = .number(rate)
            }
            fields["error_rates"] = .object(rates)
        }
        var settings: [JSONValue] = fields.isEmpty ? [] : [.object(fields)]
        if let faults {
            var text = faults
            if faults.hasPrefix("@") {
                guard let data = FileManager.default.contents(atPath: String(faults.dropFirst())) else {
                    throw ValidationError("--faults \(faults): cannot read the file")
                }
                text = String(decoding: data, as: UTF8.self)
            }
            do { settings.append(try JSONValue.parse(text)) } catch { throw ValidationError("--faults: \(error.message)") }
        }
        return settings
    }
}
