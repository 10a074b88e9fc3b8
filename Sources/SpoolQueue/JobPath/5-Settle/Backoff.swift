import SpoolSupport

/// How long a failed job waits before its next attempt. Pure functions; the jitter source is injected.
public enum Backoff: Sendable, Equatable {
    /// Sidekiq's schedule: attempt⁴ + 15 s + up to 10·(attempt+1) s of jitter. 25 attempts span about 20 days.
    case polynomial
    /// base·2^attempt, capped, with ±jitter (a fraction, 0...1) spread around it.
    case exponential(base: Duration, cap: Duration, jitter: Double)
    /// The same delay every time.
    case constant(Duration)

    /// - Parameters:
    ///   - attempt: attempts already failed, counting this one (1 after the first failure).
    ///   - random: a number in 0..<1; production passes a random one, tests a fixed one.
    public func delay(afterAttempt attempt: Int, random: Double = Double.random(in: 0..<1)) -> Duration {
        let n = max(attempt - 1, 0)
        switch self {
        case .polynomial:
            let seconds = Double(n * n * n * n) + 15 + random * 10 * Double(n + 1)
            return .milliseconds(Int64(seconds * 1000))
        case .exponential(let base, let cap, let jitter):
            let raw = min(base.secondsDouble * pow2(n), cap.secondsDouble)
            let spread = raw * jitter * (random * 2 - 1)
            return .milliseconds(Int64(max(raw + spread, 0) * 1000))
        case .constant(let duration):
            return duration
        }
    }

    private func pow2(_ n: Int) -> Double { n >= 62 ? Double.greatestFiniteMagnitude : Double(1 << n) }
}
