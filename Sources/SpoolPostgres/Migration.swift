import SpoolSupport

/// One schema change: a plain SQL file named `NNNN_what_it_does.sql`, applied once, in version order.
public struct Migration: Sendable, Equatable {
    public let version: Int
    public let name: String
    public let sql: String

    /// Identifies the file's content, so that editing an applied migration is caught.
    public var checksum: String { Hashing.sha1Hex(Array(sql.utf8)) }

    public init(version: Int, name: String, sql: String) {
        self.version = version
        self.name = name
        self.sql = sql
    }

    /// Reads `NNNN_name.sql`; the error names the file when its name has no version.
    public init(fileName: String, sql: String) throws(PostgresError) {
        let digits = fileName.prefix { $0.isNumber }
        guard let version = Int(digits), fileName.hasSuffix(".sql"), fileName.dropFirst(digits.count).hasPrefix("_") else {
            throw PostgresError(.migration, "\(fileName): migration files are named NNNN_what_it_does.sql")
        }
        self.init(version: version, name: String(fileName.dropLast(4)), sql: sql)
    }
}

/// Spool's own migrations, compiled into the binary from `Migrations/`.
public enum SpoolMigrations {
    public static let all: [Migration] = [
        try! Migration(fileName: "0001_job_results.sql", sql: String(decoding: PackageResources._001_job_results_sql, as: UTF8.self)),
        try! Migration(
            fileName: "0002_tenants_and_api_keys.sql",
            sql: String(decoding: PackageResources._002_tenants_and_api_keys_sql, as: UTF8.self)),
        try! Migration(
            fileName: "0003_tenant_paused_by.sql", sql: String(decoding: PackageResources._003_tenant_paused_by_sql, as: UTF8.self)),
        try! Migration(fileName: "0004_sms.sql", sql: String(decoding: PackageResources._004_sms_sql, as: UTF8.self)),
        try! Migration(
            fileName: "0005_job_result_outcomes.sql",
            sql: String(decoding: PackageResources._005_job_result_outcomes_sql, as: UTF8.self)),
        try! Migration(fileName: "0006_sender_numbers.sql", sql: String(decoding: PackageResources._006_sender_numbers_sql, as: UTF8.self)),
        try! Migration(fileName: "0007_conversations.sql", sql: String(decoding: PackageResources._007_conversations_sql, as: UTF8.self)),
        try! Migration(
            fileName: "0008_message_purpose.sql", sql: String(decoding: PackageResources._008_message_purpose_sql, as: UTF8.self)),
        try! Migration(fileName: "0009_transcripts.sql", sql: String(decoding: PackageResources._009_transcripts_sql, as: UTF8.self)),
        try! Migration(fileName: "0010_ai_replies.sql", sql: String(decoding: PackageResources._010_ai_replies_sql, as: UTF8.self)),
        try! Migration(
            fileName: "0011_conversation_list.sql", sql: String(decoding: PackageResources._011_conversation_list_sql, as: UTF8.self)),
        try! Migration(
            fileName: "0012_reply_answers_through.sql",
            sql: String(decoding: PackageResources._012_reply_answers_through_sql, as: UTF8.self)),
        try! Migration(
            fileName: "0013_usage_indexes.sql", sql: String(decoding: PackageResources._013_usage_indexes_sql, as: UTF8.self)),
        try! Migration(fileName: "0014_schedules.sql", sql: String(decoding: PackageResources._014_schedules_sql, as: UTF8.self)),
        try! Migration(fileName: "0015_campaign_launch_at.sql", sql: String(decoding: PackageResources._015_campaign_launch_at_sql, as: UTF8.self)),
        try! Migration(fileName: "0016_calendars.sql", sql: String(decoding: PackageResources._016_calendars_sql, as: UTF8.self)),
        try! Migration(fileName: "0017_reminders.sql", sql: String(decoding: PackageResources._017_reminders_sql, as: UTF8.self)),
        try! Migration(
            fileName: "0018_dashboard_lists.sql", sql: String(decoding: PackageResources._018_dashboard_lists_sql, as: UTF8.self)),
        try! Migration(
            fileName: "0019_campaign_counts.sql", sql: String(decoding: PackageResources._019_campaign_counts_sql, as: UTF8.self)),
    ]
}
