import SpoolRedis
import Testing

@Suite struct RedisURLTests {
    @Test func parsesEveryPart() throws {
        let url = try RedisURL(parsing: "redis://alice:s%40cret@10.1.2.3:6380/4")
        #expect(url == RedisURL(host: "10.1.2.3", port: 6380, username: "alice", password: "s@cret", database: 4))
        #expect(url.description == "redis://alice:***@10.1.2.3:6380/4")
    }

    @Test func defaultsPortAndDatabase() throws {
        #expect(try RedisURL(parsing: "redis://localhost") == RedisURL(host: "127.0.0.1", port: 6379))
        #expect(try RedisURL(parsing: "redis://:pw@[::1]:7000/") == RedisURL(host: "::1", port: 7000, password: "pw"))
    }

    @Test(arguments: [
        ("http://x:1", "scheme must be redis://"),
        ("redis://host:99999", "port '99999' is not a number from 1 to 65535"),
        ("redis://host:6379/x", "database 'x'"),
        ("redis://:6379", "host is empty"),
    ])
    func rejectsBadValuesSayingWhy(text: String, why: String) {
        #expect {
            try RedisURL(parsing: text)
        } throws: { error in
            "\(error)".contains(why) && "\(error)".contains("REDIS_URL")
        }
    }

    @Test func hidesPasswordsInErrors() {
        for text in ["redis://bob:hunter2@host:bad", "redis://bob:hunter2", "redis://:hunter2/0"] {
            #expect {
                try RedisURL(parsing: text)
            } throws: { error in
                !"\(error)".contains("hunter2")
            }
        }
    }
}
