import SpoolHTTP

/// The sandbox calls back only addresses on this machine: it must never send traffic elsewhere.
enum LoopbackURL {
    static func isLoopback(_ url: String) -> Bool {
        guard url.hasPrefix("http://") || url.hasPrefix("https://"), let host = host(of: url) else { return false }
        return host == "localhost" || host == "::1" || isLoopbackIPv4(host)
    }

    /// A dotted-quad literal in 127.0.0.0/8; "127.example.com" is a name, not an address.
    static func isLoopbackIPv4(_ host: String) -> Bool {
        let octets = host.split(separator: ".", omittingEmptySubsequences: false)
        guard octets.count == 4, octets.allSatisfy({ !$0.isEmpty && $0.count <= 3 && $0.allSatisfy { $0.isASCII && $0.isNumber } }) else {
            return false
        }
        return octets.compactMap { Int($0) }.allSatisfy { $0 <= 255 } && octets[0] == "127"
    }

    static func host(of url: String) -> String? {
        guard let schemeEnd = url.firstRange(of: "://") else { return nil }
        var authority = url[schemeEnd.upperBound...].prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        if let at = authority.lastIndex(of: "@") { authority = authority[authority.index(after: at)...] }
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { return nil }
            return String(authority[authority.index(after: authority.startIndex)..<close])
        }
        return String(authority.prefix { $0 != ":" })
    }

    static func queryValue(_ name: String, in url: String) -> String? {
        guard let question = url.firstIndex(of: "?") else { return nil }
        let query = url[url.index(after: question)...].prefix { $0 != "#" }
        return FormEncoding.decode(String(query)).first { $0.0 == name }?.1
    }
}
