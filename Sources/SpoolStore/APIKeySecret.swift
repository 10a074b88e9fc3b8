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
    /// Runs on every request, so it reads bytes: Character's Unicode properties cost more than the rest
    /// of the authentication.
    public static func id(in text: String) -> String? {
        let bytes = text.utf8
        guard bytes.count == prefix.utf8.count + 26 + 1 + 43, bytes.starts(with: prefix.utf8) else { return nil }
        let id = bytes.dropFirst(prefix.utf8.count).prefix(26)
        let isAlphanumeric = { (byte: UInt8) in (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
        }
        guard bytes.dropFirst(prefix.utf8.count + 26).first == UInt8(ascii: "_"), id.allSatisfy(isAlphanumeric) else { return nil }
        return String(decoding: id, as: UTF8.self)
    }

    static func hash(_ text: String) -> String { Hashing.sha256Hex(Array(text.utf8)) }

    /// RFC 4648 base64url without padding.
    private static func base64URL(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString().replacing("+", with: "-").replacing("/", with: "_").replacing("=", with: "")
    }
}
