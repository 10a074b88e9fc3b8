/// A value that can be a statement parameter ($1, $2 ...). Parameters go to the server separately from
/// the SQL text, in text format, so no value is ever spliced into a statement.
public protocol PostgresBindable: Sendable {
    /// The value in PostgreSQL's text format; nil is SQL NULL.
    var postgresText: String? { get }
}

extension String: PostgresBindable { public var postgresText: String? { self } }
extension Substring: PostgresBindable { public var postgresText: String? { String(self) } }
extension Int: PostgresBindable { public var postgresText: String? { String(self) } }
extension Int64: PostgresBindable { public var postgresText: String? { String(self) } }
extension Int32: PostgresBindable { public var postgresText: String? { String(self) } }
extension Double: PostgresBindable { public var postgresText: String? { String(self) } }
extension Bool: PostgresBindable { public var postgresText: String? { self ? "t" : "f" } }
extension Optional: PostgresBindable where Wrapped: PostgresBindable {
    public var postgresText: String? { self?.postgresText }
}

/// SQL NULL where a typed nil is awkward to write.
public struct PostgresNull: PostgresBindable {
    public init() {}
    public var postgresText: String? { nil }
}
