import ArgumentParser
import SpoolPostgres

struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Apply pending PostgreSQL migrations (safe to run from several processes at once).")

    @OptionGroup var common: CommonOptions

    func run() async throws {
        let runtime = try Runtime.load(common)
        let pool = try runtime.postgres(size: 1)
        defer { pool.close() }
        let applied = try await Migrator(pool: pool).migrate()
        if applied.isEmpty {
            print("schema is up to date (\(SpoolMigrations.all.count) migrations)")
        } else {
            for name in applied { print("applied \(name)") }
        }
    }
}
