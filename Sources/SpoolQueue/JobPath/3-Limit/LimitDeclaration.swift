import SpoolSupport

/// One limit a kind declares in `Jobs/<kind>.json`:
/// `{"key": "sms:sender:{from}", "rate": 1, "per": "second", "burst": 1, "cost": "{segments}"}`.
/// The key is a template filled from the job (see LimitKeyTemplate); the cost is a number of units
/// or an integer argument of the job, so that an SMS costs its segments and an AI request its tokens.
public struct LimitDeclaration: Sendable, Equatable {
    public enum Cost: Sendable, Equatable {
        case fixed(Int)
        case argument(String)
    }
    public var key: LimitKeyTemplate
    public var spec: LimitSpec
    public var cost: Cost
    /// What a handler calls the limit (`"name": "sender"`), so that it names the declaration rather
    /// than repeating the key template in Swift (`JobOutcome.throttled(limit: "sender")`).
    public var name: String?
    /// The most units one job may cost, whatever its declaration says.
    public static let maximumCost = 1_000_000

    /// True when filling in the key or the cost reads the job's arguments.
    var needsArguments: Bool {
        if case .argument = cost { return true }
        return key.parts.contains {
            if case .placeholder(let name) = $0 { return !LimitKeyTemplate.builtins.contains(name) }; return false
        }
    }

    public init(key: LimitKeyTemplate, spec: LimitSpec, cost: Cost = .fixed(1), name: String? = nil) {
        self.key = key
        self.spec = spec
        self.cost = cost
        self.name = name
    }

    /// Parses one entry of `limits`; `place` is like `Jobs/send.json: field 'limits[0]'`.
    static func parse(_ value: JSONValue, at place: String, arguments: ArgumentSchema) throws -> LimitDeclaration {
        guard let keyText = value["key"]?.stringValue else {
            throw SpoolConfigError("\(place).key: is required, a template like sms:sender:{from}")
        }
        let key = try LimitKeyTemplate(keyText, at: "\(place).key", arguments: arguments)
        let spec = try LimitSpec.parse(value, at: place, extra: ["key", "cost", "name"])
        var name: String?
        if let field = value["name"] {
            guard let text = field.stringValue, JobKindCatalog.isValidName(text) else {
                throw SpoolConfigError("\(place).name: expected 1-64 of a-z 0-9 - _, got \(field.text)")
            }
            name = text
        }
        var cost = Cost.fixed(1)
        if let field = value["cost"] {
            if let units = field.intValue, units >= 1 {
                cost = .fixed(units)
            } else if let text = field.stringValue, text.hasPrefix("{"), text.hasSuffix("}") {
                let name = String(text.dropFirst().dropLast())
                guard let declared = arguments.fields[name], declared.type == .integer else {
                    throw SpoolConfigError("\(place).cost: '\(text)' must name an integer argument declared in args")
                }
                // A cost books a limiter ahead; an unbounded one lets one job book it for years.
                guard let maximum = declared.maximum, maximum <= Double(LimitDeclaration.maximumCost), (declared.minimum ?? 0) >= 1 else {
                    throw SpoolConfigError(
                        "\(place).cost: argument '\(name)' must declare \"minimum\" >= 1 and \"maximum\" <= \(LimitDeclaration.maximumCost) in args, so no job can book the limiter far ahead"
                    )
                }
                cost = .argument(name)
            } else {
                throw SpoolConfigError("\(place).cost: expected a positive integer or \"{argument}\", got \(field.text)")
            }
            if case .concurrency = spec, cost != .fixed(1) {
                throw SpoolConfigError("\(place).cost: a concurrency limit counts jobs; it has no cost")
            }
        }
        return LimitDeclaration(key: key, spec: spec, cost: cost, name: name)
    }
}

/// A limit key with placeholders: `{tenant}`, `{queue}`, `{kind}`, or any argument of the job, e.g.
/// `sms:sender:{from}` or `tenant:{tenant}:sms`. Checked against the kind's arguments at start.
public struct LimitKeyTemplate: Sendable, Equatable, CustomStringConvertible {
    enum Part: Sendable, Equatable {
        case text(String)
        case placeholder(String)
    }
    public let text: String
    let parts: [Part]
    static let builtins: Set<String> = ["tenant", "queue", "kind"]
    /// The most bytes an argument may add to a limit key.
    public static let maximumPart = 128

    public init(_ text: String, at place: String = "key", arguments: ArgumentSchema? = nil) throws {
        guard !text.isEmpty, text.utf8.count <= 200 else { throw SpoolConfigError("\(place): '\(text)' must be 1-200 bytes") }
        var parts: [Part] = []
        var rest = Substring(text)
        while let open = rest.firstIndex(of: "{") {
            if open > rest.startIndex { parts.append(.text(String(rest[..<open]))) }
            guard let close = rest[open...].firstIndex(of: "}") else { throw SpoolConfigError("\(place): '\(text)' has a '{' without '}'") }
            let name = String(rest[rest.index(after: open)..<close])
            guard !name.isEmpty else { throw SpoolConfigError("\(place): '\(text)' has an empty placeholder {}") }
            if let arguments, !Self.builtins.contains(name) {
                guard let field = arguments.fields[name], [.string, .integer].contains(field.type) else {
                    throw SpoolConfigError(
                        "\(place): placeholder {\(name)} in '\(text)' is neither tenant, queue, kind nor a string or integer argument declared in args"
                    )
                }
                // Its value becomes part of a Redis key name: bounded, so no job can make megabyte keys.
                if field.type == .string, (field.maxLength ?? Int.max) > Self.maximumPart {
                    throw SpoolConfigError(
                        "\(place): placeholder {\(name)} in '\(text)': args.\(name) must declare \"max_length\" of at most \(Self.maximumPart)"
                    )
                }
            }
            parts.append(.placeholder(name))
            rest = rest[rest.index(after: close)...]
        }
        if rest.contains("}") { throw SpoolConfigError("\(place): '\(text)' has a '}' without '{'") }
        if !rest.isEmpty { parts.append(.text(String(rest))) }
        self.text = text
        self.parts = parts
    }

    public var description: String { text }

    /// The placeholders' values in a key this template rendered (`sms:sender:+1555` gives
    /// `["from": "+1555"]`), or nil when the key does not fit the template.
    public func values(in key: String) -> [String: String]? {
        var values: [String: String] = [:]
        var rest = Substring(key)
        for (index, part) in parts.enumerated() {
            switch part {
            case .text(let text):
                guard rest.hasPrefix(text) else { return nil }
                rest = rest.dropFirst(text.count)
            case .placeholder(let name):
                // Up to the next literal text (the shortest match), or the rest of the key when last.
                if index + 1 < parts.count, case .text(let next) = parts[index + 1] {
                    guard let end = rest.indices.first(where: { rest[$0...].hasPrefix(next) }) else { return nil }
                    values[name] = String(rest[..<end])
                    rest = rest[end...]
                } else {
                    values[name] = String(rest)
                    rest = rest[rest.endIndex...]
                }
            }
        }
        return rest.isEmpty ? values : nil
    }

    /// The key for one job, or why it has none (a missing argument: the job is malformed).
    func render(job: Job, args: JSONValue) -> Result<String, LimitKeyError> {
        render(tenant: job.tenant, queue: job.queue, kind: job.kind, args: args, naming: "limit key")
    }

    /// The key for a job about to be enqueued, or why it has none; `naming` says what the key is for.
    func render(tenant: String?, queue: String, kind: String, args: JSONValue, naming: String) -> Result<String, LimitKeyError> {
        var key = ""
        for part in parts {
            switch part {
            case .text(let text): key += text
            case .placeholder("tenant"): key += tenant ?? "-"
            case .placeholder("queue"): key += queue
            case .placeholder("kind"): key += kind
            case .placeholder(let name):
                switch args[name] {
                case .string(let value)? where !value.isEmpty && value.utf8.count <= Self.maximumPart: key += value
                case .number? where args[name]?.intValue != nil: key += String(args[name]!.intValue!)
                default:
                    let got = args[name].map { "\($0.typeName) of \($0.text.utf8.count) bytes: \($0.text.prefix(40))" } ?? "nothing"
                    return .failure(
                        LimitKeyError(
                            field: "args.\(name)",
                            message:
                                "\(naming) '\(text)' needs args.\(name) (a string of 1-\(Self.maximumPart) bytes or an integer), got \(got)"
                        ))
                }
            }
        }
        return .success(key)
    }
}

struct LimitKeyError: Error, Sendable {
    /// The argument that is missing or unfit.
    var field = "args"
    let message: String
}
