/// What `layout.mustache` shows around a page: the nav of the pages this principal may open, who is
/// signed in and the logout form, a flash message, and the links to the stylesheet and the script.
struct DashboardLayout: Sendable {
    struct NavLink: Sendable {
        let label: String
        let href: String
        let current: Bool
    }

    let signedIn: Bool
    let who: String
    let nav: [NavLink]
    /// The logout form (nil when signed out).
    let logout: DashboardFormAction?
    /// A one-line message about what the last action did.
    let flash: String?
    let stylesheet = DashboardAsset.stylesheet.url
    let script = DashboardAsset.script.url

    /// The login form and refusals: no nav, no logout.
    static let signedOut = DashboardLayout(signedIn: false, who: "", nav: [], logout: nil, flash: nil)

    /// A signed-in page, with `current` marked in the nav.
    init(visit: DashboardVisit, current: DashboardNav, flash: String? = nil) {
        self.init(
            signedIn: true,
            who: visit.principal.tenantID.map { "tenant \($0)" } ?? "operator",
            nav: DashboardNav.allCases.filter { $0.isVisible(to: visit.principal) }.map {
                NavLink(label: $0.label, href: $0.href, current: $0 == current)
            },
            logout: visit.formAction("/dashboard/logout"), flash: flash)
    }

    private init(signedIn: Bool, who: String, nav: [NavLink], logout: DashboardFormAction?, flash: String?) {
        self.signedIn = signedIn
        self.who = who
        self.nav = nav
        self.logout = logout
        self.flash = flash
    }
}
