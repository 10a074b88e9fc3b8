import Hummingbird
import Logging
import NIOCore
import SpoolHTTP
import SpoolSupport

/// The sandbox provider: one HTTP server on a loopback port that speaks the Twilio Messages, OpenAI
/// transcription and chat, and Google Calendar and OAuth APIs closely enough that Spool's adapters
/// talk to it unchanged, plus fault injection and counters (see README, "Sandbox provider").
public struct SandboxServer: Sendable {
    public struct Configuration: Sendable {
        public var host = "127.0.0.1"
        public var port = 4010
        public var twilioAccountSid = SandboxServer.defaultAccountSid
        public var twilioAuthToken = SandboxServer.defaultAuthToken
        /// Settings applied at start, in the shape `POST /_sandbox/faults` takes.
        public var faults: [JSONValue] = []
        /// Where `POST /_sandbox/inbound` posts inbound-message webhooks (`--inbound-url`): the Spool
        /// API's `/v1/webhooks/twilio/inbound`, on this machine. nil: set later with `inbound_url`.
        public var inboundURL: String?
        public init() {}
    }

    public static let defaultAccountSid = "AC00000000000000000000000000000001"
    public static let defaultAuthToken = "sandbox-auth-token"

    let configuration: Configuration
    let state: SandboxState
    let logger: Logger

    public init(configuration: Configuration, logger: Logger = Logger(label: "spool.sandbox")) throws(SandboxConfigurationError) {
        guard LoopbackURL.isLoopback("http://\(configuration.host.contains(":") ? "[\(configuration.host)]" : configuration.host)/") else {
            throw SandboxConfigurationError("the sandbox listens on loopback only (127.0.0.0/8 or ::1), not \(configuration.host)")
        }
        self.configuration = configuration
        self.logger = logger
        state = SandboxState(twilioAccountSid: configuration.twilioAccountSid, twilioAuthToken: configuration.twilioAuthToken)
        for faults in configuration.faults {
            do { _ = try state.applyFaults(faults, nowMs: SandboxTime.nowMs()) } catch {
                throw SandboxConfigurationError("faults: \(error.message)")
            }
        }
        if let url = configuration.inboundURL {
            guard LoopbackURL.isLoopback(url) else {
                throw SandboxConfigurationError(
                    "inbound URL \(url): the sandbox posts to addresses on this machine only (127.0.0.0/8, [::1], localhost)")
            }
            state.withStore { $0.settings.inboundURL = url }
        }
    }

    /// Whether the sandbox may post to `url`: an http(s) URL on this machine.
    public static func isLoopback(_ url: String) -> Bool { LoopbackURL.isLoopback(url) }

    /// Serves until the surrounding task is cancelled, as tests do. `onListening` gets the bound port
    /// (useful with port 0). Cancellation makes Hummingbird log an error; only critical lines pass here.
    public func run(onListening: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        let client = HTTPClient(name: "sandbox-callbacks")
        defer { client.close() }
        try await application(client: client, minimumLevel: .critical, onListening: onListening).run()
    }

    /// Serves until SIGTERM or SIGINT, for `spool sandbox`.
    public func runUntilSignalled(onListening: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        let client = HTTPClient(name: "sandbox-callbacks")
        defer { client.close() }
        try await application(client: client, minimumLevel: .notice, onListening: onListening).runService()
    }

    private func application(
        client: HTTPClient, minimumLevel: Logger.Level,
        onListening: @escaping @Sendable (Int) async -> Void
    ) -> some ApplicationProtocol {
        let router = Router()
        router.add(middleware: StatusCountingMiddleware(state: state))
        let callbacks = StatusCallbackSender(state: state, client: client, logger: logger)
        TwilioMessagesAPI(state: state, callbacks: callbacks).register(on: router)
        TranscriptionsAPI(state: state).register(on: router)
        let notifications = PushNotificationSender(state: state, client: client, logger: logger)
        OAuthTokenAPI(state: state).register(on: router)
        OAuthConsentAPI(state: state).register(on: router)
        GoogleCalendarAPI(state: state).register(on: router)
        GoogleCalendarWatchAPI(state: state, notifier: notifications).register(on: router)
        ChatCompletionsAPI(state: state).register(on: router)
        SandboxControlAPI(state: state).register(on: router)
        CalendarControlAPI(state: state, notifier: notifications).register(on: router)
        InboundMessagesAPI(state: state, client: client).register(on: router)
        let state = self.state
        let host = configuration.host.contains(":") ? "[\(configuration.host)]" : configuration.host
        var logger = self.logger
        logger.logLevel = max(logger.logLevel, minimumLevel)  // one line per request would drown a benchmark
        return Application(
            router: router,
            server: .http1(configuration: .init(additionalChannelHandlers: [ConnectionFaultHandler(state: state)])),
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "spool-sandbox"),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? 0
                state.listening(at: "http://\(host):\(port)")
                await onListening(port)
            },
            logger: logger
        )
    }
}

public struct SandboxConfigurationError: Error, Sendable, CustomStringConvertible {
    public let message: String
    init(_ message: String) { self.message = message }
    public var description: String { message }
}
