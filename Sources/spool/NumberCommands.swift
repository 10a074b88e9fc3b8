import ArgumentParser
import FoundationEssentials
import SpoolPostgres
import SpoolStore

/// `spool number add|set|list|remove`: the sender numbers each tenant holds, and each number's AI
/// settings. A campaign sends only from its tenant's own numbers, so that no tenant books another's
/// `sms:sender:{from}` limiter.
struct NumberCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "number", abstract: "Manage tenants' sender numbers and their AI settings: add, set, list, remove.",
        subcommands: [Add.self, Set.self, List.self, Remove.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Register a sender number to a tenant; adding the tenant's own again changes nothing but the settings given.",
            discussion:
                "A number is E.164 (+15005550006), whatsapp:+E.164, a 5-6 digit short code or a messaging service sid (MG...). A number another tenant holds is refused. --ai-reply and --prompt set the number's AI settings as `spool number set` does."
        )
        @OptionGroup var common: CommonOptions
        @Argument(help: "The number.") var number: String
        @Option(help: "Tenant id.") var tenant: String
        @OptionGroup var settings: AISettingOptions
        @Flag(help: "Print {\"id\": ..., \"number\": ...} as JSON.") var json = false

        func run() async throws {
            let change = try settings.change()
            let registration = try await withNumbers(common) { (numbers: SenderNumbers) async throws -> SenderNumbers.Registration in
                guard let change else { return try await numbers.register(number, tenantID: tenant) }
                return try await numbers.configure(number, tenantID: tenant, aiReply: change.aiReply, prompt: change.prompt)
            }
            if json {
                print(jsonText(Added(id: registration.number.id, number: registration.number.number)))
            } else {
                print(
                    "\(registration.number.number) \(registration.created ? "registered to" : "was already registered to") tenant \(tenant)"
                        + (change == nil ? "" : "; \(aiSummary(registration.number))"))
            }
        }

        struct Added: Encodable { let id: Int; let number: String }
    }

    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Set a number's AI settings: whether the AI answers its conversations, and its prompt.",
            discussion:
                "Settings left out are kept. With --tenant, a number no tenant holds is registered to it first; without, the number must be registered already. --prompt @FILE reads the prompt from FILE."
        )
        @OptionGroup var common: CommonOptions
        @Argument(help: "The number.") var number: String
        @Option(help: "Tenant id: the tenant that holds, or is to hold, the number; by default whichever holds it.") var tenant: String?
        @OptionGroup var settings: AISettingOptions
        @Flag(help: "Print the number as JSON.") var json = false

        func run() async throws {
            let change = try settings.change() ?? AISettingOptions.Change(aiReply: nil, prompt: .keep)
            let given = tenant
            let number = self.number
            let registration = try await withNumbers(common) { (numbers: SenderNumbers) async throws -> SenderNumbers.Registration in
                var holder = given
                if holder == nil { holder = try await numbers.owner(of: number) }
                guard let tenantID = holder else {
                    throw SpoolCommandError("number: '\(number)' is not registered to any tenant; give --tenant to register it")
                }
                return try await numbers.configure(number, tenantID: tenantID, aiReply: change.aiReply, prompt: change.prompt)
            }
            if json { print(jsonText(registration.number)); return }
            let verb = registration.created ? "registered to" : "of"
            print("\(registration.number.number) \(verb) tenant \(registration.number.tenantID): \(aiSummary(registration.number))")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List sender numbers: one tenant's, or every tenant's.")
        @OptionGroup var common: CommonOptions
        @Option(help: "Tenant id; every tenant's when left out.") var tenant: String?
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let numbers = try await withNumbers(common) { try await $0.list(tenantID: tenant) }
            if json { print(jsonText(numbers)); return }
            for number in numbers {
                print("\(number.number)  \(number.tenantID)  \(number.createdAt ?? "")  ai-reply \(number.aiReply ? "on" : "off")")
            }
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

/// `--ai-reply on|off` and `--prompt TEXT|@FILE`, which `number add` and `number set` take.
struct AISettingOptions: ParsableArguments {
    @Option(name: .customLong("ai-reply"), help: "on or off: whether the AI answers this number's conversations.") var aiReply: String?
    @Option(help: "The AI's system prompt, or @FILE to read it from FILE (1 to 20,000 characters).") var prompt: String?
    @Flag(name: .customLong("clear-prompt"), help: "Remove the number's prompt.") var clearPrompt = false

    struct Change: Sendable {
        let aiReply: Bool?
        let prompt: SenderNumberPrompt
    }

    /// The settings asked for, checked; nil when none was.
    func change() throws -> Change? {
        var reply: Bool?
        if let aiReply {
            switch aiReply.lowercased() {
            case "on": reply = true
            case "off": reply = false
            default: throw ValidationError("--ai-reply: expected on or off, got '\(aiReply.prefix(40))'")
            }
        }
        if clearPrompt && prompt != nil { throw ValidationError("--prompt and --clear-prompt: give one or the other") }
        var change = SenderNumberPrompt.keep
        if clearPrompt { change = .clear }
        if let prompt {
            let text = try Self.read(prompt)
            // "--prompt: must be 1 to 20000 characters, got 0": the option, then what is wrong with its value.
            do { try SenderNumbers.checkPrompt(text) } catch { throw ValidationError("--\(error.description)") }
            change = .set(text)
        }
        guard reply != nil || change != .keep else { return nil }
        return Change(aiReply: reply, prompt: change)
    }

    /// The prompt itself, or with `@FILE` the file's contents; a file that cannot be read is named.
    static func read(_ argument: String) throws -> String {
        guard argument.hasPrefix("@") else { return argument }
        let path = String(argument.dropFirst())
        guard !path.isEmpty else { throw ValidationError("--prompt: '@' names no file; give @FILE") }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw SpoolCommandError("--prompt: cannot read the file '\(path)' (it does not exist, or is not readable)")
        }
        return String(decoding: data, as: UTF8.self)
    }
}

/// What a number's AI settings are, for a line of output.
private func aiSummary(_ number: SenderNumber) -> String {
    let prompt = number.aiPrompt.map { "prompt of \($0.unicodeScalars.count) characters" } ?? "no prompt"
    return "ai-reply \(number.aiReply ? "on" : "off"), \(prompt)"
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
