/// An error from PostgreSQL or from reaching it. It carries the SQLSTATE, the server's message and the
/// statement; parameters are never included, since they may hold personal data or secrets.
public struct PostgresError: Error, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Kind: Hashable, Sendable { case connection, server, configuration, decoding, poolTimeout, migration }
        private let kind: Kind
        /// The server could not be reached, or the connection broke.
        public static let connection = Code(kind: .connection)
        /// The server refused the statement; `sqlState` says why.
        public static let server = Code(kind: .server)
        public static let configuration = Code(kind: .configuration)
        /// A value could not be read as the type asked for.
        public static let decoding = Code(kind: .decoding)
        /// No connection became free in time.
        public static let poolTimeout = Code(kind: .poolTimeout)
        public static let migration = Code(kind: .migration)
        public var description: String { "\(kind)" }
    }

    public let code: Code
    /// The five-character SQLSTATE (`23505` unique violation, `40001` serialization failure ...), when the server sent one.
    public let sqlState: String?
    public let message: String
    /// The statement, with its parameters left out.
    public let query: String?

    public init(_ code: Code, _ message: String, sqlState: String? = nil, query: String? = nil) {
        self.code = code
        self.message = message
        self.sqlState = sqlState
        self.query = query
    }

    static func configuration(_ message: String) -> PostgresError { PostgresError(.configuration, message) }

    /// Serialization failures and deadlocks: the transaction can simply run again.
    public var isTransient: Bool { sqlState == "40001" || sqlState == "40P01" }
    public var isUniqueViolation: Bool { sqlState == "23505" }
    /// The server cannot serve now: a connection exception (08), insufficient resources (53), an
    /// operator intervention such as a shutdown or a cancelled statement (57), a read-only standby (25006).
    public var isUnavailable: Bool {
        guard let sqlState else { return false }
        return sqlState.hasPrefix("08") || sqlState.hasPrefix("53") || sqlState.hasPrefix("57") || sqlState == "25006"
    }

    public var description: String {
        var text = "postgres \(code) error"
        if let sqlState { text += " [\(sqlState)]" }
        text += ": \(message)"
        if let query { text += " (in: \(query.count > 300 ? String(query.prefix(300)) + "…" : query); parameters redacted)" }
        return text
    }
}
