/// Where PostgreSQL is: `postgres://user:password@host:port/db?sslmode=...` (DATABASE_URL).
/// libpq parses the URL itself; this checks it first so that a bad value is a clear error at start,
/// and keeps the password out of logs.
public struct PostgresURL: Sendable, Equatable, CustomStringConvertible {
    public let text: String
    public let host: String
    public let port: Int
    public let user: String?
    public let database: String

    public init(parsing text: String) throws(PostgresError) {
        func bad(_ why: String) -> PostgresError {
            .configuration("DATABASE_URL '\(PostgresURL.redacted(text))': \(why); expected postgres://user:password@host:port/db")
        }
        let scheme = ["postgres://", "postgresql://"].first { text.hasPrefix($0) }
        guard let scheme else { throw bad("scheme must be postgres:// or postgresql://") }
        var rest = Substring(text.dropFirst(scheme.count))
        if let query = rest.firstIndex(of: "?") { rest = rest[..<query] }
        var user: String?
        if let at = rest.lastIndex(of: "@") {
            let credentials = rest[..<at]
            user = String(credentials.prefix { $0 != ":" })
            rest = rest[rest.index(after: at)...]
        }
        guard let slash = rest.firstIndex(of: "/") else { throw bad("the database name is missing") }
        let database = String(rest[rest.index(after: slash)...])
        guard !database.isEmpty else { throw bad("the database name is missing") }
        let hostPort = rest[..<slash]
        var host = String(hostPort)
        var port = 5432
        if let colon = hostPort.lastIndex(of: ":"), !hostPort.hasSuffix("]") {
            host = String(hostPort[..<colon])
            guard let value = Int(hostPort[hostPort.index(after: colon)...]), (1...65535).contains(value) else {
                throw bad("port '\(hostPort[hostPort.index(after: colon)...])' is not a number from 1 to 65535")
            }
            port = value
        }
        guard !host.isEmpty else { throw bad("host is empty") }
        self.text = text
        self.host = host
        self.port = port
        self.user = user?.isEmpty == true ? nil : user
        self.database = database
    }

    public var description: String { Self.redacted(text) }

    /// The URL with the password masked.
    static func redacted(_ text: String) -> String {
        guard let schemeEnd = text.firstRange(of: "://")?.upperBound, let at = text.lastIndex(of: "@"), schemeEnd < at else { return text }
        let credentials = text[schemeEnd..<at]
        guard let colon = credentials.firstIndex(of: ":") else { return text }
        return String(text[..<colon]) + ":***" + String(text[at...])
    }
}
