import Hummingbird

/// Wraps every dashboard response, signed in or not: refusals become pages, other errors answer as the
/// API's do (`ErrorMiddleware`: logged, 503 while Redis or PostgreSQL is away), and every answer gets
/// the security headers.
struct DashboardGuard: RouterMiddleware {
    typealias Context = APIContext
    let pages: DashboardPages
    let errors: ErrorMiddleware

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response: Response
        do {
            response = try await next(request, context)
        } catch let refusal as DashboardRefusal {
            response = pages.refusal(refusal)
        } catch {
            response = try await errors.handle(request, context: context) { _, _ in throw error }
        }
        DashboardHeaders.apply(to: &response)
        return response
    }
}
