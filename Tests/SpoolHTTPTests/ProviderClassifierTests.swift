import SpoolHTTP
import Testing

@Suite struct ProviderClassifierTests {
    let now: Int64 = 1_800_000_000_000

    private func response(_ status: Int, _ body: String = "", headers: HeaderFields = [:]) -> HTTPClientResponse {
        HTTPClientResponse(status: status, headers: headers, body: Array(body.utf8))
    }

    @Test func successIsAny2xx() {
        for status in [200, 201, 202, 204] { #expect(ProviderClassifier.classify(response(status), nowMs: now) == .success) }
    }

    @Test func twilioErrorsArePermanentWithTheirCode() {
        let invalid = response(400, #"{"code": 21211, "message": "The 'To' number 123 is not a valid phone number.", "status": 400}"#)
        guard case .permanent(let code, let reason) = ProviderClassifier.classify(invalid, nowMs: now) else {
            Issue.record("not permanent"); return
        }
        #expect(code == "21211" && reason.contains("not a valid phone number") && reason.hasPrefix("HTTP 400 (21211)"))
        let optedOut = response(400, #"{"code": 21610, "message": "Attempt to send to unsubscribed recipient"}"#)
        #expect(
            ProviderClassifier.classify(optedOut, nowMs: now)
                == .permanent(code: "21610", reason: "HTTP 400 (21610): Attempt to send to unsubscribed recipient"))
        #expect(
            ProviderClassifier.classify(response(404, "<html>nope</html>"), nowMs: now) == .permanent(code: "http_404", reason: "HTTP 404"))
    }

    @Test func serverErrorsAndTimeoutsRetry() {
        #expect(ProviderClassifier.classify(response(500), nowMs: now) == .retryable(reason: "HTTP 500", after: nil))
        #expect(
            ProviderClassifier.classify(response(503, headers: ["Retry-After": "7"]), nowMs: now)
                == .retryable(reason: "HTTP 503", after: .seconds(7)))
        #expect(ProviderClassifier.classify(response(408), nowMs: now) == .retryable(reason: "HTTP 408", after: nil))
        for kind in [HTTPClientError.Kind.timeout, .connect, .connectionLost, .tls, .transport] {
            #expect(ProviderClassifier.classify(HTTPClientError(kind, "x")) == .retryable(reason: "x", after: nil))
        }
        #expect(ProviderClassifier.classify(HTTPClientError(.responseTooLarge, "x")) == .permanent(code: "responseTooLarge", reason: "x"))
    }

    @Test func rateLimitsSayUntilWhen() {
        func until(_ r: HTTPClientResponse) -> Int64? {
            if case .rateLimited(let until, _) = ProviderClassifier.classify(r, nowMs: now) { return until }
            return nil
        }
        // Twilio's 20429 names no time: the default pause.
        #expect(until(response(429, #"{"code": 20429, "message": "Too Many Requests"}"#)) == now + 1000)
        #expect(until(response(429, headers: ["Retry-After": "30"])) == now + 30_000)
        #expect(until(response(429, headers: ["retry-after": "1.5"])) == now + 1500)
        #expect(until(response(429, headers: ["retry-after-ms": "250", "retry-after": "1"])) == now + 250)
        // An HTTP date, 90 s after `now` (1800000000 = Fri, 15 Jan 2027 08:00:00 GMT).
        #expect(until(response(429, headers: ["Retry-After": "Fri, 15 Jan 2027 08:01:30 GMT"])) == now + 90_000)
        // OpenAI: the spent limit's reset wins over the one with room left.
        let openAI = response(
            429, #"{"error": {"type": "tokens", "code": "rate_limit_exceeded"}}"#,
            headers: [
                "x-ratelimit-remaining-requests": "10", "x-ratelimit-reset-requests": "1s",
                "x-ratelimit-remaining-tokens": "0", "x-ratelimit-reset-tokens": "6m0s",
            ])
        #expect(until(openAI) == now + 360_000)
        #expect(until(response(429, headers: ["x-ratelimit-reset": "1800000042"])) == now + 42_000)
    }

    @Test func spentQuotaIsPermanentNotRateLimited() {
        let quota = response(
            429, #"{"error": {"message": "You exceeded your current quota", "type": "insufficient_quota", "code": "insufficient_quota"}}"#)
        guard case .permanent(let code, _) = ProviderClassifier.classify(quota, nowMs: now) else { Issue.record("not permanent"); return }
        #expect(code == "insufficient_quota")
    }

    @Test func authAndGoogleAndOAuthShapes() {
        let google401 = response(401, #"{"error": {"code": 401, "message": "Invalid Credentials", "errors": [{"reason": "authError"}]}}"#)
        #expect(ProviderClassifier.classify(google401, nowMs: now) == .authExpired(reason: "HTTP 401 (authError): Invalid Credentials"))
        let gone = response(
            410, #"{"error": {"code": 410, "message": "Sync token is no longer valid", "errors": [{"reason": "fullSyncRequired"}]}}"#)
        guard case .permanent(let code, _) = ProviderClassifier.classify(gone, nowMs: now) else { Issue.record("not permanent"); return }
        #expect(code == "fullSyncRequired")
        let grant = response(400, #"{"error": "invalid_grant", "error_description": "Token has been expired or revoked."}"#)
        #expect(
            ProviderClassifier.classify(grant, nowMs: now)
                == .permanent(code: "invalid_grant", reason: "HTTP 400 (invalid_grant): Token has been expired or revoked."))
    }

    @Test func rateLimitHeadersOnSuccessTellWhenALimitIsSpent() {
        let headers: HeaderFields = ["x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "20ms"]
        #expect(RateLimitHeaders(headers).exhaustedUntilMs(nowMs: now) == now + 20)
        #expect(
            RateLimitHeaders(["x-ratelimit-remaining-requests": "5", "x-ratelimit-reset-requests": "20ms"]).exhaustedUntilMs(nowMs: now)
                == nil)
        #expect(RateLimitHeaders(["Retry-After": "soon"]).retryAfter(nowMs: now) == nil)
    }

    @Test func urlsLoseCredentialsAndSecretParameters() {
        #expect(
            URLRedaction.redact("https://user:pa55@api.example.com/v1/x?api_key=sk-123&page=2#frag")
                == "https://api.example.com/v1/x?api_key=REDACTED&page=2")
        #expect(URLRedaction.redact("http://127.0.0.1:4010/token?access_token=abc") == "http://127.0.0.1:4010/token?access_token=REDACTED")
        #expect(URLRedaction.redact("http://h/p") == "http://h/p")
    }

    @Test func formEncodingRoundTrips() {
        let fields = [("To", "+15551234567"), ("Body", "Hi & bye = 100% ✓"), ("Empty", "")]
        let text = FormEncoding.encode(fields)
        #expect(text == "To=%2B15551234567&Body=Hi+%26+bye+%3D+100%25+%E2%9C%93&Empty=")
        #expect(FormEncoding.decode(text).map { "\($0.0)=\($0.1)" } == fields.map { "\($0.0)=\($0.1)" })
    }

    @Test func absurdHeaderValuesAreClampedNotACrash() {
        for headers: HeaderFields in [
            ["Retry-After": "inf"], ["retry-after-ms": "1e300"], ["Retry-After": "nan"],
            ["x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "1e300"],
            ["x-ratelimit-remaining-tokens": "0", "x-ratelimit-reset-tokens": "9999999999999999h"],
            ["Retry-After": "Fri, 15 Jan 99999999999 08:01:30 GMT"],
        ] {
            guard case .rateLimited(let until, _) = ProviderClassifier.classify(response(429, headers: headers), nowMs: now) else {
                Issue.record("\(headers.fields) not rate limited")
                continue
            }
            #expect(until >= now && until <= now + RateLimitHeaders.maximumWaitMs, "\(headers.fields)")
        }
    }

    @Test func googlesRateLimitsAnsweredWith403AreRateLimits() {
        let limited = response(
            403, #"{"error": {"code": 403, "message": "Rate Limit Exceeded", "errors": [{"reason": "rateLimitExceeded"}]}}"#)
        guard case .rateLimited = ProviderClassifier.classify(limited, nowMs: now) else {
            Issue.record("403 rateLimitExceeded not rate limited"); return
        }
        let forbidden = response(403, #"{"error": {"code": 403, "message": "Forbidden", "errors": [{"reason": "forbidden"}]}}"#)
        guard case .permanent(let code, _) = ProviderClassifier.classify(forbidden, nowMs: now) else {
            Issue.record("403 not permanent"); return
        }
        #expect(code == "forbidden")
    }
}
