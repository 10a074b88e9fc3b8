import ArgumentParser
import FoundationEssentials
import SpoolAPI
import SpoolJobs
import SpoolStore
import SpoolSupport

/// `spool api`: the enqueue API. Needs Redis and PostgreSQL (DATABASE_URL); SPOOL_OPERATOR_KEY sets
/// the key that acts across tenants.
struct APICommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "api", abstract: "Serve the HTTP enqueue API (/v1, /health, /metrics).")

    @OptionGroup var common: CommonOptions
    @Option(help: "Address to listen on.") var host = "127.0.0.1"
    @Option(help: "Port to listen on.") var port = 8080

    func run() async throws {
        let runtime = try Runtime.load(common)
        let server = try runtime.apiServer(host: host, port: port)
        try await server.run { port in say("api listening on http://\(host):\(port)") }
    }
}

extension Runtime {
    func apiServer(host: String, port: Int) throws -> APIServer {
        var configuration = APIServer.Configuration()
        configuration.host = host
        configuration.port = port
        configuration.operatorKey = settings.operatorKey
        let twilio = TwilioConfiguration.from(settings)
        configuration.twilioAuthToken = twilio?.authToken
        if let twilio, twilio.usesSandbox { logger.warning("\(TwilioConfiguration.sandboxWarning)") }
        if twilio == nil {
            logger.warning("\(TwilioConfiguration.missingReason): receipts and inbound messages (/v1/webhooks/twilio/*) are refused")
        }
        configuration.publicURL = settings.publicURL ?? "http://\(host):\(port)"
        configuration.defaultRegion = settings.defaultRegion
        configuration.segmentCents = settings.segmentCents
        configuration.replyDebounce = settings.replyDebounce
        configuration.replyEstimatedTokens = settings.maxPromptTokens + settings.maxReplyTokens
        // Calendars: connecting one needs the secret key (refresh tokens are sealed) and Google's client.
        do { configuration.secrets = try settings.secretBox() } catch {
            logger.warning("\(error.message): connecting calendars is refused")
        }
        if let google = GoogleConfiguration.from(settings) {
            configuration.googleOAuth = GoogleOAuthEndpoints(
                authURL: google.authURL, tokenURL: google.tokenURL, clientID: google.clientID, clientSecret: google.clientSecret,
                redirectURL: google.redirectURL ?? configuration.publicURL + "/v1/calendars/callback")
        } else {
            logger.warning("\(GoogleConfiguration.missingReason): connecting calendars is refused")
        }
        configuration.calendarSyncEvery = try ScheduleInterval(seconds: max(1, settings.calendarSyncEvery.milliseconds / 1000))
        return APIServer(
            configuration: configuration, redis: redis(name: "api"), pool: try postgres(size: 8), settings: settings,
            catalog: catalog, logger: logger)
    }
}
