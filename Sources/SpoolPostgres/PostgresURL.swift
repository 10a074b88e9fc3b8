/// Where PostgreSQL is: `postgres://user:password@host:port/db?sslmode=...` (DATABASE_URL).
/// libpq parses the URL itself; this checks it first so that a bad value is a clear error at start,
/// and keeps the password out of logs.
public struct PostgresURL: Sendable, Equatable, CustomStringConvertible {
    public let text: String
    public let host: String
    public let port: Int
    public let user: String?
    public let database: String
    /// Kept only to scrub it from libpq's messages.
    let password: String?

    public init(parsing text: String) throws(PostgresError) {
        func bad(_ why: String) -> PostgresError {
            .configuration("DATABASE_URL '\(PostgresURL.redacted(text))': \(why); expected postgres://user:password@host:port/db")
        }
        let scheme = ["postgres://", "postgresql://"].first { text.hasPrefix($0) }
        guard let scheme else { throw bad("scheme must be postgres:// or postgresql://") }
        var rest = Substring(text.dropFirst(scheme.count))
        if let query = rest.firstIndex(of: "?") { rest = rest[..<query] }
        var user: String?
        var password: String?
        if let at = rest.lastIndex(of: "@") {
            let credentials = rest[..<at]
            user = String(credentials.prefix { $0 != ":" })
            if let colon = credentials.firstIndex(of: ":") { password = String(credentials[credentials.index(after: colon)...]) }
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
            let portText = hostPort[hostPort.index(after: colon)...]
            guard let value = Int(portText), (1...65535).contains(value) else {
                // A URL without `@host` puts the password where the port goes: quote digits only.
                throw bad(
                    portText.allSatisfy(\.isNumber) ? "port '\(portText)' is not a number from 1 to 65535" : "the port is not a number")
            }
            port = value
        }
        guard !host.isEmpty else { throw bad("host is empty") }
        self.text = text
        self.host = host
        self.port = port
        self.user = user?.isEmpty == true ? nil : user
        self.database = database
        self.password = password
    }

    /// `message` with the password (plain or as written in the URL) replaced by ***.
    func scrub(_ message: String) -> String {
        guard let password, !password.isEmpty else { return message }
        return message.replacing(password, with: "***")
    }

    public var description: String { Self.redacted(text) }

    /// The URL with the password masked.
    static func redacted(_ text: String) -> String {
        var result = text
        if let query = result.firstIndex(of: "?") {
            // password=... may also come as a query parameter.
            let parameters = result[result.index(after: query)...].split(separator: "&").map {
                $0.hasPrefix("password=") ? "password=***" : String($0)
            }
            result = String(result[...query]) + parameters.joined(separator: "&")
        }
        guard let schemeEnd = result.firstRange(of: "://")?.upperBound else { return result }
        guard let at = result[..<(result.firstIndex(of: "?") ?? result.endIndex)].lastIndex(of: "@"), schemeEnd < at else {
            // No @: a non-numeric part after a colon is not a port but a password missing its @host.
            let authority = result[schemeEnd...].prefix { $0 != "/" && $0 != "?" }
            // Skip a bracketed IPv6 host: its colons are not a password's.
            let afterHost = authority.hasPrefix("[") ? authority[(authority.firstIndex(of: "]") ?? authority.startIndex)...] : authority
            if let colon = afterHost.firstIndex(of: ":"), !afterHost[afterHost.index(after: colon)...].allSatisfy(\.isNumber) {
                return String(result[..<colon]) + ":***" + String(result[authority.endIndex...])
            }
            return result
        }
        let credentials = result[schemeEnd..<at]
        guard let colon = credentials.firstIndex(of: ":") else { return result }
        return String(result[..<colon]) + ":***" + String(result[at...])
    }
}
