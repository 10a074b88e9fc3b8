import SpoolPostgres
import SpoolQueue
import SpoolSMS
import SpoolSupport

public struct Campaign: Sendable, Encodable, Equatable {
    public let id: String
    public let tenantID: String
    public let name: String
    public let body: String
    public let sender: String
    public let status: CampaignStatus
    /// When a `scheduled` campaign launches (unix ms); kept after a scheduled launch, cleared by a launch now.
    public let launchAtMs: Int64?

    enum CodingKeys: String, CodingKey { case id, tenantID = "tenant_id", name, body, sender, status, launchAtMs = "launch_at_ms" }
}

/// Campaigns: create, launch (one `messages` row and one `send` job per recipient), pause, resume,
/// cancel, and the numbers for reports.
public struct CampaignStore: Sendable {
    let pool: PostgresPool
    let enqueuer: Enqueuer?
    let clock: any WallClock
    /// What one segment costs, in cents (SPOOL_SMS_SEGMENT_CENTS).
    public var segmentCents = 1
    /// Contacts per launch batch: one keyset query, one COPY, one pipelined enqueue each.
    static let batch = 5_000

    public init(pool: PostgresPool, enqueuer: Enqueuer?, clock: any WallClock = SystemClock()) {
        self.pool = pool
        self.enqueuer = enqueuer
        self.clock = clock
    }

    public typealias InputError = ContactImporter.InputError

    public func create(tenantID: String, name: String, sender: String, body: String) async throws -> Campaign {
        let name = name.trimmingSpaces
        guard (1...200).contains(name.count) else { throw InputError(message: "name: must be 1-200 characters") }
        guard (1...1600).contains(body.count) else { throw InputError(message: "body: must be 1-1600 characters, got \(body.count)") }
        _ = try MessageTemplate(body)
        let isService = sender.hasPrefix("MG") && sender.count == 34
        let isShortCode = sender.count >= 5 && sender.count <= 6 && sender.allSatisfy(\.isNumber)
        if !isService && !isShortCode {
            do { _ = try PhoneNumber(e164: sender) } catch {
                throw InputError(message: "from: \(error.message); give an E.164 number, a short code, or a messaging service sid (MG...)")
            }
        }
        let id = "cmp_" + JobID.make(now: clock.nowMillis()).lowercased()
        return try await pool.transaction { connection in
            guard try connection.query("SELECT 1 FROM tenants WHERE id = $1", [tenantID]).first != nil else {
                throw InputError(message: "tenant: no tenant '\(tenantID.prefix(64))'")
            }
            // Another tenant's number would book that tenant's sms:sender limiter. Locked until the
            // campaign is written, so the number cannot be removed in between.
            guard try SenderNumbers.isOwned(sender, by: tenantID, on: connection) else {
                throw InputError(message: "from: \(sender) is not one of this tenant's sender numbers; \(SenderNumbers.howToAdd)")
            }
            let row = try connection.query(
                """
                INSERT INTO campaigns (id, tenant_id, name, body, sender) VALUES ($1, $2, $3, $4, $5) RETURNING \(Self.columns)
                """, [id, tenantID, name, body, sender]
            ).first!
            return try Self.campaign(row)
        }
    }

    public func campaign(id: String) async throws -> Campaign? {
        try await pool.withConnection { try $0.query("SELECT \(Self.columns) FROM campaigns WHERE id = $1", [id]).first.map(Self.campaign) }
    }

    public struct LaunchReport: Sendable, Encodable, Equatable {
        public var queued = 0
        public var skipped = 0
        public var enqueued = 0
        public var seconds = 0.0
    }

    /// Launches: walks the tenant's contacts by id (keyset, never OFFSET), 5,000 at a time; checks
    /// do-not-contact and consent for the whole batch in the same query; writes the message rows
    /// with COPY; enqueues the send jobs pipelined. Launching again is idempotent: rows exist once per
    /// contact, and each job's idempotency key is its message id.
    public func launch(id: String, progress: @escaping @Sendable (Int) -> Void = { _ in }) async throws -> LaunchReport {
        guard let campaign = try await campaign(id: id) else { throw InputError(message: "campaign: no campaign '\(id.prefix(64))'") }
        guard [.draft, .scheduled, .running, .paused].contains(campaign.status) else {
            throw InputError(
                message: "campaign \(id) is \(campaign.status.rawValue); only a draft, scheduled, running or paused campaign can be launched")
        }
        let template = try await checkLaunchable(campaign)
        // Launching now takes the place of a scheduled launch: its job finds no instant to launch at.
        try await pool.withConnection { connection in
            try connection.query(
                """
                UPDATE campaigns SET status = 'running', launched_at = coalesce(launched_at, now()), launch_at_ms = NULL
                WHERE id = $1 AND status IN ('draft', 'paused', 'scheduled')
                """, [id])
            try connection.query(
                "INSERT INTO events (tenant_id, campaign_id, kind) VALUES ($1, $2, 'campaign.launched')", [campaign.tenantID, id])
        }
        return try await send(campaign, template: template, progress: progress)
    }

    /// Schedules the launch at `atMs` (unix ms, in the future): enqueues one `campaign-launch` job for
    /// that instant, then marks the campaign `scheduled` for it. The job launches only a campaign still
    /// scheduled for its instant, so cancelling, or scheduling again, needs nothing taken out of Redis;
    /// and a failure between the two steps leaves a job that does nothing. Scheduling a scheduled
    /// campaign again moves its launch.
    public func scheduleLaunch(id: String, atMs: Int64) async throws -> Campaign {
        guard let enqueuer else { throw InputError(message: "launch needs Redis to enqueue the launch job") }
        guard let campaign = try await campaign(id: id) else { throw InputError(message: "campaign: no campaign '\(id.prefix(64))'") }
        guard [.draft, .scheduled].contains(campaign.status) else {
            throw InputError(
                message: "campaign \(id) is \(campaign.status.rawValue); only a draft or scheduled campaign can be scheduled to launch")
        }
        let now = clock.nowMillis()
        guard atMs > now else {
            throw InputError(message: "at: \(CivilTime(unixMillis: atMs).rfc3339) is not in the future; launch now without --at instead")
        }
        guard atMs <= now + Self.longestSchedule else {
            throw InputError(message: "at: \(CivilTime(unixMillis: atMs).rfc3339) is more than a year away")
        }
        _ = try await checkLaunchable(campaign)
        let args: JSONValue = .object(["campaign": .string(id), "at_ms": .number(Double(atMs))])
        var request = EnqueueRequest(
            kind: "campaign-launch", args: args.text, runAt: atMs, idempotencyKey: "campaign-launch:\(id):\(atMs)", tenant: campaign.tenantID)
        request.producer = .spool
        let result = try await enqueuer.enqueue(request)
        return try await pool.transaction { connection in
            let moved = try connection.query(
                "UPDATE campaigns SET status = 'scheduled', launch_at_ms = $2 WHERE id = $1 AND status IN ('draft', 'scheduled')", [id, atMs]
            ).affectedRows
            guard moved == 1 else { throw InputError(message: "campaign \(id) was launched or cancelled meanwhile; nothing scheduled") }
            try connection.query(
                "INSERT INTO events (tenant_id, campaign_id, job_id, kind, payload) VALUES ($1, $2, $3, 'campaign.scheduled', $4::jsonb)",
                [campaign.tenantID, id, result.id, JSONValue.object(["launch_at": .string(CivilTime(unixMillis: atMs).rfc3339)]).text])
            return try connection.query("SELECT \(Self.columns) FROM campaigns WHERE id = $1", [id]).first.map(Self.campaign)!
        }
    }

    /// The `campaign-launch` job's launch: only a campaign still scheduled for `atMs` starts (a cancel or
    /// a new time wins); one already started for `atMs` goes on (the job ran before and died), since a
    /// launch is idempotent. nil: nothing to launch.
    public func launchScheduled(id: String, atMs: Int64) async throws -> LaunchReport? {
        guard let campaign = try await campaign(id: id), campaign.launchAtMs == atMs,
            campaign.status == .scheduled || campaign.status == .running
        else { return nil }
        let template = try await checkLaunchable(campaign)
        let started = try await pool.withConnection { connection -> Bool in
            let moved = try connection.query(
                """
                UPDATE campaigns SET status = 'running', launched_at = coalesce(launched_at, now())
                WHERE id = $1 AND launch_at_ms = $2 AND status IN ('scheduled', 'running')
                RETURNING 1
                """, [id, atMs]
            ).rows.count
            guard moved == 1 else { return false }
            if campaign.status == .scheduled {
                try connection.query(
                    "INSERT INTO events (tenant_id, campaign_id, kind) VALUES ($1, $2, 'campaign.launched')", [campaign.tenantID, id])
            }
            return true
        }
        return started ? try await send(campaign, template: template) : nil
    }

    /// A year: a launch further away is more likely a typo than a plan.
    static let longestSchedule: Int64 = 366 * 86_400_000

    /// What a launch checks before it writes anything: the sender is still the tenant's, and every
    /// eligible contact has the template's fields.
    private func checkLaunchable(_ campaign: Campaign) async throws -> MessageTemplate {
        // A number removed since the campaign was made is no longer the tenant's to send from.
        guard try await SenderNumbers(pool: pool).isOwned(campaign.sender, by: campaign.tenantID) else {
            throw InputError(
                message: "campaign \(campaign.id): from: \(campaign.sender) is no longer one of this tenant's sender numbers; "
                    + "\(SenderNumbers.howToAdd) again, or cancel the campaign")
        }
        let template = try MessageTemplate(campaign.body)
        try await checkTemplate(template, tenantID: campaign.tenantID)
        return template
    }

    /// Writes the messages and enqueues their jobs, batch by batch, for a campaign now running.
    private func send(
        _ campaign: Campaign, template: MessageTemplate, progress: @escaping @Sendable (Int) -> Void = { _ in }
    ) async throws -> LaunchReport {
        guard let enqueuer else { throw InputError(message: "launch needs Redis to enqueue the send jobs") }
        let id = campaign.id
        let started = monotonicNow()
        var report = LaunchReport()
        var after = 0
        // One batch's jobs go to Redis while PostgreSQL prepares the next batch.
        var enqueuing: Task<[Result<EnqueueResult, EnqueueError>], any Error>?
        func finishEnqueuing() async throws {
            guard let results = try await enqueuing?.value else { return }
            enqueuing = nil
            report.enqueued += results.filter { (try? $0.get().created) == true }.count
            if let failure = results.first(where: {
                if case .failure = $0 { return true }; return false
            }), case .failure(let error) = failure {
                throw InputError(message: "enqueue failed: \(error)")
            }
            progress(report.queued + report.skipped)
        }
        do {
            while true {
                let (last, queued, skipped, jobs) = try await launchBatch(campaign, template: template, after: after)
                try await finishEnqueuing()
                guard let last else { break }
                after = last
                report.queued += queued
                report.skipped += skipped
                enqueuing = Task { try await enqueuer.enqueue(batch: jobs) }
            }
        } catch {
            // Nothing is left running behind a failed launch; launching again picks up where it stopped.
            _ = try? await enqueuing?.value
            throw error
        }
        report.seconds = (monotonicNow() - started).secondsDouble
        // A campaign with nobody to send to is complete at once.
        try await pool.withConnection { connection in
            let open = try connection.query(
                "SELECT 1 FROM messages WHERE campaign_id = $1 AND status IN ('queued', 'sending', 'in_doubt') LIMIT 1", [id])
            if open.rows.isEmpty,
                try connection.query(
                    "UPDATE campaigns SET status = 'completed', completed_at = now() WHERE id = $1 AND status = 'running'", [id]
                ).affectedRows == 1
            {
                try connection.query(
                    "INSERT INTO events (tenant_id, campaign_id, kind) VALUES ($1, $2, 'campaign.completed')", [campaign.tenantID, id])
            }
        }
        return report
    }

    /// A template field that eligible contacts lack stops the launch before anything is written.
    private func checkTemplate(_ template: MessageTemplate, tenantID: String) async throws {
        for field in template.fields where field != "phone" {
            let condition =
                field == "first_name" || field == "last_name" ? "coalesce(\(field), '') = ''" : "coalesce(custom ->> $2, '') = ''"
            let parameters: [any PostgresBindable] = field == "first_name" || field == "last_name" ? [tenantID] : [tenantID, field]
            let row = try await pool.withConnection { connection in
                try connection.query(
                    """
                    SELECT count(*) AS n, min(phone) AS example FROM contacts c
                    WHERE tenant_id = $1 AND consent = 'opted_in' AND \(condition)
                      AND NOT EXISTS (SELECT 1 FROM do_not_contact d WHERE d.tenant_id = c.tenant_id AND d.phone = c.phone)
                    """, parameters
                ).first
            }
            if let missing = try row?.int("n"), missing > 0 {
                throw InputError(
                    message:
                        "body: {{\(field)}} is empty for \(missing) contacts (e.g. \(try row?.string("example") ?? "?")); fill it in or change the template"
                )
            }
        }
    }

    private func launchBatch(
        _ campaign: Campaign, template: MessageTemplate, after: Int
    )
        async throws -> (last: Int?, queued: Int, skipped: Int, jobs: [EnqueueRequest])
    {
        let now = clock.nowMillis()
        let cents = segmentCents
        return try await pool.transaction { connection in
            let contacts = try connection.query(
                """
                SELECT c.id, c.phone, c.first_name, c.last_name, c.custom::text AS custom, c.consent, (d.phone IS NOT NULL) AS dnc
                FROM contacts c LEFT JOIN do_not_contact d ON d.tenant_id = c.tenant_id AND d.phone = c.phone
                WHERE c.tenant_id = $1 AND c.id > $2 ORDER BY c.id LIMIT \(Self.batch)
                """, [campaign.tenantID, after]
            ).rows
            guard let last = try contacts.last?.int("id") else { return (nil, 0, 0, []) }
            var rows: [[String?]] = []
            rows.reserveCapacity(contacts.count)
            for contact in contacts {
                let phone = try contact.string("phone")!
                let custom = (try? JSONValue.parse(try contact.string("custom") ?? "{}")) ?? .object([:])
                var reason: String?
                if try contact.bool("dnc") == true {
                    reason = "do_not_contact"
                } else if try contact.string("consent") != "opted_in" {
                    reason = "no_consent"
                }
                let body: String
                switch template.render(
                    firstName: try contact.string("first_name"), lastName: try contact.string("last_name"), phone: phone, custom: custom)
                {
                case .success(let text): body = text
                case .failure(let missing):
                    body = campaign.body
                    reason = reason ?? "template_missing_\(missing.name)"
                }
                let encoding = SMSEncoding(body: body)
                if encoding.segments > SMSEncoding.maximumSegments { reason = reason ?? "body_too_long" }
                let id = "msg_" + JobID.make(now: now).lowercased()
                rows.append([
                    id, String(try contact.int("id")!), phone, body, String(encoding.segments), encoding.scheme.rawValue,
                    String(encoding.segments * cents), reason == nil ? "queued" : "skipped", reason,
                ])
            }
            try connection.execute(
                """
                CREATE TEMP TABLE launch_batch (id text, contact_id bigint, to_phone text, body text, segments int, encoding text,
                                                cost_cents bigint, status text, reason text) ON COMMIT DROP
                """)
            _ = try connection.copy(
                into: "launch_batch",
                columns: ["id", "contact_id", "to_phone", "body", "segments", "encoding", "cost_cents", "status", "reason"], rows: rows)
            try connection.query(
                """
                INSERT INTO messages (id, tenant_id, campaign_id, contact_id, to_phone, from_sender, body, segments, encoding, cost_cents, status, reason,
                                      purpose)
                SELECT id, $1, $2, contact_id, to_phone, $3, body, segments, encoding, cost_cents, status, reason, 'marketing' FROM launch_batch
                ON CONFLICT (campaign_id, contact_id) DO NOTHING
                """, [campaign.tenantID, campaign.id, campaign.sender])
            // Every message of these contacts still queued gets its job; the idempotency key (the message
            // id) makes a second launch enqueue nothing twice.
            let queued = try connection.query(
                """
                SELECT m.id, m.segments FROM messages m JOIN launch_batch b ON b.contact_id = m.contact_id
                WHERE m.campaign_id = $1 AND m.status = 'queued'
                """, [campaign.id]
            ).rows
            let skipped = rows.count - queued.count
            let jobs = try queued.map { row -> EnqueueRequest in
                let id = try row.string("id")!
                let args: JSONValue = .object([
                    "message_id": .string(id), "from": .string(campaign.sender), "segments": .number(Double(try row.int("segments")!)),
                ])
                return EnqueueRequest(kind: "send", args: args.text, idempotencyKey: id, tenant: campaign.tenantID)
            }
            return (last, queued.count, skipped, jobs)
        }
    }

    public enum Control: String, Sendable { case pause, resume, cancel }

    /// Pause holds the remaining messages (their jobs wait), resume lets them go, cancel skips them.
    public func control(id: String, _ action: Control) async throws -> Campaign {
        try await pool.transaction { connection in
            guard
                let current = try connection.query("SELECT \(Self.columns) FROM campaigns WHERE id = $1 FOR UPDATE", [id]).first.map(
                    Self.campaign)
            else {
                throw InputError(message: "campaign: no campaign '\(id.prefix(64))'")
            }
            let allowed: [Control: (from: Set<CampaignStatus>, to: CampaignStatus)] = [
                .pause: ([.running], .paused), .resume: ([.paused], .running), .cancel: ([.draft, .scheduled, .running, .paused], .cancelled),
            ]
            let rule = allowed[action]!
            if current.status == rule.to { return current }
            guard rule.from.contains(current.status) else {
                throw InputError(
                    message:
                        "campaign \(id) is \(current.status.rawValue); \(action.rawValue) needs it \(rule.from.map(\.rawValue).sorted().joined(separator: " or "))"
                )
            }
            try connection.query("UPDATE campaigns SET status = $2 WHERE id = $1", [id, rule.to.rawValue])
            if action == .cancel {
                try connection.query(
                    """
                    UPDATE messages SET status = 'skipped', reason = 'campaign_cancelled', updated_at = now() WHERE campaign_id = $1 AND status = 'queued'
                    """, [id])
            }
            try connection.query(
                "INSERT INTO events (tenant_id, campaign_id, kind) VALUES ($1, $2, $3)",
                [current.tenantID, id, "campaign.\(rule.to.rawValue)"])
            return try connection.query("SELECT \(Self.columns) FROM campaigns WHERE id = $1", [id]).first.map(Self.campaign)!
        }
    }

    static let columns = "id, tenant_id, name, body, sender, status, launch_at_ms"

    static func campaign(_ row: PostgresRow) throws -> Campaign {
        Campaign(
            id: try row.string("id")!, tenantID: try row.string("tenant_id")!, name: try row.string("name")!,
            body: try row.string("body")!, sender: try row.string("sender")!, status: try row.enumeration("status", CampaignStatus.self)!,
            launchAtMs: try row.int("launch_at_ms").map(Int64.init))
    }
}
