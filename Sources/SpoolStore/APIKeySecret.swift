import FoundationEssentials
import SpoolQueue
import SpoolSupport

/// The text of an API key: `spool_<id>_<secret>`. The id (a ULID) is the key's row in `api_keys`, so a
/// lookup is one primary-key read; the secret is 32 random bytes, base64url. Only SHA-256 of the whole
/// text is stored.
public enum APIKeySecret {
    static let prefix = "spool_"

    /// A new id and the key text that carries it.
    static func make() -> (id: String, text: String) {
        let id = JobID.make(now: SystemClock().nowMillis()).lowercased()
        var generator = SystemRandomNumberGenerator()
        let secret = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        return (id, prefix + id + "_" + base64URL(secret))
    }

    /// The id inside a key's text, or nil when the text is not shaped like a key.
    public static func id(in text: String) -> String? {
        guard text.hasPrefix(prefix), text.utf8.count == prefix.utf8.count + 26 + 1 + 43 else { return nil }
        let rest = text.dropFirst(prefix.count)
        let id = rest.prefix(26)
        guard rest.dropFirst(26).first == "_", id.allSatisfy({ $0.isASCII && ($0.isNumber || $0.isLetter) }) else { return nil }
        return String(id)
    }

    static func hash(_ text: String) -> String { SHA256.hex(Array(text.utf8)) }

    /// RFC 4648 base64url without padding.
    private static func base64URL(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString().replacing("+", with: "-").replacing("/", with: "_").replacing("=", with: "")
    }
}
