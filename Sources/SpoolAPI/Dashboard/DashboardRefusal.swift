import HTTPTypes

/// A dashboard request refused: `DashboardGuard` answers it as a page (`refused.mustache`) with its
/// status, never as the API's JSON.
struct DashboardRefusal: Error, Sendable, Equatable {
    let status: HTTPResponse.Status
    let heading: String
    let message: String
    let linkHref: String
    let linkText: String

    init(
        _ status: HTTPResponse.Status, heading: String, message: String, linkHref: String = "/dashboard",
        linkText: String = "Back to the overview"
    ) {
        self.status = status
        self.heading = heading
        self.message = message
        self.linkHref = linkHref
        self.linkText = linkText
    }

    /// No session, or one that ended (expired, logged out, its key revoked): 401.
    static let signedOut = DashboardRefusal(
        .unauthorized, heading: "Signed out", message: "Your session has ended. Sign in again to go on.", linkHref: "/dashboard/login",
        linkText: "Sign in")

    /// A POST without this session's token for its path: 403, and nothing done.
    static let badCSRF = DashboardRefusal(
        .forbidden, heading: "Form refused",
        message: "This form was sent without a valid token: it came from another site, or from a page of an earlier session. "
            + "Reload the page and send it again.")

    /// No such page, or one this principal may not see (the API's isolation: 404, never 403).
    static let notFound = DashboardRefusal(.notFound, heading: "Not found", message: "There is no such page here.")
}
