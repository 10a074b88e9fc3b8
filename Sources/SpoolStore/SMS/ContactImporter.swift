import SpoolPostgres
import SpoolSupport

/// Imports a tenant's contacts from CSV, or its STOP list into do-not-contact.
///
/// - Columns are mapped by header: `phone` (or phone_number, mobile, number), `first_name`,
///   `last_name`, `timezone`, `consent` (opted_in/yes/true/1, opted_out/no/false/0, empty = unknown),
///   `consent_source`; every other column becomes a custom field, usable in templates.
/// - Phones are normalised to E.164 (see PhoneNumber; the default region is SPOOL_DEFAULT_REGION).
/// - Bad rows are reported with their line and reason, all of them, and the good ones are imported.
/// - Duplicates within the file are merged (the later row wins) and counted.
/// - Rows go in through COPY into a temporary table and one upsert, in one transaction.
public struct ContactImporter: Sendable {
    public struct Report: Sendable, Encodable, Equatable {
        public var rows = 0
        public var valid = 0
        public var inserted = 0
        public var updated = 0
        public var duplicates = 0
        public var rejected: [Rejection] = []
        public var dryRun = false

        enum CodingKeys: String, CodingKey { case rows, valid, inserted, updated, duplicates, rejected, dryRun = "dry_run" }
    }

    public struct Rejection: Sendable, Encodable, Equatable {
        public let line: Int
        public let reason: String
        public init(line: Int, reason: String) {
            self.line = line
            self.reason = reason
        }
    }

    public struct InputError: Error, Sendable, CustomStringConvertible {
        public let message: String
        public var description: String { message }
    }

    let pool: PostgresPool
    let defaultRegion: String

    public init(pool: PostgresPool, defaultRegion: String = "US") {
        self.pool = pool
        self.defaultRegion = defaultRegion
    }

    static let phoneHeaders: Set<String> = ["phone", "phone_number", "mobile", "number", "to"]

    struct Contact {
        var phone: String
        var firstName: String?
        var lastName: String?
        var timezone: String?
        var consent: String
        var consentSource: String?
        var custom: [String: JSONValue]
    }

    /// Reads and checks the file; nothing is written.
    func parse(_ csv: [UInt8], stopList: Bool, report: inout Report) throws -> [String: Contact] {
        var iterator = CSVReader(bytes: csv).makeIterator()
        guard let first = iterator.next() else { throw InputError(message: "the file is empty: expected a header line naming the columns") }
        let header: [String]
        switch first {
        case .failure(let failure): throw InputError(message: failure.description)
        case .success(let record): header = record.fields.map { $0.trimmingSpaces.lowercased().replacing(" ", with: "_") }
        }
        guard let phoneColumn = header.firstIndex(where: Self.phoneHeaders.contains) else {
            throw InputError(message: "line 1: no phone column; the header must name one of \(Self.phoneHeaders.sorted().joined(separator: ", "))")
        }
        if let repeated = header.first(where: { name in !name.isEmpty && header.filter { $0 == name }.count > 1 }) {
            throw InputError(message: "line 1: column '\(repeated)' appears twice")
        }
        var contacts: [String: Contact] = [:]
        while let next = iterator.next() {
            let record: CSVReader.Record
            switch next {
            case .failure(let failure):
                report.rows += 1
                report.rejected.append(Rejection(line: failure.line, reason: failure.message))
                continue
            case .success(let value): record = value
            }
            report.rows += 1
            guard record.fields.count == header.count else {
                report.rejected.append(Rejection(line: record.line, reason: "\(record.fields.count) fields, the header has \(header.count)"))
                continue
            }
            let phone: PhoneNumber
            do { phone = try PhoneNumber(parsing: record.fields[phoneColumn], defaultRegion: defaultRegion) } catch {
                report.rejected.append(Rejection(line: record.line, reason: "\(header[phoneColumn]): \(error.message)"))
                continue
            }
            var contact = Contact(phone: phone.e164, consent: "unknown", custom: [:])
            var problem: String?
            for (index, name) in header.enumerated() where index != phoneColumn && !name.isEmpty {
                let value = record.fields[index].trimmingSpaces
                switch name {
                case "first_name": contact.firstName = value.isEmpty ? nil : value
                case "last_name": contact.lastName = value.isEmpty ? nil : value
                case "timezone" where !value.isEmpty:
                    if TimeZoneName.isKnown(value) { contact.timezone = value } else { problem = "timezone: '\(value.prefix(64))' is not an IANA time zone" }
                case "timezone": break
                case "consent":
                    switch value.lowercased() {
                    case "opted_in", "yes", "true", "1", "y": contact.consent = "opted_in"
                    case "opted_out", "no", "false", "0", "n": contact.consent = "opted_out"
                    case "", "unknown": contact.consent = "unknown"
                    default: problem = "consent: '\(value.prefix(40))' is not opted_in, opted_out or empty"
                    }
                case "consent_source": contact.consentSource = value.isEmpty ? nil : value
                case "reason" where stopList: contact.consentSource = value.isEmpty ? nil : value
                default: if !value.isEmpty { contact.custom[name] = .string(value) }
                }
            }
            if let problem {
                report.rejected.append(Rejection(line: record.line, reason: problem))
                continue
            }
            if contacts.updateValue(contact, forKey: contact.phone) != nil { report.duplicates += 1 }
        }
        report.valid = contacts.count
        return contacts
    }

    /// Imports contacts (or, with `stopList`, do-not-contact entries). `progress` hears the rows written.
    public func run(tenantID: String, csv: [UInt8], dryRun: Bool, stopList: Bool = false,
                    progress: @escaping @Sendable (Int) -> Void = { _ in }) async throws -> Report {
        var report = Report()
        report.dryRun = dryRun
        let contacts = try parse(csv, stopList: stopList, report: &report)
        let known = try await pool.withConnection { try $0.query("SELECT 1 FROM tenants WHERE id = $1", [tenantID]).first != nil }
        guard known else { throw InputError(message: "tenant: no tenant '\(tenantID.prefix(64))'") }
        if contacts.isEmpty { return report }
        let rows = contacts.values.sorted { $0.phone < $1.phone }
        let counts: (inserted: Int, updated: Int) = try await pool.transaction { [rows] connection in
            if stopList {
                try connection.execute("CREATE TEMP TABLE stop_import (phone text, reason text) ON COMMIT DROP")
                _ = try connection.copy(into: "stop_import", columns: ["phone", "reason"], rows: rows.lazy.map { [$0.phone, $0.consentSource ?? "stop_list_import"] })
                let existing = try connection.query("SELECT count(*) AS n FROM stop_import s JOIN do_not_contact d ON d.tenant_id = $1 AND d.phone = s.phone",
                                                    [tenantID]).first?.int("n") ?? 0
                if dryRun { return (rows.count - existing, 0) }
                let added = try connection.query("""
                    INSERT INTO do_not_contact (tenant_id, phone, reason) SELECT $1, phone, reason FROM stop_import ON CONFLICT DO NOTHING
                    """, [tenantID]).affectedRows
                return (added, 0)
            }
            try connection.execute("""
                CREATE TEMP TABLE contact_import (phone text, first_name text, last_name text, custom jsonb, timezone text,
                                                  consent text, consent_source text) ON COMMIT DROP
                """)
            var written = 0
            _ = try connection.copy(into: "contact_import", columns: ["phone", "first_name", "last_name", "custom", "timezone", "consent", "consent_source"],
                                    rows: rows.lazy.map { contact -> [String?] in
                written += 1
                if written % 10_000 == 0 { progress(written) }
                return [contact.phone, contact.firstName, contact.lastName, JSONValue.object(contact.custom).text, contact.timezone,
                        contact.consent, contact.consentSource]
            })
            let existing = try connection.query("SELECT count(*) AS n FROM contact_import i JOIN contacts c ON c.tenant_id = $1 AND c.phone = i.phone",
                                                [tenantID]).first?.int("n") ?? 0
            if dryRun { return (rows.count - existing, existing) }
            try connection.query("""
                INSERT INTO contacts (tenant_id, phone, first_name, last_name, custom, timezone, consent, consent_source)
                SELECT $1, phone, first_name, last_name, custom, timezone, consent, consent_source FROM contact_import
                ON CONFLICT (tenant_id, phone) DO UPDATE SET first_name = EXCLUDED.first_name, last_name = EXCLUDED.last_name,
                    custom = contacts.custom || EXCLUDED.custom, timezone = coalesce(EXCLUDED.timezone, contacts.timezone),
                    consent = CASE WHEN EXCLUDED.consent = 'unknown' THEN contacts.consent ELSE EXCLUDED.consent END,
                    consent_source = coalesce(EXCLUDED.consent_source, contacts.consent_source), updated_at = now()
                """, [tenantID])
            return (rows.count - existing, existing)
        }
        progress(rows.count)
        report.inserted = counts.inserted
        report.updated = counts.updated
        return report
    }
}
