import SpoolQueue
import SpoolSupport
import Testing

@Suite struct BackoffTests {
    @Test func polynomialFollowsSidekiqSchedule() {
        // attempt⁴ + 15 s (+ jitter up to 10·(n+1) s), with n the attempts before this failure.
        #expect(Backoff.polynomial.delay(afterAttempt: 1, random: 0) == .seconds(15))
        #expect(Backoff.polynomial.delay(afterAttempt: 2, random: 0) == .seconds(16))
        #expect(Backoff.polynomial.delay(afterAttempt: 3, random: 0) == .seconds(31))
        #expect(Backoff.polynomial.delay(afterAttempt: 5, random: 0) == .seconds(271))
        #expect(Backoff.polynomial.delay(afterAttempt: 3, random: 0.5) == .seconds(31 + 15))
    }

    @Test func exponentialDoublesUpToTheCapWithBoundedJitter() {
        let backoff = Backoff.exponential(base: .seconds(1), cap: .seconds(60), jitter: 0.2)
        #expect(backoff.delay(afterAttempt: 1, random: 0.5) == .seconds(1))
        #expect(backoff.delay(afterAttempt: 4, random: 0.5) == .seconds(8))
        #expect(backoff.delay(afterAttempt: 30, random: 0.5) == .seconds(60))
        #expect(backoff.delay(afterAttempt: 4, random: 0) == .milliseconds(6400))
        #expect(backoff.delay(afterAttempt: 4, random: 0.999_999) <= .milliseconds(9600))
        #expect(backoff.delay(afterAttempt: 200, random: 0.5) == .seconds(60))
    }

    @Test func constantIsConstant() {
        #expect(Backoff.constant(.seconds(7)).delay(afterAttempt: 9) == .seconds(7))
    }
}
