import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import SpoolAPI
import SpoolPostgres
import SpoolQueue
import SpoolStore
import SpoolSupport
import Synchronization
import TestSupport

/// One database for every API test in this process, migrated once: creating a database per test
/// serialises on PostgreSQL's template and slowed the whole suite. Tests stay apart by tenant (each
/// fixture makes its own) and by Redis key prefix.
let sharedDatabase = Task<PostgresPool, any Error> {
    let pool = PostgresPool(url: try TestPostgres.freshDatabase(), logger: TestEnvironment.logger)
    _ = try await Migrator(pool: pool).migrate()
    return pool
}

/// One test's API world: a queue fixture (private key prefix), the shared migrated database, the API
/// server over both, and two tenants of its own with a key of each scope.
struct APIFixture: Sendable {
    let queue: QueueFixture
    let pool: PostgresPool
    let server: APIServer
    let tenants: TenantStore
    let a: TenantKeys
    let b: TenantKeys
    static let operatorKey = "operator-key-for-tests-0123456789"

    struct TenantKeys: Sendable {
        let id: String
        let read: String
        let enqueue: String
        let admin: String
        /// A short code of the tenant's own, registered: campaigns send only from their tenant's numbers.
        let sender: String
    }

    init(kinds: [JobKindSpec] = [QueueFixture.noop], configure: (inout APIServer.Configuration) -> Void = { _ in }) async throws {
        queue = try QueueFixture(kinds: kinds)
        pool = try await sharedDatabase.value
        var configuration = APIServer.Configuration()
        configuration.port = 0
        configuration.operatorKey = Self.operatorKey
        configure(&configuration)
        server = APIServer(
            configuration: configuration, redis: queue.redis, pool: pool, settings: queue.settings, catalog: queue.catalog,
            logger: TestEnvironment.logger)
        tenants = TenantStore(pool: pool, admin: queue.admin)
        a = try await Self.makeTenant("Tenant A", tenants, pool)
        b = try await Self.makeTenant("Tenant B", tenants, pool)
    }

    /// A fixture whose API serves on a free loopback port, with that port as its public URL (webhooks
    /// are signed over it), once it listens. A port another test took between being chosen and bound
    /// ends the server at once: another port is chosen, up to five times. A busy machine may take long
    /// to start one, hence the wide wait.
    static func serving(
        kinds: [JobKindSpec], configure: (inout APIServer.Configuration) -> Void = { _ in }
    ) async throws -> (fixture: APIFixture, api: Task<Void, any Error>, port: Int) {
        for _ in 0..<5 {
            let port = try LocalServer.freePort()
            let f = try await APIFixture(kinds: kinds) {
                $0.port = port
                $0.publicURL = "http://127.0.0.1:\(port)"
                configure(&$0)
            }
            enum Phase { case starting, listening, ended }
            let phase = Mutex(Phase.starting)
            let api = Task {
                defer { phase.withLock { if $0 == .starting { $0 = .ended } } }
                try await f.server.runUntilCancelled { _ in phase.withLock { $0 = .listening } }
            }
            try await waitUntil("the API to listen", timeout: .seconds(120)) { phase.withLock { $0 != .starting } }
            if phase.withLock({ $0 }) == .listening { return (f, api, port) }
            _ = await api.result
        }
        throw TestFailure("the API could not bind a free port in five tries")
    }

    private static func makeTenant(_ name: String, _ tenants: TenantStore, _ pool: PostgresPool) async throws -> TenantKeys {
        let tenant = try await tenants.create(name: name, timezone: "Europe/Paris")
        return TenantKeys(
            id: tenant.id, read: try await tenants.createKey(tenantID: tenant.id, scope: .read).key,
            enqueue: try await tenants.createKey(tenantID: tenant.id, scope: .enqueue).key,
            admin: try await tenants.createKey(tenantID: tenant.id, scope: .admin).key,
            sender: try await registerSender(pool, tenant: tenant.id))
    }

    /// Registers a short code no tenant holds yet to `tenant` and returns it. Every test shares one
    /// database, so no two tenants can send from the same number (55555 once); a short code is what the
    /// sandbox lets through at 100 per second, as 55555 was.
    static func registerSender(_ pool: PostgresPool, tenant: String) async throws -> String {
        let numbers = SenderNumbers(pool: pool)
        for _ in 0..<100 {
            do {
                return try await numbers.add(String(Int.random(in: 100_000...999_999)), tenantID: tenant).number
            } catch SenderNumberError.conflict(_) { continue }
        }
        throw TestFailure("no free short code after 100 tries")
    }

    /// Runs `body` against the routes in process (Hummingbird's router test mode) or over a real socket.
    func test<T>(_ setup: TestingSetup = .router, _ body: @Sendable (any TestClientProtocol) async throws -> T) async throws -> T {
        _ = APIMetrics.bootstrap
        var quiet = TestEnvironment.logger
        quiet.logLevel = .critical  // stopping the live server logs a cancellation error otherwise
        return try await Application(router: server.router(), logger: quiet).test(setup, body)
    }
}

extension TestClientProtocol {
    /// A request with a key and a JSON body; answers the status and the parsed body.
    @discardableResult
    func call(
        _ method: HTTPRequest.Method, _ uri: String, key: String?, json: String? = nil, contentType: String = "application/json",
        headers extra: [(String, String)] = []
    ) async throws -> (status: Int, body: JSONValue) {
        var headers = HTTPFields()
        if let key { headers[.authorization] = "Bearer \(key)" }
        if json != nil { headers[.contentType] = contentType }
        for (name, value) in extra { headers[HTTPField.Name(name)!] = value }
        return try await execute(uri: uri, method: method, headers: headers, body: json.map { ByteBuffer(string: $0) }) { response in
            (Int(response.status.code), (try? JSONValue.parse(String(buffer: response.body))) ?? .string(String(buffer: response.body)))
        }
    }
}
