import HTTPTypes
import Hummingbird
import SpoolPostgres
import SpoolRedis
import SpoolSupport

/// `GET /health/live`: the process answers. `GET /health`: readiness, which needs Redis and PostgreSQL;
/// a 503 names the one that failed.
struct HealthRoutes: Sendable {
    let services: APIServices

    func register(on router: Router<APIContext>) {
        router.get("/health/live") { _, _ in APIResponse.json(200, .object(["status": .string("ok")])) }
        router.get("/health") { _, _ in await readiness() }
    }

    private func readiness() async -> Response {
        async let redis: String? = check { _ = try await services.redis.run("PING") }
        async let postgres: String? = check { _ = try await services.pool.withConnection { try $0.query("SELECT 1") } }
        let results = await ["redis": redis, "postgres": postgres]
        let failed = results.filter { $0.value != nil }
        let checks = JSONValue.object(results.mapValues { $0.map { .string("failed: \($0)") } ?? .string("ok") })
        return APIResponse.json(
            failed.isEmpty ? 200 : 503,
            .object([
                "status": .string(failed.isEmpty ? "ok" : "unavailable"), "checks": checks,
                "failed": .array(failed.keys.sorted().map { .string($0) }),
            ]))
    }

    /// nil when the check passed, otherwise why not. Each client's own timeouts bound the wait.
    private func check(_ body: @escaping @Sendable () async throws -> Void) async -> String? {
        do { try await body(); return nil } catch { return String("\(error)".prefix(200)) }
    }
}
