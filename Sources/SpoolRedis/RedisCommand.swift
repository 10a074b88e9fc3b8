import SpoolSupport

/// One Redis command, encoded as RESP while it is built so that sending it is a single copy.
///
/// Arguments are binary safe: each is written with its byte length, never parsed for spaces or quotes.
/// `label` is what errors name: the command word, or `EVALSHA fetch.lua` for scripts.
///
/// It also remembers where its first key is (`routingKey`), which a Redis Cluster client hashes to a
/// slot; one Redis never looks at it.
public struct RedisCommand: Sendable {
    public private(set) var label: String
    private var body: [UInt8] = []
    public private(set) var argumentCount = 0
    /// Which argument is the first key: 1 for most commands, 3 for scripts (after the script and the
    /// key count), -1 for commands without keys.
    private var keyArgument: Int
    /// Where that key's bytes are in `body`, once appended.
    private var keyBytes: Range<Int>?
    /// For a command without keys that must go to the node of a key all the same (`WAIT`).
    private var routedLike: [UInt8]?

    public init(_ name: String, _ arguments: [String] = []) {
        label = name
        keyArgument = Self.keyArgument(of: name)
        body.reserveCapacity(32 + arguments.count * 24)
        append(name)
        for argument in arguments { append(argument) }
    }

    /// `WAIT replicas timeout`: how many replicas have the writes made so far on this connection. In a
    /// cluster it goes to the node of `key`, whose writes it is about (each node has its connection).
    public static func wait(replicas: Int, timeout: Duration, onNodeOf key: String) -> RedisCommand {
        var command = RedisCommand("WAIT", [String(replicas), String(timeout.milliseconds)])
        command.routedLike = Array(key.utf8)
        return command
    }

    /// Sends a command without keys (`INFO`, `WAIT`) to the node that serves `key`, in a cluster.
    public mutating func route(like key: String) { routedLike = Array(key.utf8) }

    /// The first key's bytes (or the key a keyless command is routed like), nil for other commands without keys.
    public var routingKey: ArraySlice<UInt8>? { keyBytes.map { body[$0] } ?? routedLike?[...] }

    private static func keyArgument(of name: String) -> Int {
        switch name {
        case "EVAL", "EVALSHA", "EVAL_RO", "EVALSHA_RO", "FCALL", "FCALL_RO": return 3
        case "PING", "INFO", "TIME", "SCAN", "KEYS", "FLUSHDB", "FLUSHALL", "DBSIZE", "SELECT", "AUTH", "HELLO", "CLUSTER",
            "SCRIPT", "CLIENT", "CONFIG", "WAIT", "ASKING", "READONLY", "ECHO", "COMMAND", "MEMORY", "SLOWLOG", "LATENCY",
            "FUNCTION", "ACL", "ROLE", "MONITOR", "PUBLISH", "SUBSCRIBE", "PSUBSCRIBE":
            return -1
        default: return 1
        }
    }

    public init(_ name: String, _ arguments: String...) {
        self.init(name, arguments)
    }

    public mutating func append(_ argument: String) {
        var argument = argument
        argument.withUTF8 { append(bytes: $0) }
    }

    public mutating func append(_ argument: Int) {
        append(String(argument))
    }

    public mutating func append<Bytes: Collection>(bytes: Bytes) where Bytes.Element == UInt8 {
        let index = argumentCount
        argumentCount += 1
        body.append(UInt8(ascii: "$"))
        appendDecimal(bytes.count)
        body.append(13); body.append(10)
        let start = body.count
        body.append(contentsOf: bytes)
        if index == keyArgument {
            keyBytes = start..<body.count
        } else if index == 2 && keyArgument == 3 && bytes.count == 1 && bytes.first == UInt8(ascii: "0") {
            keyArgument = -1  // a script called with no keys
        }
        body.append(13); body.append(10)
    }

    /// Renames what errors call this command (used by scripts, whose first word is only EVALSHA).
    public mutating func relabel(_ label: String) { self.label = label }

    /// The full RESP frame: `*<argc>\r\n` followed by the arguments.
    public func encoded() -> [UInt8] {
        var frame: [UInt8] = [UInt8(ascii: "*")]
        frame.reserveCapacity(body.count + 16)
        frame.append(contentsOf: String(argumentCount).utf8)
        frame.append(13); frame.append(10)
        frame.append(contentsOf: body)
        return frame
    }

    private mutating func appendDecimal(_ value: Int) {
        if value < 10 {
            body.append(UInt8(ascii: "0") + UInt8(value))
        } else {
            body.append(contentsOf: String(value).utf8)
        }
    }
}
