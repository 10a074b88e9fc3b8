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
        ("http://x:1", "unknown scheme"),
        ("redis://a:1,b:2", "several hosts need a cluster URL"),
        ("redis+cluster://a:1/3", "a cluster has only database 0"),
        ("redis+sentinel://a:26379/mymaster", "Sentinel is not supported"),
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
        for text in [
            "redis://bob:hunter2@host:bad", "redis://bob:hunter2", "redis://:hunter2/0", "rediss+cluster://bob:hunter2,h:1",
        ] {
            #expect {
                try RedisURL(parsing: text)
            } throws: { error in
                !"\(error)".contains("hunter2")
            }
        }
    }

    @Test func readsTLSAndClusterForms() throws {
        let tls = try RedisURL(parsing: "rediss://:pw@cache.example.internal:6380")
        #expect(tls.tls == RedisTLS() && !tls.isCluster && tls.host == "cache.example.internal" && tls.port == 6380)
        #expect(tls.description == "rediss://:***@cache.example.internal:6380/0")

        let cluster = try RedisURL(parsing: "rediss+cluster://u:p%21@10.0.0.1:7000,10.0.0.2,[::1]:7002")
        #expect(cluster.isCluster && cluster.tls != nil && cluster.username == "u" && cluster.password == "p!")
        #expect(cluster.clusterSeeds == [
            RedisEndpoint(host: "10.0.0.1", port: 7000), RedisEndpoint(host: "10.0.0.2", port: 6379), RedisEndpoint(host: "::1", port: 7002),
        ])
        #expect(cluster.description == "rediss+cluster://u:***@10.0.0.1:7000,10.0.0.2:6379,[::1]:7002")
        #expect(try RedisURL(parsing: cluster.urlString) == cluster)
        // A node of the cluster keeps the credentials and TLS, with its own address.
        let node = cluster.node(RedisEndpoint(host: "10.0.0.9", port: 7005))
        #expect(node == RedisURL(host: "10.0.0.9", port: 7005, username: "u", password: "p!", tls: RedisTLS()))
    }
}
