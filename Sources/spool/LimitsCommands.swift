import ArgumentParser
import SpoolQueue
import SpoolSupport

/// `spool limits set|clear|show`: run-time limits, applied by every worker within a second.
struct LimitsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "limits", abstract: "Show limiters, or set and clear limits at run time without a restart.",
        subcommands: [Show.self, Set.self, Clear.self])

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Limiters in use (last hour) and the run-time settings.")
        @OptionGroup var common: CommonOptions
        @Flag(help: "Print JSON.") var json = false

        struct Output: Encodable { let limiters: [LimiterState]; let overrides: [String: String] }

        func run() async throws {
            let runtime = try Runtime.load(common)
            let admin = runtime.admin(runtime.redis())
            let limiters = try await admin.limiters()
            let overrides = try await admin.limitOverrides().mapValues(\.summary)
            if json { print(jsonText(Output(limiters: limiters, overrides: overrides))); return }
            printLimiters(limiters)
            print(
                overrides.isEmpty
                    ? "no run-time settings: the declarations in Jobs/ are in force"
                    : "run-time settings:\n"
                        + overrides.sorted { $0.key < $1.key }.map { "  \($0.key): \($0.value)" }.joined(separator: "\n"))
        }
    }

    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Set a limit for one key (sms:sender:+15005550006) or a declared template (sms:sender:{from}).",
            discussion:
                "Give exactly one of --rate (with --burst), --concurrency or --quota. Examples:\n  spool limits set 'sms:sender:{from}' --rate 1/s\n  spool limits set sms:sender:+18005550100 --rate 3/s --burst 3\n  spool limits set 'tenant:{tenant}:sms:daily' --quota 10000/day"
        )
        @OptionGroup var common: CommonOptions
        @Argument(help: "A limit key or a declared template.") var key: String
        @Option(help: "Units per period: 5/s, 500/min, 1000/hour.") var rate: String?
        @Option(help: "Units a rate limit lets through at once after a quiet spell (default 1).") var burst: Int?
        @Option(help: "Most jobs holding the key at once.") var concurrency: Int?
        @Option(help: "Units per calendar window: 10000/day, 600/min.") var quota: String?

        func run() async throws {
            let spec = try parseSpec()
            let runtime = try Runtime.load(common)
            try await runtime.admin(runtime.redis()).setLimit(key, spec)
            print("\(key): \(spec.summary) (workers apply it within a second)")
        }

        func parseSpec() throws -> LimitSpec {
            let given = [rate != nil, concurrency != nil, quota != nil].filter { $0 }.count
            guard given == 1 else { throw ValidationError("give exactly one of --rate, --concurrency or --quota") }
            if burst != nil && rate == nil { throw ValidationError("--burst goes with --rate") }
            do {
                if let rate {
                    let (units, period) = try LimitSpec.parseRate(rate)
                    guard (burst ?? 1) >= 1 else { throw ValidationError("--burst: \(burst!) must be at least 1") }
                    return .rate(units: units, period: period, burst: burst ?? 1)
                }
                if let concurrency {
                    guard concurrency >= 1 else { throw ValidationError("--concurrency: \(concurrency) must be at least 1") }
                    return .concurrency(max: concurrency)
                }
                let (units, window) = try LimitSpec.parseRate(quota!)
                guard window >= .seconds(60) else {
                    throw ValidationError("--quota: '\(quota!)' needs a window of a minute, an hour or a day")
                }
                return .quota(units: units, window: window)
            } catch let error as SpoolConfigError {
                throw ValidationError("--\(rate != nil ? "rate" : "quota"): \(error.message)")
            }
        }
    }

    struct Clear: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Drop a run-time setting; the declaration in Jobs/ is in force again.")
        @OptionGroup var common: CommonOptions
        @Argument(help: "The key or template given to `set`.") var key: String

        func run() async throws {
            let runtime = try Runtime.load(common)
            if try await runtime.admin(runtime.redis()).clearLimit(key) {
                print("\(key): cleared")
            } else {
                printError("no run-time setting for '\(key)'")
                throw ExitCode(1)
            }
        }
    }
}

func printLimiters(_ limiters: [LimiterState]) {
    if limiters.isEmpty { print("limiters: none used in the last hour"); return }
    let now = SystemClock().nowMillis()
    let header = ["limiter", "limit", "state", "postponed", "admitted", "denied", "paused"]
    let rows = limiters.map { state -> [String] in
        var now_ = ""
        if let tokens = state.tokens { now_ = String(format: tokens) + " tokens" }
        if let holders = state.holders { now_ = "\(holders) held" }
        if let used = state.used { now_ = "\(used) used" }
        let paused = state.pausedUntil.map { "for \(String(format: Double($0 - now) / 1000))s" } ?? ""
        return [state.key, state.limit, now_, "\(state.postponed)", "\(state.admitted)", "\(state.denied)", paused]
    }
    printTable([header] + rows)
}
