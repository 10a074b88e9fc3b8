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

/// A one-dimensional array parameter (`$1::text[]`, `$1::jsonb[]`, ...) in PostgreSQL's array text
/// format: every element quoted, nil as NULL. Many rows go to the server in one statement, through
/// `unnest`, still as parameters.
public struct PostgresArray: PostgresBindable {
    public let elements: [String?]

    public init(_ elements: [String?]) { self.elements = elements }
    public init(_ elements: [String]) { self.elements = elements }

    public var postgresText: String? {
        // Built as bytes: this runs for every row of every batched statement.
        var bytes: [UInt8] = [UInt8(ascii: "{")]
        bytes.reserveCapacity(elements.reduce(2) { $0 + ($1?.utf8.count ?? 4) + 3 })
        for (index, element) in elements.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            guard let element else { bytes.append(contentsOf: "NULL".utf8); continue }
            bytes.append(UInt8(ascii: "\""))
            for byte in element.utf8 {
                if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") { bytes.append(UInt8(ascii: "\\")) }
                bytes.append(byte)
            }
            bytes.append(UInt8(ascii: "\""))
        }
        bytes.append(UInt8(ascii: "}"))
        return String(decoding: bytes, as: UTF8.self)
    }
}
