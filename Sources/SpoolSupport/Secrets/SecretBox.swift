import Crypto
import FoundationEssentials

/// Encrypts short secrets at rest (OAuth refresh and access tokens) with AES-256-GCM.
///
/// A sealed value is text: `v1.<key id>.<base64url(nonce ‖ ciphertext ‖ tag)>`, with a fresh random
/// 96-bit nonce each time, so sealing the same secret twice gives two different values.
/// 1. `seal` encrypts with the current key and writes its id.
/// 2. `open` picks the key by that id, the current one or one of the previous ones, so values sealed
///    before a rotation still open; `needsResealing` says which ones to seal again with the new key.
/// 3. The `context` names what the secret is for (`calendar:<connection id>:refresh`) and is
///    authenticated with it (AES-GCM's additional data): a value copied to another row or purpose
///    does not open there.
public struct SecretBox: Sendable {
    public let current: SecretKey
    public let previous: [SecretKey]
    private let keys: [String: SecretKey]

    static let version = "v1"
    static let nonceByteCount = 12
    static let tagByteCount = 16

    public init(current: SecretKey, previous: [SecretKey] = []) {
        self.current = current
        // The current key wins over a previous one with the same id (the same key listed twice).
        let others = previous.filter { $0.id != current.id }
        self.previous = others
        var keys: [String: SecretKey] = [:]
        for key in others { keys[key.id] = key }
        keys[current.id] = current
        self.keys = keys
    }

    /// The box the settings give: the configured key, or in the explicit sandbox mode without one the
    /// public sandbox key (id `sandbox`). Otherwise `SecretBoxError.noKey`: tokens are never stored
    /// under a key anyone can read.
    public static func configured(key: SecretKey?, previous: [SecretKey] = [], sandboxMode: Bool) throws(SecretBoxError) -> SecretBox {
        if let key { return SecretBox(current: key, previous: previous) }
        guard sandboxMode else { throw .noKey }
        return SecretBox(current: .sandbox, previous: previous)
    }

    /// True when the current key is the sandbox's public one.
    public var usesSandboxKey: Bool { current.id == SecretKey.sandbox.id }

    /// Seals `plaintext` for `context` with the current key.
    public func seal(_ plaintext: String, context: String) -> String {
        let box: AES.GCM.SealedBox
        do {
            box = try AES.GCM.seal(Array(plaintext.utf8), using: current.symmetric, authenticating: Array(context.utf8))
        } catch {
            // AES-GCM refuses only keys and nonces of the wrong size; SecretKey and the default nonce rule both out.
            preconditionFailure("AES-GCM refused a 32-byte key: \(error)")
        }
        let combined = Array(box.nonce) + Array(box.ciphertext) + Array(box.tag)
        return "\(Self.version).\(current.id).\(Base64URL.encode(combined))"
    }

    /// Opens a value sealed for `context` by this box's current or previous keys.
    public func open(_ sealed: String, context: String) throws(SecretBoxError) -> String {
        let parts = sealed.split(separator: ".", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3 else { throw .malformed("\(parts.count) part(s) separated by '.', not 3") }
        guard parts[0] == Self.version else { throw .malformed("format '\(parts[0].prefix(8))' is not \(Self.version)") }
        let id = String(parts[1])
        guard let key = keys[id] else { throw .unknownKey(String(id.prefix(16)), known: [current.id] + previous.map(\.id)) }
        guard let bytes = Base64URL.decode(parts[2]) else { throw .malformed("the payload is not base64url") }
        guard bytes.count >= Self.nonceByteCount + Self.tagByteCount else {
            throw .malformed("the payload has \(bytes.count) bytes, fewer than a nonce and a tag")
        }
        let plaintext: Data
        do {
            let box = try AES.GCM.SealedBox(combined: bytes)
            plaintext = try AES.GCM.open(box, using: key.symmetric, authenticating: Array(context.utf8))
        } catch {
            throw .authenticationFailure(keyID: id, context: context)
        }
        return String(decoding: plaintext, as: UTF8.self)
    }

    /// Seals a secret that belongs to no row or purpose; tokens use `seal(_:context:)`.
    public func seal(_ plaintext: String) -> String { seal(plaintext, context: "") }

    /// Opens a value sealed by `seal(_:)`.
    public func open(_ sealed: String) throws(SecretBoxError) -> String { try open(sealed, context: "") }

    /// True when `sealed` was not sealed with the current key (after a rotation): open it and seal it
    /// again, so that the previous key can be retired.
    public func needsResealing(_ sealed: String) -> Bool {
        !sealed.hasPrefix("\(Self.version).\(current.id).")
    }
}
