/// Why a secret could not be sealed or opened. Messages name key ids and contexts, which are not
/// secret, and never a key or a plaintext.
public struct SecretBoxError: Error, Sendable, Equatable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Kind: Hashable, Sendable { case noKey, unknownKey, malformed, authenticationFailure }
        private let kind: Kind
        /// No key is configured, and this is not the sandbox mode.
        public static let noKey = Code(kind: .noKey)
        /// The value was sealed with a key this process does not hold.
        public static let unknownKey = Code(kind: .unknownKey)
        /// The text is not a sealed value (`v1.<key id>.<base64url>`).
        public static let malformed = Code(kind: .malformed)
        /// The key is right but the value does not open: it was altered, or sealed for another context.
        public static let authenticationFailure = Code(kind: .authenticationFailure)
        public var description: String { "\(kind)" }
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }

    /// Storing a token without a key, outside the sandbox mode.
    public static let noKey = SecretBoxError(
        .noKey,
        "no secret key: set SPOOL_SECRET_KEY to 32 random bytes in base64, e.g. `openssl rand -base64 32`; tokens are stored encrypted with it")

    static func unknownKey(_ id: String, known: [String]) -> SecretBoxError {
        SecretBoxError(
            .unknownKey,
            "sealed with key id '\(id)', which this process does not have (it has \(known.map { "'\($0)'" }.joined(separator: ", "))): "
                + "put that key in SPOOL_SECRET_KEYS_PREVIOUS, or reconnect the account")
    }

    static func malformed(_ problem: String) -> SecretBoxError {
        SecretBoxError(.malformed, "not a sealed secret: \(problem) (expected v1.<key id>.<base64url>)")
    }

    static func authenticationFailure(keyID: String, context: String) -> SecretBoxError {
        SecretBoxError(
            .authenticationFailure,
            "the secret sealed with key '\(keyID)' does not open for context '\(context)': it was altered, or sealed for another row or purpose")
    }
}
