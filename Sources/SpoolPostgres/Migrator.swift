/// Applies migrations in version order, each in its own transaction, and records them in
/// `schema_migrations`. An advisory lock lets any number of `spool migrate` run at once safely: one
/// applies, the others wait and then find nothing left to do. A migration that was applied and has
/// since been edited is refused: write a new migration instead.
public struct Migrator: Sendable {
    public let pool: PostgresPool
    public let migrations: [Migration]
    /// An arbitrary constant naming Spool's migration lock among the server's advisory locks.
    static let lockKey = 7_465_626_372

    public init(pool: PostgresPool, migrations: [Migration] = SpoolMigrations.all) {
        self.pool = pool
        self.migrations = migrations.sorted { $0.version < $1.version }
    }

    /// Applies what is pending; returns the names applied now.
    @discardableResult
    public func migrate() async throws -> [String] {
        let migrations = self.migrations
        if let duplicate = Dictionary(grouping: migrations, by: \.version).first(where: { $0.value.count > 1 }) {
            throw PostgresError(
                .migration, "two migrations have version \(duplicate.key): \(duplicate.value.map(\.name).joined(separator: ", "))")
        }
        return try await pool.withConnection { connection in
            try connection.query("SELECT pg_advisory_lock($1)", [Self.lockKey])
            defer { _ = try? connection.query("SELECT pg_advisory_unlock($1)", [Self.lockKey]) }
            try connection.execute(
                """
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    version bigint PRIMARY KEY,
                    name text NOT NULL,
                    checksum text NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now())
                """)
            var applied: [Int: (name: String, checksum: String)] = [:]
            for row in try connection.query("SELECT version, name, checksum FROM schema_migrations").rows {
                applied[try row.int("version") ?? 0] = (try row.string("name") ?? "", try row.string("checksum") ?? "")
            }
            for migration in migrations {
                guard let done = applied[migration.version] else { continue }
                if done.checksum != migration.checksum {
                    throw PostgresError(
                        .migration,
                        "\(migration.name).sql was applied (as \(done.name)) and has changed since: its checksum was \(done.checksum.prefix(12)), it is now \(migration.checksum.prefix(12)). Restore it and put the change in a new migration."
                    )
                }
            }
            var appliedNow: [String] = []
            for migration in migrations where applied[migration.version] == nil {
                try connection.execute("BEGIN")
                do {
                    try connection.execute(migration.sql)
                    try connection.query(
                        "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                        [migration.version, migration.name, migration.checksum])
                    try connection.execute("COMMIT")
                } catch {
                    try? connection.execute("ROLLBACK")
                    throw PostgresError(.migration, "\(migration.name).sql failed and was rolled back: \(error)")
                }
                appliedNow.append(migration.name)
            }
            return appliedNow
        }
    }
}
