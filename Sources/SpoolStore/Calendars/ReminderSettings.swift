import SpoolPostgres
import SpoolSupport

/// A tenant's appointment reminder settings (`tenants.reminder_*`, migration 0017).
public struct ReminderSettings: Sendable, Equatable {
    /// Minutes before the start, longest first; empty: no reminders.
    public var leadsMinutes: [Int]
    /// The text, a `ReminderTemplate`.
    public var template: String
    /// The sender number reminders go from; nil: the tenant's first SMS sender number by creation.
    public var from: String?

    /// The API's and `--json`'s shape.
    public var json: JSONValue {
        .object([
            "reminder_leads_minutes": .array(leadsMinutes.map { JSONValue.number(Double($0)) }), "reminder_template": .string(template),
            "reminder_from": from.map(JSONValue.string) ?? .null,
        ])
    }
}

/// A change to the sender of a tenant's reminders (`ReminderSettingsStore.update`).
public enum ReminderSender: Sendable, Equatable {
    /// Leave it as it is.
    case keep
    /// One of the tenant's SMS sender numbers.
    case number(String)
    /// The tenant's first SMS sender number by creation, whichever it is when a reminder goes (NULL).
    case firstNumber
}

/// Reads and sets a tenant's reminder settings. Refusals are `CalendarStoreError.invalid` naming the
/// field (`reminder_leads_minutes`, `reminder_template`, `reminder_from`, `tenant`), before anything is
/// written.
///
/// Changing the leads marks the tenant's confirmed upcoming appointments to be planned again: the next
/// sync of each connection (`AppointmentReminders.reconcile`) schedules the new leads and cancels the
/// reminders of leads no longer listed. The template and the sender are read when a reminder goes, so
/// changing them plans nothing.
public struct ReminderSettingsStore: Sendable {
    let pool: PostgresPool

    /// The most leads a tenant may set (the column's check says the same).
    public static let maximumLeads = 5
    /// Leads are 1 minute to 30 days.
    public static let leadRange = 1...43_200

    public init(pool: PostgresPool) { self.pool = pool }

    /// The tenant's settings, or nil when there is no such tenant.
    public func settings(tenant: String) async throws -> ReminderSettings? {
        guard !tenant.utf8.contains(0) else { return nil }
        return try await pool.withConnection { connection in
            try connection.query("SELECT \(Self.columns) FROM tenants WHERE id = $1", [tenant]).first.map(Self.settings)
        }
    }

    /// Changes what is given (nil and `.keep` leave a setting as it is) and returns the settings now.
    /// - Parameters:
    ///   - leadsMinutes: minutes before the start, each in `leadRange`, at most `maximumLeads`, none twice;
    ///     empty turns reminders off. Stored longest first.
    ///   - template: a `ReminderTemplate`; an unknown variable is refused.
    ///   - from: one of the tenant's SMS sender numbers (not a WhatsApp one: reminders go by SMS), or
    ///     `.firstNumber`.
    public func update(
        tenant: String, leadsMinutes: [Int]? = nil, template: String? = nil, from: ReminderSender = .keep
    ) async throws -> ReminderSettings {
        let leads = try leadsMinutes.map(Self.checkedLeads)
        if let template, let problem = ReminderTemplate.problem(template) {
            throw CalendarStoreError.invalid(field: "reminder_template", message: "reminder_template: \(problem)")
        }
        var number: String?
        if case .number(let text) = from {
            do { number = try SenderNumbers.normalise(text) } catch {
                let reason: String
                if case .invalid(_, let message) = error { reason = message } else { reason = error.description }
                throw CalendarStoreError.invalid(field: "reminder_from", message: "reminder_from: \(reason)")
            }
            if number?.hasPrefix("whatsapp:") == true {
                throw CalendarStoreError.invalid(
                    field: "reminder_from", message: "reminder_from: \(number!) is a WhatsApp sender; reminders go by SMS")
            }
        }
        let leadsText = leads.map { PostgresArray($0.map { String($0) }) }
        let clearFrom = from == .firstNumber
        let sender = number
        return try await pool.transaction { connection in
            guard
                let current = try connection.query("SELECT \(Self.columns) FROM tenants WHERE id = $1 FOR UPDATE", [tenant]).first.map(
                    Self.settings)
            else { throw CalendarStoreError.invalid(field: "tenant", message: "tenant: no tenant '\(tenant.prefix(64))'") }
            if let sender, !(try SenderNumbers.isOwned(sender, by: tenant, on: connection)) {
                throw CalendarStoreError.invalid(
                    field: "reminder_from",
                    message: "reminder_from: \(sender) is not one of this tenant's sender numbers; \(SenderNumbers.howToAdd)")
            }
            let row = try connection.query(
                """
                UPDATE tenants SET reminder_leads_minutes = coalesce($2::integer[], reminder_leads_minutes),
                       reminder_template = coalesce($3::text, reminder_template),
                       reminder_from = CASE WHEN $5::boolean THEN NULL ELSE coalesce($4::text, reminder_from) END, updated_at = now()
                WHERE id = $1 RETURNING \(Self.columns)
                """, [tenant, leadsText, template, sender, clearFrom]
            ).first!
            let updated = try Self.settings(row)
            if updated.leadsMinutes != current.leadsMinutes {
                // Planned again at each connection's next sync, by the index of appointments to plan.
                try connection.query(
                    """
                    UPDATE appointments SET reminders_etag = NULL
                    WHERE connection_id IN (SELECT id FROM calendar_connections WHERE tenant_id = $1 AND disconnected_at IS NULL)
                      AND status = 'confirmed' AND starts_at > now() AND reminders_etag IS NOT NULL
                    """, [tenant])
            }
            return updated
        }
    }

    /// The leads as stored: checked, longest first.
    static func checkedLeads(_ leads: [Int]) throws(CalendarStoreError) -> [Int] {
        guard leads.count <= maximumLeads else {
            throw CalendarStoreError.invalid(
                field: "reminder_leads_minutes", message: "reminder_leads_minutes: at most \(maximumLeads) leads, got \(leads.count)")
        }
        var seen = Set<Int>()
        for lead in leads {
            guard leadRange.contains(lead) else {
                throw CalendarStoreError.invalid(
                    field: "reminder_leads_minutes",
                    message: "reminder_leads_minutes: \(lead) is outside 1...43200 (1 minute to 30 days before the start)")
            }
            guard seen.insert(lead).inserted else {
                throw CalendarStoreError.invalid(field: "reminder_leads_minutes", message: "reminder_leads_minutes: \(lead) is given twice")
            }
        }
        return leads.sorted(by: >)
    }

    static let columns = "array_to_string(reminder_leads_minutes, ',') AS reminder_leads, reminder_template, reminder_from"

    static func settings(_ row: PostgresRow) throws -> ReminderSettings {
        ReminderSettings(
            leadsMinutes: try leads(row.string("reminder_leads") ?? ""), template: try row.string("reminder_template") ?? "",
            from: try row.string("reminder_from"))
    }

    /// `array_to_string(reminder_leads_minutes, ',')` read back: `1440,120`, or empty for none.
    static func leads(_ text: String) throws -> [Int] {
        try text.split(separator: ",").map { part in
            guard let lead = Int(part) else { throw PostgresError(.decoding, "reminder_leads_minutes: '\(part.prefix(20))' is not an integer") }
            return lead
        }
    }
}
