import SpoolHTTP
import SpoolSupport
import TestSupport
import Testing

@testable import SpoolSandbox

/// The sandbox's Google OAuth: the consent page and code exchange, refresh-token rotation, revocation,
/// and the grant counters a bench reads.
@Suite struct GoogleOAuthSandboxTests {
    static let scope = "https://www.googleapis.com/auth/calendar.readonly"

    private func consent(
        _ sandbox: RunningSandbox, _ client: HTTPClient, redirect: String, state: String? = "s-1"
    ) async throws
        -> HTTPClientResponse
    {
        var query = [
            ("client_id", "spool-client"), ("redirect_uri", redirect), ("response_type", "code"), ("scope", Self.scope),
            ("access_type", "offline"), ("prompt", "consent"),
        ]
        if let state { query.append(("state", state)) }
        return try await client.send(HTTPClientRequest("GET", sandbox.baseURL + "/o/oauth2/v2/auth?" + FormEncoding.encode(query)))
    }

    private func exchange(
        _ sandbox: RunningSandbox, _ client: HTTPClient, code: String, redirect: String
    ) async throws -> HTTPClientResponse {
        try await client.send(
            HTTPClientRequest(
                "POST", sandbox.baseURL + "/token",
                body: .form([
                    ("grant_type", "authorization_code"), ("code", code), ("redirect_uri", redirect), ("client_id", "spool-client"),
                    ("client_secret", "secret"),
                ])))
    }

    static func refresh(
        _ sandbox: RunningSandbox, _ client: HTTPClient, _ refreshToken: String, clientID: String = "spool-client"
    ) async throws
        -> HTTPClientResponse
    {
        try await client.send(
            HTTPClientRequest(
                "POST", sandbox.baseURL + "/token",
                body: .form([
                    ("grant_type", "refresh_token"), ("refresh_token", refreshToken), ("client_id", clientID), ("client_secret", "secret"),
                ])))
    }

    static func events(
        _ sandbox: RunningSandbox, _ client: HTTPClient, accessToken: String, calendar: String = "primary"
    ) async throws
        -> HTTPClientResponse
    {
        try await client.send(
            HTTPClientRequest(
                "GET", sandbox.baseURL + "/calendar/v3/calendars/\(calendar)/events?maxResults=5",
                headers: ["Authorization": HTTPClientRequest.bearerAuthorization(accessToken)]))
    }

    @Test func theConsentPageRedirectsWithACodeThatIsExchangedOnceForItsRedirectURI() async throws {
        let sandbox = try await RunningSandbox.start()
        let client = HTTPClient()
        defer { client.close() }
        let redirect = "http://127.0.0.1:9/v1/calendars/callback"
        let approved = try await consent(sandbox, client, redirect: redirect, state: "tenant 7/nonce")
        #expect(approved.status == 302)
        let location = try #require(approved.headers["Location"])
        #expect(location.hasPrefix(redirect + "?"))
        #expect(LoopbackURL.queryValue("state", in: location) == "tenant 7/nonce")
        #expect(LoopbackURL.queryValue("scope", in: location) == Self.scope)
        let code = try #require(LoopbackURL.queryValue("code", in: location))

        let tokens = try await exchange(sandbox, client, code: code, redirect: redirect)
        #expect(tokens.status == 200)
        let json = try #require(tokens.json)
        let accessToken = try #require(json["access_token"]?.stringValue)
        let refreshToken = try #require(json["refresh_token"]?.stringValue)
        #expect(refreshToken.hasPrefix("1//"))
        #expect(json["token_type"]?.stringValue == "Bearer" && json["expires_in"]?.intValue == 3600)
        #expect(json["scope"]?.stringValue == Self.scope)
        #expect(try await Self.events(sandbox, client, accessToken: accessToken).status == 200)

        // Single use: the same code again is refused, as Google refuses a used code.
        let reused = try await exchange(sandbox, client, code: code, redirect: redirect)
        #expect(reused.status == 400 && reused.json?["error"]?.stringValue == "invalid_grant")
        guard case .permanent(let refusal, _) = ProviderClassifier.classify(reused, nowMs: SystemClock().nowMillis()) else {
            Issue.record("a used code is not permanent"); return
        }
        #expect(refusal == "invalid_grant")

        // A code is bound to the redirect_uri it was issued for.
        let other = try await consent(sandbox, client, redirect: redirect)
        let otherCode = try #require(other.headers["Location"].flatMap { LoopbackURL.queryValue("code", in: $0) })
        let mismatched = try await exchange(sandbox, client, code: otherCode, redirect: "http://127.0.0.1:9/elsewhere")
        #expect(mismatched.status == 400 && mismatched.json?["error"]?.stringValue == "invalid_grant")

        // The refresh token from the exchange refreshes; the counters know the grant by it.
        #expect(try await Self.refresh(sandbox, client, refreshToken).status == 200)
        let counters = try await sandbox.counters()
        #expect(counters["token"]?["authorization_code"]?.intValue == 1)
        #expect(counters["token"]?["refresh"]?.intValue == 1)
        #expect(counters["token"]?["invalid_grant"]?.intValue == 2)
        #expect(counters["token"]?["refresh_by_grant"]?[refreshToken]?.intValue == 1)
        await sandbox.stop()
    }

    @Test func theConsentPageRefusesOffMachineRedirectsAndCanBeDeclined() async throws {
        let sandbox = try await RunningSandbox.start()
        let client = HTTPClient()
        defer { client.close() }
        let offMachine = try await consent(sandbox, client, redirect: "https://app.example.com/callback")
        #expect(offMachine.status == 400)
        #expect(offMachine.headers["Location"] == nil)
        #expect(offMachine.json?["error"]?.stringValue == "redirect_uri_mismatch")

        let noClient = try await client.send(
            HTTPClientRequest("GET", sandbox.baseURL + "/o/oauth2/v2/auth?response_type=code&redirect_uri=http://127.0.0.1:9/cb"))
        #expect(noClient.status == 400 && noClient.json?["error_description"]?.stringValue?.contains("client_id") == true)

        try await sandbox.setFaults(#"{"oauth_deny_consent": true}"#)
        let declined = try await consent(sandbox, client, redirect: "http://localhost:9/cb")
        #expect(declined.status == 302)
        let location = try #require(declined.headers["Location"])
        #expect(LoopbackURL.queryValue("error", in: location) == "access_denied")
        #expect(LoopbackURL.queryValue("code", in: location) == nil)
        #expect(LoopbackURL.queryValue("state", in: location) == "s-1")
        await sandbox.stop()
    }

    @Test func rotatingRefreshTokensRefuseTheOldOneWithInvalidGrant() async throws {
        let sandbox = try await RunningSandbox.start()
        let client = HTTPClient()
        defer { client.close() }
        try await sandbox.setFaults(#"{"rotate_refresh_tokens": true}"#)
        let first = try await Self.refresh(sandbox, client, "connection-1")
        #expect(first.status == 200)
        let rotated = try #require(first.json?["refresh_token"]?.stringValue)
        #expect(rotated != "connection-1")

        // The loser of a race between two refreshes with the same token gets invalid_grant.
        let loser = try await Self.refresh(sandbox, client, "connection-1")
        #expect(loser.status == 400 && loser.json?["error"]?.stringValue == "invalid_grant")

        let second = try await Self.refresh(sandbox, client, rotated)
        #expect(second.status == 200)
        let latest = try #require(second.json?["refresh_token"]?.stringValue)
        let accessToken = try #require(second.json?["access_token"]?.stringValue)

        // Both refreshes count for the one grant, whatever token each was asked with.
        var counters = try await sandbox.counters()
        #expect(counters["token"]?["refresh"]?.intValue == 2)
        #expect(counters["token"]?["rotated"]?.intValue == 2)
        #expect(counters["token"]?["refresh_by_grant"]?["connection-1"]?.intValue == 2)

        // Revoking the grant ends its refresh token and its access tokens.
        let revoke = try await client.send(HTTPClientRequest("POST", sandbox.baseURL + "/revoke", body: .form([("token", latest)])))
        #expect(revoke.status == 200)
        let afterRevoke = try await Self.refresh(sandbox, client, latest)
        #expect(afterRevoke.json?["error"]?.stringValue == "invalid_grant")
        #expect(try await Self.events(sandbox, client, accessToken: accessToken).status == 401)
        let again = try await client.send(HTTPClientRequest("POST", sandbox.baseURL + "/revoke", body: .form([("token", latest)])))
        #expect(again.status == 400 && again.json?["error"]?.stringValue == "invalid_token")
        counters = try await sandbox.counters()
        #expect(counters["token"]?["invalid_grant"]?.intValue == 2)

        // Without rotation a refresh answers no refresh token, as Google's does.
        try await sandbox.setFaults(#"{"rotate_refresh_tokens": false}"#)
        let plain = try await Self.refresh(sandbox, client, "connection-2")
        #expect(plain.status == 200 && plain.json?["refresh_token"] == nil)
        await sandbox.stop()
    }
}
