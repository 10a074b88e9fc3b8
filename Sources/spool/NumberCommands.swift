import ArgumentParser
import SpoolPostgres
import SpoolStore

/// `spool number add|list|remove`: the sender numbers each tenant holds. A campaign sends only from its
/// tenant's own numbers, so that no tenant books another's `sms:sender:{from}` limiter.
struct NumberCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "number", abstract: "Manage tenants' sender numbers: add, list, remove.",
        subcommands: [Add.self, List.self, Remove.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Register a sender number to a tenant; adding the tenant's own again changes nothing.",
            discussion:
                "A number is E.164 (+15005550006), whatsapp:+E.164, a 5-6 digit short code or a messaging service sid (MG...). A number another tenant holds is refused."
        )
        @OptionGroup var common: CommonOptions
        @Argument(help: "The number.") var number: String
        @Option(help: "Tenant id.") var tenant: String
        @Flag(help: "Print {\"id\": ..., \"number\": ...} as JSON.") var json = false

        func run() async throws {
            let registration = try await withNumbers(common) { try await $0.register(number, tenantID: tenant) }
            if json {
                print(jsonText(Added(id: registration.number.id, number: registration.number.number)))
            } else {
                print(
                    "\(registration.number.number) \(registration.created ? "registered to" : "was already registered to") tenant \(tenant)"
                )
            }
        }

        struct Added: Encodable { let id: Int; let number: String }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List sender numbers: one tenant's, or every tenant's.")
        @OptionGroup var common: CommonOptions
        @Option(help: "Tenant id; every tenant's when left out.") var tenant: String?
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let numbers = try await withNumbers(common) { try await $0.list(tenantID: tenant) }
            if json { print(jsonText(numbers)); return }
            for number in numbers { print("\(number.number)  \(number.tenantID)  \(number.createdAt ?? "")") }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a sender number; campaigns from it can no longer launch.")
        @OptionGroup var common: CommonOptions
        @Argument(help: "The number.") var number: String
        @Option(help: "Tenant id: remove the number only when this tenant holds it.") var tenant: String?

        func run() async throws {
            let removed = try await withNumbers(common) { try await $0.remove(number, tenantID: tenant) }
            print("removed \(removed.number) from tenant \(removed.tenantID)")
        }
    }
}

/// Runs `body` with SenderNumbers on DATABASE_URL (migrated first, as the SMS commands do); refusals
/// come out as `field: problem`.
private func withNumbers<T: Sendable>(_ common: CommonOptions, _ body: (SenderNumbers) async throws -> T) async throws -> T {
    let runtime = try Runtime.load(common)
    let pool = try runtime.postgres(size: 1)
    defer { pool.close() }
    try await Migrator(pool: pool).migrate()
    do {
        return try await body(SenderNumbers(pool: pool))
    } catch let error as SenderNumberError {
        throw SpoolCommandError(error.description)
    }
}
