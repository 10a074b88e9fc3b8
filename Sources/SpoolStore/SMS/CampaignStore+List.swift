import SpoolPostgres
import SpoolSupport

/// One page of `CampaignStore.list`: the campaigns' own rows, newest first; `nextCursor` asks for the
/// next page and is nil on the last.
public struct CampaignPage: Sendable, Equatable {
    /// A campaign as a list shows it: its row and its times, no message counts. Counting a campaign's
    /// messages is its report's work (`CampaignReports.report`), one campaign at a time.
    public struct Entry: Sendable, Equatable {
        public let campaign: Campaign
        /// Times are unix ms.
        public let createdAtMs: Int64
        public let launchedAtMs: Int64?
        public let completedAtMs: Int64?
        /// `created_at` to the microsecond, which the cursor needs: two campaigns made in the same
        /// millisecond are still apart.
        let createdAtMicros: Int64
    }

    public let entries: [Entry]
    public let nextCursor: String?
}

extension CampaignStore {
    /// `list`'s page size when none is asked for, and the largest it takes.
    public static let defaultPageSize = 50
    public static let maximumPageSize = 200

    /// One page of campaigns, the newest first (`created_at`, then id, both descending), paged by
    /// keyset: `cursor` is the `nextCursor` of the page before. Each page is one read of the index
    /// `(tenant_id, created_at, id)`, or `(created_at, id)` for every tenant's, from the cursor on
    /// (migration 0018), however many campaigns came before it.
    /// - Parameters:
    ///   - tenantID: the tenant whose campaigns to list; nil: every tenant's (the operator).
    ///   - limit: 1 to `maximumPageSize`.
    ///   - cursor: where to start; nil: at the newest.
    /// Refusals (`InputError`) start with the field: `limit`, `cursor`.
    public func list(tenantID: String?, limit: Int = CampaignStore.defaultPageSize, cursor: String? = nil) async throws -> CampaignPage {
        guard (1...Self.maximumPageSize).contains(limit) else {
            throw InputError(message: "limit: expected an integer from 1 to \(Self.maximumPageSize), got \(limit)")
        }
        var after: CampaignCursor?
        if let cursor {
            guard let parsed = CampaignCursor(text: cursor) else {
                throw InputError(message: "cursor: '\(cursor.prefix(80))' is not the next cursor of a previous page")
            }
            after = parsed
        }
        // Only fixed SQL is assembled here; every value is a parameter.
        var conditions: [String] = []
        var parameters: [any PostgresBindable] = []
        if let tenantID {
            parameters.append(tenantID)
            conditions.append("tenant_id = $\(parameters.count)")
        }
        if let after {
            parameters.append(after.micros)
            let instant = "'epoch'::timestamptz + $\(parameters.count)::bigint * interval '1 microsecond'"
            parameters.append(after.id)
            conditions.append("(created_at, id) < (\(instant), $\(parameters.count)::text)")
        }
        // One row more than asked says whether there is a next page, without a page that comes back empty.
        parameters.append(limit + 1)
        let sql = """
            SELECT \(Self.columns), (extract(epoch FROM created_at) * 1000000)::bigint AS created_at_us,
                   (extract(epoch FROM launched_at) * 1000)::bigint AS launched_at_ms,
                   (extract(epoch FROM completed_at) * 1000)::bigint AS completed_at_ms
            FROM campaigns \(conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND "))
            ORDER BY created_at DESC, id DESC LIMIT $\(parameters.count)::int
            """
        let bound = parameters
        let found = try await pool.withConnection { connection -> [CampaignPage.Entry] in
            try connection.query(sql, bound).rows.map(Self.entry)
        }
        guard found.count > limit else { return CampaignPage(entries: found, nextCursor: nil) }
        let page = Array(found.prefix(limit))
        let last = page[page.count - 1]
        return CampaignPage(entries: page, nextCursor: CampaignCursor(micros: last.createdAtMicros, id: last.campaign.id).text)
    }

    static func entry(_ row: PostgresRow) throws -> CampaignPage.Entry {
        let micros = Int64(try row.int("created_at_us")!)
        return CampaignPage.Entry(
            campaign: try Self.campaign(row), createdAtMs: micros / 1000, launchedAtMs: try row.int("launched_at_ms").map(Int64.init),
            completedAtMs: try row.int("completed_at_ms").map(Int64.init), createdAtMicros: micros)
    }
}

/// Where a page of `CampaignStore.list` starts: after the campaign created at `micros` (unix µs) with
/// this id, in the list's order. Its text is `<micros>:<id>`.
struct CampaignCursor: Sendable, Equatable {
    let micros: Int64
    let id: String

    var text: String { "\(micros):\(id)" }

    init(micros: Int64, id: String) {
        self.micros = micros
        self.id = id
    }

    /// nil unless `text` is 1 to 18 digits, a colon, and an id of 1 to 64 lowercase letters, digits
    /// and underscores (what `cmp_...` ids are made of).
    init?(text: String) {
        guard let colon = text.firstIndex(of: ":") else { return nil }
        let digits = text[..<colon]
        let id = text[text.index(after: colon)...]
        guard (1...18).contains(digits.utf8.count), digits.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }), let micros = Int64(digits),
            (1...64).contains(id.utf8.count),
            id.utf8.allSatisfy({ ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 122) || $0 == 95 })
        else { return nil }
        self.micros = micros
        self.id = String(id)
    }
}
