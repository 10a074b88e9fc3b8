import SpoolHTTP
import SpoolSandbox
import SpoolSupport
import Synchronization

/// The sandbox provider served from this test process on a free loopback port, stopped by `stop()`.
public final class RunningSandbox: Sendable {
    public let port: Int
    public let client: HTTPClient
    private let task: Task<Void, any Error>

    public var baseURL: String { "http://127.0.0.1:\(port)" }
    public static let accountSid = SandboxServer.defaultAccountSid
    public static let authToken = SandboxServer.defaultAuthToken

    private init(port: Int, client: HTTPClient, task: Task<Void, any Error>) {
        self.port = port
        self.client = client
        self.task = task
    }

    public static func start(faults: [JSONValue] = []) async throws -> RunningSandbox {
        var configuration = SandboxServer.Configuration()
        configuration.port = 0
        configuration.faults = faults
        let server = try SandboxServer(configuration: configuration, logger: TestEnvironment.logger)
        let bound = Mutex<Int?>(nil)
        let task = Task { try await server.run { port in bound.withLock { $0 = port } } }
        try await waitUntil("the sandbox to listen") { bound.withLock { $0 } != nil }
        return RunningSandbox(port: bound.withLock { $0 }!, client: HTTPClient(name: "sandbox-control"), task: task)
    }

    public func stop() async {
        client.close()
        task.cancel()
        _ = await task.result
    }

    /// Changes faults, as `POST /_sandbox/faults` does; a refusal fails the test with the sandbox's message.
    @discardableResult
    public func setFaults(_ json: String) async throws -> JSONValue {
        let response = try await client.send(HTTPClientRequest("POST", baseURL + "/_sandbox/faults", body: .json(json)))
        guard response.status == 200, let value = response.json else { throw TestFailure("faults \(json) refused: \(response.text)") }
        return value
    }

    public func counters() async throws -> JSONValue {
        let response = try await client.send(HTTPClientRequest("GET", baseURL + "/_sandbox/counters"))
        guard let value = response.json else { throw TestFailure("counters unreadable: \(response.text)") }
        return value
    }
}
