import SpoolPostgres
import SpoolSupport

/// Imports a tenant's contacts from CSV, or its STOP list into do-not-contact.
///
/// - Columns are mapped by header: `phone` (or phone_number, mobile, number), `first_name`,
///   `last_name`, `timezone`, `consent` (opted_in/yes/true/1, opted_out/no/false/0, empty = unknown),
///   `consent_source`; every other column becomes a custom field, usable in templates.
/// - Phones are normalised to E.164 (see PhoneNumber; the default region is SPOOL_DEFAULT_REGION).
/// - A header of more than `maximumColumns` columns, or naming a column twice, refuses the file; a
///   value over `maximumFieldBytes` rejects its row.
/// - Bad rows are counted and the first `maximumRejections` reported with their line and reason (a
///   reason quotes at most a short prefix of a value); the good ones are imported. A file of bad rows
///   once made an answer of 114 MB.
/// - Duplicates within the file are merged (the later row wins) and counted.
/// - Rows are checked one at a time as COPY reads them into a temporary table, then one upsert, in one
///   transaction, on the connection's own thread: nothing is held per row, and reading a 64 MiB file
///   (seconds) never occupies the task pool that serves requests.
public struct ContactImporter: Sendable {
    public struct Report: Sendable, Encodable, Equatable {
        public var rows = 0
        public var valid = 0
        public var inserted = 0
        public var updated = 0
        public var duplicates = 0
        /// The first bad rows, in file order; `rejectedTotal` counts them all.
        public var rejected: [Rejection] = []
        public var rejectedTotal = 0
        /// True when some bad rows are counted but not listed.
        public var rejectedTruncated = false
        public var dryRun = false

        enum CodingKeys: String, CodingKey {
            case rows, valid, inserted, updated, duplicates, rejected, rejectedTotal = "rejected_total"
            case rejectedTruncated = "rejected_truncated", dryRun = "dry_run"
        }

        /// Counts a bad row, and lists it (its reason clipped) while fewer than `limit` are listed.
        mutating func reject(line: Int, _ reason: String, limit: Int) {
            rejectedTotal += 1
            guard rejected.count < limit else {
                rejectedTruncated = true
                return
            }
            rejected.append(Rejection(line: line, reason: ContactImporter.clipped(reason)))
        }
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
    /// Bad rows listed in a report; the rest are counted only.
    public var maximumRejections = 100

    public init(pool: PostgresPool, defaultRegion: String = "US") {
        self.pool = pool
        self.defaultRegion = defaultRegion
    }

    static let phoneHeaders: Set<String> = ["phone", "phone_number", "mobile", "number", "to"]
    /// Columns a file may have: every one becomes a custom field, and a 60,000-column header once
    /// stalled the API.
    public static let maximumColumns = 100
    /// Bytes a value (or a column name) may have: a row is read whole, so this bounds what one row holds.
    public static let maximumFieldBytes = 64 << 10
    /// Bytes of a rejection's reason kept.
    static let maximumReason = 300

    /// The header's column names and the phone column's index. Refuses a file without a header, with
    /// more than `maximumColumns` columns, without a phone column or naming a column twice.
    static func header(_ iterator: inout CSVReader.Iterator) throws -> (names: [String], phone: Int) {
        guard let first = iterator.next() else { throw InputError(message: "the file is empty: expected a header line naming the columns") }
        let record: CSVReader.Record
        switch first {
        case .failure(let failure):
            if let count = failure.fieldCount {
                throw InputError(message: "line \(failure.line): the header has \(count) columns; at most \(maximumColumns) are allowed")
            }
            throw InputError(message: failure.description)
        case .success(let value): record = value
        }
        let names = record.fields.map { $0.trimmingSpaces.lowercased().replacing(" ", with: "_") }
        // Column names become keys of the contacts' `custom` JSON: control characters (NUL above all,
        // which PostgreSQL refuses) are refused here, by line and column.
        if let column = names.firstIndex(where: { $0.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F } }) {
            throw InputError(message: "line \(record.line): column \(column + 1) has a control character in its name")
        }
        guard let phone = names.firstIndex(where: phoneHeaders.contains) else {
            throw InputError(
                message:
                    "line \(record.line): no phone column; the header must name one of \(phoneHeaders.sorted().joined(separator: ", "))")
        }
        var seen = Set<String>()
        for name in names where !name.isEmpty {
            guard seen.insert(name).inserted else {
                throw InputError(message: "line \(record.line): column '\(clipped(name, 64))' appears twice")
            }
        }
        return (names, phone)
    }

    /// At most `limit` bytes of `text`: a value quoted in a message stays short whatever the file holds.
    static func clipped(_ text: String, _ limit: Int = ContactImporter.maximumReason) -> String {
        let utf8 = text.utf8
        guard let end = utf8.index(utf8.startIndex, offsetBy: limit, limitedBy: utf8.endIndex), end < utf8.endIndex else { return text }
        return String(decoding: utf8[..<end], as: UTF8.self) + "…"
    }

    /// The data rows as COPY reads them, checked one at a time: a bad row is counted in the report (and
    /// listed while there is room), a good one becomes a table row ending with its line number, so that
    /// the last row for a phone wins in SQL. Nothing is kept per row.
    final class Rows: Sequence, IteratorProtocol {
        private var iterator: CSVReader.Iterator
        private let header: [String]
        private let phoneColumn: Int
        private let stopList: Bool
        private let defaultRegion: String
        private let listed: Int
        private let progress: @Sendable (Int) -> Void
        var report = Report()
        private(set) var written = 0
        /// Time zone names looked up so far (a lookup reads the zoneinfo folder), up to a thousand.
        private var zones: [String: Bool] = [:]

        init(
            _ iterator: CSVReader.Iterator, header: [String], phoneColumn: Int, stopList: Bool, defaultRegion: String, listed: Int,
            progress: @escaping @Sendable (Int) -> Void
        ) {
            self.iterator = iterator
            self.header = header
            self.phoneColumn = phoneColumn
            self.stopList = stopList
            self.defaultRegion = defaultRegion
            self.listed = listed
            self.progress = progress
        }

        func next() -> [String?]? {
            while let next = iterator.next() {
                report.rows += 1
                switch next {
                case .failure(let failure):
                    let reason = failure.fieldCount.map { "\($0) fields, the header has \(header.count)" } ?? failure.message
                    report.reject(line: failure.line, reason, limit: listed)
                case .success(let record):
                    guard let row = tableRow(record) else { continue }
                    written += 1
                    if written % 10_000 == 0 { progress(written) }
                    return row
                }
            }
            return nil
        }

        /// The table row for a record, or nil once it is rejected.
        private func tableRow(_ record: CSVReader.Record) -> [String?]? {
            guard record.fields.count == header.count else {
                report.reject(line: record.line, "\(record.fields.count) fields, the header has \(header.count)", limit: listed)
                return nil
            }
            // PostgreSQL's text cannot hold a NUL byte: the row is refused here, by its line, rather
            // than failing the whole import in COPY.
            if let column = record.fields.firstIndex(where: { $0.utf8.contains(0) }) {
                report.reject(line: record.line, "\(header[column].prefix(64)): contains a NUL byte", limit: listed)
                return nil
            }
            let phone: PhoneNumber
            do { phone = try PhoneNumber(parsing: record.fields[phoneColumn], defaultRegion: defaultRegion) } catch {
                report.reject(line: record.line, "\(header[phoneColumn]): \(error.message)", limit: listed)
                return nil
            }
            var firstName: String?
            var lastName: String?
            var timezone: String?
            var consent = "unknown"
            var consentSource: String?
            var custom: [String: JSONValue] = [:]
            var problem: String?
            for (index, name) in header.enumerated() where index != phoneColumn && !name.isEmpty {
                let value = record.fields[index].trimmingSpaces
                switch name {
                case "first_name": firstName = value.isEmpty ? nil : value
                case "last_name": lastName = value.isEmpty ? nil : value
                case "timezone" where !value.isEmpty:
                    if isZone(value) { timezone = value } else { problem = "timezone: '\(value.prefix(64))' is not an IANA time zone" }
                case "timezone": break
                case "consent":
                    switch value.lowercased() {
                    case "opted_in", "yes", "true", "1", "y": consent = "opted_in"
                    case "opted_out", "no", "false", "0", "n": consent = "opted_out"
                    case "", "unknown": consent = "unknown"
                    default: problem = "consent: '\(value.prefix(40))' is not opted_in, opted_out or empty"
                    }
                case "consent_source": consentSource = value.isEmpty ? nil : value
                case "reason" where stopList: consentSource = value.isEmpty ? nil : value
                default: if !value.isEmpty { custom[name] = .string(value) }
                }
            }
            if let problem {
                report.reject(line: record.line, problem, limit: listed)
                return nil
            }
            let line = String(record.line)
            if stopList { return [phone.e164, consentSource ?? "stop_list_import", line] }
            return [phone.e164, firstName, lastName, JSONValue.object(custom).text, timezone, consent, consentSource, line]
        }

        private func isZone(_ name: String) -> Bool {
            if let known = zones[name] { return known }
            let known = TimeZoneName.isKnown(name)
            if zones.count < 1_000 && name.utf8.count <= 64 { zones[name] = known }
            return known
        }
    }

    /// Imports contacts (or, with `stopList`, do-not-contact entries). `progress` hears the rows written.
    /// Refuses the file (InputError) for a bad header or an unknown tenant; bad rows are only reported.
    public func run(
        tenantID: String, csv: [UInt8], dryRun: Bool, stopList: Bool = false,
        progress: @escaping @Sendable (Int) -> Void = { _ in }
    ) async throws -> Report {
        let (defaultRegion, listed) = (self.defaultRegion, maximumRejections)
        return try await pool.transaction { connection in
            var iterator = CSVReader(
                bytes: csv, maximumFields: ContactImporter.maximumColumns,
                maximumFieldBytes: ContactImporter.maximumFieldBytes
            ).makeIterator()
            let header = try ContactImporter.header(&iterator)
            guard try connection.query("SELECT 1 FROM tenants WHERE id = $1", [tenantID]).first != nil else {
                throw InputError(message: "tenant: no tenant '\(tenantID.prefix(64))'")
            }
            let rows = Rows(
                iterator, header: header.names, phoneColumn: header.phone, stopList: stopList, defaultRegion: defaultRegion,
                listed: listed, progress: progress)
            // COPY now lasts as long as reading the file, seconds for 64 MiB: more than the pool's
            // statement timeout allows on a slow machine. For this transaction only.
            try connection.execute("SET LOCAL statement_timeout = '10min'")
            let table = stopList ? "stop_import" : "contact_import"
            if stopList {
                try connection.execute("CREATE TEMP TABLE stop_import (phone text, reason text, line int) ON COMMIT DROP")
                _ = try connection.copy(into: "stop_import", columns: ["phone", "reason", "line"], rows: rows)
            } else {
                try connection.execute(
                    """
                    CREATE TEMP TABLE contact_import (phone text, first_name text, last_name text, custom jsonb, timezone text,
                                                      consent text, consent_source text, line int) ON COMMIT DROP
                    """)
                _ = try connection.copy(
                    into: "contact_import",
                    columns: ["phone", "first_name", "last_name", "custom", "timezone", "consent", "consent_source", "line"], rows: rows)
            }
            progress(rows.written)
            var report = rows.report
            report.dryRun = dryRun
            let counts = try connection.query("SELECT count(*) AS n, count(DISTINCT phone) AS phones FROM \(table)").first
            report.valid = try counts?.int("phones") ?? 0
            report.duplicates = (try counts?.int("n") ?? 0) - report.valid
            if report.valid == 0 { return report }
            // The last row of each phone, by line: what the file means when it lists a phone twice.
            if stopList {
                let existing =
                    try connection.query(
                        """
                        SELECT count(*) AS n FROM (SELECT DISTINCT phone FROM stop_import) s JOIN do_not_contact d ON d.tenant_id = $1 AND d.phone = s.phone
                        """, [tenantID]
                    ).first?.int("n") ?? 0
                if dryRun {
                    report.inserted = report.valid - existing
                    return report
                }
                report.inserted = try connection.query(
                    """
                    INSERT INTO do_not_contact (tenant_id, phone, reason)
                    SELECT $1, phone, reason FROM (SELECT DISTINCT ON (phone) phone, reason FROM stop_import ORDER BY phone, line DESC) s
                    ON CONFLICT DO NOTHING
                    """, [tenantID]
                ).affectedRows
                return report
            }
            let existing =
                try connection.query(
                    """
                    SELECT count(*) AS n FROM (SELECT DISTINCT phone FROM contact_import) i JOIN contacts c ON c.tenant_id = $1 AND c.phone = i.phone
                    """, [tenantID]
                ).first?.int("n") ?? 0
            report.inserted = report.valid - existing
            report.updated = existing
            if dryRun { return report }
            try connection.query(
                """
                INSERT INTO contacts (tenant_id, phone, first_name, last_name, custom, timezone, consent, consent_source)
                SELECT $1, phone, first_name, last_name, custom, timezone, consent, consent_source
                FROM (SELECT DISTINCT ON (phone) * FROM contact_import ORDER BY phone, line DESC) i
                ON CONFLICT (tenant_id, phone) DO UPDATE SET first_name = EXCLUDED.first_name, last_name = EXCLUDED.last_name,
                    custom = contacts.custom || EXCLUDED.custom, timezone = coalesce(EXCLUDED.timezone, contacts.timezone),
                    consent = CASE WHEN EXCLUDED.consent = 'unknown' THEN contacts.consent ELSE EXCLUDED.consent END,
                    consent_source = coalesce(EXCLUDED.consent_source, contacts.consent_source), updated_at = now()
                """, [tenantID])
            return report
        }
    }
}
