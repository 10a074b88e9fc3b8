#if canImport(Glibc)
    import Glibc
#endif

/// Wall-clock time in unix milliseconds, the unit of every score and deadline in Redis.
/// Injected so that time-based logic (quiet hours, backoff schedules) can be tested with a fixed clock.
public protocol WallClock: Sendable {
    func nowMillis() -> Int64
}

public struct SystemClock: WallClock {
    public init() {}
    public func nowMillis() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000
    }
}

extension Duration {
    public var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
    public var secondsDouble: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
