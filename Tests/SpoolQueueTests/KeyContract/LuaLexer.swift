/// One token of Lua 5.1 source (the Lua of Redis scripts), with the line it starts on.
struct LuaToken: Equatable, Sendable {
    enum Kind: Equatable, Sendable { case name, keyword, number, string, symbol, end }
    let kind: Kind
    /// The token's text; a string's contents, its escapes decoded.
    let text: String
    let line: Int
}

struct LuaSyntaxError: Error, CustomStringConvertible {
    let line: Int
    let message: String
    var description: String { "line \(line): \(message)" }
}

/// Splits Lua source into tokens, dropping comments. It knows all of Lua 5.1's lexical syntax, so a
/// script in any style is read as Redis reads it, not only as Spool writes them.
struct LuaLexer {
    static let keywords: Set<String> = [
        "and", "break", "do", "else", "elseif", "end", "false", "for", "function", "if", "in", "local", "nil", "not", "or",
        "repeat", "return", "then", "true", "until", "while",
    ]
    /// Longest first, so that `...` is not read as `..` and `.`.
    private static let symbols = [
        "...", "..", "==", "~=", "<=", ">=", "+", "-", "*", "/", "%", "^", "#", "<", ">", "=", "(", ")", "{", "}", "[", "]", ";", ":", ",", ".",
    ]

    private let bytes: [UInt8]
    private var index = 0
    private var line = 1

    /// The tokens of `source`, ending with one of kind `.end`.
    static func tokens(_ source: String) throws -> [LuaToken] {
        var lexer = LuaLexer(bytes: Array(source.utf8))
        // Redis, like lua.c, ignores a first line that starts with '#' (a `#!lua` shebang).
        if lexer.bytes.first == UInt8(ascii: "#") {
            while let byte = lexer.peek(), byte != UInt8(ascii: "\n") { lexer.index += 1 }
        }
        var tokens: [LuaToken] = []
        while true {
            let token = try lexer.next()
            tokens.append(token)
            if token.kind == .end { return tokens }
        }
    }

    private init(bytes: [UInt8]) { self.bytes = bytes }

    private func peek(_ offset: Int = 0) -> UInt8? { index + offset < bytes.count ? bytes[index + offset] : nil }

    private static func isNameStart(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
            || byte == UInt8(ascii: "_")
    }

    private static func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

    private func text(_ start: Int, _ end: Int) -> String { String(decoding: bytes[start..<end], as: UTF8.self) }

    private mutating func next() throws -> LuaToken {
        try skipSpaceAndComments()
        guard let byte = peek() else { return LuaToken(kind: .end, text: "", line: line) }
        let start = index
        if Self.isNameStart(byte) {
            while let next = peek(), Self.isNameStart(next) || Self.isDigit(next) { index += 1 }
            let word = text(start, index)
            return LuaToken(kind: Self.keywords.contains(word) ? .keyword : .name, text: word, line: line)
        }
        if Self.isDigit(byte) || (byte == UInt8(ascii: ".") && peek(1).map(Self.isDigit) == true) {
            // Digits, hex digits, a point and an exponent with its sign: what lua_str2number accepts.
            while let next = peek() {
                if Self.isNameStart(next) || Self.isDigit(next) || next == UInt8(ascii: ".") {
                    let exponent = next == UInt8(ascii: "e") || next == UInt8(ascii: "E")
                    index += 1
                    if exponent, let sign = peek(), sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") { index += 1 }
                } else {
                    break
                }
            }
            return LuaToken(kind: .number, text: text(start, index), line: line)
        }
        if byte == UInt8(ascii: "'") || byte == UInt8(ascii: "\"") { return try quotedString(byte) }
        if byte == UInt8(ascii: "["), let level = longBracketLevel() {
            let startLine = line
            return LuaToken(kind: .string, text: try longBracket(level), line: startLine)
        }
        for symbol in Self.symbols where bytes[index...].starts(with: symbol.utf8) {
            index += symbol.utf8.count
            return LuaToken(kind: .symbol, text: symbol, line: line)
        }
        throw LuaSyntaxError(line: line, message: "unexpected character '\(text(start, start + 1))'")
    }

    private mutating func skipSpaceAndComments() throws {
        while let byte = peek() {
            if byte == UInt8(ascii: "\n") {
                line += 1
                index += 1
            } else if byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") || byte == UInt8(ascii: "\r") {
                index += 1
            } else if byte == UInt8(ascii: "-"), peek(1) == UInt8(ascii: "-") {
                index += 2
                if peek() == UInt8(ascii: "["), let level = longBracketLevel() {
                    _ = try longBracket(level)
                } else {
                    while let next = peek(), next != UInt8(ascii: "\n") { index += 1 }
                }
            } else {
                return
            }
        }
    }

    /// At `[`: the number of '=' of a long bracket `[==[`, or nil when this is a plain '['.
    private func longBracketLevel() -> Int? {
        var offset = 1
        while peek(offset) == UInt8(ascii: "=") { offset += 1 }
        return peek(offset) == UInt8(ascii: "[") ? offset - 1 : nil
    }

    /// Reads `[==[ ... ]==]` and returns its contents (a first newline dropped, as Lua does).
    private mutating func longBracket(_ level: Int) throws -> String {
        let startLine = line
        index += level + 2
        if peek() == UInt8(ascii: "\n") {
            line += 1
            index += 1
        }
        let start = index
        while let byte = peek() {
            if byte == UInt8(ascii: "]") {
                var offset = 1
                while peek(offset) == UInt8(ascii: "=") { offset += 1 }
                if offset - 1 == level, peek(offset) == UInt8(ascii: "]") {
                    let contents = text(start, index)
                    index += offset + 1
                    return contents
                }
            }
            if byte == UInt8(ascii: "\n") { line += 1 }
            index += 1
        }
        throw LuaSyntaxError(line: startLine, message: "unfinished long string or comment")
    }

    private mutating func quotedString(_ quote: UInt8) throws -> LuaToken {
        let startLine = line
        index += 1
        var decoded: [UInt8] = []
        while let byte = peek() {
            index += 1
            if byte == quote { return LuaToken(kind: .string, text: String(decoding: decoded, as: UTF8.self), line: startLine) }
            if byte == UInt8(ascii: "\n") { throw LuaSyntaxError(line: startLine, message: "unfinished string") }
            guard byte == UInt8(ascii: "\\"), let escaped = peek() else {
                decoded.append(byte)
                continue
            }
            index += 1
            switch escaped {
            case UInt8(ascii: "n"): decoded.append(10)
            case UInt8(ascii: "t"): decoded.append(9)
            case UInt8(ascii: "r"): decoded.append(13)
            case UInt8(ascii: "a"): decoded.append(7)
            case UInt8(ascii: "b"): decoded.append(8)
            case UInt8(ascii: "f"): decoded.append(12)
            case UInt8(ascii: "v"): decoded.append(11)
            case UInt8(ascii: "\n"):
                line += 1
                decoded.append(10)
            case _ where Self.isDigit(escaped):
                // \ddd: up to three decimal digits.
                var value = Int(escaped - UInt8(ascii: "0"))
                var digits = 1
                while digits < 3, let next = peek(), Self.isDigit(next) {
                    value = value * 10 + Int(next - UInt8(ascii: "0"))
                    index += 1
                    digits += 1
                }
                guard value <= 255 else { throw LuaSyntaxError(line: line, message: "escape sequence too large") }
                decoded.append(UInt8(value))
            default:
                decoded.append(escaped)
            }
        }
        throw LuaSyntaxError(line: startLine, message: "unfinished string")
    }
}
