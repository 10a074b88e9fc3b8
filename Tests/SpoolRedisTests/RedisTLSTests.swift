import SpoolRedis
import SpoolSupport
import TestSupport
import Testing

/// `rediss` URLs against the TLS-only Redis of scripts/test.sh: its certificate names 127.0.0.1 and
/// localhost, and is signed by the test run's own CA.
@Suite struct RedisTLSTests {
    let key = TestEnvironment.uniquePrefix("tls")

    func url(host: String? = nil, _ tls: (String) -> RedisTLS) throws -> RedisURL {
        let (base, certificates) = try TestEnvironment.tlsRedis()
        var url = base
        if let host { url.host = host }
        url.tls = tls(certificates)
        return url
    }

    @Test func runsCommandsAndLongPipelinesOverTLS() async throws {
        let redis = RedisClient(url: try url { RedisTLS(caFile: "\($0)/ca.crt") }, name: "tls", logger: TestEnvironment.logger)
        // Values larger than one TLS record and one 16 KB read, so a reply arrives in many reads.
        let big = String(repeating: "spool-", count: 20_000)
        #expect(try await redis.run("SET", key, big) == .status("OK"))
        #expect(try await redis.run("GET", key).string == big)
        let commands = (0..<2_000).map { _ in RedisCommand("INCR", "\(key):n") }
        let replies = try await redis.pipeline(commands)
        #expect(replies.last == .integer(2_000))
        let script = RedisScript(name: "echo.lua", source: "return redis.call('GET', KEYS[1])")
        #expect(try await redis.run(script, keys: [key], arguments: []).string == big)
        try await redis.run("DEL", key, "\(key):n")
    }

    @Test func presentsAClientCertificateWhenGivenOne() throws {
        let connection = try RedisConnection(
            url: try url { RedisTLS(caFile: "\($0)/ca.crt", certificateFile: "\($0)/client.crt", keyFile: "\($0)/client.key") })
        #expect(try connection.run(RedisCommand("PING")) == .status("PONG"))
        // The host name form is checked against the certificate's DNS names.
        let byName = try RedisConnection(url: try url(host: "localhost") { RedisTLS(caFile: "\($0)/ca.crt") })
        #expect(try byName.run(RedisCommand("PING")) == .status("PONG"))
    }

    @Test func refusesAServerItCannotVerify() throws {
        // Without the test CA, the system's trust store does not know the server's certificate.
        #expect {
            try RedisConnection(url: try url { _ in RedisTLS() })
        } throws: { error in
            guard let error = error as? RedisError else { return false }
            return error.code == .connection && error.message.contains("certificate was refused")
        }
    }

    @Test func refusesACertificateForAnotherAddress() throws {
        // The server also listens on 127.0.0.2, which its certificate does not name.
        #expect {
            try RedisConnection(url: try url(host: "127.0.0.2") { RedisTLS(caFile: "\($0)/ca.crt") })
        } throws: { error in
            guard let error = error as? RedisError else { return false }
            return error.code == .connection && error.message.contains("certificate was refused") && error.message.contains("mismatch")
        }
    }

    @Test func namesAMissingCAFile() throws {
        #expect {
            try RedisConnection(url: try url { _ in RedisTLS(caFile: "/nonexistent/ca.pem") })
        } throws: { error in
            guard let error = error as? RedisError else { return false }
            return error.code == .configuration && error.message.contains("SPOOL_REDIS_TLS_CA '/nonexistent/ca.pem'")
        }
    }
}
