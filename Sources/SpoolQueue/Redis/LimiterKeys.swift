import SpoolSupport

/// The keys of one limiter, all under its tag (`spool:limit:{<limit key>}:…`), so they share a slot.
/// Its scripts get the ones they touch as KEYS (ScriptCalls.swift) and build none themselves: while
/// the limiter's slot migrates, Redis then sees the real keys and refuses the call (TRYAGAIN) rather
/// than let it run against a node that does not hold the limiter's state yet.
public struct LimiterKeys: Sendable, Equatable {
    /// `spool:limit:{<limit key>}`, which is not a key itself: every key below starts with it.
    public let base: String

    /// Until when a provider paused the limiter (unix ms); it expires then (limit_pause.lua).
    public var paused: String { base + ":paused" }
    /// Counters: admitted, denied and provider_pauses.
    public var stats: String { base + ":stats" }
    /// A rate limiter's theoretical arrival time (GCRA), and the interval it was booked at.
    public var tat: String { base + ":tat" }
    public var interval: String { base + ":interval" }
    /// A concurrency limiter's holders (job id → when its hold lapses), and the flag that some job was
    /// refused a slot in the last minute.
    public var holders: String { base + ":holders" }
    public var waiting: String { base + ":waiting" }

    /// A quota's counter for the window that holds `now`; windows of `length` are aligned to the unix
    /// epoch (UTC days), as limit_acquire.lua counts them.
    public func window(containing now: Int64, length: Duration) -> String {
        let milliseconds = length.milliseconds
        return base + ":window:" + String(now - now % milliseconds)
    }
}
