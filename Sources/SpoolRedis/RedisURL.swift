/// Where Redis is and how to log in: `redis://[user:password@]host:port[/db]`.
public struct RedisURL: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var username: String?
    public var password: String?
    public var database: Int

    public init(host: String = "127.0.0.1", port: Int = 6379, username: String? = nil, password: String? = nil, database: Int = 0) {
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.database = database
    }

    /// Parses a URL, or throws an error that quotes the value and says what is wrong with it.
    public init(parsing text: String) throws {
        func bad(_ why: String) -> RedisError {
            RedisError(.configuration, "REDIS_URL '\(RedisURL.redacted(text))': \(why); expected redis://[user:password@]host:port[/db]")
        }
        guard text.hasPrefix("redis://") else { throw bad("scheme must be redis://") }
        var rest = Substring(text.dropFirst("redis://".count))
        var username: String?
        var password: String?
        if let at = rest.lastIndex(of: "@") {
            let credentials = rest[..<at]
            rest = rest[rest.index(after: at)...]
            if let colon = credentials.firstIndex(of: ":") {
                let user = credentials[..<colon]
                username = user.isEmpty ? nil : String(user)
                password = String(credentials[credentials.index(after: colon)...]).removingPercentEncoding()
            } else {
                password = String(credentials).removingPercentEncoding()
            }
        }
        var database = 0
        if let slash = rest.firstIndex(of: "/") {
            let path = rest[rest.index(after: slash)...]
            rest = rest[..<slash]
            if !path.isEmpty {
                guard let db = Int(path), db >= 0 else { throw bad("database '\(path)' is not a non-negative number") }
                database = db
            }
        }
        var host: String
        var portText: Substring?
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { throw bad("IPv6 host has no closing ]") }
            host = String(rest[rest.index(after: rest.startIndex)..<close])
            let after = rest[rest.index(after: close)...]
            if after.hasPrefix(":") {
                portText = after.dropFirst()
            } else if !after.isEmpty {
                throw bad("unexpected '\(after)' after host")
            }
        } else if let colon = rest.lastIndex(of: ":") {
            host = String(rest[..<colon])
            portText = rest[rest.index(after: colon)...]
        } else {
            host = String(rest)
        }
        if host.isEmpty { throw bad("host is empty") }
        if host == "localhost" { host = "127.0.0.1" }
        var port = 6379
        if let portText {
            guard let value = Int(portText), (1...65535).contains(value) else {
                // A URL without `@host` puts the password where the port goes: quote digits only.
                throw bad(
                    portText.allSatisfy(\.isNumber) ? "port '\(portText)' is not a number from 1 to 65535" : "the port is not a number")
            }
            port = value
        }
        self.init(host: host, port: port, username: username, password: password, database: database)
    }

    /// The URL in full, password included, for handing to a child process.
    public var urlString: String {
        var auth = ""
        if let password { auth = "\(username ?? ""):\(password)@" } else if let username { auth = "\(username)@" }
        let hostPart = host.contains(":") ? "[\(host)]" : host
        return "redis://\(auth)\(hostPart):\(port)/\(database)"
    }

    /// The URL with any password replaced by `***`, safe for logs.
    public var description: String {
        var auth = ""
        if password != nil { auth = "\(username ?? ""):***@" } else if let username { auth = "\(username)@" }
        let hostPart = host.contains(":") ? "[\(host)]" : host
        return "redis://\(auth)\(hostPart):\(port)/\(database)"
    }

    /// The text with whatever stands between `://` and `@` masked, for error messages.
    static func redacted(_ text: String) -> String {
        guard text.hasPrefix("redis://") else { return text }
        if let at = text.lastIndex(of: "@") { return "redis://***" + String(text[at...]) }
        // No @: a non-numeric part after a colon is not a port but a password missing its @host.
        let authority = text.dropFirst("redis://".count).prefix { $0 != "/" }
        // Skip a bracketed IPv6 host: its colons are not a password's.
        let afterHost = authority.hasPrefix("[") ? authority[(authority.firstIndex(of: "]") ?? authority.startIndex)...] : authority
        if let colon = afterHost.firstIndex(of: ":"), !afterHost[afterHost.index(after: colon)...].allSatisfy(\.isNumber) {
            return "redis://" + authority[..<colon] + ":***" + text.dropFirst("redis://".count + authority.count)
        }
        return text
    }
}

extension String {
    /// Decodes %XX escapes (passwords in URLs often carry them); leaves malformed escapes as they are.
    func removingPercentEncoding() -> String {
        guard contains("%") else { return self }
        var bytes: [UInt8] = []
        var iterator = Array(utf8)[...]
        while let byte = iterator.popFirst() {
            if byte == UInt8(ascii: "%"), iterator.count >= 2,
                let value = UInt8(String(decoding: iterator.prefix(2), as: UTF8.self), radix: 16)
            {
                bytes.append(value)
                iterator = iterator.dropFirst(2)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
