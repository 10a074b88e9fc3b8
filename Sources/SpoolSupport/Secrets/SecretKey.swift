import Crypto
import FoundationEssentials

/// A 256-bit AES key for `SecretBox`, read from base64 (`SPOOL_SECRET_KEY`, made with
/// `openssl rand -base64 32`).
///
/// Its `id` is written on every ciphertext the key seals, so that after a rotation a box that holds
/// the current key and the previous ones picks the right one to open each value. The id is the first
/// 8 hexadecimal digits of the key's SHA-256: enough to tell keys apart, useless for guessing one.
/// Neither the key nor its base64 ever appears in a description or an error.
public struct SecretKey: Sendable, CustomStringConvertible {
    public let id: String
    let symmetric: SymmetricKey

    public static let byteCount = 32

    /// - Parameter base64: 32 bytes in standard base64 (44 characters with one `=`); surrounding
    ///   spaces and line breaks are ignored.
    public init(base64: String) throws(SecretKeyError) {
        let text = String(base64.unicodeScalars.filter { !" \t\r\n".unicodeScalars.contains($0) })
        guard !text.isEmpty else { throw SecretKeyError("is empty: expected \(Self.byteCount) bytes in base64") }
        guard let data = Data(base64Encoded: text) else {
            throw SecretKeyError(
                "is not base64 (\(text.count) characters; expected \(Self.byteCount) bytes in base64, 44 characters of A-Z a-z 0-9 + / ending in =)")
        }
        guard data.count == Self.byteCount else {
            throw SecretKeyError("decodes to \(data.count) bytes; an AES-256 key is \(Self.byteCount) bytes")
        }
        self.init(bytes: Array(data), id: String(Hashing.sha256Hex(Array(data)).prefix(8)))
    }

    init(bytes: [UInt8], id: String) {
        self.id = id
        self.symmetric = SymmetricKey(data: bytes)
    }

    public var description: String { "SecretKey(id: \(id))" }

    /// A 32-byte key for another use, named by `purpose` (`dashboard-sessions`), derived with
    /// HMAC-SHA256: every process holding this key derives the same one, and neither this key nor
    /// another purpose's can be learnt from it.
    public func derivedKey(purpose: String) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: Array(("spool-derived-key-v1:" + purpose).utf8), using: symmetric))
    }

    /// The sandbox mode's key: public, documented, and never used outside the explicit sandbox mode
    /// (`SecretBox.configured(key:previous:sandboxMode:)` is the only way to it). Its 32 bytes are the
    /// ASCII text `spool-sandbox-key-not-a-secret!!`, base64 `c3Bvb2wtc2FuZGJveC1rZXktbm90LWEtc2VjcmV0ISE=`.
    static let sandbox = SecretKey(bytes: Array("spool-sandbox-key-not-a-secret!!".utf8), id: "sandbox")
}

/// Why a key was refused: its length or its encoding, never its value.
public struct SecretKeyError: Error, Sendable, Equatable, CustomStringConvertible {
    public let message: String
    init(_ message: String) { self.message = message }
    public var description: String { message }
}
