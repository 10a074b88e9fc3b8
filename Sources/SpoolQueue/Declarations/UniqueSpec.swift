import SpoolSupport

/// A kind's "unique" option (`"unique"` in `Jobs/<kind>.json`): at most one job per key waits to run
/// (or, with `while: pending_or_running`, waits or runs) at a time. Another enqueue with the same key
/// meanwhile is answered with the waiting job's id instead of a second job, so a burst of triggers is
/// one run: one AI reply per burst of inbound messages, one calendar sync per connection.
///
/// ```json
/// "unique": { "key": "{conversation_id}", "while": "pending", "debounce_seconds": 2 }
/// ```
/// `debounce_seconds` delays a new job by that long, so that the rest of a burst finds it still waiting.
/// Keys are per tenant, like idempotency keys (enqueue.lua).
public struct UniqueSpec: Sendable, Equatable {
    public enum Scope: String, Sendable, CaseIterable {
        /// Until the job starts: a trigger that comes while it runs makes a new job (which sees what the
        /// running one may have missed).
        case pending
        /// Until the job has finished: never two at once.
        case pendingOrRunning = "pending_or_running"

        /// The word enqueue.lua reads.
        var scriptWord: String { self == .pending ? "pending" : "running" }
    }

    public var key: LimitKeyTemplate
    public var scope: Scope
    public var debounce: Duration

    public init(key: LimitKeyTemplate, scope: Scope = .pending, debounce: Duration = .zero) {
        self.key = key
        self.scope = scope
        self.debounce = debounce
    }

    /// Reads the `unique` object of a declaration; errors name the file and the field.
    static func parse(_ reader: inout FieldReader, file: String, arguments: ArgumentSchema) throws -> UniqueSpec {
        let key = try LimitKeyTemplate(try reader.string("key", required: true)!, at: "\(file): field 'unique.key'", arguments: arguments)
        var spec = UniqueSpec(key: key)
        if let word = try reader.string("while") {
            guard let scope = Scope(rawValue: word) else {
                throw SpoolConfigError(
                    "\(file): field 'unique.while': '\(word)' is not one of \(Scope.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            spec.scope = scope
        }
        if let seconds = try reader.number("debounce_seconds", range: 0...3600) { spec.debounce = .milliseconds(Int64(seconds * 1000)) }
        try reader.finish()
        return spec
    }
}
