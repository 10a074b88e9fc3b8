import Testing

@testable import SpoolRedis

@Suite struct RedisCommandTests {
    @Test func encodesRESPWithByteLengths() {
        var command = RedisCommand("SET", "k")
        command.append("héllo\r\n")
        #expect(String(decoding: command.encoded(), as: UTF8.self) == "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$8\r\nhéllo\r\n\r\n")
        #expect(command.argumentCount == 3)
    }
}
