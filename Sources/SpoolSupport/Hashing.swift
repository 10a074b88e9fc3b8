import Crypto

/// Hashes and message authentication codes, from swift-crypto (BoringSSL's implementations).
///
/// - SHA-1 names Lua scripts the way Redis does (EVALSHA), fingerprints migrations, and sits inside
///   HMAC-SHA1 because Twilio signs its webhooks with it; nothing new that needs collision resistance.
/// - SHA-256 is how API keys are stored, and HMAC-SHA256 signs the state of a calendar connect.
public enum Hashing {
    public static func sha1(_ message: some Sequence<UInt8>) -> [UInt8] { Array(Insecure.SHA1.hash(data: Array(message))) }
    public static func sha1Hex(_ message: some Sequence<UInt8>) -> String { hex(sha1(message)) }

    public static func sha256(_ message: some Sequence<UInt8>) -> [UInt8] { Array(SHA256.hash(data: Array(message))) }
    public static func sha256Hex(_ message: some Sequence<UInt8>) -> String { hex(sha256(message)) }

    /// HMAC (RFC 2104) over SHA-1.
    public static func hmacSHA1(key: [UInt8], message: [UInt8]) -> [UInt8] {
        Array(HMAC<Insecure.SHA1>.authenticationCode(for: message, using: SymmetricKey(data: key)))
    }

    /// HMAC (RFC 2104) over SHA-256: what Spool signs its own tokens with (a calendar connect's OAuth state).
    public static func hmacSHA256(key: [UInt8], message: [UInt8]) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: key)))
    }

    /// Compares two byte strings in time that does not depend on where they differ (their lengths are
    /// not secret here: codes and hashes of one kind all have the same length).
    public static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in a.indices { difference |= a[index] ^ b[index] }
        return difference == 0
    }

    /// Lowercase hexadecimal, two digits a byte.
    public static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var text = [UInt8]()
        text.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: text, as: UTF8.self)
    }
}
