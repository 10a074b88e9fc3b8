/// URLs as they may appear in logs and errors: no user-info, and the values of secret-looking query
/// parameters replaced.
public enum URLRedaction {
    static let secretParameters: Set<String> = [
        "key", "api_key", "apikey", "token", "access_token", "refresh_token", "secret", "client_secret",
        "password", "signature", "sig", "auth", "code",
    ]

    public static func redact(_ url: String) -> String {
        var text = Substring(url)
        var scheme = ""
        if let range = text.firstRange(of: "://") {
            scheme = String(text[..<range.upperBound])
            text = text[range.upperBound...]
        }
        let authorityEnd = text.firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? text.endIndex
        var authority = text[..<authorityEnd]
        if let at = authority.lastIndex(of: "@") { authority = authority[authority.index(after: at)...] }
        var rest = text[authorityEnd...]
        if let hash = rest.firstIndex(of: "#") { rest = rest[..<hash] }
        guard let question = rest.firstIndex(of: "?") else { return scheme + authority + rest }
        let path = rest[..<question]
        let query = rest[rest.index(after: question)...].split(separator: "&", omittingEmptySubsequences: false).map { pair -> String in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2, secretParameters.contains(parts[0].lowercased()) else { return String(pair) }
            return "\(parts[0])=REDACTED"
        }
        return scheme + authority + path + "?" + query.joined(separator: "&")
    }
}
