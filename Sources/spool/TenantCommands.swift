import ArgumentParser
import SpoolStore

/// `spool tenant create|list|pause|resume`: tenants in PostgreSQL (DATABASE_URL).
struct TenantCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tenant", abstract: "Manage tenants: create, list, pause (the kill switch), resume.",
        subcommands: [Create.self, List.self, Pause.self, Resume.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a tenant; prints its id.")
        @OptionGroup var common: CommonOptions
        @Argument(help: "The tenant's name.") var name: String
        @Option(help: "IANA time zone, the default for its contacts' quiet hours.") var timezone = "UTC"
        @Option(name: .customLong("daily-budget-cents"), help: "Daily spend cap.") var dailyBudgetCents: Int?
        @Option(name: .customLong("monthly-budget-cents"), help: "Monthly spend cap.") var monthlyBudgetCents: Int?
        @Flag(help: "Print {\"id\": ...} as JSON.") var json = false

        func run() async throws {
            let tenant = try await withTenants(common) { store in
                try await store.create(
                    name: name, timezone: timezone, dailyBudgetCents: dailyBudgetCents, monthlyBudgetCents: monthlyBudgetCents)
            }
            print(json ? jsonText(["id": tenant.id]) : tenant.id)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List tenants.")
        @OptionGroup var common: CommonOptions
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let tenants = try await withTenants(common) { try await $0.list() }
            if json { print(jsonText(tenants)); return }
            for tenant in tenants {
                print("\(tenant.id)  \(tenant.paused ? "PAUSED" : "active")  \(tenant.timezone)  \(tenant.name)")
            }
        }
    }

    struct Pause: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Pause a tenant: its jobs stay queued and are not run.")
        @OptionGroup var common: CommonOptions
        @Argument(help: "Tenant id.") var id: String

        func run() async throws { try await setPaused(common, id: id, true) }
    }

    struct Resume: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Resume a paused tenant; its parked jobs run again.")
        @OptionGroup var common: CommonOptions
        @Argument(help: "Tenant id.") var id: String

        func run() async throws { try await setPaused(common, id: id, false) }
    }
}

/// `spool key create|revoke`: API keys, stored as hashes; the secret is printed once.
struct KeyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "key", abstract: "Manage API keys: create, revoke.",
        subcommands: [Create.self, Revoke.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a key for a tenant; prints the secret once.")
        @OptionGroup var common: CommonOptions
        @Option(help: "Tenant id.") var tenant: String
        @Option(help: "read, enqueue or admin (each includes the ones before).") var scope: String
        @Flag(help: "Print {\"id\": ..., \"key\": ...} as JSON.") var json = false

        func run() async throws {
            guard let scope = APIScope(rawValue: scope) else { throw ValidationError("--scope: '\(scope)' is not read, enqueue or admin") }
            let created = try await withTenants(common) { try await $0.createKey(tenantID: tenant, scope: scope) }
            if json {
                print(jsonText(["id": created.id, "key": created.key]))
            } else {
                print("key \(created.id) (\(scope.rawValue)) for tenant \(tenant). Store it now; it is not shown again:\n\(created.key)")
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a key; API processes stop taking it within 2 s.")
        @OptionGroup var common: CommonOptions
        @Argument(help: "Key id.") var id: String

        func run() async throws {
            guard try await withTenants(common, { try await $0.revokeKey(id: id) }) else {
                throw SpoolCommandError("no live key '\(id)'")
            }
            print("revoked \(id)")
        }
    }
}

private func setPaused(_ common: CommonOptions, id: String, _ paused: Bool) async throws {
    guard let tenant = try await withTenants(common, { try await $0.setPaused(id: id, paused) }) else {
        throw SpoolCommandError("no tenant '\(id)'")
    }
    print("\(tenant.id) \(paused ? "paused" : "resumed")")
}

/// Runs `body` with a TenantStore on DATABASE_URL and Redis; input errors come out as `field: problem`.
private func withTenants<T: Sendable>(_ common: CommonOptions, _ body: (TenantStore) async throws -> T) async throws -> T {
    let runtime = try Runtime.load(common)
    let pool = try runtime.postgres(size: 1)
    let redis = runtime.redis()
    defer { pool.close(); redis.close() }
    do {
        return try await body(TenantStore(pool: pool, admin: runtime.admin(redis)))
    } catch let error as TenantStore.InputError {
        throw SpoolCommandError(error.description)
    }
}
