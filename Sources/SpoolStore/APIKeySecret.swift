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

    private static func base64URL(_ bytes: [UInt8]) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        var text = ""
        var index = 0
        while index < bytes.count {
            let chunk = bytes[index..<min(index + 3, bytes.count)]
            var value = 0
            for byte in chunk { value = value << 8 | Int(byte) }
            value <<= 8 * (3 - chunk.count)
            let characters = chunk.count + 1
            for position in 0..<characters { text.append(alphabet[(value >> (18 - 6 * position)) & 63]) }
            index += 3
        }
        return text
    }
}
