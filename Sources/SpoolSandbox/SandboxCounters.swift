import SpoolSupport

/// What the sandbox saw, for tests and benchmarks (`GET /_sandbox/counters`).
struct SandboxCounters: Sendable {
    /// Requests per endpoint ("sms.create", "calendar.events", ...), faults included.
    var requests: [String: Int] = [:]
    /// Answers per scope and status.
    var statuses: [String: [Int: Int]] = [:]
    /// Messages accepted per (To, Body, client reference): more than 1 anywhere is a double send.
    var smsAccepted: [SMSIdentity: Int] = [:]
    /// Requests seen per sender per unix second, accepted or not: what proves a rate limit held.
    var senderRequests: [String: [Int64: Int]] = [:]
    /// Segments accepted per sender per unix second.
    var senderSegments: [String: [Int64: Int]] = [:]
    /// Status callbacks delivered and failed.
    var callbacksDelivered = 0
    var callbacksFailed = 0
    /// Why callbacks failed: "status 503", or the client's error kind ("timeout", "connect" ...).
    var callbackFailures: [String: Int] = [:]
    /// Inbound-message webhooks posted by `POST /_sandbox/inbound`, by answer: "status 200", or the
    /// client's error kind ("connect", "timeout" ...).
    var inboundWebhooks: [String: Int] = [:]
    /// Chat completions by outcome: "completed", "content_filter", "context_length_exceeded",
    /// "rate_limited", "insufficient_quota", "invalid_request", "unauthorized", "injected_<status>".
    var chat: [String: Int] = [:]
    /// Chat completions answered as a stream (also counted in `chat` by outcome).
    var chatStreamed = 0
    /// Tokens of the chat completions answered (200s only), as their `usage` reported them.
    var chatPromptTokens = 0
    var chatCompletionTokens = 0
    /// Connections clients opened; far fewer than requests when clients reuse them.
    var connectionsOpened = 0
    /// Connections closed without an answer by the `drop_rate` fault.
    var dropped = 0

    var json: JSONValue {
        func perSecond(_ table: [String: [Int64: Int]]) -> JSONValue {
            .object(
                table.mapValues { seconds in
                    .object(Dictionary(uniqueKeysWithValues: seconds.map { (String($0.key), .number(Double($0.value))) }))
                })
        }
        let accepted = smsAccepted.sorted { ($0.key.to, $0.key.body, $0.key.reference) < ($1.key.to, $1.key.body, $1.key.reference) }
        return .object([
            "requests": .object(requests.mapValues { .number(Double($0)) }),
            "statuses": .object(
                statuses.mapValues { byStatus in
                    .object(Dictionary(uniqueKeysWithValues: byStatus.map { (String($0.key), .number(Double($0.value))) }))
                }),
            "sms_accepted": .array(
                accepted.map { entry in
                    .object([
                        "to": .string(entry.key.to), "body": .string(entry.key.body), "reference": .string(entry.key.reference),
                        "count": .number(Double(entry.value)),
                    ])
                }),
            "sms_accepted_total": .number(Double(smsAccepted.values.reduce(0, +))),
            "sms_duplicates": .number(Double(smsAccepted.values.filter { $0 > 1 }.count)),
            "sender_requests_per_second": perSecond(senderRequests),
            "sender_segments_per_second": perSecond(senderSegments),
            "callbacks_delivered": .number(Double(callbacksDelivered)),
            "callbacks_failed": .number(Double(callbacksFailed)),
            "callback_failures": .object(callbackFailures.mapValues { .number(Double($0)) }),
            "inbound_webhooks": .object(inboundWebhooks.mapValues { .number(Double($0)) }),
            "chat": .object(chat.mapValues { .number(Double($0)) }),
            "chat_streamed": .number(Double(chatStreamed)),
            "chat_tokens": .object([
                "prompt": .number(Double(chatPromptTokens)), "completion": .number(Double(chatCompletionTokens)),
                "total": .number(Double(chatPromptTokens + chatCompletionTokens)),
            ]),
            "dropped_connections": .number(Double(dropped)),
            "connections_opened": .number(Double(connectionsOpened)),
        ])
    }
}

struct SMSIdentity: Hashable, Sendable {
    let to: String
    let body: String
    let reference: String
}
