import Hummingbird

/// What every Google Calendar call passes before its handler, in this order: the simulated latency
/// and fault decision, the Bearer access token, the `calendar_unauthorized_ratio` fault (a 401 for a
/// token that was valid until then, as Google's intermittent ones are: the token is dropped, as if
/// revoked or expired early), then an injected error.
struct GoogleCalendarGate: Sendable {
    let state: SandboxState

    /// The answer to send instead of running the handler; nil to go on.
    func refusal(_ request: Request, endpoint: String) async throws -> Response? {
        let decision = try await state.enter(.calendar, endpoint: endpoint)
        let now = SandboxTime.nowMs()
        let token = request.header("Authorization").flatMap { $0.hasPrefix("Bearer ") ? String($0.dropFirst(7)) : nil } ?? ""
        let (authorized, reason) = state.withStore { store -> (Bool, GoogleRateLimitReason) in
            let reason = store.settings.calendarRateLimitReason
            guard store.oauth.isValid(token, nowMs: now) else { return (false, reason) }
            let ratio = store.settings.calendarUnauthorizedRatio
            guard ratio > 0, store.random.nextUnit() < ratio else { return (true, reason) }
            store.counters.calendarUnauthorizedInjected += 1
            // The refused token stays refused, as a token Google revoked or expired early does: a client
            // that retries with it gets 401 again, and one refresh gets it a working one.
            store.oauth.tokens[token] = nil
            return (false, reason)
        }
        guard authorized else { return GoogleErrors.unauthenticated() }
        if let status = decision.injectedStatus {
            return GoogleErrors.injected(status, retryAfterSeconds: decision.retryAfterSeconds, rateLimitReason: reason)
        }
        return nil
    }
}
