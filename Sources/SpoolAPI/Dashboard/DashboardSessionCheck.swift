import Hummingbird

/// Lets a request through only with a good session (`DashboardSessions.check`), and a POST (any method
/// but GET and HEAD) only with the CSRF token of its own path in the form field `csrf`: 403 otherwise,
/// before the handler runs. What it found is `context.visit()`.
///
/// Without a good session, a page (GET) redirects to the login form and drops the stale cookie; the
/// live feed (`redirectsToLogin` false) and every other method answer 401.
struct DashboardSessionCheck: RouterMiddleware {
    typealias Context = APIContext
    let sessions: DashboardSessions
    let redirectsToLogin: Bool

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let reads = request.method == .get || request.method == .head
        guard let found = try await sessions.check(request) else {
            guard reads, redirectsToLogin else { throw DashboardRefusal.signedOut }
            var response = DashboardResponse.redirect(to: "/dashboard/login")
            if request.cookies[DashboardSessions.cookieName] != nil { response.setCookie(sessions.clearingCookie(for: request)) }
            return response
        }
        var request = request
        var form = DashboardForm.empty
        if !reads {
            form = try await DashboardForm.read(&request)
            guard found.session.acceptsCSRF(form["csrf"], for: request.uri.path) else { throw DashboardRefusal.badCSRF }
        }
        var context = context
        context.principal = found.principal
        context.dashboard = DashboardVisit(session: found.session, principal: found.principal, form: form)
        return try await next(request, context)
    }
}
