/// Where Redis is, how to reach it and how to log in:
///
/// - `redis://[user:password@]host:port[/db]`: one Redis over TCP;
/// - `rediss://…`: the same over TLS (the server's certificate is verified, see `RedisTLS`);
/// - `redis+cluster://[user:password@]host:port[,host:port…]` and `rediss+cluster://…`: a Redis Cluster,
///   reached first through these seed nodes (any of them will do; the rest is learned from the cluster).
///
/// Sentinel-managed Redis (`redis+sentinel://`) is refused with a message saying so: see docs/redis.md.
public struct RedisURL: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var username: String?
    public var password: String?
    public var database: Int
    /// Set for `rediss` URLs: the connection is TLS, never plain text.
    public var tls: RedisTLS?
    /// The seed nodes of a cluster URL (the first is `host:port`); empty for one Redis.
    public var clusterSeeds: [RedisEndpoint]

    public init(
        host: String = "127.0.0.1", port: Int = 6379, username: String? = nil, password: String? = nil, database: Int = 0,
        tls: RedisTLS? = nil, clusterSeeds: [RedisEndpoint] = []
    ) {
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.database = database
        self.tls = tls
        self.clusterSeeds = clusterSeeds
    }

    public var isCluster: Bool { !clusterSeeds.isEmpty }

    /// The URL of one node of this URL's cluster: same credentials and TLS, that node's address.
    public func node(_ endpoint: RedisEndpoint) -> RedisURL {
        RedisURL(host: endpoint.host, port: endpoint.port, username: username, password: password, database: 0, tls: tls)
    }

    private static let schemes: [(scheme: String, tls: Bool, cluster: Bool)] = [
        ("redis://", false, false), ("rediss://", true, false), ("redis+cluster://", false, true), ("rediss+cluster://", true, true),
    ]
    private static let expected = "expected redis://, rediss://, redis+cluster:// or rediss+cluster://[user:password@]host:port"

    /// Parses a URL, or throws an error that quotes the value and says what is wrong with it.
    public init(parsing text: String) throws {
        func bad(_ why: String) -> RedisError {
            RedisError(.configuration, "REDIS_URL '\(RedisURL.redacted(text))': \(why); \(RedisURL.expected)[/db]")
        }
        if text.hasPrefix("redis+sentinel://") || text.hasPrefix("rediss+sentinel://") {
            throw bad("Sentinel is not supported (use the primary's address behind a proxy, or Redis Cluster; see docs/redis.md)")
        }
        guard let form = Self.schemes.first(where: { text.hasPrefix($0.scheme) }) else { throw bad("unknown scheme") }
        var rest = Substring(text.dropFirst(form.scheme.count))
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
        let endpoints = try rest.split(separator: ",", omittingEmptySubsequences: false).map { try Self.endpoint($0, bad) }
        if endpoints.count > 1 && !form.cluster { throw bad("several hosts need a cluster URL (redis+cluster://)") }
        if form.cluster && database != 0 { throw bad("a cluster has only database 0, not \(database)") }
        self.init(
            host: endpoints[0].host, port: endpoints[0].port, username: username, password: password, database: database,
            tls: form.tls ? RedisTLS() : nil, clusterSeeds: form.cluster ? endpoints : [])
    }

    private static func endpoint(_ text: Substring, _ bad: (String) -> RedisError) throws -> RedisEndpoint {
        var host: String
        var portText: Substring?
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { throw bad("IPv6 host has no closing ]") }
            host = String(text[text.index(after: text.startIndex)..<close])
            let after = text[text.index(after: close)...]
            if after.hasPrefix(":") {
                portText = after.dropFirst()
            } else if !after.isEmpty {
                throw bad("unexpected '\(after)' after host")
            }
        } else if let colon = text.lastIndex(of: ":") {
            host = String(text[..<colon])
            portText = text[text.index(after: colon)...]
        } else {
            host = String(text)
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
        return RedisEndpoint(host: host, port: port)
    }

    private var scheme: String { (tls == nil ? "redis" : "rediss") + (isCluster ? "+cluster" : "") }
    private var hosts: String {
        (isCluster ? clusterSeeds : [RedisEndpoint(host: host, port: port)]).map(\.description).joined(separator: ",")
    }
    private var path: String { isCluster ? "" : "/\(database)" }

    /// The URL in full, password included, for handing to a child process.
    public var urlString: String {
        var auth = ""
        if let password { auth = "\(username ?? ""):\(password)@" } else if let username { auth = "\(username)@" }
        return "\(scheme)://\(auth)\(hosts)\(path)"
    }

    /// The URL with any password replaced by `***`, safe for logs.
    public var description: String {
        var auth = ""
        if password != nil { auth = "\(username ?? ""):***@" } else if let username { auth = "\(username)@" }
        return "\(scheme)://\(auth)\(hosts)\(path)"
    }

    /// The text with whatever stands between `://` and `@` masked, for error messages.
    static func redacted(_ text: String) -> String {
        guard let schemeEnd = text.firstRange(of: "://") else { return text }
        let scheme = String(text[..<schemeEnd.upperBound])
        if let at = text.lastIndex(of: "@") { return scheme + "***" + String(text[at...]) }
        // No @: a non-numeric part after a colon is not a port but a password missing its @host.
        let authority = text[schemeEnd.upperBound...].prefix { $0 != "/" && $0 != "," }
        // Skip a bracketed IPv6 host: its colons are not a password's.
        let afterHost = authority.hasPrefix("[") ? authority[(authority.firstIndex(of: "]") ?? authority.startIndex)...] : authority
        if let colon = afterHost.firstIndex(of: ":"), !afterHost[afterHost.index(after: colon)...].allSatisfy(\.isNumber) {
            return scheme + authority[..<colon] + ":***" + text[authority.endIndex...]
        }
        return text
    }
}

/// One Redis node's address.
public struct RedisEndpoint: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }
    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
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
