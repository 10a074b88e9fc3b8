import SpoolPostgres
import SpoolSupport

/// An appointment's status, as the provider gives its event's (`appointments.status`).
public enum AppointmentStatus: String, Sendable, Codable, CaseIterable {
    case confirmed, tentative, cancelled
}

/// One provider event as a sync page gives it, ready for `AppointmentStore.upsert`. Times are unix
/// milliseconds; an all-day event's are its days' midnights, as the sync reads them.
public struct AppointmentRecord: Sendable, Equatable {
    public var eventID: String
    public var etag: String?
    public var summary: String?
    /// nil only for a cancellation without the event's data (an incremental sync's deleted event):
    /// what was stored is kept, and only the status changes.
    public var startsAtMs: Int64?
    public var endsAtMs: Int64?
    /// The IANA zones the provider gave the start and end in.
    public var startZone: String?
    public var endZone: String?
    public var allDay: Bool
    public var status: AppointmentStatus
    /// The event's private extended property `phone`, as written there: stored as +E164 when it reads
    /// as a phone number (`AppointmentStore.defaultRegion` for national ones), else left out.
    public var contactPhone: String?
    /// Attendees' e-mail addresses: without a phone, the first of the tenant's contacts whose `email`
    /// matches one (case-insensitively) gives the phone.
    public var attendeeEmails: [String]

    public init(
        eventID: String, etag: String? = nil, summary: String? = nil, startsAtMs: Int64? = nil, endsAtMs: Int64? = nil,
        startZone: String? = nil, endZone: String? = nil, allDay: Bool = false, status: AppointmentStatus = .confirmed,
        contactPhone: String? = nil, attendeeEmails: [String] = []
    ) {
        self.eventID = eventID
        self.etag = etag
        self.summary = summary
        self.startsAtMs = startsAtMs
        self.endsAtMs = endsAtMs
        self.startZone = startZone
        self.endZone = endZone
        self.allDay = allDay
        self.status = status
        self.contactPhone = contactPhone
        self.attendeeEmails = attendeeEmails
    }
}

/// One appointment as stored (`appointments`). Times are unix milliseconds.
public struct Appointment: Sendable, Equatable {
    public let connectionID: String
    public let eventID: String
    public let tenantID: String
    public let calendarID: String
    public let etag: String?
    public let summary: String?
    /// nil only for a cancelled event never seen before its cancellation.
    public let startsAtMs: Int64?
    public let endsAtMs: Int64?
    public let startZone: String?
    public let endZone: String?
    public let allDay: Bool
    public let status: AppointmentStatus
    /// Who its reminders go to: +E164, or nil when it has no contact phone.
    public let contactPhone: String?
    /// The tenant's contact with that phone, when there is one.
    public let contactID: Int64?
    public let seenGeneration: Int64
    public let updatedAtMs: Int64

    public var json: JSONValue {
        func time(_ ms: Int64?) -> JSONValue { ms.map { .string(CivilTime(unixMillis: $0).rfc3339) } ?? .null }
        func text(_ value: String?) -> JSONValue { value.map(JSONValue.string) ?? .null }
        return .object([
            "connection": .string(connectionID), "event_id": .string(eventID), "calendar_id": .string(calendarID),
            "summary": text(summary), "starts_at": time(startsAtMs), "ends_at": time(endsAtMs), "start_zone": text(startZone),
            "end_zone": text(endZone), "all_day": .bool(allDay), "status": .string(status.rawValue), "contact_phone": text(contactPhone),
            "contact_id": contactID.map { JSONValue.number(Double($0)) } ?? .null,
            "updated_at": .string(CivilTime(unixMillis: updatedAtMs).rfc3339),
        ])
    }

    /// The columns `init(_:)` reads, unqualified (for `RETURNING` and plain `SELECT`s of `appointments`).
    static let columns = """
        connection_id, event_id, tenant_id, calendar_id, etag, summary,
        (extract(epoch FROM starts_at) * 1000)::bigint AS starts_at_ms, (extract(epoch FROM ends_at) * 1000)::bigint AS ends_at_ms,
        start_zone, end_zone, all_day, status, contact_phone, contact_id, seen_generation,
        (extract(epoch FROM updated_at) * 1000)::bigint AS updated_at_ms
        """

    init(_ row: PostgresRow) throws {
        connectionID = try row.string("connection_id")!
        eventID = try row.string("event_id")!
        tenantID = try row.string("tenant_id")!
        calendarID = try row.string("calendar_id")!
        etag = try row.string("etag")
        summary = try row.string("summary")
        startsAtMs = try row.int("starts_at_ms").map(Int64.init)
        endsAtMs = try row.int("ends_at_ms").map(Int64.init)
        startZone = try row.string("start_zone")
        endZone = try row.string("end_zone")
        allDay = try row.bool("all_day")!
        status = try row.enumeration("status", AppointmentStatus.self)!
        contactPhone = try row.string("contact_phone")
        contactID = try row.int("contact_id").map(Int64.init)
        seenGeneration = Int64(try row.int("seen_generation")!)
        updatedAtMs = Int64(try row.int("updated_at_ms")!)
    }
}

/// How an upsert (or a full sync's sweep) changed an appointment, for the sync to plan, move or cancel
/// its reminders. A page written again, or an event seen again unchanged, is no change.
public struct AppointmentChange: Sendable, Equatable {
    public enum Kind: String, Sendable, Equatable {
        /// New, or back from cancelled.
        case created
        /// Its start changed.
        case moved
        /// Something else changed: summary, end, status between confirmed and tentative, contact.
        case updated
        /// Cancelled or deleted at the provider, or missing from a full sync.
        case cancelled
    }

    public let kind: Kind
    /// As it is now.
    public let appointment: Appointment
    /// Its start before the change; nil for one created.
    public let previousStartsAtMs: Int64?
}
