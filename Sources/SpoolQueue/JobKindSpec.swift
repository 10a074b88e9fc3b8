import SpoolSupport
/// One job kind's policy, declared in `Jobs/<kind>.json`: which queue, how long it may run, how it
/// retries, and what its arguments look like. Policy is data; the handler is Swift.
public struct JobKindSpec: Sendable, Equatable {
    public var kind: String
    public var queue: String
    public var timeout: Duration
    public var maxAttempts: Int
    public var backoff: Backoff
    /// How long an idempotency key keeps answering with the first job's id.
    public var idempotencyTTL: Duration
    public var arguments: ArgumentSchema
    /// Limiters a job of this kind must pass before it runs, in order (see RateLimiter).
    public var limits: [LimitDeclaration]

    public init(kind: String, queue: String = "default", timeout: Duration = .seconds(30), maxAttempts: Int = 25,
                backoff: Backoff = .polynomial, idempotencyTTL: Duration = .seconds(86_400),
                arguments: ArgumentSchema = ArgumentSchema(), limits: [LimitDeclaration] = []) {
        self.limits = limits
        self.kind = kind
        self.queue = queue
        self.timeout = timeout
        self.maxAttempts = maxAttempts
        self.backoff = backoff
        self.idempotencyTTL = idempotencyTTL
        self.arguments = arguments
    }
}

/// The declared arguments of a kind: each field's JSON type and whether it must be present.
/// Producers are checked against it before anything is enqueued.
public struct ArgumentSchema: Sendable, Equatable {
    public enum FieldType: String, Sendable, CaseIterable { case string, integer, number, boolean, object, array }
    public struct Field: Sendable, Equatable {
        public var type: FieldType
        public var required: Bool
        public init(type: FieldType, required: Bool) {
            self.type = type
            self.required = required
        }
    }
    public var fields: [String: Field] = [:]
    /// When false, fields the schema does not list are refused.
    public var allowsOtherFields = true

    public init(fields: [String: Field] = [:], allowsOtherFields: Bool = true) {
        self.fields = fields
        self.allowsOtherFields = allowsOtherFields
    }

    /// Checks arguments; every problem is listed as `args.<field>: <what is wrong>`.
    public func problems(in args: JSONValue) -> [String] {
        guard let object = args.objectValue else { return ["args: expected a JSON object, got \(args.typeName)"] }
        var problems: [String] = []
        for (name, field) in fields.sorted(by: { $0.key < $1.key }) {
            guard let value = object[name], value != .null else {
                if field.required { problems.append("args.\(name): required \(field.type.rawValue) is missing") }
                continue
            }
            if !field.type.accepts(value) {
                problems.append("args.\(name): expected \(field.type.rawValue), got \(value.typeName) \(value.text.prefix(40))")
            }
        }
        if !allowsOtherFields {
            for name in object.keys.sorted() where fields[name] == nil {
                problems.append("args.\(name): not a declared argument of this kind")
            }
        }
        return problems
    }
}

extension ArgumentSchema.FieldType {
    func accepts(_ value: JSONValue) -> Bool {
        switch (self, value) {
        case (.string, .string), (.boolean, .bool), (.number, .number), (.object, .object), (.array, .array): return true
        case (.integer, .number): return value.intValue != nil
        default: return false
        }
    }
}
