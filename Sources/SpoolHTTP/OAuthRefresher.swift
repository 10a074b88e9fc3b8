import SpoolSupport

/// An OAuth 2 access token kept fresh with a refresh token (RFC 6749 section 6), as Google issues them.
///
/// One refresh serves every caller that saw the same token refused. A refresh token the server
/// refuses (`invalid_grant`) is a permanent verdict: a person has to reconnect the account.
public actor OAuthRefresher: ProviderCredentials {
    private let client: HTTPClient
    private let tokenURL: String
    private let clientID: String
    private let clientSecret: String
    private let refreshToken: String
    private let clock: any WallClock
    private var accessToken: String?
    private var expiresAtMs: Int64 = 0
    private var pending: Task<String, any Error>?

    public init(
        client: HTTPClient, tokenURL: String, clientID: String, clientSecret: String, refreshToken: String,
        accessToken: String? = nil, expiresAtMs: Int64 = .max, clock: any WallClock = SystemClock()
    ) {
        self.client = client
        self.tokenURL = tokenURL
        self.clientID = clientID
        self.clientSecret = clientSecret
        self.refreshToken = refreshToken
        self.accessToken = accessToken
        self.expiresAtMs = accessToken == nil ? 0 : expiresAtMs
        self.clock = clock
    }

    public func current() async throws(ProviderRefusal) -> String {
        // Refresh a little early so that a token does not expire between here and the provider.
        if let accessToken, clock.nowMillis() < expiresAtMs - 30_000 { return accessToken }
        return try await renew()
    }

    public func refresh(rejected: String) async throws(ProviderRefusal) -> String {
        if let accessToken, accessToken != rejected { return accessToken }  // someone else already renewed it
        return try await renew()
    }

    private func renew() async throws(ProviderRefusal) -> String {
        let task: Task<String, any Error>
        if let pending {
            task = pending
        } else {
            task = Task { try await self.exchange() }
            pending = task
        }
        // Only the refresh that is still current is forgotten: a late waiter must not clear a newer one.
        do {
            let token = try await task.value
            if pending == task { pending = nil }
            return token
        } catch {
            if pending == task { pending = nil }
            throw (error as? ProviderRefusal) ?? ProviderRefusal(.retryable(reason: "\(error)", after: nil))
        }
    }

    private func exchange() async throws -> String {
        let request = HTTPClientRequest(
            "POST", tokenURL,
            body: .form([
                ("grant_type", "refresh_token"), ("refresh_token", refreshToken),
                ("client_id", clientID), ("client_secret", clientSecret),
            ]), timeout: .seconds(15))
        let result = await client.call(clock: clock) { _ in request }
        guard result.verdict == .success, let response = result.response else {
            // A 400 or 401 from the token endpoint means the grant itself is gone; waiting will not help.
            if case .authExpired(let reason) = result.verdict { throw ProviderRefusal(.permanent(code: "invalid_grant", reason: reason)) }
            throw ProviderRefusal(result.verdict)
        }
        guard let json = response.json, let token = json["access_token"]?.stringValue, !token.isEmpty else {
            throw ProviderRefusal(.retryable(reason: "token endpoint answered without an access_token", after: nil))
        }
        accessToken = token
        expiresAtMs = clock.nowMillis() + Int64(json["expires_in"]?.intValue ?? 3600) * 1000
        return token
    }
}
