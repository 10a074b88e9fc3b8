/// One Redis command, encoded as RESP while it is built so that sending it is a single copy.
///
/// Arguments are binary safe: each is written with its byte length, never parsed for spaces or quotes.
/// `label` is what errors name: the command word, or `EVALSHA fetch.lua` for scripts.
public struct RedisCommand: Sendable {
    public private(set) var label: String
    private var body: [UInt8] = []
    public private(set) var argumentCount = 0

    public init(_ name: String, _ arguments: [String] = []) {
        label = name
        body.reserveCapacity(32 + arguments.count * 24)
        append(name)
        for argument in arguments { append(argument) }
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
        argumentCount += 1
        body.append(UInt8(ascii: "$"))
        appendDecimal(bytes.count)
        body.append(13); body.append(10)
        body.append(contentsOf: bytes)
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
