import Hummingbird
import SpoolHTTP
import SpoolSupport

/// The sandbox's own endpoints, for tests and benchmarks: faults, counters, and an echo endpoint that
/// only waits out the configured latency (the HTTP client's benchmark target). The calendar's are in
/// `CalendarControlAPI`.
struct SandboxControlAPI: Sendable {
    let state: SandboxState

    func register(on router: Router<BasicRequestContext>) {
        router.get("/_sandbox/health") { _, _ in SandboxResponse.json(200, .object(["status": .string("ok")])) }
        router.get("/_sandbox/faults") { _, _ in SandboxResponse.json(200, state.withStore { $0.settings.json }) }
        router.post("/_sandbox/faults") { request, _ in
            var request = request
            guard let bytes = try await request.bodyBytes(limit: 1024 * 1024) else { return SandboxResponse.badRequest("body over 1 MiB") }
            do {
                let json = try JSONValue.parse(bytes: bytes)
                return SandboxResponse.json(200, try state.applyFaults(json, nowMs: SandboxTime.nowMs()))
            } catch let error as JSONValueError {
                return SandboxResponse.badRequest(error.message)
            } catch {
                return SandboxResponse.badRequest("\(error)")
            }
        }
        router.get("/_sandbox/counters") { _, _ in SandboxResponse.json(200, state.withStore { $0.counters.json }) }
        router.post("/_sandbox/counters/reset") { _, _ in
            state.withStore { $0.counters = SandboxCounters() }
            return SandboxResponse.json(200, .object(["reset": .bool(true)]))
        }
        router.get("/_sandbox/echo") { _, _ in try await echo() }
        router.post("/_sandbox/echo") { _, _ in try await echo() }
    }

    private func echo() async throws -> Response {
        let decision = try await state.enter(.echo, endpoint: "echo")
        if let status = decision.injectedStatus {
            return SandboxResponse.json(
                status, .object(["message": .string("injected fault")]),
                headers: decision.retryAfterSeconds.map { [("Retry-After", String($0))] } ?? [])
        }
        return SandboxResponse.json(200, .object(["ok": .bool(true)]))
    }
}

/// Counts every answer by scope and status.
struct StatusCountingMiddleware: RouterMiddleware {
    typealias Context = BasicRequestContext
    let state: SandboxState

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            let response = try await next(request, context)
            state.recordStatus(response.status.code, path: request.uri.path)
            return response
        } catch let error as HTTPResponseError {
            state.recordStatus(error.status.code, path: request.uri.path)
            throw error
        }
    }
}
