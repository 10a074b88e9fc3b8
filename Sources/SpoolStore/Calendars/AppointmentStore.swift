import SpoolPostgres
import SpoolSupport

/// A connection's appointments (`appointments`): each page of a sync upserted in one statement, and the
/// reads reminders and `spool calendar show` need.
///
/// The upsert is idempotent on (connection, event id): a page written twice, or by a pass resumed after
/// a crash, changes nothing the second time and reports no change. A row is rewritten only when the
/// provider's etag differs, or when a newer pass sees it (its generation is stamped, which a full sync's
/// sweep relies on); only an etag that differs is a change.
public struct AppointmentStore: Sendable {
    let pool: PostgresPool
    /// How a national number in an event's `phone` property is read (SPOOL_DEFAULT_REGION).
    public var defaultRegion = "US"

    /// The most events one upsert takes: a provider page is at most 2,500.
    public static let maximumEvents = 2500

    public init(pool: PostgresPool) {
        self.pool = pool
    }

    /// Writes a page of events for the sync pass `generation` of `connection`, and returns what changed:
    /// created (new, or back from cancelled), moved (its start changed), updated, cancelled. An event
    /// given twice counts once, as its last. The contact is resolved in the same statement: the event's
    /// `phone` (when it reads as a number) and the tenant's contact with it, else the first contact
    /// whose `email` custom field matches an attendee's.
    ///
    /// Throws `.notFound` for no such live connection, `.superseded` when `generation` is not the
    /// connection's pass, and `.invalid` naming `events[i].<field>` for an event that cannot be stored.
    public func upsert(connection: String, generation: Int64, events: [AppointmentRecord]) async throws -> [AppointmentChange] {
        guard !events.isEmpty else { return [] }
        guard events.count <= Self.maximumEvents else {
            throw CalendarStoreError.invalid(field: "events", message: "events: at most \(Self.maximumEvents) a page, got \(events.count)")
        }
        let page = try checkedPage(events)
        return try await pool.transaction { db -> [AppointmentChange] in
            // Shared lock: a disconnect waits for the page, and a page never lands on a disconnected calendar.
            guard
                let owner = try db.query(
                    """
                    SELECT tenant_id, calendar_id, sync_generation FROM calendar_connections
                    WHERE id = $1 AND disconnected_at IS NULL FOR SHARE
                    """, [connection]
                ).first
            else { throw CalendarConnectionStore.notFound(connection) }
            guard Int64(try owner.int("sync_generation")!) == generation else {
                throw CalendarConnectionStore.superseded(connection, generation)
            }
            let fixed: [any PostgresBindable] = [connection, generation, try owner.string("tenant_id")!, try owner.string("calendar_id")!]
            let rows = try db.query(Self.upsertStatement, fixed + page.parameters).rows
            return try rows.compactMap(Self.change)
        }
    }

    /// The connection's appointments that are not cancelled.
    public func count(connection: String) async throws -> Int {
        try await pool.withConnection { db in
            try db.query("SELECT count(*) AS n FROM appointments WHERE connection_id = $1 AND status <> 'cancelled'", [connection])
                .first?.int("n") ?? 0
        }
    }

    /// The connection's confirmed appointments starting after `afterMs` (unix ms), soonest first: those
    /// reminders are planned for.
    public func upcoming(connection: String, afterMs: Int64, limit: Int = 1000) async throws -> [Appointment] {
        try await pool.withConnection { db in
            try db.query(
                """
                SELECT \(Appointment.columns) FROM appointments
                WHERE connection_id = $1 AND status = 'confirmed' AND starts_at > 'epoch'::timestamptz + $2::bigint * interval '1 millisecond'
                ORDER BY starts_at, event_id LIMIT $3
                """, [connection, afterMs, limit]
            ).rows.map(Appointment.init)
        }
    }

    /// One appointment, or nil.
    public func find(connection: String, eventID: String) async throws -> Appointment? {
        guard !eventID.utf8.contains(0) else { return nil }
        return try await pool.withConnection { db in
            try db.query(
                "SELECT \(Appointment.columns) FROM appointments WHERE connection_id = $1 AND event_id = $2", [connection, eventID]
            )
            .first.map(Appointment.init)
        }
    }

    // MARK: - The statement

    /// A page as parallel arrays, one element per event, for `unnest`.
    struct Page: Sendable {
        var eventIDs: [String?] = []
        var etags: [String?] = []
        var summaries: [String?] = []
        var starts: [String?] = []
        var ends: [String?] = []
        var startZones: [String?] = []
        var endZones: [String?] = []
        var allDays: [String?] = []
        var statuses: [String?] = []
        var phones: [String?] = []
        var emails: [String?] = []

        /// $5 ... $15 of `upsertStatement`.
        var parameters: [any PostgresBindable] {
            [eventIDs, etags, summaries, starts, ends, startZones, endZones, allDays, statuses, phones, emails].map {
                PostgresArray($0) as any PostgresBindable
            }
        }
    }

    /// The events checked, the last of each event id kept, as columns. Refusals name `events[i].<field>`.
    func checkedPage(_ events: [AppointmentRecord]) throws(CalendarStoreError) -> Page {
        var last: [String: Int] = [:]
        for (index, event) in events.enumerated() {
            let bytes = event.eventID.utf8.count
            guard (1...1024).contains(bytes), !event.eventID.utf8.contains(0) else {
                throw CalendarStoreError.invalid(
                    field: "events[\(index)].event_id",
                    message: "events[\(index)].event_id: must be 1 to 1024 bytes without NUL, got \(bytes) bytes")
            }
            if event.status != .cancelled && event.startsAtMs == nil {
                throw CalendarStoreError.invalid(
                    field: "events[\(index)].starts_at",
                    message:
                        "events[\(index)].starts_at: a \(event.status.rawValue) event needs a start (event \(event.eventID.prefix(80)))")
            }
            if let starts = event.startsAtMs, let ends = event.endsAtMs, ends < starts {
                throw CalendarStoreError.invalid(
                    field: "events[\(index)].ends_at",
                    message: "events[\(index)].ends_at: ends before it starts (event \(event.eventID.prefix(80)))")
            }
            last[event.eventID] = index
        }
        var page = Page()
        for (index, event) in events.enumerated() where last[event.eventID] == index {
            page.eventIDs.append(event.eventID)
            page.etags.append(event.etag.map(Self.withoutNUL))
            page.summaries.append(event.summary.map(Self.withoutNUL))
            page.starts.append(event.startsAtMs.map { String($0) })
            page.ends.append(event.endsAtMs.map { String($0) })
            page.startZones.append(event.startZone.map(Self.withoutNUL))
            page.endZones.append(event.endZone.map(Self.withoutNUL))
            page.allDays.append(event.allDay ? "t" : "f")
            page.statuses.append(event.status.rawValue)
            page.phones.append(event.contactPhone.flatMap { try? PhoneNumber(parsing: $0, defaultRegion: defaultRegion).e164 })
            let emails = Set(event.attendeeEmails.map { $0.trimmingSpaces.lowercased() }.filter { !$0.isEmpty && !$0.utf8.contains(0) })
            page.emails.append(JSONValue.array(emails.sorted().map(JSONValue.string)).text)
        }
        return page
    }

    static func withoutNUL(_ text: String) -> String { text.utf8.contains(0) ? text.replacing("\u{0}", with: "") : text }

    /// One statement per page: the page unnested, each event's contact resolved, the stored rows read
    /// as they were before (every part of one statement sees the same snapshot), the upsert, and the
    /// rows it wrote beside what they were. $1 connection, $2 generation, $3 tenant, $4 calendar, then
    /// the page's columns.
    static let upsertStatement = """
        WITH incoming AS (
            SELECT * FROM unnest($5::text[], $6::text[], $7::text[], $8::bigint[], $9::bigint[], $10::text[], $11::text[], $12::boolean[],
                                 $13::text[], $14::text[], $15::jsonb[])
                AS t(event_id, etag, summary, starts_ms, ends_ms, start_zone, end_zone, all_day, status, phone, emails)
        ),
        resolved AS (
            SELECT i.*, coalesce(by_phone.id, by_email.id) AS contact_id, coalesce(i.phone, by_email.phone) AS contact_phone
            FROM incoming i
            LEFT JOIN LATERAL (SELECT c.id FROM contacts c WHERE c.tenant_id = $3::text AND c.phone = i.phone) by_phone ON true
            LEFT JOIN LATERAL (
                SELECT c.id, c.phone FROM contacts c
                WHERE i.phone IS NULL AND c.tenant_id = $3::text AND c.custom ? 'email'
                  AND lower(c.custom ->> 'email') IN (SELECT jsonb_array_elements_text(i.emails))
                ORDER BY c.id LIMIT 1
            ) by_email ON true
        ),
        previous AS (
            SELECT a.event_id AS previous_event_id, a.etag AS previous_etag, a.status AS previous_status,
                   (extract(epoch FROM a.starts_at) * 1000)::bigint AS previous_starts_ms
            FROM appointments a WHERE a.connection_id = $1::text AND a.event_id = ANY ($5::text[])
        ),
        written AS (
            INSERT INTO appointments AS a (connection_id, event_id, tenant_id, calendar_id, etag, summary, starts_at, ends_at, start_zone,
                                           end_zone, all_day, status, contact_phone, contact_id, seen_generation)
            SELECT $1::text, r.event_id, $3::text, $4::text, r.etag, r.summary, 'epoch'::timestamptz + r.starts_ms * interval '1 millisecond',
                   'epoch'::timestamptz + r.ends_ms * interval '1 millisecond', r.start_zone, r.end_zone, r.all_day, r.status,
                   r.contact_phone, r.contact_id, $2::bigint
            FROM resolved r
            ON CONFLICT (connection_id, event_id) DO UPDATE SET
                etag = EXCLUDED.etag,
                -- A cancellation without the event's data keeps what was stored; only its status changes.
                summary = CASE WHEN EXCLUDED.starts_at IS NULL THEN a.summary ELSE EXCLUDED.summary END,
                starts_at = coalesce(EXCLUDED.starts_at, a.starts_at),
                ends_at = CASE WHEN EXCLUDED.starts_at IS NULL THEN a.ends_at ELSE EXCLUDED.ends_at END,
                start_zone = CASE WHEN EXCLUDED.starts_at IS NULL THEN a.start_zone ELSE EXCLUDED.start_zone END,
                end_zone = CASE WHEN EXCLUDED.starts_at IS NULL THEN a.end_zone ELSE EXCLUDED.end_zone END,
                all_day = CASE WHEN EXCLUDED.starts_at IS NULL THEN a.all_day ELSE EXCLUDED.all_day END,
                status = EXCLUDED.status,
                contact_phone = CASE WHEN EXCLUDED.starts_at IS NULL THEN a.contact_phone ELSE EXCLUDED.contact_phone END,
                contact_id = CASE WHEN EXCLUDED.starts_at IS NULL THEN a.contact_id ELSE EXCLUDED.contact_id END,
                seen_generation = greatest(a.seen_generation, EXCLUDED.seen_generation),
                updated_at = now()
            WHERE a.etag IS DISTINCT FROM EXCLUDED.etag OR a.seen_generation < EXCLUDED.seen_generation
            RETURNING \(Appointment.columns)
        )
        SELECT w.*, p.previous_event_id IS NULL AS inserted, p.previous_etag, p.previous_status, p.previous_starts_ms
        FROM written w LEFT JOIN previous p ON p.previous_event_id = w.event_id
        """

    /// What a written row changed; nil when nothing did (seen again unchanged, or a cancellation of an
    /// event never seen or cancelled already).
    static func change(_ row: PostgresRow) throws -> AppointmentChange? {
        let appointment = try Appointment(row)
        if try row.bool("inserted") == true {
            return appointment.status == .cancelled
                ? nil : AppointmentChange(kind: .created, appointment: appointment, previousStartsAtMs: nil)
        }
        // Rewritten only to stamp a newer pass's generation: the provider's version is the same.
        if try row.string("previous_etag") == appointment.etag { return nil }
        let wasCancelled = try row.enumeration("previous_status", AppointmentStatus.self) == .cancelled
        let previousStart = try row.int("previous_starts_ms").map(Int64.init)
        let kind: AppointmentChange.Kind
        switch (wasCancelled, appointment.status == .cancelled) {
        case (false, true): kind = .cancelled
        case (true, true): return nil
        case (true, false): kind = .created
        case (false, false): kind = previousStart == appointment.startsAtMs ? .updated : .moved
        }
        return AppointmentChange(kind: kind, appointment: appointment, previousStartsAtMs: previousStart)
    }
}
