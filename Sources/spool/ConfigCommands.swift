import ArgumentParser
import SpoolJobs
import SpoolPostgres
import SpoolQueue
import SpoolSupport

/// `spool config show` and `spool config check`: what a process started here would use, and whether
/// it would start.
struct ConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config", abstract: "Show or check the settings a process would use (file, then environment, then flags).",
        subcommands: [Show.self, Check.self])

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Every setting, its value (secrets as ***) and where it came from.")
        @OptionGroup var common: CommonOptions
        @OptionGroup var workerSettings: WorkerSettingOptions
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let runtime = try Runtime.load(common, flags: workerSettings.flags)
            let entries = runtime.settings.entries
            if json {
                print(
                    JSONValue.array(
                        entries.map { .object(["name": .string($0.name), "value": .string($0.value), "source": .string($0.source)]) }
                    ).text)
                return
            }
            let width = entries.map(\.name.count).max() ?? 0
            for entry in entries {
                print(entry.name + String(repeating: " ", count: width + 2 - entry.name.count) + entry.value + "  (\(entry.source))")
            }
        }
    }

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Load the settings and Jobs/ as a process would, reach Redis and PostgreSQL, and list what production should not run with.")
        @OptionGroup var common: CommonOptions
        @OptionGroup var workerSettings: WorkerSettingOptions

        func run() async throws {
            // A bad value or declaration ends here, naming the variable, file, field or flag.
            let runtime = try Runtime.load(common, flags: workerSettings.flags, checkHandlers: true)
            print("settings and \(runtime.catalog.kinds.count) job kinds (\(runtime.catalog.kinds.joined(separator: ", "))): ok")
            var failed = false
            let redis = runtime.redis(name: "config-check")
            defer { redis.close() }
            do {
                _ = try await redis.run("PING").checked("PING")
                print("redis \(runtime.settings.redisURL): reachable")
            } catch {
                print("redis \(runtime.settings.redisURL): \(error)")
                failed = true
            }
            if runtime.settings.databaseURL != nil {
                let pool = try runtime.postgres(size: 1)
                defer { pool.close() }
                do {
                    _ = try await pool.withConnection { try $0.query("SELECT 1") }
                    print("postgres: reachable")
                } catch {
                    print("postgres: \(error)")
                    failed = true
                }
            }
            for warning in runtime.settings.warnings { print("warning: \(warning)") }
            if failed { throw ExitCode(1) }
        }
    }
}
