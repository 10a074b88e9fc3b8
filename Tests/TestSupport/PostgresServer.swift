import Foundation
import SpoolPostgres
import SpoolSupport

/// A PostgreSQL 15 server this test run started: initdb into a temporary folder, a private loopback
/// port, stopped by its own PID. PostgreSQL will not run as root, so when the tests run as root the
/// server runs as the `postgres` user.
public final class PostgresServer: @unchecked Sendable {
    private let server: LocalServer
    static let binaries = "/usr/lib/postgresql/15/bin"

    public var port: Int { server.port }

    /// The superuser's URL for database `name`.
    public func url(database name: String = "postgres") -> PostgresURL {
        try! PostgresURL(parsing: "postgres://spool@127.0.0.1:\(server.port)/\(name)")
    }

    public init() throws {
        server = try LocalServer(
            name: "pg", stopSignal: SIGINT,
            spawn: { server, port in
                // SIGINT is PostgreSQL's fast shutdown.
                try Self.spawnAsServerUser(
                    [
                        "\(Self.binaries)/postgres", "-D", "\(server.directory)/data", "-p", String(port), "-h", "127.0.0.1",
                        "-k", server.directory, "-c", "fsync=off", "-c", "full_page_writes=off", "-c", "max_connections=200",
                    ],
                    log: "\(server.directory)/postgres.log")
            },
            isReady: { port in
                (try? PostgresConnection(
                    url: PostgresURL(parsing: "postgres://spool@127.0.0.1:\(port)/postgres"), connectTimeout: .seconds(1))) != nil
            })
        try Self.asServerUser(
            [
                "\(Self.binaries)/initdb", "-D", "\(server.directory)/data", "-U", "spool", "--auth=trust", "-E", "UTF8",
                "--no-sync", "--locale=C",
            ], directory: server.directory, log: "\(server.directory)/initdb.log")
        try server.start()
    }

    /// Creates an empty database and returns its URL.
    public func createDatabase(_ name: String = "t_\(UUID().uuidString.prefix(8).lowercased())") throws -> PostgresURL {
        let admin = try PostgresConnection(url: url())
        try admin.execute("CREATE DATABASE \(name)")
        return url(database: name)
    }

    public func stop() { server.stop() }
    public func restart() throws { try server.restart() }

    private static var runsAsRoot: Bool { getuid() == 0 }

    /// Runs a command to completion as the server's user; throws with its log when it fails.
    static func asServerUser(_ arguments: [String], directory: String, log: String) throws {
        let child = try spawnAsServerUser(arguments, log: log)
        if child.wait() != 0 {
            throw TestFailure("\(arguments[0]) failed: \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
        }
    }

    static func spawnAsServerUser(_ arguments: [String], log: String) throws -> ChildProcess {
        guard FileManager.default.isExecutableFile(atPath: arguments[0]) else {
            throw TestFailure("\(arguments[0]) is missing: install postgresql-15 (scripts/test.sh does)")
        }
        if runsAsRoot {
            // The folder must belong to the server's user. setpriv switches user and execs, so the PID we
            // hold is the server's own and signals reach it.
            let folder = (arguments.firstIndex(of: "-D").map { arguments[$0 + 1] }).map { ($0 as NSString).deletingLastPathComponent } ?? ""
            if !folder.isEmpty { _ = try ChildProcess(["/bin/chown", "-R", "postgres:postgres", folder]).wait() }
            return try ChildProcess(
                ["/usr/bin/setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--"] + arguments, output: log)
        }
        return try ChildProcess(arguments, output: log)
    }
}

/// The PostgreSQL the tests share: the one scripts/test.sh started (SPOOL_TEST_DATABASE_URL, a superuser
/// URL), or one started here for the whole test process. Each test gets a database of its own.
public enum TestPostgres {
    private static let ownServer: PostgresServer? = {
        if ProcessInfo.processInfo.environment["SPOOL_TEST_DATABASE_URL"] != nil { return nil }
        let server = try? PostgresServer()
        if let server { StopAtExit.register { server.stop() } }
        return server
    }()

    /// A new, empty database on the shared server.
    public static func freshDatabase() throws -> PostgresURL {
        if let text = ProcessInfo.processInfo.environment["SPOOL_TEST_DATABASE_URL"] {
            let admin = try PostgresConnection(url: try PostgresURL(parsing: text))
            let name = "t_\(UUID().uuidString.prefix(8).lowercased())"
            try admin.execute("CREATE DATABASE \(name)")
            let base = text[..<(text.lastIndex(of: "/") ?? text.endIndex)]
            return try PostgresURL(parsing: "\(base)/\(name)")
        }
        guard let server = ownServer else { throw TestFailure("no SPOOL_TEST_DATABASE_URL and postgres could not be started") }
        return try server.createDatabase()
    }
}
