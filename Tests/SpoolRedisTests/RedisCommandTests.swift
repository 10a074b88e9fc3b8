@testable import SpoolRedis
import SpoolSupport
import Testing

@Suite struct RedisCommandTests {
    @Test func encodesRESPWithByteLengths() {
        var command = RedisCommand("SET", "k")
        command.append("héllo\r\n")
        #expect(String(decoding: command.encoded(), as: UTF8.self) == "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$8\r\nhéllo\r\n\r\n")
        #expect(command.argumentCount == 3)
    }

    @Test func sha1MatchesKnownVectors() {
        #expect(Hashing.sha1Hex(Array("abc".utf8)) == "a9993e364706816aba3e25717850c26c9cd0d89d")
        #expect(Hashing.sha1Hex([]) == "da39a3ee5e6b4b0d3255bfef95601890afd80709")
        #expect(Hashing.sha1Hex(Array(String(repeating: "a", count: 1000).utf8)) == "291e9a6c66994949b57ba5e650361e98fc36b1ba")
    }
}
