import HTTPTypes
import Hummingbird

/// Headers on every dashboard response. The policy allows only Spool's own script, stylesheet, images
/// and fetches, no inline script or style, forms that post back to Spool only, and no framing: an
/// injected `<script>` would not run even if a value escaped escaping.
enum DashboardHeaders {
    static let contentSecurityPolicy = policy(formActions: "'self'")
    /// The policy with `formActions` as where forms may lead: `'self'`, and for a page whose form is
    /// answered with a redirect to another origin, that origin too, since browsers hold a form's
    /// redirects to `form-action` as well.
    static func policy(formActions: String) -> String {
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
            + "form-action \(formActions); frame-ancestors 'none'; base-uri 'none'"
    }

    static let referrerPolicy = HTTPField.Name("Referrer-Policy")!

    /// Pages and the live feed are never stored (they show live data behind a session); assets set
    /// their own Cache-Control, which is kept.
    static func apply(to response: inout Response) {
        // A page whose form is answered with a redirect elsewhere (the calendars page's connect form,
        // to the provider's consent page) sets the policy with that origin added; nothing else may.
        if response.headers[.contentSecurityPolicy] == nil { response.headers[.contentSecurityPolicy] = contentSecurityPolicy }
        response.headers[.xContentTypeOptions] = "nosniff"
        response.headers[referrerPolicy] = "same-origin"
        if response.headers[.cacheControl] == nil { response.headers[.cacheControl] = "no-store" }
    }
}
