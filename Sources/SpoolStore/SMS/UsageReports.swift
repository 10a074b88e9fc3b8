import SpoolPostgres
import SpoolSMS
import SpoolSupport

/// Why a usage report was refused; `field` names the input (`from`, `to`, `tenant`), and `message`
/// starts with it.
public enum UsageReportError: Error, Sendable, Equatable, CustomStringConvertible {
    case invalid(field: String, message: String)

    public var description: String {
        switch self {
        case .invalid(_, let message): message
        }
    }
}

/// What a tenant used over a range of UTC days: its messages by purpose, what its AI replies and its
/// voice notes' transcriptions cost. `UsageReports.report` builds it; `json` is how the API and
/// `spool usage --json` show it.
public struct UsageReport: Sendable, Equatable {
    /// The messages of one purpose queued in the range.
    public struct Messages: Sendable, Equatable {
        /// How many are in each status now; a status none is in is left out.
        public var byStatus: [String: Int] = [:]
        /// Cents of those that were handed to the provider (sent, delivered, undelivered).
        public var costCents = 0

        public init(byStatus: [String: Int] = [:], costCents: Int = 0) {
            self.byStatus = byStatus
            self.costCents = costCents
        }
    }

    /// AI replies' usage (`ai_usage`), for one model or in all.
    public struct AI: Sendable, Equatable {
        public var requests = 0
        public var promptTokens = 0
        public var completionTokens = 0
        /// Thousandths of a cent.
        public var costMillicents = 0

        public init(requests: Int = 0, promptTokens: Int = 0, completionTokens: Int = 0, costMillicents: Int = 0) {
            self.requests = requests
            self.promptTokens = promptTokens
            self.completionTokens = completionTokens
            self.costMillicents = costMillicents
        }
    }

    /// Voice notes transcribed: one per transcript entry that is `done`.
    public struct Transcription: Sendable, Equatable {
        public var notes = 0
        public var durationSeconds = 0.0
        /// Thousandths of a cent.
        public var costMillicents = 0

        public init(notes: Int = 0, durationSeconds: Double = 0, costMillicents: Int = 0) {
            self.notes = notes
            self.durationSeconds = durationSeconds
            self.costMillicents = costMillicents
        }
    }

    public let tenantID: String
    /// The first and last UTC day of the range, `YYYY-MM-DD`, both included.
    public let from: String
    public let to: String
    /// Every purpose, with no messages too.
    public var messages: [MessagePurpose: Messages]
    /// The totals over every model.
    public var ai = AI()
    public var aiByModel: [String: AI] = [:]
    public var transcription = Transcription()

    public init(tenantID: String, from: String, to: String) {
        self.tenantID = tenantID
        self.from = from
        self.to = to
        messages = Dictionary(uniqueKeysWithValues: MessagePurpose.allCases.map { ($0, Messages()) })
    }

    /// `{"tenant", "from", "to", "messages": {"marketing": {"by_status", "cost_cents"}, "transactional": ...},
    /// "ai": {"requests", "prompt_tokens", "completion_tokens", "cost_millicents", "by_model": {model: ...}},
    /// "transcription": {"notes", "duration_seconds", "cost_millicents"}}`.
    public var json: JSONValue {
        func number(_ value: Int) -> JSONValue { .number(Double(value)) }
        func usage(_ ai: AI) -> [String: JSONValue] {
            [
                "requests": number(ai.requests), "prompt_tokens": number(ai.promptTokens),
                "completion_tokens": number(ai.completionTokens), "cost_millicents": number(ai.costMillicents),
            ]
        }
        var purposes: [String: JSONValue] = [:]
        for purpose in MessagePurpose.allCases {
            let counted = messages[purpose] ?? Messages()
            purposes[purpose.rawValue] = .object([
                "by_status": .object(counted.byStatus.mapValues { JSONValue.number(Double($0)) }), "cost_cents": number(counted.costCents),
            ])
        }
        var aiFields = usage(ai)
        aiFields["by_model"] = .object(aiByModel.mapValues { JSONValue.object(usage($0)) })
        let fields: [String: JSONValue] = [
            "tenant": .string(tenantID), "from": .string(from), "to": .string(to), "messages": .object(purposes),
            "ai": .object(aiFields),
            "transcription": .object([
                "notes": number(transcription.notes), "duration_seconds": .number(transcription.durationSeconds),
                "cost_millicents": number(transcription.costMillicents),
            ]),
        ]
        return .object(fields)
    }
}

/// A tenant's usage over a range of UTC days (issue 14: the purpose shown in reports, and what the AI
/// and transcriptions cost per tenant), from three indexed reads of the tenant's own rows:
///
/// - **Messages** by purpose (`marketing`, `transactional`), counted by the UTC day they were queued
///   (`queued_at`, index `messages_tenant_queued`), with how many are in each status now, and
///   `cost_cents`: the sum of the cost of those handed to the provider, that is `sent`, `delivered`
///   or `undelivered` (a message skipped, failed before the provider took it, suppressed, still
///   queued or in doubt costs nothing here), as the campaign report counts it.
/// - **AI replies** from `ai_usage` (one row per tenant, day and model; its primary key): requests,
///   prompt and completion tokens and the cost in thousandths of a cent, per model and in all.
/// - **Transcriptions**: the `done` entries of `inbound_messages.transcripts`, by the UTC day the
///   message arrived (`created_at`, index `inbound_messages_tenant_created_transcribed`): how many,
///   their duration in seconds and their cost in thousandths of a cent.
public struct UsageReports: Sendable {
    let pool: PostgresPool
    /// The longest range a report covers, in days: a leap year.
    public static let maximumDays = 366

    public init(pool: PostgresPool) { self.pool = pool }

    /// The report for `tenantID` from the UTC day `from` to the UTC day `to`, both included
    /// (`YYYY-MM-DD`). A date that is not one, `to` before `from`, a range of more than
    /// `maximumDays` days or a tenant that does not exist is refused with `UsageReportError.invalid`
    /// naming `from`, `to` or `tenant`.
    public func report(tenantID: String, from: String, to: String) async throws -> UsageReport {
        guard let first = Self.day(from) else {
            throw UsageReportError.invalid(field: "from", message: "from: expected a date YYYY-MM-DD, got '\(from.prefix(40))'")
        }
        guard let last = Self.day(to) else {
            throw UsageReportError.invalid(field: "to", message: "to: expected a date YYYY-MM-DD, got '\(to.prefix(40))'")
        }
        guard last >= first else { throw UsageReportError.invalid(field: "to", message: "to: \(to) is before from (\(from))") }
        guard last - first < Self.maximumDays else {
            throw UsageReportError.invalid(
                field: "to", message: "to: \(from) to \(to) is \(last - first + 1) days; a report covers at most \(Self.maximumDays)")
        }
        guard !tenantID.isEmpty, !tenantID.utf8.contains(0) else {
            throw UsageReportError.invalid(field: "tenant", message: "tenant: expected a tenant id")
        }
        return try await pool.withConnection { connection in
            let found = try connection.query("SELECT EXISTS (SELECT 1 FROM tenants WHERE id = $1) AS found", [tenantID]).first
            guard try found?.bool("found") == true else {
                throw UsageReportError.invalid(field: "tenant", message: "tenant: no tenant '\(tenantID.prefix(64))'")
            }
            var report = UsageReport(tenantID: tenantID, from: from, to: to)
            // The range's bounds as instants: midnight UTC of `from`, and of the day after `to`.
            for row in try connection.query(
                """
                SELECT purpose, status, count(*) AS n, coalesce(sum(cost_cents), 0) AS cost FROM messages
                WHERE tenant_id = $1 AND queued_at >= (($2::date)::timestamp AT TIME ZONE 'UTC')
                  AND queued_at < (($3::date + 1)::timestamp AT TIME ZONE 'UTC')
                GROUP BY purpose, status
                """, [tenantID, from, to]
            ).rows {
                guard let purpose = try row.string("purpose").flatMap(MessagePurpose.init(rawValue:)), let status = try row.string("status")
                else { continue }
                var counted = report.messages[purpose] ?? UsageReport.Messages()
                counted.byStatus[status, default: 0] += try row.int("n") ?? 0
                if Self.handedToProvider.contains(status) { counted.costCents += try row.int("cost") ?? 0 }
                report.messages[purpose] = counted
            }
            for row in try connection.query(
                """
                SELECT model, sum(requests) AS requests, sum(prompt_tokens) AS prompt, sum(completion_tokens) AS completion,
                       sum(cost_millicents) AS cost
                FROM ai_usage WHERE tenant_id = $1 AND day BETWEEN $2::date AND $3::date
                GROUP BY model
                """, [tenantID, from, to]
            ).rows {
                let usage = UsageReport.AI(
                    requests: try row.int("requests") ?? 0, promptTokens: try row.int("prompt") ?? 0,
                    completionTokens: try row.int("completion") ?? 0, costMillicents: try row.int("cost") ?? 0)
                let model = try row.string("model") ?? ""
                report.aiByModel[model, default: UsageReport.AI()].add(usage)
                report.ai.add(usage)
            }
            // `transcripts <> '[]'` as the partial index states it, so that the index applies.
            if let row = try connection.query(
                """
                SELECT count(*) AS notes, coalesce(sum((e.entry->>'duration_seconds')::numeric), 0) AS duration,
                       coalesce(sum((e.entry->>'cost_millicents')::numeric), 0)::bigint AS cost
                FROM inbound_messages m CROSS JOIN LATERAL jsonb_array_elements(m.transcripts) AS e(entry)
                WHERE m.tenant_id = $1 AND m.transcripts <> '[]'::jsonb
                  AND m.created_at >= (($2::date)::timestamp AT TIME ZONE 'UTC')
                  AND m.created_at < (($3::date + 1)::timestamp AT TIME ZONE 'UTC')
                  AND e.entry->>'status' = 'done'
                """, [tenantID, from, to]
            ).first {
                report.transcription = UsageReport.Transcription(
                    notes: try row.int("notes") ?? 0, durationSeconds: try row.double("duration") ?? 0,
                    costMillicents: try row.int("cost") ?? 0)
            }
            return report
        }
    }

    /// The statuses of a message the provider took, whose cost counts.
    static let handedToProvider: Set<String> = [
        MessageStatus.sent.rawValue, MessageStatus.delivered.rawValue, MessageStatus.undelivered.rawValue,
    ]

    /// Days since 1970-01-01 of a `YYYY-MM-DD` date (years 0001 to 9999), or nil when the text is not
    /// one: another shape, a month or a day that does not exist (2026-02-30).
    public static func day(_ text: String) -> Int? {
        let bytes = Array(text.utf8)
        guard bytes.count == 10, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-") else { return nil }
        func digits(_ range: Range<Int>) -> Int? {
            var value = 0
            for index in range {
                let byte = bytes[index]
                guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
                value = value * 10 + Int(byte - UInt8(ascii: "0"))
            }
            return value
        }
        guard let year = digits(0..<4), let month = digits(5..<7), let day = digits(8..<10), year >= 1, (1...12).contains(month),
            (1...31).contains(day)
        else { return nil }
        let days = CivilTime.daysFromCivil(year: year, month: month, day: day)
        // 2026-02-30 comes back as 2026-03-02.
        let back = CivilTime(unixMillis: Int64(days) * 86_400_000)
        guard back.year == year, back.month == month, back.day == day else { return nil }
        return days
    }
}

extension UsageReport.AI {
    mutating func add(_ other: UsageReport.AI) {
        requests += other.requests
        promptTokens += other.promptTokens
        completionTokens += other.completionTokens
        costMillicents += other.costMillicents
    }
}
