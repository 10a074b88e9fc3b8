import HTTPTypes

/// The API's and the dashboard's paths and their methods, for answering a known path asked with
/// another method: 405 with an Allow header (RFC 9110), where the router alone would say 404.
enum KnownRoutes {
    static let table: [(pattern: [Substring], methods: [HTTPRequest.Method])] = [
        ("/health", [.get]), ("/health/live", [.get]), ("/metrics", [.get]), ("/v1/openapi.json", [.get]),
        ("/v1/jobs", [.post]), ("/v1/jobs/bulk", [.post]), ("/v1/jobs/*", [.get, .delete]), ("/v1/queues", [.get]),
        ("/v1/limits", [.get, .put, .delete]),
        ("/v1/queues/*/pause", [.post]), ("/v1/queues/*/resume", [.post]), ("/v1/dead", [.get]), ("/v1/dead/*", [.delete]),
        ("/v1/dead/*/retry", [.post]), ("/v1/tenants/*/pause", [.post]), ("/v1/tenants/*/resume", [.post]),
        ("/v1/contacts/import", [.post]), ("/v1/campaigns", [.post]), ("/v1/campaigns/*/launch", [.post]),
        ("/v1/campaigns/*/pause", [.post]),
        ("/v1/campaigns/*/resume", [.post]), ("/v1/campaigns/*/cancel", [.post]), ("/v1/campaigns/*/report", [.get]),
        ("/v1/reports/dashboard", [.get]), ("/v1/webhooks/twilio/status", [.post]), ("/v1/webhooks/twilio/inbound", [.post]),
        ("/v1/webhooks/google/calendar", [.post]),
        ("/v1/numbers", [.get, .post]), ("/v1/numbers/*", [.put, .delete]), ("/v1/messages", [.post]), ("/v1/messages/*", [.get]),
        ("/v1/conversations", [.get]), ("/v1/conversations/*", [.get]), ("/v1/conversations/*/takeover", [.post]),
        ("/v1/conversations/*/release", [.post]), ("/v1/conversations/*/messages", [.post]), ("/v1/usage", [.get]),
        ("/v1/schedules", [.get, .post]), ("/v1/schedules/preview", [.get]), ("/v1/schedules/*", [.get, .delete]),
        ("/v1/schedules/*/pause", [.post]), ("/v1/schedules/*/resume", [.post]),
        ("/v1/calendars", [.get, .post]), ("/v1/calendars/connect", [.get]), ("/v1/calendars/settings", [.get, .put]), ("/v1/calendars/callback", [.get]),
        ("/v1/calendars/*", [.get, .delete]), ("/v1/calendars/*/sync", [.post]),
        // The dashboard (HTML, not in openapi.json).
        ("/dashboard", [.get]), ("/dashboard/login", [.get, .post]), ("/dashboard/logout", [.post]), ("/dashboard/live", [.get]),
        ("/dashboard/assets/dashboard.css", [.get]), ("/dashboard/assets/dashboard.js", [.get]), ("/dashboard/queues", [.get]),
        ("/dashboard/queues/*/pause", [.post]), ("/dashboard/queues/*/resume", [.post]),
        ("/dashboard/limits", [.get]), ("/dashboard/limits/set", [.post]), ("/dashboard/limits/clear", [.post]),
        ("/dashboard/schedules", [.get]), ("/dashboard/schedules/*/pause", [.post]), ("/dashboard/schedules/*/resume", [.post]),
        ("/dashboard/schedules/*/delete", [.get, .post]), ("/dashboard/tenants", [.get]), ("/dashboard/tenants/*/pause", [.get, .post]),
        ("/dashboard/tenants/*/resume", [.post]),
        ("/dashboard/campaigns", [.get]), ("/dashboard/campaigns/*", [.get]), ("/dashboard/campaigns/*/pause", [.post]),
        ("/dashboard/campaigns/*/resume", [.post]), ("/dashboard/campaigns/*/cancel", [.post]), ("/dashboard/conversations", [.get]),
        ("/dashboard/conversations/*", [.get]), ("/dashboard/conversations/*/takeover", [.post]),
        ("/dashboard/conversations/*/release", [.post]), ("/dashboard/conversations/*/messages", [.post]),
        ("/dashboard/calendars", [.get]), ("/dashboard/calendars/connect", [.post]), ("/dashboard/calendars/*/sync", [.post]),
    ].map { (String($0.0).split(separator: "/"), $0.1) }

    /// The methods a path takes, or nil when no route has this path.
    static func methods(for path: String) -> [HTTPRequest.Method]? {
        let parts = path.split(separator: "/")
        let matches = table.filter { route in
            route.pattern.count == parts.count && zip(route.pattern, parts).allSatisfy { $0 == "*" || $0 == $1 }
        }
        // A literal segment beats a wildcard, as in the router: /v1/jobs/bulk is not /v1/jobs/{id}.
        let wildcards = { (route: (pattern: [Substring], methods: [HTTPRequest.Method])) in route.pattern.filter { $0 == "*" }.count }
        guard let fewest = matches.map(wildcards).min() else { return nil }
        return matches.filter { wildcards($0) == fewest }.flatMap(\.methods)
    }
}
