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
    /// OAuth outcomes: "refresh" and "authorization_code" (grants answered with tokens), "rotated",
    /// "invalid_grant", "unauthorized_client", "codes_issued", "consent_denied", "revoked".
    var tokenGrants: [String: Int] = [:]
    /// Refresh grants answered per grant (a connection: its first refresh token, whatever rotation
    /// issued since), so a bench can check "one refresh per expiry per connection".
    var refreshesByGrant: [String: Int] = [:]
    /// Calendar calls answered 401 by `calendar_unauthorized_ratio` although their token was valid.
    var calendarUnauthorizedInjected = 0
    var calendarWatches = 0
    var calendarChannelsStopped = 0
    /// Push notifications queued, by X-Goog-Resource-State ("sync", "exists").
    var calendarNotificationsQueued: [String: Int] = [:]
    var calendarNotificationsDelivered = 0
    var calendarNotificationsFailed = 0
    /// Why notifications failed: "status 500", or the client's error kind ("connect", "timeout" ...).
    var calendarNotificationFailures: [String: Int] = [:]
    /// Events created or edited by `PUT /_sandbox/calendars/{id}/events/{event}`, and cancelled by DELETE.
    var calendarEventsPut = 0
    var calendarEventsCancelled = 0
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
        func counts(_ table: [String: Int]) -> JSONValue { .object(table.mapValues { .number(Double($0)) }) }
        let accepted = smsAccepted.sorted { ($0.key.to, $0.key.body, $0.key.reference) < ($1.key.to, $1.key.body, $1.key.reference) }
        var fields: [String: JSONValue] = [
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
        ]
        var token = tokenGrants.mapValues { JSONValue.number(Double($0)) }
        for name in ["refresh", "authorization_code", "invalid_grant"] where token[name] == nil { token[name] = .number(0) }
        token["refresh_by_grant"] = counts(refreshesByGrant)
        fields["token"] = .object(token)
        fields["calendar"] = .object([
            "unauthorized_injected": .number(Double(calendarUnauthorizedInjected)),
            "watches": .number(Double(calendarWatches)), "channels_stopped": .number(Double(calendarChannelsStopped)),
            "notifications": counts(calendarNotificationsQueued),
            "notifications_delivered": .number(Double(calendarNotificationsDelivered)),
            "notifications_failed": .number(Double(calendarNotificationsFailed)),
            "notification_failures": counts(calendarNotificationFailures),
            "events_put": .number(Double(calendarEventsPut)), "events_cancelled": .number(Double(calendarEventsCancelled)),
        ])
        return .object(fields)
    }
}

struct SMSIdentity: Hashable, Sendable {
    let to: String
    let body: String
    let reference: String
}
