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
    /// Who may enqueue it through the API and the CLI (`"enqueue"` in the declaration).
    public var enqueue: EnqueuePolicy = .tenants
    /// At most one job per key waiting (or running) at a time (`"unique"`; see UniqueSpec).
    public var unique: UniqueSpec?

    public init(
        kind: String, queue: String = "default", timeout: Duration = .seconds(30), maxAttempts: Int = 25,
        backoff: Backoff = .polynomial, idempotencyTTL: Duration = .seconds(86_400),
        arguments: ArgumentSchema = ArgumentSchema(), limits: [LimitDeclaration] = []
    ) {
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

/// Who may enqueue a kind from outside Spool. Jobs whose arguments Spool must be able to trust (a
/// `send` names the message row and the sender whose limiter it books) are created only by Spool
/// itself; diagnostics with side effects (`noop`) only by the operator.
public enum EnqueuePolicy: String, Sendable, CaseIterable {
    /// Any key with the enqueue scope, for its own tenant.
    case tenants
    /// Only the operator key (and Spool itself).
    case `operator`
    /// Only Spool's own code (campaigns, replies, reminders); never `POST /v1/jobs`.
    case `internal`
}

/// The declared arguments of a kind: each field's JSON type and whether it must be present.
/// Producers are checked against it before anything is enqueued.
public struct ArgumentSchema: Sendable, Equatable {
    public enum FieldType: String, Sendable, CaseIterable { case string, integer, number, boolean, object, array }
    public struct Field: Sendable, Equatable {
        public var type: FieldType
        public var required: Bool
        /// Bounds of an integer or number (`"minimum"`, `"maximum"`).
        public var minimum: Double?
        public var maximum: Double?
        /// Most UTF-8 bytes of a string (`"max_length"`).
        public var maxLength: Int?
        public init(type: FieldType, required: Bool, minimum: Double? = nil, maximum: Double? = nil, maxLength: Int? = nil) {
            self.type = type
            self.required = required
            self.minimum = minimum
            self.maximum = maximum
            self.maxLength = maxLength
        }

        /// What is wrong with a value of the right type, or nil.
        func problem(with value: JSONValue) -> String? {
            if let number = value.numberValue {
                if let minimum, number < minimum { return "\(value.text.prefix(40)) is below the minimum \(minimum.compact)" }
                if let maximum, number > maximum { return "\(value.text.prefix(40)) is above the maximum \(maximum.compact)" }
            }
            if let maxLength, let text = value.stringValue, text.utf8.count > maxLength {
                return "\(text.utf8.count) bytes; at most \(maxLength)"
            }
            return nil
        }
    }
    public var fields: [String: Field] = [:] {
        didSet { ordered = fields.sorted { $0.key < $1.key } }
    }
    /// `fields` by name, sorted once rather than for every job checked (bulk enqueue's hot path).
    private var ordered: [(key: String, value: Field)] = []
    /// When false, fields the schema does not list are refused.
    public var allowsOtherFields = true

    public init(fields: [String: Field] = [:], allowsOtherFields: Bool = true) {
        self.fields = fields
        self.ordered = fields.sorted { $0.key < $1.key }
        self.allowsOtherFields = allowsOtherFields
    }

    public static func == (a: ArgumentSchema, b: ArgumentSchema) -> Bool {
        a.fields == b.fields && a.allowsOtherFields == b.allowsOtherFields
    }

    /// Checks arguments; every problem is listed as `args.<field>: <what is wrong>`.
    public func problems(in args: JSONValue) -> [String] {
        guard let object = args.objectValue else { return ["args: expected a JSON object, got \(args.typeName)"] }
        var problems: [String] = []
        for (name, field) in ordered {
            guard let value = object[name], value != .null else {
                if field.required { problems.append("args.\(name): required \(field.type.rawValue) is missing") }
                continue
            }
            if !field.type.accepts(value) {
                problems.append("args.\(name): expected \(field.type.rawValue), got \(value.typeName) \(value.text.prefix(40))")
            } else if let problem = field.problem(with: value) {
                problems.append("args.\(name): \(problem)")
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
