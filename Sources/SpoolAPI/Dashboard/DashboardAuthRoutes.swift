import HTTPTypes
import Hummingbird

/// `GET /dashboard/login` (the form), `POST /dashboard/login` (form field `key`) and
/// `POST /dashboard/logout`.
///
/// The key goes through the API's own `KeyVerifier`: the same lookup, cache and failed-authentication
/// limits per client address. The operator key and tenant keys with the admin scope open the
/// dashboard; any other key gets the form again with one message (401) that does not say whether the
/// key was unknown, revoked or of too small a scope.
struct DashboardAuthRoutes: Sendable {
    let sessions: DashboardSessions
    let verifier: KeyVerifier
    let pages: DashboardPages

    struct LoginView: Sendable {
        let error: String?
    }

    static let refusedKey = "This key does not open the dashboard."

    /// The login form; no session needed.
    func registerLogin(on group: RouterGroup<APIContext>) {
        group.get("/login") { _, _ in form(error: nil, status: .ok) }
        group.post("/login") { request, context in try await logIn(request, context) }
    }

    /// Logout, among the signed-in routes: its CSRF token is checked like any other form's.
    func registerLogout(on group: RouterGroup<APIContext>) {
        group.post("/logout") { request, _ in logOut(request) }
    }

    private func logOut(_ request: Request) -> Response {
        var response = DashboardResponse.redirect(to: "/dashboard/login")
        response.setCookie(sessions.clearingCookie(for: request))
        return response
    }

    private func form(error: String?, status: HTTPResponse.Status) -> Response {
        pages.render(.login, page: LoginView(error: error), layout: .signedOut, status: status)
    }

    private func logIn(_ request: Request, _ context: APIContext) async throws -> Response {
        var request = request
        let fields = try await DashboardForm.read(&request)
        // A pasted key often brings a space or a line break along.
        let text = fields["key"] ?? ""
        let key = String(text.drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed())
        switch try await verifier.verify(key, from: context.clientAddress) {
        case .principal(let principal) where principal.scope.allows(.admin):
            guard let session = try await sessions.start(for: principal) else { return form(error: Self.refusedKey, status: .unauthorized) }
            let cookie = try await sessions.cookie(for: session, request: request)
            var response = DashboardResponse.redirect(to: "/dashboard")
            response.setCookie(cookie)
            return response
        case .principal, .invalid:
            return form(error: Self.refusedKey, status: .unauthorized)
        case .throttled(let wait):
            var response = form(
                error: "Too many failed sign-ins from your address; try again in \(wait) s.", status: .tooManyRequests)
            response.headers[.retryAfter] = String(wait)
            return response
        }
    }
}
