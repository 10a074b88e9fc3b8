import SpoolHTTP
import SpoolJobs
import SpoolQueue
import Testing

@Suite struct ProviderOutcomeTests {
    @Test func everyVerdictHasOneOutcome() {
        #expect(ProviderVerdict.success.outcome() == .completed)
        #expect(ProviderVerdict.retryable(reason: "503", after: .seconds(3)).outcome() == .retry(error: "503", delay: .seconds(3)))
        #expect(
            ProviderVerdict.rateLimited(untilMs: 5_000, reason: "429").outcome(limit: "sms:sender:{from}")
                == .throttled(until: 5_000, reason: "429", limit: "sms:sender:{from}"))
        #expect(
            ProviderVerdict.permanent(code: "insufficient_quota", reason: "no credit").outcome()
                == .quotaExhausted(reason: "insufficient_quota: no credit"))
        #expect(
            ProviderVerdict.permanent(code: "21211", reason: "invalid To").outcome()
                == .dead(reason: "provider refused (21211): invalid To"))
        if case .dead = ProviderVerdict.authExpired(reason: "401").outcome() {
        } else {
            Issue.record("authExpired after a refresh must be dead")
        }
    }
}
