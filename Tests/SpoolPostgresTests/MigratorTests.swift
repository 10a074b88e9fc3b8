import SpoolPostgres
import TestSupport
import Testing

@Suite struct MigratorTests {
    let migrations = [
        Migration(version: 1, name: "0001_create_a", sql: "CREATE TABLE a (n int)"),
        Migration(version: 2, name: "0002_add_b", sql: "ALTER TABLE a ADD COLUMN b text; CREATE INDEX a_b ON a (b)"),
    ]

    func pool(_ url: PostgresURL) -> PostgresPool {
        var options = PostgresPool.Options()
        options.size = 2
        return PostgresPool(url: url, options: options, logger: TestEnvironment.logger)
    }

    @Test func appliesInOrderOnceAndRecordsThem() async throws {
        let pool = pool(try TestPostgres.freshDatabase())
        #expect(try await Migrator(pool: pool, migrations: migrations.reversed()).migrate() == ["0001_create_a", "0002_add_b"])
        #expect(try await Migrator(pool: pool, migrations: migrations).migrate() == [])
        let recorded = try await pool.withConnection {
            try $0.query("SELECT name FROM schema_migrations ORDER BY version").rows.map { try $0.string("name") }
        }
        #expect(recorded == ["0001_create_a", "0002_add_b"])
    }

    @Test func concurrentMigratorsApplyEachMigrationOnce() async throws {
        let url = try TestPostgres.freshDatabase()
        let results = try await withThrowingTaskGroup(of: [String].self) { group in
            for _ in 0..<4 { group.addTask { try await Migrator(pool: pool(url), migrations: migrations).migrate() } }
            return try await group.reduce(into: [[String]]()) { $0.append($1) }
        }
        #expect(results.flatMap { $0 }.sorted() == ["0001_create_a", "0002_add_b"])
    }

    @Test func aChangedAppliedMigrationIsRefused() async throws {
        let pool = pool(try TestPostgres.freshDatabase())
        try await Migrator(pool: pool, migrations: migrations).migrate()
        let edited = [migrations[0], Migration(version: 2, name: "0002_add_b", sql: "ALTER TABLE a ADD COLUMN b integer")]
        await #expect {
            try await Migrator(pool: pool, migrations: edited).migrate()
        } throws: { error in
            "\(error)".contains("0002_add_b.sql was applied") && "\(error)".contains("has changed since")
        }
    }

    @Test func aFailingMigrationRollsBackAndNamesItself() async throws {
        let pool = pool(try TestPostgres.freshDatabase())
        let broken = migrations + [Migration(version: 3, name: "0003_broken", sql: "CREATE TABLE c (n int); SELECT * FROM missing_table")]
        await #expect {
            try await Migrator(pool: pool, migrations: broken).migrate()
        } throws: { error in
            "\(error)".contains("0003_broken.sql failed and was rolled back") && "\(error)".contains("missing_table")
        }
        // The failed migration left nothing behind: table c does not exist, and 1 and 2 stay applied.
        let tables = try await pool.withConnection {
            try $0.query("SELECT count(*) AS n FROM pg_tables WHERE tablename = 'c'").first?.int("n")
        }
        #expect(tables == 0)
        #expect(try await pool.withConnection { try $0.query("SELECT count(*) AS n FROM schema_migrations").first?.int("n") } == 2)
    }

    @Test func spoolsOwnMigrationsApply() async throws {
        let pool = pool(try TestPostgres.freshDatabase())
        #expect(try await Migrator(pool: pool).migrate() == SpoolMigrations.all.map(\.name))
    }
}
