import ArgumentParser
import FoundationEssentials
import SpoolPostgres
import SpoolQueue
import SpoolSMS
import SpoolStore
import SpoolSupport

/// `spool contacts import`: a tenant's contacts (or STOP list) from CSV.
struct ContactsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "contacts", abstract: "Import contacts or a STOP list from CSV.",
        subcommands: [Import.self])

    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Import a CSV of contacts: phone, first_name, last_name, timezone, consent, consent_source, and custom columns.",
            discussion:
                "Phones are normalised to E.164; national numbers are read in SPOOL_DEFAULT_REGION (default US). Bad rows are listed with their line and reason; the good ones are imported."
        )
        @OptionGroup var common: CommonOptions
        @Argument(help: "The CSV file.") var file: String
        @Option(help: "Tenant id.") var tenant: String
        @Flag(name: .customLong("dry-run"), help: "Check and count, write nothing.") var dryRun = false
        @Flag(name: .customLong("stop-list"), help: "The file is a STOP list: its numbers go to do-not-contact.") var stopList = false
        @Flag(help: "Print the report as JSON.") var json = false

        func run() async throws {
            guard let data = FileManager.default.contents(atPath: file) else { throw SpoolCommandError("\(file): cannot be read") }
            let region = try Runtime.load(common).settings.defaultRegion
            let quiet = json
            let report = try await withSMS(common) { pool, _ in
                var importer = ContactImporter(pool: pool, defaultRegion: region)
                importer.maximumRejections = 10_000  // the operator's own terminal: list more than the API does
                return try await importer.run(tenantID: tenant, csv: Array(data), dryRun: dryRun, stopList: stopList) { rows in
                    if !quiet { printError("  \(rows) rows written") }
                }
            }
            if json { print(jsonText(report)); return }
            for rejection in report.rejected { print("line \(rejection.line): \(rejection.reason)") }
            if report.rejectedTruncated { print("... and \(report.rejectedTotal - report.rejected.count) more rejected lines") }
            print(
                "\(report.rows) rows: \(report.valid) valid (\(report.inserted) new, \(report.updated) updated, \(report.duplicates) duplicates merged), "
                    + "\(report.rejectedTotal) rejected\(dryRun ? " (dry run: nothing written)" : "")")
            if report.rejectedTotal > 0 { throw ExitCode(2) }
        }
    }
}

/// `spool campaign create|launch|pause|resume|cancel|report`.
struct CampaignCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "campaign", abstract: "Create, launch, pause, resume, cancel and report SMS campaigns.",
        subcommands: [Create.self, Launch.self, Pause.self, Resume.self, Cancel.self, Report.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a draft campaign; prints its id.")
        @OptionGroup var common: CommonOptions
        @Option(help: "Tenant id.") var tenant: String
        @Option(help: "The campaign's name.") var name: String
        @Option(help: "Sender: one of the tenant's numbers (`spool number add`): E.164, a short code or a messaging service sid.") var from:
            String
        @Option(help: "Message template: {{first_name}}, {{last_name}} and custom fields.") var body: String
        @Flag(help: "Print {\"id\": ...} as JSON.") var json = false

        func run() async throws {
            let campaign = try await withSMS(common) { pool, _ in
                try await CampaignStore(pool: pool, enqueuer: nil).create(tenantID: tenant, name: name, sender: from, body: body)
            }
            print(json ? jsonText(["id": campaign.id]) : campaign.id)
        }
    }

    struct Launch: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Launch: one message and one send job per recipient. Idempotent.",
            discussion: "With --at, a worker launches it at that instant; cancel it until then, or launch again to move it.")
        @OptionGroup var common: CommonOptions
        @Argument(help: "Campaign id.") var id: String
        @Option(help: "Launch at this instant instead of now (ISO 8601 with an offset, e.g. 2026-12-24T09:00:00-05:00).") var at: String?
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            var atMs: Int64?
            if let at {
                do { atMs = try CivilTime.unixMillis(iso8601: at) } catch {
                    throw ValidationError("--at '\(at.prefix(60))': \(error); expected \(CivilTime.iso8601Form)")
                }
            }
            enum Launched: Sendable { case now(CampaignStore.LaunchReport), scheduled(Campaign) }
            let launched = try await withSMS(common) { pool, runtime -> Launched in
                var store = CampaignStore(
                    pool: pool,
                    enqueuer: Enqueuer(redis: runtime.redis(name: "launch"), catalog: runtime.catalog, keys: runtime.settings.keys))
                store.segmentCents = runtime.settings.segmentCents
                if let atMs { return .scheduled(try await store.scheduleLaunch(id: id, atMs: atMs)) }
                return .now(try await store.launch(id: id))
            }
            let report: CampaignStore.LaunchReport
            switch launched {
            case .scheduled(let scheduled):
                let when = scheduled.launchAtMs.map { CivilTime(unixMillis: $0).rfc3339 } ?? "-"
                print(json ? jsonText(["id": id, "status": scheduled.status.rawValue, "launch_at": when]) : "scheduled \(id) to launch at \(when)")
                return
            case .now(let value): report = value
            }
            if json { print(jsonText(report)); return }
            print(
                "launched \(id): \(report.queued) queued, \(report.skipped) skipped, \(report.enqueued) jobs enqueued in \(String(format: report.seconds)) s"
            )
        }
    }

    struct Pause: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Pause: the remaining messages wait.")
        @OptionGroup var common: CommonOptions
        @Argument(help: "Campaign id.") var id: String
        func run() async throws { try await control(common, id, .pause) }
    }

    struct Resume: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Resume a paused campaign.")
        @OptionGroup var common: CommonOptions
        @Argument(help: "Campaign id.") var id: String
        func run() async throws { try await control(common, id, .resume) }
    }

    struct Cancel: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Cancel: the remaining messages are skipped.")
        @OptionGroup var common: CommonOptions
        @Argument(help: "Campaign id.") var id: String
        func run() async throws { try await control(common, id, .cancel) }
    }

    struct Report: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Counts by status and skip reason, delivery rate, cost, throughput.")
        @OptionGroup var common: CommonOptions
        @Argument(help: "Campaign id.") var id: String
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            guard let report = try await withSMS(common, { pool, _ in try await CampaignReports(pool: pool).report(campaignID: id) }) else {
                throw SpoolCommandError("no campaign '\(id)'")
            }
            if json { print(jsonText(report)); return }
            let campaign = report.campaign
            print("\(campaign.id)  \(campaign.status.rawValue)  \(campaign.name)  \(report.total) \(report.purpose.rawValue) messages")
            for (status, count) in report.byStatus.sorted(by: { $0.key < $1.key }) { print("  \(status): \(count)") }
            for (reason, count) in report.bySkipReason.sorted(by: { $0.key < $1.key }) { print("  skipped, \(reason): \(count)") }
            print(
                "  delivery rate: \(report.deliveryRate.map { String(format: $0 * 100) + "%" } ?? "no receipts yet"), cost: \(report.costCents) cents"
            )
            if let peak = report.sentPerMinute.map(\.sent).max() { print("  busiest minute: \(peak) sent") }
        }
    }

    static func control(_ common: CommonOptions, _ id: String, _ action: CampaignStore.Control) async throws {
        let campaign = try await withSMS(common) { pool, _ in try await CampaignStore(pool: pool, enqueuer: nil).control(id: id, action) }
        print("\(campaign.id): \(campaign.status.rawValue)")
    }
}

private func withSMS<T: Sendable>(_ common: CommonOptions, _ body: (PostgresPool, Runtime) async throws -> T) async throws -> T {
    let runtime = try Runtime.load(common)
    let pool = try runtime.postgres(size: 2)
    defer { pool.close() }
    try await Migrator(pool: pool).migrate()
    do {
        return try await body(pool, runtime)
    } catch let error as ContactImporter.InputError {
        throw SpoolCommandError(error.message)
    }
}
