import SpoolSupport

/// Credentials a provider can refuse and that can be renewed, such as an OAuth access token.
public protocol ProviderCredentials: Sendable {
    /// The credential to send now.
    func current() async throws(ProviderRefusal) -> String
    /// New credentials after the provider refused `rejected`. Callers that raced on the same refusal
    /// share one refresh.
    func refresh(rejected: String) async throws(ProviderRefusal) -> String
}

/// A failure to get credentials, already classified (a revoked refresh token is `.permanent`).
public struct ProviderRefusal: Error, Sendable {
    public let verdict: ProviderVerdict
    public init(_ verdict: ProviderVerdict) { self.verdict = verdict }
}

/// A provider call's answer (when there was one) and what it means.
public struct ProviderResult: Sendable {
    public let response: HTTPClientResponse?
    public let verdict: ProviderVerdict
}

extension HTTPClient {
    /// Sends a provider request and classifies the answer. With `credentials`, a refusal of expired
    /// credentials refreshes them once and sends again; a second refusal is permanent.
    public func call(
        clock: any WallClock = SystemClock(), credentials: (any ProviderCredentials)? = nil,
        _ build: (_ credential: String?) -> HTTPClientRequest
    ) async -> ProviderResult {
        var credential: String?
        if let credentials {
            do { credential = try await credentials.current() } catch { return ProviderResult(response: nil, verdict: error.verdict) }
        }
        var first = await attempt(build(credential), clock: clock)
        guard case .authExpired(let reason) = first.verdict, let credentials, let rejected = credential else { return first }
        do {
            credential = try await credentials.refresh(rejected: rejected)
        } catch {
            return ProviderResult(response: first.response, verdict: error.verdict)
        }
        first = await attempt(build(credential), clock: clock)
        if case .authExpired(let again) = first.verdict {
            return ProviderResult(
                response: first.response,
                verdict: .permanent(code: "auth_failed", reason: "credentials refused after a refresh: \(again) (first: \(reason))"))
        }
        return first
    }

    private func attempt(_ request: HTTPClientRequest, clock: any WallClock) async -> ProviderResult {
        do {
            let response = try await send(request)
            return ProviderResult(response: response, verdict: ProviderClassifier.classify(response, nowMs: clock.nowMillis()))
        } catch {
            return ProviderResult(response: nil, verdict: ProviderClassifier.classify(error))
        }
    }
}
