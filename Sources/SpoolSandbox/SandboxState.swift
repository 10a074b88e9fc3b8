import SpoolSupport
import Synchronization

/// Everything the sandbox remembers, behind one lock: settings, counters and each API's data.
/// Handlers hold the lock only to read or change memory, never across a sleep or a network call.
final class SandboxState: Sendable {
    struct Store {
        var settings = SandboxSettings()
        var random = SplitMix64(seed: 1)
        var counters = SandboxCounters()
        var sms = SMSStore()
        var inbound = InboundStore()
        var calendar = CalendarStore()
        var oauth = OAuthStore()
        var channels = WatchChannels()
        var chat = ChatStore()
    }

    let twilioAccountSid: String
    let twilioAuthToken: String
    private let store = Mutex(Store())
    /// The sandbox's own base URL once it listens: inbound messages' media URLs name it.
    private let ownURL = Mutex<String?>(nil)

    init(twilioAccountSid: String, twilioAuthToken: String) {
        self.twilioAccountSid = twilioAccountSid
        self.twilioAuthToken = twilioAuthToken
    }

    func withStore<T>(_ body: (inout Store) throws -> T) rethrows -> T {
        try store.withLock { try body(&$0) }
    }

    func listening(at url: String) { ownURL.withLock { $0 = url } }

    /// `http://host:port` of this sandbox; nil until it listens.
    var baseURL: String? { ownURL.withLock { $0 } }

    /// Applies a faults request and returns the settings now in force.
    func applyFaults(_ json: JSONValue, nowMs: Int64) throws(SandboxInputError) -> JSONValue {
        try store.withLock { (store: inout Store) throws(SandboxInputError) -> JSONValue in
            var settings = store.settings
            let actions = try settings.apply(json)
            if actions.contains(.reset) { store = Store() }
            store.settings = settings
            store.random = SplitMix64(seed: settings.seed)
            store.calendar.seededEvents = settings.calendarSeededEvents
            if actions.contains(.expireTokens) { store.oauth.validAfterMs = nowMs + 1 }
            if actions.contains(.expireSyncTokens) { store.calendar.syncTokensValidAfterMs = nowMs + 1 }
            return settings.json
        }
    }

    /// Decides what happens to one provider request before its handler runs: how long it waits, and
    /// whether an injected error answers instead. Counts the request.
    func admit(_ scope: SandboxScope, endpoint: String) -> FaultDecision {
        store.withLock { store in
            store.counters.requests[endpoint, default: 0] += 1
            let faults = store.settings.faults(for: scope)
            var latency = faults.latencyMs
            if faults.jitterMs > 0 { latency += Int(store.random.next() % UInt64(faults.jitterMs + 1)) }
            for key in [scope.rawValue, "*"] where (store.settings.pending429[key] ?? 0) > 0 {
                store.settings.pending429[key]! -= 1
                return FaultDecision(latencyMs: latency, injectedStatus: 429, retryAfterSeconds: faults.retryAfterSeconds)
            }
            for key in [scope.rawValue, "*"] where (store.settings.pending403[key] ?? 0) > 0 {
                store.settings.pending403[key]! -= 1
                return FaultDecision(latencyMs: latency, injectedStatus: 403, retryAfterSeconds: nil)
            }
            for key in [scope.rawValue, "*"] where (store.settings.pending500[key] ?? 0) > 0 {
                store.settings.pending500[key]! -= 1
                return FaultDecision(latencyMs: latency, injectedStatus: 500, retryAfterSeconds: nil)
            }
            if !faults.errorRates.isEmpty {
                var roll = store.random.nextUnit()
                for (status, rate) in faults.errorRates.sorted(by: { $0.key < $1.key }) {
                    if roll < rate {
                        return FaultDecision(
                            latencyMs: latency, injectedStatus: status,
                            retryAfterSeconds: status == 503 || status == 429 ? faults.retryAfterSeconds : nil)
                    }
                    roll -= rate
                }
            }
            return FaultDecision(latencyMs: latency, injectedStatus: nil, retryAfterSeconds: nil)
        }
    }

    /// `admit`, then the decided latency: how every provider handler begins.
    func enter(_ scope: SandboxScope, endpoint: String) async throws -> FaultDecision {
        let decision = admit(scope, endpoint: endpoint)
        try await sleep(milliseconds: decision.latencyMs)
        return decision
    }

    /// Whether to close this request's connection without answering (the `drop_rate` fault).
    func shouldDrop(path: String) -> Bool {
        guard let scope = SandboxScope.of(path: path) else { return false }
        return store.withLock { store in
            let rate = store.settings.faults(for: scope).dropRate
            guard rate > 0, store.random.nextUnit() < rate else { return false }
            store.counters.dropped += 1
            return true
        }
    }

    func recordStatus(_ status: Int, path: String) {
        let scope = SandboxScope.of(path: path)?.rawValue ?? "control"
        store.withLock { $0.counters.statuses[scope, default: [:]][status, default: 0] += 1 }
    }
}

/// What `admit` decided for one request.
struct FaultDecision: Sendable {
    let latencyMs: Int
    /// An HTTP status to answer with instead of running the handler.
    let injectedStatus: Int?
    let retryAfterSeconds: Int?
}

/// A small seeded generator, so that a fault run with the same seed makes the same choices.
struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64
    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A number in [0, 1).
    mutating func nextUnit() -> Double { Double(next() >> 11) / Double(1 << 53) }
}
