import Foundation
import SpoolPostgres
import SpoolQueue
import SpoolSMS
import SpoolStore
import TestSupport
import Testing

/// The state types say the same words as the SQL check constraints and the Lua scripts.
@Suite struct StatusMirrorTests {
    func checkedWords(_ constraint: String, _ pool: PostgresPool) async throws -> Set<String> {
        let definition = try await pool.withConnection { db in
            try db.query("SELECT pg_get_constraintdef(oid) AS d FROM pg_constraint WHERE conname = $1", [constraint]).first?.string("d")
        }
        return Set(try #require(definition).split(separator: "'").enumerated().filter { $0.offset % 2 == 1 }.map { String($0.element) })
    }

    @Test func messageAndCampaignStatusesAndPurposesMirrorTheirCheckConstraints() async throws {
        let pool = PostgresPool(url: try TestPostgres.freshDatabase(), logger: TestEnvironment.logger)
        defer { pool.close() }
        try await Migrator(pool: pool).migrate()
        #expect(try await checkedWords("messages_status_check", pool) == Set(MessageStatus.allCases.map(\.rawValue)))
        #expect(try await checkedWords("campaigns_status_check", pool) == Set(CampaignStatus.allCases.map(\.rawValue)))
        #expect(try await checkedWords("messages_purpose_check", pool) == Set(MessagePurpose.allCases.map(\.rawValue)))
    }

    /// Every state a script writes into a job's hash is a `JobState`.
    @Test func everyStateTheScriptsWriteIsAJobState() throws {
        let folder = TestEnvironment.packageRoot + "/Sources/SpoolQueue/Scripts"
        var written: Set<String> = []
        for file in try FileManager.default.contentsOfDirectory(atPath: folder) where file.hasSuffix(".lua") {
            let text = try String(contentsOfFile: folder + "/" + file, encoding: .utf8)
            let parts = text.components(separatedBy: "'state', '")
            for part in parts.dropFirst() { written.insert(String(part.prefix { $0 != "'" })) }
        }
        #expect(!written.isEmpty)
        #expect(written.isSubset(of: Set(JobState.allCases.map(\.rawValue))), "\(written.subtracting(JobState.allCases.map(\.rawValue)))")
    }
}
