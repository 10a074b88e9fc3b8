import SpoolSupport

/// Which API a request belongs to, so that faults can aim at one of them.
public enum SandboxScope: String, Sendable, CaseIterable {
    case sms, transcription, calendar, token, chat, echo

    /// The scope of a request path; nil for the sandbox's own control endpoints, which faults never touch.
    static func of(path: String) -> SandboxScope? {
        if path.hasPrefix("/2010-04-01/") { return .sms }
        if path.hasPrefix("/v1/audio/") { return .transcription }
        if path.hasPrefix("/calendar/") { return .calendar }
        if path.hasPrefix("/token") || path.hasPrefix("/revoke") { return .token }
        if path.hasPrefix("/v1/chat/") { return .chat }
        if path.hasPrefix("/_sandbox/echo") { return .echo }
        return nil
    }
}

/// Faults that apply to each request of one scope (or of every scope).
struct RequestFaults: Sendable, Equatable {
    var latencyMs = 0
    var jitterMs = 0
    /// Status → probability, e.g. 500 → 0.1.
    var errorRates: [Int: Double] = [:]
    var retryAfterSeconds = 1
    /// Probability that a connection is closed without an answer.
    var dropRate = 0.0
}

/// Everything a test or benchmark can change at run time through `POST /_sandbox/faults`, or at
/// start-up through `spool sandbox` flags. Unknown fields are refused by name.
struct SandboxSettings: Sendable {
    var all = RequestFaults()
    var byScope: [SandboxScope: RequestFaults] = [:]
    var seed: UInt64 = 1
    /// Requests still owed a 429 by a `burst_429` fault, per scope name ("*" for any scope).
    var pending429: [String: Int] = [:]
    /// Requests still owed a 403 by a `burst_403` fault (Google's rate-limit 403 on calendar calls).
    var pending403: [String: Int] = [:]
    /// Requests still owed a 500 by a `burst_500` fault, the same way.
    var pending500: [String: Int] = [:]

    // SMS
    var smsBurst = 0
    /// Sender → segments per second, overriding the rate its kind of number gets.
    var senderRates: [String: Double] = [:]
    var optedOut: Set<String> = []
    var undeliverable: Set<String> = []
    var undeliveredRate = 0.0
    var failedRate = 0.0
    var callbackDelayMs = 20
    var maxConcurrentRequests = 100
    /// Where `POST /_sandbox/inbound` posts its inbound-message webhooks (loopback only); nil: nowhere yet.
    var inboundURL: String?

    // OAuth and calendar
    var tokenTTLSeconds = 3600
    var syncTokenTTLSeconds = 7 * 86_400
    var revokedRefreshTokens: Set<String> = ["revoked"]
    /// Each refresh answers a new refresh token and retires the one it was asked with.
    var rotateRefreshTokens = false
    /// The consent page redirects with `error=access_denied` instead of a code.
    var oauthDenyConsent = false
    /// Events a calendar seen for the first time starts with.
    var calendarSeededEvents = CalendarStore.defaultSeededEvents
    /// The share of calendar calls answered 401 although their access token is valid.
    var calendarUnauthorizedRatio = 0.0
    /// The reason injected 403s and 429s on calendar calls give.
    var calendarRateLimitReason = GoogleRateLimitReason.rateLimitExceeded
    /// How long after a change its push notifications go out.
    var calendarPushDelayMs = 20

    // Chat
    var insufficientQuota = false
    var chatRequestsPerMinute = 500
    var chatTokensPerMinute = 200_000
    /// The model's context window: a prompt estimated above it is a 400 `context_length_exceeded`.
    var chatContextTokens = 16_385
    /// Words (lowercased) that make the last user message refused with `finish_reason: content_filter`.
    var chatRefuseWords: Set<String> = []

    func faults(for scope: SandboxScope) -> RequestFaults { byScope[scope] ?? all }

    /// One-shot actions a faults request may ask for; they change state, not settings.
    struct Actions: OptionSet, Sendable {
        let rawValue: Int
        static let expireTokens = Actions(rawValue: 1)
        static let expireSyncTokens = Actions(rawValue: 2)
        static let reset = Actions(rawValue: 4)
    }

    /// Applies a JSON object of settings. A `scope` field aims the per-request faults at one API.
    mutating func apply(_ json: JSONValue) throws(SandboxInputError) -> Actions {
        guard let fields = json.objectValue else { throw SandboxInputError("the faults body must be a JSON object, not \(json.typeName)") }
        var actions: Actions = []
        if fields["reset"]?.boolValue == true {
            self = SandboxSettings()
            actions.insert(.reset)
        }
        var scope: SandboxScope?
        if let value = fields["scope"] {
            guard let text = value.stringValue, text == "*" || SandboxScope(rawValue: text) != nil else {
                throw SandboxInputError(
                    "field 'scope': expected \"*\" or one of \(SandboxScope.allCases.map(\.rawValue).joined(separator: ", ")), got \(value.text)"
                )
            }
            scope = SandboxScope(rawValue: text)
        }
        var request = scope.map { faults(for: $0) } ?? all
        let requestFields: Set<String> = ["latency_ms", "jitter_ms", "error_rates", "retry_after_seconds", "drop_rate"]
        for (name, value) in fields.sorted(by: { $0.key < $1.key }) {
            switch name {
            case "scope", "reset": break
            case "latency_ms": request.latencyMs = try Self.int(name, value, 0...600_000)
            case "jitter_ms": request.jitterMs = try Self.int(name, value, 0...600_000)
            case "error_rates": request.errorRates = try Self.rates(name, value)
            case "burst_429": pending429[scope?.rawValue ?? "*"] = try Self.int(name, value, 0...1_000_000)
            case "burst_403": pending403[scope?.rawValue ?? "*"] = try Self.int(name, value, 0...1_000_000)
            case "burst_500": pending500[scope?.rawValue ?? "*"] = try Self.int(name, value, 0...1_000_000)
            case "retry_after_seconds": request.retryAfterSeconds = try Self.int(name, value, 0...86_400)
            case "drop_rate": request.dropRate = try Self.probability(name, value)
            case "seed": seed = UInt64(try Self.int(name, value, 0...Int.max))
            case "sms_burst": smsBurst = try Self.int(name, value, 0...10_000)
            case "sender_rates": senderRates = try Self.positiveNumbers(name, value)
            case "opted_out": optedOut = try Self.strings(name, value)
            case "undeliverable": undeliverable = try Self.strings(name, value)
            case "undelivered_rate": undeliveredRate = try Self.probability(name, value)
            case "failed_rate": failedRate = try Self.probability(name, value)
            case "callback_delay_ms": callbackDelayMs = try Self.int(name, value, 0...600_000)
            case "max_concurrent_requests": maxConcurrentRequests = try Self.int(name, value, 1...1_000_000)
            case "inbound_url": inboundURL = try Self.loopbackURL(name, value)
            case "token_ttl_seconds": tokenTTLSeconds = try Self.int(name, value, 1...86_400 * 365)
            case "sync_token_ttl_seconds": syncTokenTTLSeconds = try Self.int(name, value, 1...86_400 * 365)
            case "revoked_refresh_tokens": revokedRefreshTokens = try Self.strings(name, value)
            case "rotate_refresh_tokens": rotateRefreshTokens = try Self.bool(name, value)
            case "oauth_deny_consent": oauthDenyConsent = try Self.bool(name, value)
            case "calendar_seeded_events": calendarSeededEvents = try Self.int(name, value, 0...100_000)
            case "calendar_unauthorized_ratio": calendarUnauthorizedRatio = try Self.probability(name, value)
            case "calendar_rate_limit_reason":
                guard let text = value.stringValue, let reason = GoogleRateLimitReason(rawValue: text) else {
                    throw SandboxInputError(
                        "field '\(name)': expected one of \(GoogleRateLimitReason.allCases.map(\.rawValue).joined(separator: ", ")), got \(value.text)"
                    )
                }
                calendarRateLimitReason = reason
            case "calendar_push_delay_ms": calendarPushDelayMs = try Self.int(name, value, 0...600_000)
            case "insufficient_quota": insufficientQuota = try Self.bool(name, value)
            case "chat_requests_per_minute": chatRequestsPerMinute = try Self.int(name, value, 1...100_000_000)
            case "chat_tokens_per_minute": chatTokensPerMinute = try Self.int(name, value, 1...1_000_000_000)
            case "chat_context_tokens": chatContextTokens = try Self.int(name, value, 1...100_000_000)
            case "chat_refuse_words": chatRefuseWords = try Self.words(name, value)
            case "expire_tokens": if try Self.bool(name, value) { actions.insert(.expireTokens) }
            case "expire_sync_tokens": if try Self.bool(name, value) { actions.insert(.expireSyncTokens) }
            default: throw SandboxInputError("unknown field '\(name)'")
            }
        }
        // Per-request faults without a scope replace every scope's; other settings leave them alone.
        if let scope {
            byScope[scope] = request
        } else if fields.keys.contains(where: requestFields.contains) {
            all = request
            byScope = [:]
        }
        return actions
    }

    var json: JSONValue {
        func object(_ faults: RequestFaults) -> JSONValue {
            .object([
                "latency_ms": .number(Double(faults.latencyMs)), "jitter_ms": .number(Double(faults.jitterMs)),
                "error_rates": .object(Dictionary(uniqueKeysWithValues: faults.errorRates.map { (String($0.key), .number($0.value)) })),
                "retry_after_seconds": .number(Double(faults.retryAfterSeconds)),
                "drop_rate": .number(faults.dropRate),
            ])
        }
        let inbound: JSONValue = inboundURL.map { .string($0) } ?? .null
        var fields: [String: JSONValue] = [
            "all": object(all),
            "scopes": .object(Dictionary(uniqueKeysWithValues: byScope.map { ($0.key.rawValue, object($0.value)) })),
            "pending_429": .object(pending429.mapValues { .number(Double($0)) }),
            "pending_403": .object(pending403.mapValues { .number(Double($0)) }),
            "pending_500": .object(pending500.mapValues { .number(Double($0)) }),
            "seed": .number(Double(seed)), "sms_burst": .number(Double(smsBurst)),
            "sender_rates": .object(senderRates.mapValues { .number($0) }),
            "opted_out": .array(optedOut.sorted().map { .string($0) }),
            "undeliverable": .array(undeliverable.sorted().map { .string($0) }),
            "undelivered_rate": .number(undeliveredRate), "failed_rate": .number(failedRate),
            "callback_delay_ms": .number(Double(callbackDelayMs)), "max_concurrent_requests": .number(Double(maxConcurrentRequests)),
            "inbound_url": inbound,
            "token_ttl_seconds": .number(Double(tokenTTLSeconds)), "sync_token_ttl_seconds": .number(Double(syncTokenTTLSeconds)),
            "revoked_refresh_tokens": .array(revokedRefreshTokens.sorted().map { .string($0) }),
            "insufficient_quota": .bool(insufficientQuota),
            "chat_requests_per_minute": .number(Double(chatRequestsPerMinute)),
            "chat_tokens_per_minute": .number(Double(chatTokensPerMinute)),
            "chat_context_tokens": .number(Double(chatContextTokens)),
            "chat_refuse_words": .array(chatRefuseWords.sorted().map { .string($0) }),
        ]
        // In a literal of its own: one very long literal is slow to type-check.
        let google: [String: JSONValue] = [
            "rotate_refresh_tokens": .bool(rotateRefreshTokens), "oauth_deny_consent": .bool(oauthDenyConsent),
            "calendar_seeded_events": .number(Double(calendarSeededEvents)),
            "calendar_unauthorized_ratio": .number(calendarUnauthorizedRatio),
            "calendar_rate_limit_reason": .string(calendarRateLimitReason.rawValue),
            "calendar_push_delay_ms": .number(Double(calendarPushDelayMs)),
        ]
        fields.merge(google) { _, new in new }
        return .object(fields)
    }

    private static func int(_ name: String, _ value: JSONValue, _ range: ClosedRange<Int>) throws(SandboxInputError) -> Int {
        guard let number = value.intValue, range.contains(number) else {
            throw SandboxInputError("field '\(name)': expected an integer in \(range.lowerBound)...\(range.upperBound), got \(value.text)")
        }
        return number
    }

    /// A URL the sandbox may post to (this machine only), or nil for null.
    private static func loopbackURL(_ name: String, _ value: JSONValue) throws(SandboxInputError) -> String? {
        if value == .null { return nil }
        guard let text = value.stringValue, LoopbackURL.isLoopback(text) else {
            throw SandboxInputError(
                "field '\(name)': expected an http(s) URL on this machine (127.0.0.0/8, [::1], localhost) or null, got \(value.text)")
        }
        return text
    }

    private static func probability(_ name: String, _ value: JSONValue) throws(SandboxInputError) -> Double {
        guard let number = value.numberValue, (0...1).contains(number) else {
            throw SandboxInputError("field '\(name)': expected a probability from 0 to 1, got \(value.text)")
        }
        return number
    }

    private static func bool(_ name: String, _ value: JSONValue) throws(SandboxInputError) -> Bool {
        guard let flag = value.boolValue else { throw SandboxInputError("field '\(name)': expected true or false, got \(value.text)") }
        return flag
    }

    private static func strings(_ name: String, _ value: JSONValue) throws(SandboxInputError) -> Set<String> {
        guard case .array(let items) = value else {
            throw SandboxInputError("field '\(name)': expected an array of strings, got \(value.typeName)")
        }
        var result: Set<String> = []
        for (index, item) in items.enumerated() {
            guard let text = item.stringValue else {
                throw SandboxInputError("field '\(name)[\(index)]': expected a string, got \(item.text)")
            }
            result.insert(text)
        }
        return result
    }

    /// Strings matched without regard to case, kept lowercased; an empty one would match everything.
    private static func words(_ name: String, _ value: JSONValue) throws(SandboxInputError) -> Set<String> {
        let items = try strings(name, value)
        if items.contains(where: \.isEmpty) { throw SandboxInputError("field '\(name)': the words must not be empty") }
        return Set(items.map { $0.lowercased() })
    }

    private static func rates(_ name: String, _ value: JSONValue) throws(SandboxInputError) -> [Int: Double] {
        guard let fields = value.objectValue else { throw SandboxInputError("field '\(name)': expected an object of status → probability") }
        var result: [Int: Double] = [:]
        for (key, rate) in fields {
            guard let status = Int(key), (400...599).contains(status) else {
                throw SandboxInputError("field '\(name).\(key)': expected an HTTP status from 400 to 599 as the key")
            }
            result[status] = try probability("\(name).\(key)", rate)
        }
        guard result.values.reduce(0, +) <= 1 else { throw SandboxInputError("field '\(name)': the rates add up to more than 1") }
        return result
    }

    private static func positiveNumbers(_ name: String, _ value: JSONValue) throws(SandboxInputError) -> [String: Double] {
        guard let fields = value.objectValue else {
            throw SandboxInputError("field '\(name)': expected an object of sender → segments per second")
        }
        var result: [String: Double] = [:]
        for (key, rate) in fields {
            guard let number = rate.numberValue, number > 0 else {
                throw SandboxInputError("field '\(name).\(key)': expected a positive number, got \(rate.text)")
            }
            result[key] = number
        }
        return result
    }
}

/// A request the sandbox refuses, with a message that names what is wrong.
struct SandboxInputError: Error, Sendable, CustomStringConvertible {
    let message: String
    init(_ message: String) { self.message = message }
    var description: String { message }
}
