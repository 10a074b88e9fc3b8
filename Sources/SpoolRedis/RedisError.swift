/// An error from Redis or from the connection to it. It names the command that failed.
public struct RedisError: Error, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Kind: Hashable, Sendable { case connection, timeout, server, protocolViolation, configuration, unexpectedReply }
        private let kind: Kind
        /// The connection could not be made or broke; the command may not have run.
        public static let connection = Code(kind: .connection)
        /// No reply arrived within the command timeout; the connection was dropped.
        public static let timeout = Code(kind: .timeout)
        /// Redis answered with an error reply (`ERR`, `WRONGTYPE`, `NOSCRIPT` ...).
        public static let server = Code(kind: .server)
        public static let protocolViolation = Code(kind: .protocolViolation)
        /// REDIS_URL or another setting is not usable.
        public static let configuration = Code(kind: .configuration)
        /// The reply had a shape the caller did not expect.
        public static let unexpectedReply = Code(kind: .unexpectedReply)
        public var description: String { "\(kind)" }
    }

    public let code: Code
    public let message: String
    /// The command (or script) that failed, when there was one.
    public let command: String?

    public init(_ code: Code, _ message: String, command: String? = nil) {
        self.code = code
        self.message = message
        self.command = command
    }

    /// True when the failure is about reaching Redis rather than about the command itself.
    public var isConnectionError: Bool { code == .connection || code == .timeout }

    /// An error reply that says "not now" rather than "never" (see `RedisReply.isTransientError`).
    public var isTransientReply: Bool { code == .server && RedisReply.error(message).isTransientError }

    public var description: String {
        if let command { return "redis \(code) error in \(command): \(message)" }
        return "redis \(code) error: \(message)"
    }
}

extension RedisReply {
    /// Throws the reply's error, if it is one, naming `command`.
    public func checked(_ command: String) throws -> RedisReply {
        if case .error(let message) = self { throw RedisError(.server, message, command: command) }
        return self
    }

    /// Error replies that say "not now" rather than "never": loading a dataset, a replica during
    /// failover, a busy script, a lost master. The same command may succeed a moment later.
    public var isTransientError: Bool {
        guard let message = errorMessage else { return false }
        // The first word is the error code: BUSY is transient, BUSYKEY and BUSYGROUP are not.
        let code = message.prefix { $0 != " " }
        // OOM: Redis is at maxmemory; the same write may fit once something has expired or drained.
        return ["LOADING", "READONLY", "BUSY", "MASTERDOWN", "TRYAGAIN", "CLUSTERDOWN", "OOM"].contains { code == $0 }
    }
}
