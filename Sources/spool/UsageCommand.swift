import ArgumentParser
import SpoolPostgres
import SpoolSMS
import SpoolStore
import SpoolSupport

/// `spool usage --tenant ID [--from D] [--to D] [--json]`: what a tenant used over a range of UTC days
/// (`UsageReports`, as `GET /v1/usage` answers it), straight on PostgreSQL. The operator's tool: any
/// tenant.
struct UsageCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "usage",
        abstract: "A tenant's usage over UTC days: messages by purpose and status with their cost, AI tokens and cost, transcriptions.",
        discussion:
            "Both days are included, at most 366 of them. Messages count by the day they were queued, and their cost is that of the ones handed to the provider (sent, delivered, undelivered); transcriptions count by the day the voice note arrived. Costs of the AI and of transcriptions are in thousandths of a cent."
    )
    @OptionGroup var common: CommonOptions
    @Option(help: "Tenant id.") var tenant: String
    @Option(help: "First UTC day, YYYY-MM-DD (default: --to).") var from: String?
    @Option(help: "Last UTC day, YYYY-MM-DD, included (default: today, UTC).") var to: String?
    @Flag(help: "Print JSON, as GET /v1/usage answers.") var json = false

    func run() async throws {
        let last = to ?? CivilTime.date(SystemClock().nowMillis())
        let first = from ?? last
        let tenantID = tenant
        let runtime = try Runtime.load(common)
        let pool = try runtime.postgres(size: 1)
        defer { pool.close() }
        try await Migrator(pool: pool).migrate()
        let report: UsageReport
        do {
            report = try await UsageReports(pool: pool).report(tenantID: tenantID, from: first, to: last)
        } catch let error as UsageReportError {
            throw SpoolCommandError(error.description)
        }
        if json { print(jsonText(report.json)); return }
        for line in Self.table(report) { print(line) }
    }

    /// The report as aligned columns: messages, AI replies, transcriptions.
    static func table(_ report: UsageReport) -> [String] {
        let days = report.from == report.to ? report.from : "\(report.from) to \(report.to)"
        var lines = ["usage of \(report.tenantID), \(days) (UTC)", ""]

        var rows = [["messages", "total", "cost (cents)", "by status"]]
        for purpose in MessagePurpose.allCases {
            let counted = report.messages[purpose] ?? UsageReport.Messages()
            let statuses = counted.byStatus.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
            rows.append([
                purpose.rawValue, String(counted.byStatus.values.reduce(0, +)), String(counted.costCents),
                statuses.isEmpty ? "-" : statuses,
            ])
        }
        lines += aligned(rows, numeric: [1, 2])
        lines.append("")

        rows = [["ai replies", "requests", "prompt tokens", "completion tokens", "cost (millicents)"]]
        var models: [(String, UsageReport.AI)] = report.aiByModel.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        models.append(("total", report.ai))
        for (model, usage) in models {
            rows.append([
                model, String(usage.requests), String(usage.promptTokens), String(usage.completionTokens), String(usage.costMillicents),
            ])
        }
        lines += aligned(rows, numeric: [1, 2, 3, 4])
        lines.append("")

        let transcription = report.transcription
        rows = [
            ["transcriptions", "voice notes", "seconds", "cost (millicents)"],
            ["total", String(transcription.notes), String(format: transcription.durationSeconds), String(transcription.costMillicents)],
        ]
        lines += aligned(rows, numeric: [1, 2, 3])
        return lines
    }

    /// Rows padded to their columns' widths, two spaces apart; the `numeric` columns right-aligned.
    static func aligned(_ rows: [[String]], numeric: Set<Int>) -> [String] {
        let columns = rows.map(\.count).max() ?? 0
        let widths = (0..<columns).map { column in rows.map { column < $0.count ? $0[column].count : 0 }.max() ?? 0 }
        return rows.map { row in
            var cells: [String] = []
            for (column, cell) in row.enumerated() {
                let padding = String(repeating: " ", count: widths[column] - cell.count)
                // The last column is not padded on the right: no trailing spaces.
                if numeric.contains(column) {
                    cells.append(padding + cell)
                } else {
                    cells.append(column == row.count - 1 ? cell : cell + padding)
                }
            }
            return cells.joined(separator: "  ")
        }
    }
}
